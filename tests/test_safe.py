"""Untrusted text never reaches the terminal as control sequences or markup."""
from __future__ import annotations

import pytest

from trafficwatch.app.text import safe_content
from trafficwatch.safe import safe_text

HOSTILE = ["[/]", "[@click=app.quit]x[/]", "[link=http://x]y[/link]", "\x1b]0;title\x07",
           "\x1b[2J", "\x9b31m", "\u202eevil", "a\u2066b\u2069", "\x85next", "\x00nul", "del\x7f"]


@pytest.mark.parametrize("s", HOSTILE)
def test_no_control_or_bidi_character_survives(s):
    out = safe_text(s)
    assert not any(ord(c) < 32 and c != "\t" or 0x7F <= ord(c) <= 0x9F for c in out)
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in out)


def test_escapes_are_visible_and_readable():
    assert safe_text("\x1b[2J") == "\\x1b[2J"
    assert safe_text("\u202e") == "\\u202e"
    assert safe_text("tab\tkept") == "tab\tkept"
    assert safe_text("tab\tshown", tabs=False) == "tab\\x09shown"  # the log tail


def test_invalid_utf8_is_shown_as_byte_escapes():
    assert safe_text(b"caf\xe9 \xff") == "caf\\xe9 \\xff"


def test_existing_escapes_are_not_unescaped():
    assert safe_text("GET /a\\x22b \\u001b") == "GET /a\\x22b \\u001b"


@pytest.mark.parametrize("s", HOSTILE)
def test_content_is_plain_text_without_markup_spans(s):
    t = safe_content(s)
    assert t.spans == []
    assert t.plain == safe_text(s)


def test_surrogateescaped_bytes_become_byte_escapes_not_unencodable_text():
    line = b"GET /\xff\xfe x".decode("utf-8", "surrogateescape")
    out = safe_text(line)
    assert out == "GET /\\xff\\xfe x"
    out.encode("utf-8")  # a lone surrogate here would crash the terminal driver


def test_names_show_controls_as_escapes_and_never_two_the_same():
    import random

    from trafficwatch.safe import safe_name

    assert safe_name("ev\x00il.example") == "ev\\x00il.example"
    assert safe_name("\x1b]0;PWNED\x07") == "\\x1b]0;PWNED\\x07"
    assert safe_name("a\\x1bb") != safe_name("a\x1bb")
    assert safe_name("\x85") != safe_name(b"\x85".decode("utf-8", "surrogateescape"))
    rng = random.Random(0)
    alphabet = ["a", "\\", "x", "1", "b", "0", "u", "\x1b", "\x00", "\t", "\x85", "\u202e",
                "\u00a0", "\udc85", "\U000e0001", " "]
    names = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(20000)}
    shown = {safe_name(n) for n in names}
    assert len(shown) == len(names)
    assert all(c.isprintable() for s in shown for c in s)


