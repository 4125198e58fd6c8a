"""The one sanitiser for untrusted text (log lines, file and site names, anything from the
network): control and invisible characters become visible, inert escapes."""
from __future__ import annotations

import functools
import re
import unicodedata

# Escaped by both sanitisers: every character Python counts as not printable (C0 and C1
# controls, format characters such as bidi overrides and zero-width ones, separators but the
# space, unassigned and private-use code points, lone surrogates), and the invisible ones it
# counts as printable (a security trial hid text in a log tail with tag characters): soft
# hyphen, the combining grapheme joiner, the Hangul and Mongolian fillers and separators,
# variation selectors. safe_text had a list of its own, which let through what safe_name
# escaped (U+1D173, a musical format character, hid in a path in the app's hour details while
# `top` showed it escaped: a security trial).
_INVISIBLE = ("\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u206a-\u206f\u3164"
              "\ufe00-\ufe0f\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef")
_SHOWN_HIDDEN = re.compile(f"[{_INVISIBLE}]")
# Combining marks stacked on one character: a run of hundreds (a Host of "z" and 300 U+0301, a
# security trial) draws over the lines above and below it on many terminals. A few are a
# language's; past MAX_MARKS in a run each is shown escaped. Every character drawn onto the
# one before it: Unicode's marks (M*), Hangul's vowel and final jamo, emoji skin tones. A list
# of blocks had left out Cyrillic's U+2DE0, Thai's and others (a security trial).
MAX_MARKS = 4
_NON_ASCII_RUN = re.compile(rf"[^\x00-\x7f]{{{MAX_MARKS + 1},}}")  # where a run can be
_JOINED = re.compile("[\u1160-\u11ff\ud7b0-\ud7ff\U0001f3fb-\U0001f3ff]")


def _hidden(c: str) -> bool:
    return not c.isprintable() or _SHOWN_HIDDEN.match(c) is not None


def _cap_run(m: re.Match[str]) -> str:
    out, run = [], 0
    for c in m.group(0):
        mark = unicodedata.category(c)[0] == "M" or _JOINED.match(c) is not None
        run = run + 1 if mark else 0
        out.append(_escape_code(ord(c)) if run > MAX_MARKS else c)
    return "".join(out)


def _cap_marks(text: str) -> str:
    return text if text.isascii() else _NON_ASCII_RUN.sub(_cap_run, text)


def _escape_code(c: int) -> str:
    if 0xDC80 <= c <= 0xDCFF:  # a byte kept by surrogateescape: show the byte itself
        return f"\\x{c - 0xDC00:02x}"
    # a character of U+0080-U+00FF as \u0085, never as the byte \x85 that was not UTF-8: the
    # two had shown alike (a security trial)
    return f"\\x{c:02x}" if c < 0x80 else f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"


def _escape_in_name(ch: str) -> str:
    c = ord(ch)
    if c == 0x5C:
        return "\\\\"
    return _escape_code(c)


def _as_str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value if isinstance(value, str) else str(value)


def safe_text(value: object, tabs: bool = True) -> str:
    """Text safe to put on a terminal: controls and bidi overrides become visible escapes.

    Bytes are decoded as UTF-8 with invalid bytes shown as \\xNN. Escapes already in the log
    (nginx's \\x22, JSON's \\u001b) are left as they are: never unescaped for display.
    `tabs` False: a tab is escaped too (\\x09), where one expanded to spaces cannot be told
    from the text's own (a raw log line in the app's tail).
    """
    text = _as_str(value)
    if not text.isprintable() or _SHOWN_HIDDEN.search(text):
        text = "".join(_escape_code(ord(c)) if (c != "\t" or not tabs) and _hidden(c) else c
                       for c in text)
    return _cap_marks(text)


def safe_name(value: object) -> str:
    """A name (site, vhost, file, path) as shown or written: every character that is not
    printable (also tabs, invisible spaces and format characters) escaped, and backslashes
    doubled, so the shown form reads back to one name only: two names never show the same.
    """
    return _cap_marks("".join(_escape_in_name(c) if c == "\\" or _hidden(c) else c
                              for c in _as_str(value)))


# backslashes at the text's end, and an escape begun after them and not ended: cut whole (a
# pair may be one of safe_name's escapes, or a backslash of the text then one of safe_text's)
_CUT_ESCAPE = re.compile(r"\\+(?:x[0-9a-f]?|u[0-9a-f]{0,3}|U[0-9a-f]{0,7})?$")


def clip_shown(shown: str, most: int) -> str:
    """A shown text (safe_text's or safe_name's) cut to `most` characters at most, an ellipsis
    last where it was cut, never inside an escape: cut at 160 characters, an alert command's
    stderr ended in "\\x1", which reads as another text (a security trial)."""
    if len(shown) <= most:
        return shown
    head = shown[:most - 1]
    m = _CUT_ESCAPE.search(head)
    return (head[:m.start()] if m is not None else head) + "\u2026"


_SHOWN_TOKEN = re.compile(r"\\(?:\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})|.", re.DOTALL)


def _unescape(tok: str) -> str:
    if len(tok) == 1:
        return tok
    if tok == "\\\\":
        return "\\"
    code = int.from_bytes(bytes.fromhex(tok[2:]), "big")
    return chr(0xDC00 + code if tok[1] == "x" and code >= 0x80 else code)  # \x85: the byte


def name_from_shown(shown: str) -> str:
    """The name whose `safe_name` is `shown` (a site label our agent exported, which Prometheus
    hands back in that form); `shown` itself where no name shows so (another exporter's label),
    so a name is never escaped twice on its way through a fleet."""
    try:
        name = "".join(_unescape(m.group(0)) for m in _SHOWN_TOKEN.finditer(shown))
    except ValueError:  # \U past the last code point
        return shown
    return name if safe_name(name) == shown else shown


_FORMULA = ("=", "+", "-", "@")  # what a spreadsheet runs as a formula at a cell's start


def _formula_like(text: str) -> bool:
    """Whether `text` begins with a formula's first character, or with quotes before one; a
    lone "-" (a log's Host "-", a site named so) is text to every spreadsheet, not guarded
    (it was written '-, a hosting trial)."""
    return text.lstrip("'")[:1] in _FORMULA and text != "-"


def csv_text(shown: str) -> str:
    """A shown name (safe_name's) as a CSV cell holds it: after a ' where a spreadsheet would
    run it as a formula (a log named '=HYPERLINK(...).access.log', or a Host header, made a
    cell of `counts` a link: a security trial), and where it begins with quotes before such a
    character, so every cell reads back to one name (name_from_csv)."""
    return "'" + shown if _formula_like(shown) else shown


@functools.lru_cache(maxsize=4096)
def name_from_csv(cell: str) -> str:
    """The name a CSV cell holds: csv_text and safe_name undone (a name read back from `counts`
    was escaped again: '\\x1b'), and any other text as it is. (Asked once per row of a CSV
    of series, a few names each on thousands of rows: kept, 6 s of a trial's 172,000 rows.)"""
    if cell[:1] == "'" and (_formula_like(cell[1:]) or cell[1:] == "-"):  # ('-: as written
        # before 2026-12-07)
        cell = cell[1:]
    return name_from_shown(cell)
