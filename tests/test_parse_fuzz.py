"""No byte sequence crashes the parser, and every line is accounted for."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trafficwatch.logs.formats import PRESETS
from trafficwatch.logs.parse import ParseOptions, Parser

REAL = [
    (b'83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/'
     b'images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/" '
     b'"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36"'),
    (b'93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" '
     b'"Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"'),
    b'{"ts":1700000000.1,"request":{"remote_ip":"::1","uri":"/"},"status":200}',
    b"#Fields: date time c-ip sc-status\n2024-01-01 00:00:00 1.2.3.4 200",
]


def mutate(line: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    b = bytearray(line)
    for kind, pos, val in ops:
        if not b:
            break
        i = pos % len(b)
        if kind == 0:
            b[i] = val
        elif kind == 1:
            del b[i]
        else:
            b.insert(i, val)
    return bytes(b)


def check(data: bytes) -> None:
    for fmt in {f.name: f for f in PRESETS.values()}.values():
        res = Parser(fmt, ParseOptions(max_line_bytes=4096)).feed(data, final=True)
        # Every line is a record (glued lines give several), malformed, skipped or excluded.
        assert len(res.records) + res.malformed.total + res.skipped + res.excluded >= res.lines
        accounted = res.malformed.total + res.skipped + res.excluded
        assert accounted <= res.lines
        assert (res.records.ts >= 631152000).all() and (res.records.ts < 4133980800).all()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash(data):
    check(data)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.sampled_from(REAL), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000),
                                                 st.integers(0, 255)), max_size=8))
def test_mutated_real_lines_never_crash(line, ops):
    check(mutate(line, ops) + b"\n" + line + b"\n")


def both_ways(fmt: str, data: bytes, **options):
    """`data` read by the numpy path and by the per-line regex path alone (the reference)."""
    fast = Parser(PRESETS[fmt], ParseOptions(keep_paths=True, **options))
    slow = Parser(PRESETS[fmt], ParseOptions(keep_paths=True, **options))
    slow._fast = None
    return fast.feed(data, final=True), slow.feed(data, final=True)


def _cols(res):
    r = res.records
    order = np.lexsort((r.path, r.is_static, r.is_bot, r.client, r.visitor, r.size, r.status,
                        r.ts))
    cols = ("ts", "utc_offset", "status", "size", "is_static", "is_bot", "client", "visitor",
            "path")
    return {k: getattr(r, k)[order].tolist() for k in cols}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(REAL),
                          st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000),
                                             st.sampled_from(b' "[]?-/\\0Hx\n\t\x00\xff')),
                                   max_size=4)), min_size=1, max_size=6))
def test_the_vectorized_path_equals_the_per_line_parser_on_mutated_lines(lines):
    """Windows, fixed offsets and hashes of the numpy path give what the regex path gives."""
    data = b"\n".join(mutate(line, ops) for line, ops in lines) + b"\n"
    for name in ("COMBINED", "COMMON"):
        a, b = both_ways(name, data)
        assert (a.lines, dict(a.malformed.counts)) == (b.lines, dict(b.malformed.counts))
        assert _cols(a) == _cols(b)


VHOSTS = [b"shop.example.com", b"Shop.Example.COM:443", b"blog:8080", b"\xc3\xa9t\xc3\xa9.fr",
          b"a,", b"x:80y", b"x:", b":443", b'q"t', b"v:123456", b"h" * 70, b"a:b:1"]


def _vcols(res):
    r = res.records
    names = np.array([*r.vhosts, ""], object)[r.vhost]
    order = np.lexsort((names, r.path, r.is_static, r.is_bot, r.client, r.visitor, r.size,
                        r.status, r.ts))
    return {**_cols(res), "vhost": names[order].tolist()}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(VHOSTS), st.sampled_from(REAL[:2]),
                          st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000),
                                             st.sampled_from(b' "[]?-/:,\\0Hx\n\t\x00\xff')),
                                   max_size=3)), min_size=1, max_size=6))
def test_the_vectorized_path_equals_the_per_line_parser_on_virtual_host_lines(lines):
    """nginx's `$host $remote_addr ...` (VCOMBINED, VCOMMON): read by the numpy path since
    2026-12-06 (it read 44,000 lines a second line by line): names, ports, odd names and
    mutated lines give what the regex path gives, to the virtual host of each record."""
    data = b"\n".join(mutate(vh + b" " + line, ops) for vh, line, ops in lines) + b"\n"
    for name in ("VCOMBINED", "VCOMMON"):
        a, b = both_ways(name, data)
        assert (a.lines, dict(a.malformed.counts)) == (b.lines, dict(b.malformed.counts))
        assert _vcols(a) == _vcols(b)
        assert a.records.vhosts == b.records.vhosts  # numbered alike (the host cap's order)


R1 = b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 1 "-" "ua"'
R2 = b'5.6.7.8 - - [17/May/2015:11:05:03 +0000] "GET /b HTTP/1.1" 404 2 "-" "ua"'
NO_ZONE = b'9.9.9.9 - - [17/May/2015:12:05:03] "GET /c HTTP/1.1" 200 3 "-" "ua"'


@pytest.mark.parametrize(("name", "data", "options"), [pytest.param(*case, id=case[0]) for case in [
    # a Host header forged to hash as another: grouped by its bytes, not its hash (a review)
    ("forged", b"shop.exhmple.cod " + R1 + b"\nshop.example.com " + R1 + b"\nshop.example.com "
     + R2 + b"\n", {}),
    # a host first named by a line read line by line (a client list) keeps its place: the first
    # MAX_HOSTS named are sites
    ("order", b"first.example 1.2.3.4, 10.0.0.1" + R1[7:] + b"\n" + b"".join(
        b"h%d.example " % i + R1 + b"\n" for i in range(5)) + b"first.example " + R1 + b"\n",
     {}),
    # a line let go of (--exclude-ip, --ignore-status) names no host
    ("excluded", b"scan.example 6.6.6.6" + R2[7:] + b"\na.example " + R1 + b"\n",
     {"exclude_ips": frozenset({"6.6.6.6"})}),
    ("ignored", b"scan.example " + R2 + b"\na.example " + R1 + b"\n",
     {"ignore_status": frozenset({404})}),
    # a record glued after extra quoted fields is read, not lost
    ("glued", b'a.com ' + R1 + b' "x" b.com ' + R2 + b"\n", {}),
    # a line without a zone is read in the zone of the line before it, fast or slow
    ("zone", b"a.com " + R1.replace(b"+0000", b"+0200") + b"\na.com " + NO_ZONE + b"\na.com "
     + R2 + b"\na.com " + NO_ZONE + b"\n", {}),
    # a last line of spaces without its newline is no line
    ("blank", b"a.com " + R1 + b"\n   ", {}),
]])
def test_the_numpy_path_reads_virtual_host_lines_as_line_by_line_does(name, data, options):
    for fmt in ("VCOMBINED", "VCOMMON"):
        a, b = both_ways(fmt, data, **options)
        assert (a.lines, a.skipped, a.excluded, dict(a.malformed.counts)) == \
            (b.lines, b.skipped, b.excluded, dict(b.malformed.counts)), (name, fmt)
        assert _vcols(a) == _vcols(b), (name, fmt)
        # hosts numbered alike: in the order of the lines that first name them
        assert a.records.vhosts == b.records.vhosts, (name, fmt)
        assert a.records.vhost.tolist() == b.records.vhost.tolist(), (name, fmt)


def test_host_names_whose_hashes_collide_stay_apart(monkeypatch):
    """Hosts are grouped by a hash of their bytes, then the bytes are checked: with every hash
    alike (as a client could forge one), each host is still its own."""
    import trafficwatch.logs.parse as parse_mod

    monkeypatch.setattr(parse_mod, "_NAME_MIX", np.zeros(8, np.uint64))
    data = b"".join(vh + b" " + R1 + b"\n" for vh in (b"a.com", b"B.com:443", b"b.com", b"c.com"))
    a, b = both_ways("VCOMBINED", data)
    assert _vcols(a) == _vcols(b) and a.records.vhosts == b.records.vhosts == (
        "a.com", "b.com", "c.com")


PREFIX_PIECES = [b"2026-12-05T00:00:03Z ", b"2026-12-05T10:15:02.123456789+01:00 ", b"INF ",
                 b"Dec  5 10:15:02 ", b"Dec 15 10:15:02 ", b"<13>", b"\xef\xbb\xbf",
                 b"stdout F ", b"stderr F ", b"stdout P ", b"web1 ", b"nginx: ", b"nginx[12]: ",
                 b"tag[x]: ", b":", b" ", b"[", b"]", b"x" * 40]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.lists(st.sampled_from(PREFIX_PIECES), max_size=5),
                          st.sampled_from([*REAL[:2], b"", b"INF x y"])), min_size=1, max_size=4),
       st.booleans())
def test_lines_that_open_like_a_prefix_never_crash_and_read_as_line_by_line(lines, newline):
    """A last line `2026-12-05T00:00:03Z INF x y` (Traefik's own) read past the buffer's end
    where no colon followed its time: an IndexError ended `counts` and the agent (a trial)."""
    data = b"\n".join(b"".join(pre) + line for pre, line in lines) + (b"\n" if newline else b"")
    check(data)
    for name in ("COMBINED", "VCOMBINED"):
        a, b = both_ways(name, data)
        assert (a.lines, dict(a.malformed.counts)) == (b.lines, dict(b.malformed.counts))