def test_a_shown_name_reads_back_to_its_name_and_other_text_is_left_as_it_is():
    import random

    from trafficwatch.safe import name_from_shown, safe_name

    rng = random.Random(1)
    alphabet = ["a", "\\", "x", "u", "U", "0", "8", "5", "f", "\x1b", "\x00", "\t", "\x85",
                "\u202e", "\udc85", "\U000e0001", "\U0010ffff", " "]
    for _ in range(20000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        assert name_from_shown(safe_name(name)) == name
        # text no name shows as (a lone backslash, a control): left for safe_name to show
        assert safe_name(name_from_shown(name)) in (name, safe_name(name))
    for foreign in ("a\\b", "a\\x41", "a\\U00110000", "x\\udc85", "bell\x07", "\\"):
        assert name_from_shown(foreign) == foreign


INVISIBLE = ["tag\U000e0041\U000e0042", "soft\u00adhyphen", "mongolian\u180esep", "hangul\u3164",
             "vs\ufe0f", "cgj\u034f", "halfwidth\uffa0"]


@pytest.mark.parametrize("s", INVISIBLE)
def test_invisible_characters_that_python_calls_printable_are_shown_as_escapes(s):
    """A security trial hid text in the log tail with tag characters (U+E0041...), which the
    terminal drew as nothing; soft hyphens, fillers and variation selectors hide alike."""
    from trafficwatch.safe import name_from_shown, safe_name

    for out in (safe_text(s), safe_name(s)):
        assert out.isascii() and out.startswith(s[:2])  # every character seen
    assert name_from_shown(safe_name(s)) == s


def test_a_stack_of_combining_marks_is_cut_to_a_few_and_the_rest_shown_escaped():
    # a Host of "z" and 300 U+0301 reached the screen, the CSV, stderr and /metrics whole: such
    # a stack draws over the lines around it (a security trial). A language's few are kept
    from trafficwatch.safe import MAX_MARKS, name_from_shown, safe_name, safe_text

    stack = "z" + "\u0301" * 300 + ".example"
    for shown in (safe_name(stack), safe_text(stack)):
        assert shown.count("\u0301") == MAX_MARKS and shown.count("\\u0301") == 300 - MAX_MARKS
        assert shown.endswith(".example")
    assert name_from_shown(safe_name(stack)) == stack  # one name still reads back
    for word in ("café", "Ελληνικά", "न्यू", "e\u0301\u0302\u0323"):
        assert safe_name(word) == safe_text(word) == word


def test_both_sanitisers_escape_every_invisible_character_and_cap_every_kind_of_mark():
    """A security trial: safe_text had a list of its own that let U+1D173 (a format character)
    through where safe_name escaped it, so the app's hour details showed "/ad𝅳min"
    as "/admin" and `top` did not; a stack of Cyrillic U+2DE0 (a mark the list of blocks did
    not name) drew over the lines around it. Every control, format, separator, unassigned and
    private-use character is escaped by both (tabs kept in text), and a run of any kind of
    mark is cut to MAX_MARKS."""
    import unicodedata

    from trafficwatch.safe import MAX_MARKS, safe_name

    kinds = {i: unicodedata.category(chr(i)) for i in range(0x80, 0x110000)}
    hidden = [i for i, k in kinds.items() if k[0] in "CZ"]
    unassigned = [i for i in hidden if kinds[i] in ("Cn", "Co")]
    picked = sorted(set(hidden) - set(unassigned)) + unassigned[::101]
    assert 0x1D173 in picked and 0x600 in picked and 0xA0 in picked
    for i in picked + [0x1D173, 0xE0080]:
        for out in (safe_text(chr(i)), safe_name(chr(i))):
            assert out.isascii() and out.startswith("\\"), hex(i)
    marks = [i for i, k in kinds.items() if k[0] == "M"] + [0x1160, 0xD7B0, 0x1F3FB]
    assert 0x2DE0 in marks and 0x0E31 in marks
    for i in (i for i in marks if safe_text(chr(i)) == chr(i)):  # (not one escaped always)
        stack = "z" + chr(i) * (MAX_MARKS + 2)
        for out in (safe_text(stack), safe_name(stack)):
            assert out.count(chr(i)) == MAX_MARKS and out.endswith(f"{i:04x}"), hex(i)


def test_a_c1_character_and_the_invalid_byte_of_its_number_never_show_alike():
    # a security trial: U+009B (a CSI in UTF-8, \xc2\x9b) and the raw byte \x9b, not UTF-8,
    # both showed as \x9b in log lines: two inputs, one look
    from trafficwatch.safe import safe_name, safe_text

    for show in (safe_text, safe_name):
        char, byte = show("a\u009bb"), show(b"a\x9bb")
        assert char != byte and "\x9b" not in char + byte and "\udc9b" not in char + byte
        assert byte == "a\\x9bb" and char == "a\\u009bb"


def test_a_shown_text_is_never_cut_inside_an_escape():
    """An alert command's stderr, cut at 160 characters, ended in "\\x1" (a security trial):
    another text than the one written. Cut, it ends before the escape, with an ellipsis."""
    import re

    from trafficwatch.safe import clip_shown, safe_name, safe_text

    whole = re.compile(r"(?:\\(?:\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})|[^\\])*")
    partial = re.compile(r"\\(?:x[0-9a-f]?|u[0-9a-f]{0,3}|U[0-9a-f]{0,7})?$")
    for raw in ("a" * 10 + "\x1b[31m" + "b", "ab\\\\c\u00a0d", "x\U000e0041\\y" * 3,
                "C:\\\x1b[31mred"):
        for show in (safe_name, safe_text):
            shown = show(raw)
            for n in range(2, len(shown)):
                cut = clip_shown(shown, n)
                assert len(cut) <= n and cut.endswith("\u2026"), (raw, n, cut)
                assert shown.startswith(cut[:-1]), (raw, n, cut)
                assert not partial.search(cut[:-1]), (raw, n, cut)  # no escape begun, unended
                if show is safe_name:
                    assert whole.fullmatch(cut[:-1]), (raw, n, cut)  # whole escapes only
            assert clip_shown(shown, len(shown)) == shown  # room for all: as it is
