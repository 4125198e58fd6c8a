"""Formats and the real-world quirks that break strict regexes: each parses or is counted."""
from __future__ import annotations

import calendar
import gzip

import numpy as np
import pytest

from trafficwatch.logs.detect import detect_format
from trafficwatch.logs.formats import FormatError, get_format
from trafficwatch.logs.parse import ParseOptions, Parser, client_hash, parse_bytes

COMBINED_LINE = (b'203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a/b.html?x=1 HTTP/1.1" '
                 b'200 2326 "http://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)"')
T = calendar.timegm((2000, 10, 10, 20, 55, 36))  # 13:55:36 -0700 in UTC


def one(line: bytes, fmt: str = "COMBINED", **opts):
    res = parse_bytes(line + b"\n", get_format(fmt), ParseOptions(**opts))
    return res


def test_combined_fields():
    r = one(COMBINED_LINE, keep_paths=True).records
    assert len(r) == 1
    assert r.ts[0] == T and r.utc_offset[0] == -7 * 3600
    assert r.status[0] == 200 and r.size[0] == 2326
    assert r.path[0] == "/a/b.html" and not r.is_static[0] and not r.is_bot[0]  # no query
    assert r.client[0] == client_hash("203.0.113.9")


def test_common_format():
    r = one(b'1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.0" 304 -', "COMMON").records
    assert r.status[0] == 304 and r.size[0] == -1


def test_vhost_combined_names_the_site():
    line = b"shop.example.com:443 " + COMBINED_LINE
    r = one(line, "VCOMBINED").records
    assert r.vhosts[r.vhost[0]] == "shop.example.com"


@pytest.mark.parametrize("line", [
    b'host.example.net - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua"',  # hostname
    b'2001:db8::1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua"',  # IPv6
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif" 200 12 "-" "ua"',  # no protocol
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a b c.html HTTP/1.1" 200 1 "-" "ua"',  # spaces
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a"b HTTP/1.1" 200 1 "-" "ua"',  # stray quote
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "say \\"hi\\" ua"',
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 499 - "-" "ua"',  # 499, size -
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua"   ',  # trailing
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /\xff\xfe HTTP/1.1" 200 1 "-" "\xc3\x28"',
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua" "extra" "more"',
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "Mozilla (truncated',
])
def test_real_world_quirks_parse(line):
    res = one(line)
    assert len(res.records) == 1, res.malformed.counts
    assert res.records.ts[0] == T


def test_two_records_glued_on_one_line_are_both_counted():
    res = one(COMBINED_LINE + b" " + COMBINED_LINE)
    assert len(res.records) == 2 and res.malformed.total == 0


def test_split_on_newline_only():
    agent_with_seps = COMBINED_LINE.replace(b"X11", "X\x85\x1c\u2028".encode())
    res = one(agent_with_seps)
    assert res.lines == 1 and len(res.records) == 1


def test_crlf_and_a_truncated_last_line():
    data = COMBINED_LINE + b"\r\n" + COMBINED_LINE  # no final newline
    assert len(Parser(get_format("COMBINED")).feed(data, final=True).records) == 2
    assert len(Parser(get_format("COMBINED")).feed(data, final=False).records) == 1


def test_dst_change_inside_one_file():
    a = COMBINED_LINE.replace(b"-0700", b"-0500")
    b = COMBINED_LINE.replace(b"-0700", b"-0400")
    r = parse_bytes(a + b"\n" + b + b"\n", get_format("COMBINED")).records
    assert list(r.utc_offset) == [-5 * 3600, -4 * 3600]
    assert r.ts[0] - r.ts[1] == 3600


@pytest.mark.parametrize("line,reason", [
    (COMBINED_LINE.replace(b"2326", b"9" * 5000), "does not match"),
    (COMBINED_LINE.replace(b"2000:", b"9999:"), "time out of range"),
    (COMBINED_LINE.replace(b"-0700", b"+9999"), "bad time zone offset"),
    (COMBINED_LINE.replace(b"Oct", b"Foo"), "bad time"),
    (b"complete garbage", "no timestamp"),
])
def test_malformed_lines_are_counted_with_a_reason(line, reason):
    res = one(line)
    assert len(res.records) == 0 and res.malformed.total == 1
    assert any(reason in r for r in res.malformed.counts), res.malformed.counts
    assert next(iter(res.malformed.examples.values()))[:10] == line[:10]


def test_a_megabyte_of_quotes_or_spaces_is_malformed_not_slow():
    for junk in (b'"' * (1 << 20), b" " * (1 << 20), b"[" + b'"' * (1 << 20)):
        res = one(junk, max_line_bytes=2 << 20)
        assert len(res.records) == 0 and res.malformed.total + res.skipped == 1
    # lists of clients, as X-Forwarded-For writes them, without end (a review: the client could
    # end at each comma, each tried to the line's end: 20 s a line of 64 KB)
    for junk in (b"a, " * 21845, b"1.2.3.4" + b", 1.2.3.4" * 7281, b"v a" + b", a" * 21000):
        for fmt in ("COMBINED", "COMMON", "VCOMBINED"):
            p = Parser(get_format(fmt), ParseOptions(max_line_bytes=1 << 17))
            p._fast = None  # the per-line path
            assert len(p.feed(junk + b"\n").records) == 0


def test_exclude_ip_and_ignore_status_are_counted_as_excluded():
    data = COMBINED_LINE + b"\n" + COMBINED_LINE.replace(b"203.0.113.9", b"10.0.0.1") + b"\n"
    res = parse_bytes(data, get_format("COMBINED"), ParseOptions(exclude_ips=frozenset({"10.0.0.1"})))
    assert len(res.records) == 1 and res.excluded == 1
    res = parse_bytes(data, get_format("COMBINED"), ParseOptions(ignore_status=frozenset({200})))
    assert len(res.records) == 0 and res.excluded == 2


@pytest.mark.parametrize("fmt", ["COMBINED", "COMBINED:regex"])
def test_exclude_ip_takes_ranges_as_goaccess_does(fmt):
    """`--exclude-ip 10.0.0.0/8` was refused ("no ranges"); a GoAccess user leaves out a
    network so (a trial). v4 and v6 ranges, a v4 address written as v6, a host name in none."""
    clients = [b"203.0.113.9", b"10.0.0.1", b"10.255.3.4", b"11.0.0.1", b"2001:db8::7",
               b"2001:db9::7", b"::ffff:10.1.2.3", b"crawler.example.net", b"10.0.0.1"]
    data = b"".join(COMBINED_LINE.replace(b"203.0.113.9", c) + b"\n" for c in clients)
    p = Parser(get_format("COMBINED"), ParseOptions(
        keep_clients=True, exclude_ips=frozenset({"10.0.0.0/8", "2001:db8::/32"})))
    if fmt.endswith(":regex"):
        p._fast = None  # the per-line path too
    res = p.feed(data)
    assert res.excluded == 5 and len(res.records) == 4
    assert sorted(res.records.client_name.tolist()) == [
        "11.0.0.1", "2001:db9::7", "203.0.113.9", "crawler.example.net"]


@pytest.mark.parametrize("fmt", ["COMBINED", "COMBINED:regex"])
def test_without_visitors_no_hashes_are_kept_and_the_rest_is_the_same(fmt):
    lines = [COMBINED_LINE, COMBINED_LINE.replace(b"203.0.113.9", b"10.0.0.1"),
             COMBINED_LINE.replace(b"2326", b"-") + b' "extra"', b"garbage"]
    data = b"\n".join(lines) + b"\n"

    def parse(**opts):
        p = Parser(get_format("COMBINED"), ParseOptions(**opts))
        if fmt.endswith(":regex"):
            p._fast = None  # the per-line path too
        return p.feed(data)

    full, bare = parse(), parse(keep_visitors=False)
    assert full.records.client is not None and bare.records.client is bare.records.visitor is None
    for col in ("ts", "utc_offset", "status", "size", "is_static", "is_bot"):
        assert getattr(bare.records, col).tolist() == getattr(full.records, col).tolist()
    assert bare.malformed.counts == full.malformed.counts and bare.lines == full.lines == 4
    # --exclude-ip still matches clients without keeping their hashes
    excl = parse(keep_visitors=False, exclude_ips=frozenset({"10.0.0.1"}))
    assert excl.excluded == 1 and len(excl.records) == 2


def test_a_series_of_visitors_refuses_records_without_them():
    from trafficwatch.counting.series import HourlySeries

    rec = parse_bytes(COMBINED_LINE + b"\n", get_format("COMBINED"),
                      ParseOptions(keep_visitors=False)).records
    HourlySeries(track_visitors=False).add("s", rec)
    with pytest.raises(ValueError, match="keep_visitors"):
        HourlySeries(track_visitors=True).add("s", rec)


def test_static_assets_and_bots():
    r = one(COMBINED_LINE.replace(b"/a/b.html?x=1", b"/s/app.CSS?v=3").replace(
        b"Mozilla/5.0 (X11; Linux x86_64)", b"Mozilla/5.0 (compatible; Googlebot/2.1)")).records
    assert r.is_static[0] and r.is_bot[0]


@pytest.mark.parametrize("agent, bot", [
    (b"Debian APT-HTTP/1.3 (1.0.1ubuntu2)", True),  # a mirror's 47,323 of 51,462: "not bots"
    (b"urlgrabber/3.9.1 yum/3.2.29", True),
    (b"Chef Client/11.6.2 (ruby-1.9.3-p448; ohai-6.18.0; x86_64-linux; +http://opscode.com)", True),
    (b"FeedBurner/1.0 (http://www.FeedBurner.com)", True),
    (b"Mozilla/5.0 (compatible; Digg Feed Fetcher 1.0)", True),
    (b"ia_archiver (+http://www.alexa.com/site/help/webmasters)", True),
    (b"Python/3.5 aiohttp/2.3.10", True),
    (b"Go 1.1 package http", True),
    (b"kube-probe/1.27", True),
    ((b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     b"Chrome/94.0.4606.81 Safari/537.36"), False),
    ((b"Mozilla/5.0 (Linux; Android 10; SM-G973N) AppleWebKit/537.36 (KHTML, like Gecko) "
     b"Chrome/86.0 Mobile Safari/537.36 DaumApps/6.6.2"), False),  # Daum's app: a person
])
def test_machine_clients_are_bots_and_browsers_are_not(agent, bot):
    r = one(COMBINED_LINE.replace(b"Mozilla/5.0 (X11; Linux x86_64)", agent)).records
    assert bool(r.is_bot[0]) is bot


def test_nginx_log_format_spec():
    fmt = get_format('$remote_addr - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time')
    assert len(parse_bytes(COMBINED_LINE + b" 0.004\n", fmt).records) == 1


def test_apache_logformat_spec():
    fmt = get_format(r'%v %h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"')
    r = parse_bytes(b"www.x.org " + COMBINED_LINE + b"\n", fmt).records
    assert len(r) == 1 and r.vhosts == ("www.x.org",)


def test_goaccess_spec_with_date_and_time_formats():
    fmt = get_format('%h %^[%d:%t %^] "%r" %s %b "%R" "%u"', date_format="%d/%b/%Y",
                     time_format="%H:%M:%S")
    r = parse_bytes(COMBINED_LINE + b"\n", fmt).records
    assert len(r) == 1 and r.status[0] == 200


def test_unknown_or_timeless_format_is_refused_with_a_reason():
    with pytest.raises(FormatError, match="no time field"):
        get_format("$remote_addr $status")
    with pytest.raises(FormatError, match="unknown log format"):
        get_format("whatever")


@pytest.mark.parametrize("line,ts", [
    ((b'{"ts":971211336.5,"request":{"remote_ip":"1.2.3.4","host":"x.org","uri":"/a.js",'
      b'"headers":{"User-Agent":["curl/8"]}},"status":404,"size":5}'), 971211336),  # Caddy
    ((b'{"StartUTC":"2000-10-10T20:55:36Z","ClientHost":"1.2.3.4","DownstreamStatus":200,'
      b'"RequestPath":"/"}'), T),  # Traefik
    ((b'{"time_iso8601":"2000-10-10T13:55:36-07:00","remote_addr":"1.2.3.4","status":"200",'
      b'"request":"GET / HTTP/1.1","http_user_agent":"\\u001b[2J"}'), T),  # nginx escape=json
    (b'{"msec":"971211336000","status":200}', 971211336),  # epoch milliseconds
])
def test_json_lines(line, ts):
    r = one(line, "JSON").records
    assert len(r) == 1 and r.ts[0] == ts


def test_caddy_json_fields():
    r = one(b'{"ts":971211336.5,"request":{"remote_ip":"1.2.3.4","host":"x.org","uri":"/a.js",'
            b'"headers":{"User-Agent":["curl/8"]}},"status":404,"size":5}', "CADDY").records
    assert r.status[0] == 404 and r.is_static[0] and r.is_bot[0] and r.vhosts == ("x.org",)


def test_w3c_follows_fields_headers_that_change_mid_file():
    data = (b"#Software: Microsoft Internet Information Services 10.0\n"
            b"#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
            b"2000-10-10 20:55:36 1.2.3.4 GET /a 200\n"
            b"#Fields: date time cs-uri-stem sc-status cs(User-Agent)\n"
            b"2000-10-10 20:55:36 /b.png 404 Mozilla/5.0+(compatible;+bingbot/2.0)\n"
            b"2000-10-10 20:55:36 /c 200\n")  # wrong field count for the header in force
    res = parse_bytes(data, get_format("W3C"))
    assert len(res.records) == 2 and res.skipped == 3 and res.malformed.total == 1
    assert list(res.records.status) == [200, 404] and res.records.is_bot[1]


@pytest.mark.parametrize("fmt,line", [("COMBINED", COMBINED_LINE),
                                      ("VCOMBINED", b"a.org:80 " + COMBINED_LINE),
                                      ("COMMON", COMBINED_LINE.split(b' "http')[0]),
                                      ("JSON", b'{"time":"2000-10-10T20:55:36Z","status":200}'),
                                      ("W3C", b"#Fields: date time sc-status\n2000-10-10 20:55:36 200")])
def test_detection(fmt, line):
    assert detect_format([line] * 5).format.name == fmt


@pytest.mark.parametrize(("combined", "common", "want"), [
    (40, 0, "COMBINED"), (0, 40, "COMMON"),
    (40, 1, "COMBINED"),  # a stray line (its time unread): not a common log
    (24, 16, "COMMON"),  # a log of both: read whole, as common
])
def test_a_combined_log_with_a_stray_common_line_is_read_as_combined(combined, common, want):
    # a hosting trial: one '1.2.3.4 - - [not a date] "GET / HTTP/1.1" 200 1' among 40 combined
    # lines made the log COMMON (the line fits it, its time aside), every user agent lost
    short = COMBINED_LINE.split(b' "http')[0]
    lines = [COMBINED_LINE] * combined + [short] * (common - 1) + (
        [b'1.2.3.4 - - [not a date] "GET / HTTP/1.1" 200 1'] if common else [])
    assert detect_format(lines).format.name == want


def test_detection_says_nothing_matched():
    det = detect_format([b"hello world", b"not a log"])
    assert det.format is None and "COMBINED" in det.scores


def test_every_line_of_the_real_logs_parses(shared_data):
    for path in sorted((shared_data / "real_logs").glob("*.gz")):
        with gzip.open(path) as fh:
            data = fh.read()
        det = detect_format(data.split(b"\n")[:200])
        res = Parser(det.format).feed(data, final=True)
        assert res.malformed.total == 0, (path.name, res.malformed.counts)
        assert len(res.records) == data.count(b"\n") + (not data.endswith(b"\n")), path.name


def _regex_only(fmt_name: str):
    """A parser forced onto the per-line regex path, to check the vectorized one against it."""
    p = Parser(get_format(fmt_name))
    p._fast = None
    return p


def _sorted_cols(r):
    order = np.lexsort((r.is_static, r.is_bot, r.client, r.visitor, r.size, r.status, r.ts))
    return {k: getattr(r, k)[order].tolist() for k in
            ("ts", "utc_offset", "status", "size", "is_static", "is_bot", "client", "visitor")}


@pytest.mark.parametrize("fmt", ["COMBINED", "COMMON", "VCOMBINED", "VCOMMON"])
def test_vectorized_path_equals_the_regex_path(fmt, shared_data):
    for path in sorted((shared_data / "real_logs").glob("*.gz")):
        with gzip.open(path) as fh:
            data = fh.read()
        if fmt.startswith("V"):  # the same lines as nginx's `$host $remote_addr ...` writes them
            names = [b"www.example.com", b"Shop.Example.com:443", b"api:8080", b"b\xc3\xa9.fr"]
            data = b"".join(names[i % 4] + b" " + line
                            for i, line in enumerate(data.splitlines(keepends=True)))
        fast = Parser(get_format(fmt)).feed(data, final=True)
        slow = _regex_only(fmt).feed(data, final=True)
        assert fast.lines == slow.lines and fast.malformed.counts == slow.malformed.counts
        assert _sorted_cols(fast.records) == _sorted_cols(slow.records), path.name
        hosts = [np.array([*r.vhosts, ""], object)[r.vhost][  # each record's virtual host
            np.lexsort((r.visitor, r.size, r.status, r.ts))] for r in (fast.records, slow.records)]
        assert hosts[0].tolist() == hosts[1].tolist()


def test_vectorized_path_hands_odd_lines_to_the_regex_path():
    odd = [COMBINED_LINE, COMBINED_LINE + b" " + COMBINED_LINE,
           COMBINED_LINE.replace(b"/a/b.html?x=1", b'/a"b'), b"garbage line",
           COMBINED_LINE.replace(b"2326", b"-"), COMBINED_LINE + b"   ",
           COMBINED_LINE.replace(b"Oct", b"oct"), COMBINED_LINE.replace(b"2000:", b"1899:")]
    # Past the fixed windows of the vectorized path: long client, user, method, size; a
    # protocol of another length; many trailing spaces; an agent longer than 256 bytes.
    host = COMBINED_LINE.split(b" ", 1)[0]
    odd += [COMBINED_LINE.replace(host, b"h" * 63, 1), COMBINED_LINE.replace(host, b"h" * 64, 1),
            COMBINED_LINE.replace(b" - ", b" " + b"u" * 70 + b" ", 1),
            COMBINED_LINE.replace(b'"GET ', b'"' + b"M" * 40 + b" "),
            COMBINED_LINE.replace(b"2326", b"9" * 18), COMBINED_LINE.replace(b"2326", b"9" * 19),
            *(COMBINED_LINE.replace(b"2326", size) for size in
              (b"0", b"7", b"12345678", b"123456789", b"00000001", b"99999999", b"1a", b"12:4",
               b"123456789012345678", b"12345678901234567x", b"+1", b"\xb9")),
            COMBINED_LINE.replace(b"- frank", b"- -"), COMBINED_LINE.replace(b"- frank", b"-  -"),
            COMBINED_LINE.replace(b"?x=1 HTTP/1.1", b" HTTP/2"),
            COMBINED_LINE.replace(b"/a/b.html?x=1 HTTP/1.1", b"/s.css HTTP/10.10"),
            COMBINED_LINE.replace(b"/a/b.html?x=1 HTTP/1.1", b"/s.css HTTP/2"),
            COMBINED_LINE.replace(b"/a/b.html?x=1 HTTP/1.1", b"/s.css"),
            COMBINED_LINE.replace(b"/a/b.html?x=1 HTTP/1.1", b"/x y/s.css HTTP/1.1"),
            COMBINED_LINE + b" " * 16, COMBINED_LINE + b" " * 17,
            COMBINED_LINE[:-1] + b"x" * 300 + b'"']
    data = b"\n".join(odd) + b"\n"
    fast = Parser(get_format("COMBINED")).feed(data)
    slow = _regex_only("COMBINED").feed(data)
    assert _sorted_cols(fast.records) == _sorted_cols(slow.records)
    assert fast.malformed.counts == slow.malformed.counts


def test_vectorized_span_hash_equals_the_python_one():
    from trafficwatch.logs.fastclf import span_hash_py, span_hashes

    words = [b"", b"a", b"1.2.3.4", b"2001:db8::1", b"x" * 8, b"y" * 40, b"z" * 41,
             b"host-" * 30, b"\xff\x00\x01"]
    data = b"".join(words)
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w)
    s = np.asarray(starts, np.int64)
    e = s + np.asarray([len(w) for w in words], np.int64)
    got = span_hashes(np.frombuffer(data, np.uint8), s, e, data).tolist()
    assert got == [span_hash_py(w) for w in words]
    assert len(set(got)) == len(words)
    # agents: hashed in tiers of 4, 8, 16, 32, 64 words, longer ones one by one
    agents = [b"x" * k for k in (0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 97, 127, 128,
                                 129, 191, 192, 193, 255, 256, 257, 383, 384, 385, 511, 512, 513,
                                 600)]
    blob = b"".join(agents)
    a = np.cumsum([0] + [len(x) for x in agents])
    for width in (32, 64):
        hashed = span_hashes(np.frombuffer(blob, np.uint8), a[:-1], a[1:], blob, words=width)
        assert hashed.tolist() == [span_hash_py(x) for x in agents]


def test_a_format_hint_gives_what_full_detection_gives():
    from trafficwatch.logs.detect import detect_format
    from trafficwatch.logs.formats import COMBINED, COMMON

    sample = [COMBINED_LINE] * 5
    assert detect_format(sample, hint=COMBINED).scores == {"COMBINED": 1.0}  # later ones skipped
    # COMMON also parses combined lines; full detection prefers COMBINED, and so does the hint
    assert detect_format(sample, hint=COMMON).format is COMBINED is detect_format(sample).format
    det = detect_format([b'{"time": "2026-11-20T10:00:00Z", "status": 200}'] * 3, hint=COMBINED)
    assert det.format is not COMBINED and len(det.scores) > 1  # a wrong hint: full detection


def test_vectorized_paths_equal_the_regex_paths():
    from trafficwatch.logs.parse import ParseOptions

    paths = [b"/", b"/a/b.html?x=1", b"/a/b.html?y=2", b"/" + b"p" * 63, b"/" + b"p" * 64,
             b"/" + b"q" * 200 + b"?z", b"/caf\xc3\xa9", b"/bad\xff\xfe", b"/x y/z.css",
             b"/search?q=/api/"]
    lines = [COMBINED_LINE.replace(b"/a/b.html?x=1", p) for p in paths]
    lines.append(COMBINED_LINE.replace(b"/a/b.html?x=1 HTTP/1.1", b"/no/proto.gif"))
    data = b"\n".join(lines) + b"\n"
    opts = ParseOptions(keep_paths=True)
    fast = Parser(get_format("COMBINED"), opts).feed(data).records
    slow_parser = Parser(get_format("COMBINED"), opts)
    slow_parser._fast = None
    slow = slow_parser.feed(data).records
    assert fast.path.tolist() == slow.path.tolist()  # same line order: one chunk, no slow lines
    assert fast.path.tolist()[:3] == ["/", "/a/b.html", "/a/b.html"]  # no query string
    assert fast.path[4] == "/" + "p" * 64 and fast.path[5] == "/" + "q" * 200
    # bytes that are not UTF-8 kept as themselves (surrogateescape), not as the text \xff
    assert fast.path[7] == "/bad\udcff\udcfe" and fast.path[-1] == "/no/proto.gif"


@pytest.mark.parametrize("cache_max", [200_000, 3])
def test_bot_flags_stay_right_across_chunks_as_new_agents_come(cache_max, monkeypatch):
    monkeypatch.setattr(Parser, "BOT_CACHE_MAX", cache_max)  # 3: the cache is cleared often
    agents = [b"Mozilla/5.0 (X11)", b"Googlebot/2.1", b"curl/8.5.0", b"Mozilla/5.0 (iPhone)",
              b"Mozilla/5.0 (compatible; bingbot/2.0)", b"-", b"python-requests/2.31"]
    fast, slow = Parser(get_format("COMBINED")), _regex_only("COMBINED")
    for chunk in range(6):  # each chunk brings a new agent and repeats older ones
        lines = [COMBINED_LINE.replace(b"Mozilla/5.0 (X11; Linux x86_64)", agents[(chunk + k) % 7])
                 for k in range(chunk + 2)]
        data = b"\n".join(lines) + b"\n"
        a, b = fast.feed(data).records, slow.feed(data).records
        assert a.is_bot.tolist() == b.is_bot.tolist() and len(a) == chunk + 2
    assert fast._bot_keys.size <= max(cache_max, 7)


def test_many_long_paths_find_their_query_string_as_the_regex_path_does():
    from trafficwatch.logs.parse import ParseOptions

    lines = []
    for i in range(600):  # enough long paths for the chunk-wide search
        path = b"/" + b"seg/" * (40 + i % 30) + (b"?q=%d" % i if i % 3 else b"") + b"/tail"
        lines.append(COMBINED_LINE.replace(b"/a/b.html?x=1", path))
    data = b"\n".join(lines) + b"\n"
    fast = Parser(get_format("COMBINED"), ParseOptions(keep_paths=True)).feed(data).records
    slow_parser = Parser(get_format("COMBINED"), ParseOptions(keep_paths=True))
    slow_parser._fast = None
    slow = slow_parser.feed(data).records
    assert fast.path.tolist() == slow.path.tolist()
    assert sum("?" in p for p in fast.path.tolist()) == 0 and len(set(fast.path.tolist())) == 30


@pytest.mark.parametrize("fmt", ["COMBINED", "COMBINED:regex"])
def test_a_line_without_the_zone_its_log_writes_is_read_in_the_logs_zone(fmt):
    """One line with no offset in a -0700 log was counted as UTC, 7 hours off, silently (a
    trial). It is read in the zone of the line before it; a log that writes none is UTC."""
    def line(t: bytes) -> bytes:
        return b'1.2.3.4 - - [' + t + b'] "GET /x HTTP/1.1" 200 1 "-" "x"\n'

    data = (line(b"22/Oct/2021:10:31:00 -0700") + line(b"22/Oct/2021:10:32:00")
            + line(b"22/Oct/2021:10:33:00 -0700"))
    p = Parser(get_format("COMBINED"))
    if fmt.endswith(":regex"):
        p._fast = None
    res = p.feed(data)
    utc = 1634923800  # 2021-10-22 17:30 UTC
    assert res.records.ts.tolist() == [utc + 60, utc + 120, utc + 180]
    assert res.records.utc_offset.tolist() == [-25200] * 3
    none = Parser(get_format("COMBINED")).feed(line(b"22/Oct/2021:10:32:00"))
    assert none.records.ts.tolist() == [utc - 7 * 3600 + 120]


XFF_LINES = [b'198.51.100.%d, 10.0.0.2 - - [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1" 200 5 '
             b'"-" "Mozilla/5.0"' % i for i in range(7)]


@pytest.mark.parametrize("fmt", ["COMBINED", "COMBINED:regex"])
def test_a_log_that_starts_with_a_forwarded_list_is_combined_and_its_first_address_the_client(fmt):
    # read as vhost-combined, each client was a site ("198.51.100.0,"), the file's name unused
    assert detect_format(XFF_LINES).format.name == "COMBINED"
    # written without a space after its comma, a token is one client (both paths alike); a
    # list of three; a trailing comma
    no_space = XFF_LINES[0].replace(b"198.51.100.0, 10.0.0.2", b"198.51.100.9,10.0.0.2")
    three = XFF_LINES[0].replace(b"198.51.100.0, 10.0.0.2", b"198.51.100.8, 10.0.0.2, 10.0.0.3")
    trailing = XFF_LINES[0].replace(b"198.51.100.0, 10.0.0.2", b"198.51.100.7,")
    lines = [*XFF_LINES, no_space, three, trailing, COMBINED_LINE]
    p = Parser(get_format("COMBINED"), ParseOptions(keep_clients=True))
    if fmt.endswith(":regex"):
        p._fast = None  # the per-line path gives the same
    r = p.feed(b"\n".join(lines) + b"\n").records
    assert list(r.client_name) == [f"198.51.100.{i}" for i in range(7)] + [
        "198.51.100.9,10.0.0.2", "198.51.100.8", "198.51.100.7", "203.0.113.9"]
    assert list(r.vhost) == [-1] * 11


def test_one_host_header_with_a_comma_keeps_a_vhost_log_a_vhost_log():
    """A Host header "www.example.com,evil" (the client's to write) made the sample parse
    199 of 200 as VCOMBINED and 200 as COMBINED: every site was counted as the file's."""
    lines = [b"www.example.com " + COMBINED_LINE] * 5 + [b"www.example.com,evil " + COMBINED_LINE]
    assert detect_format(lines).format.name == "VCOMBINED"


def test_an_nginx_format_behind_a_proxy_takes_the_first_forwarded_address_as_the_client():
    fmt = get_format('$proxy_add_x_forwarded_for - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent"')
    # the list is the client's to write: any text after its first address (a review: "x y,
    # 198.51.100.7" was malformed, and a client could keep its requests out of the counts)
    odd = XFF_LINES[0].replace(b"198.51.100.0, 10.0.0.2", b"x y, 198.51.100.7")
    r = parse_bytes(b"\n".join([*XFF_LINES, odd]) + b"\n", fmt,
                    ParseOptions(keep_clients=True)).records
    assert list(r.client_name) == [f"198.51.100.{i}" for i in range(7)] + ["x"]
    # beside $remote_addr, the list is skipped and $remote_addr stays the client
    fmt = get_format('$remote_addr - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent" '
                     '"$proxy_add_x_forwarded_for"')
    r = parse_bytes(COMBINED_LINE + b' "198.51.100.1, 203.0.113.9"\n', fmt,
                    ParseOptions(keep_clients=True)).records
    assert list(r.client_name) == ["203.0.113.9"]


# Load balancers' and proxies' layouts (AWS's examples, HAProxy's manual): a trial's ALB, ELB
# and HAProxy logs were "no known log format", and --log-format AWSALB was refused
ELB = (b'2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 '
       b'0.000073 0.001048 0.000057 200 200 0 29 "GET '
       b'http://www.example.com:80/a/b.css?x=1 HTTP/1.1" "curl/7.38.0" - -')
ALB = (b'https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 '
       b'192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET '
       b'https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" '
       b'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
       b'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/'
       b'73e2d6bc24d8a067 '
       b'"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" '
       b'"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" '
       b'1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" '
       b'"200" "-" "-"')
ALB6 = (b'h2 2018-07-02T22:23:00.186641Z app/my-lb/50dc 2001:db8::1:2817 - -1 -1 -1 460 '
        b'- 34 0 "POST https://www.example.com:443/api HTTP/2.0" "Mozilla/5.0" - - - '
        b'"-" "-" "-" - 2018-07-02T22:22:48.364000Z "-" "-" "-" "-" "-" "-" "-"')
S3 = (b'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be '
      b'awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 '
      b'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be '
      b'3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning '
      b'HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - '
      b's9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= '
      b'SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader '
      b'awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 '
      b'arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes')
HAP = (b'Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 '
       b'[06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - '
       b'---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"')
HAP_RAW = (b'10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in~ be/srv1 0/0/0/1/1 -1 +270 '
           b'- - CD-- 1/1/1/1/0 0/0 "GET /x?y HTTP/1.1"')
HAP_BAD = (b'10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in http-in/<NOSRV> -1/-1/-1/-1/0 400 '
           b'187 - - PR-- 1/1/1/1/0 0/0 "<BADREQ>"')  # a request it could not read: still one
LB_LINES = [
    ("AWSELB", ELB, 1431560383, 200, 29, "/a/b.css", "192.168.131.39", "my-loadbalancer"),
    ("AWSALB", ALB, 1530570180, 200, 57, "/", "192.168.131.39",
     "app/my-loadbalancer/50dc6c495c0c9188"),
    ("AWSALB", ALB6, 1530570180, 460, 0, "/api", "2001:db8::1", "app/my-lb/50dc"),
    ("AWSS3", S3, 1549411238, 200, 113, "/awsexamplebucket1", "192.0.2.3", "awsexamplebucket1"),
    ("HAPROXY", HAP, 1233922454, 200, 2750, "/index.html", "10.0.1.2", None),
    ("HAPROXY", HAP_RAW, 1233922454, 0, 270, "/x", "10.0.1.2", None),  # aborted: -1
    ("HAPROXY", HAP_BAD, 1233922454, 400, 187, "<BADREQ>", "10.0.1.2", None),
]


@pytest.mark.parametrize("name,line,ts,status,size,path,client,site", LB_LINES)
def test_load_balancer_and_proxy_logs_are_detected_and_read(name, line, ts, status, size, path,
                                                            client, site):
    assert detect_format([line] * 3).format.name == name
    r = one(line, name, keep_paths=True, keep_clients=True).records
    assert (r.ts.tolist(), r.status.tolist(), r.size.tolist()) == ([ts], [status], [size])
    assert list(r.path) == [path] and list(r.client_name) == [client]  # the URL's host left out
    assert (r.vhosts[r.vhost[0]] if site else None) == site
    assert bool(r.is_bot[0]) == (b"curl/" in line)  # HAProxy writes no agent: no bot


def test_a_format_without_a_user_agent_tells_no_request_a_bot():
    """Every request of a COMMON log was a bot (its agent taken as empty), --no-bots left none."""
    common = b'1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.0" 304 -'
    for fmt in ("COMMON", "COMMON:regex"):
        p = Parser(get_format("COMMON"))
        if fmt.endswith(":regex"):
            p._fast = None
        assert p.feed(common + b"\n").records.is_bot.tolist() == [False]
    assert one(COMBINED_LINE.replace(b"Mozilla/5.0 (X11; Linux x86_64)", b"")).records.is_bot[0]


@pytest.mark.parametrize("prefix", [
    b"Dec  5 10:15:02 web1 nginx: ",  # rsyslog, a one-digit day
    b"Nov 30 23:59:01 web1 nginx: ",
    b"Dec 05 10:15:02 web1 nginx[1234]: ",  # journalctl -o short
    b"2026-12-05T10:15:02.123000+00:00 web1 nginx: ",  # rsyslog's ISO time
    b"2026-12-05T10:15:02+0000 web1 nginx[1234]: ",  # journalctl -o short-iso
    b"<190>Dec  5 10:15:02 web1 nginx: ",  # with its priority
    b"2026-12-05T10:15:02.123000000Z stdout F ",  # CRI: /var/log/containers (ingress-nginx)
    b"\xef\xbb\xbf",  # a byte order mark, a file's first line
])
@pytest.mark.parametrize("vhost", [False, True])
def test_a_line_after_a_syslog_or_container_prefix_is_read_as_its_server_wrote_it(prefix, vhost):
    """A trial: the syslog time became a site per line (`dec 05 10:15:02 web1 nginx[1234]:`,
    1,001 sites for one server) or the client ("2026-12-05T10:15:02.123000000Z" for every
    line: --exclude-ip, visitors and top wrong), all without a word. Detected as the format
    its server wrote, every field as without the prefix, on the fast path's lines too."""
    site = b"shop.example.com:443 " if vhost else b""
    lines = [prefix + site + COMBINED_LINE.replace(b"203.0.113.9", f"203.0.113.{k}".encode())
             for k in range(5)]
    data = b"\n".join(lines) + b"\n"
    fmt = detect_format(lines).format
    assert fmt is not None and fmt.name == ("VCOMBINED" if vhost else "COMBINED")
    r = parse_bytes(data, fmt, ParseOptions(keep_paths=True)).records
    assert len(r) == 5
    assert (r.ts == T).all() and (r.status == 200).all() and list(r.path) == ["/a/b.html"] * 5
    assert sorted(r.client) == sorted(client_hash(f"203.0.113.{k}") for k in range(5))
    if vhost:
        assert {r.vhosts[i] for i in r.vhost} == {"shop.example.com"}


@pytest.mark.parametrize("timing", [b" 0.009", b" 1234", b" 0.009 0.008", b" -"])
def test_timings_between_the_bytes_and_the_referer_keep_the_agent(timing):
    """A trial: nginx's `$body_bytes_sent $request_time "$http_referer" ...` (Apache's `%b %D`)
    was read as COMMON: its agents dropped, --bots-only counted 0 and --no-bots every line,
    nothing said."""
    lines = [b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 404 153' + timing
             + b' "-" "curl/8.4.0"'] * 5
    fmt = detect_format(lines).format
    assert fmt is not None and fmt.name == "COMBINED"
    r = parse_bytes(b"\n".join(lines) + b"\n", fmt, ParseOptions()).records
    assert len(r) == 5 and r.is_bot.all() and (r.size == 153).all() and (r.ts == T).all()


def test_a_proxys_absolute_url_is_read_as_its_path():
    """A trial: Varnish's varnishncsa writes the request's absolute URL; `--path '^/api'` then
    matched none of its paths, each `http://example.com/...`."""
    head = b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET '
    lines = [head + b'http://example.com/api/x?y=1 HTTP/1.1" 200 5 "-" "ua"',
             head + b'https://example.com HTTP/1.1" 200 5 "-" "ua"',
             head + b'/b.png HTTP/1.1" 200 5 "-" "ua"']
    r = parse_bytes(b"\n".join(lines) + b"\n", get_format("COMBINED"),
                    ParseOptions(keep_paths=True)).records
    assert list(r.path) == ["/api/x", "/", "/b.png"] and list(r.is_static) == [False, False, True]


def test_a_google_cloud_load_balancer_line_keeps_its_path_client_and_agent():
    """A trial: Google Cloud's load balancer logs (httpRequest.requestUrl, remoteIp,
    userAgent...) were read with their hours and statuses but no path, client or agent."""
    line = (b'{"httpRequest": {"requestMethod": "GET", "requestUrl": "https://example.com/a/b.png'
            b'?x=1", "status": 404, "responseSize": "612", "userAgent": "curl/8.4.0", '
            b'"remoteIp": "203.0.113.5"}, "timestamp": "2000-10-10T20:55:36.123Z"}')
    fmt = detect_format([line] * 3).format
    assert fmt is not None and fmt.name == "JSON"
    r = parse_bytes(line + b"\n", fmt, ParseOptions(keep_paths=True)).records
    assert list(r.path) == ["/a/b.png"] and r.is_static[0] and r.is_bot[0]
    assert r.client[0] == client_hash("203.0.113.5") and r.status[0] == 404
    assert r.size[0] == 612 and r.ts[0] == T


@pytest.mark.parametrize(("date_format", "time_format"), [("%d/%b/%Y", "%T"),
                                                          ("%d/%b/%Y", "%H:%M:%S")])
def test_a_goaccess_spec_takes_the_time_format_our_hint_gives(date_format, time_format):
    """A trial: our own hint, `--date-format %d/%b/%Y --time-format %T`, parsed no line
    (Python's strptime has no %T)."""
    fmt = get_format('%h %^[%d:%t %^] "%r" %s %b "%R" "%u"', date_format=date_format,
                     time_format=time_format)
    r = parse_bytes(COMBINED_LINE + b"\n", fmt, ParseOptions()).records
    assert len(r) == 1 and r.ts[0] == calendar.timegm((2000, 10, 10, 13, 55, 36))


def test_a_folder_of_aws_log_files_under_the_names_aws_gives_them_is_read(tmp_path):
    """A trial: a folder filled by `aws s3 sync` (CloudFront's `E2K2LNL5N3WR51.2026-12-05-10.
    90bfa9e6.gz`, S3's `2026-12-05-10-15-02-A1B2C3D4E5F6A7B8`) was "no access log in it"."""
    from trafficwatch.cli.main import main

    s3 = (b'79a5 mybucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a5 3E57427F3EXAMPLE '
          b'REST.GET.VERSIONING - "GET /mybucket?versioning HTTP/1.1" 200 - 113 - 7 - "-" '
          b'"S3Console/0.4" - s9lz= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader '
          b'mybucket.s3.us-west-1.amazonaws.com TLSV1.2\n')
    (tmp_path / "2019-02-06-00-00-38-A1B2C3D4E5F6A7B8").write_bytes(s3 * 3)
    (tmp_path / "README").write_text("not a log\n")
    assert main(["counts", str(tmp_path)]) == 0


@pytest.mark.parametrize("given", ["203.0.113.5", "::ffff:203.0.113.5"])
def test_an_excluded_address_is_excluded_however_the_log_writes_it(given):
    """A trial: `--exclude-ip 203.0.113.5` missed every `::ffff:203.0.113.5` of an Express
    log (IPv4-mapped, as a dual-stack listener writes it), which the range /24 caught."""
    lines = [COMBINED_LINE.replace(b"203.0.113.9", ip) for ip in
             (b"203.0.113.5", b"::ffff:203.0.113.5", b"203.0.113.6", b"::ffff:203.0.113.6")]
    res = parse_bytes(b"\n".join(lines) + b"\n", get_format("COMBINED"),
                      ParseOptions(exclude_ips=(given,)))
    assert len(res.records) == 2 and res.excluded == 2
    assert sorted(res.records.client) == sorted(client_hash(ip) for ip in
                                                ("203.0.113.6", "::ffff:203.0.113.6"))


@pytest.mark.parametrize("head", [b"#Software: Microsoft Internet Information Services 10.0\n",
                                  b""])
def test_an_iis_log_with_a_byte_order_mark_is_read_whole(tmp_path, head):
    """A trial: an IIS log saved with a UTF-8 byte order mark had its first header counted as a
    malformed line, or, where the #Fields: line came first, was "no known log format", exit 2."""
    from trafficwatch.cli.main import main

    data = (b"\xef\xbb\xbf" + head + b"#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
            + b"2000-10-10 20:55:36 1.2.3.4 GET /a 200\n" * 3)
    path = tmp_path / "u_ex001010.log"
    path.write_bytes(data)
    sample = data.split(b"\n")[:10]
    fmt = detect_format(sample).format
    assert fmt is not None and fmt.name == "W3C"
    res = parse_bytes(data, fmt, ParseOptions())
    assert len(res.records) == 3 and not res.malformed.counts and (res.records.ts == T).all()
    assert main(["counts", str(path)]) == 0


HAP_LINE = (b'203.0.113.5:51234 [05/Dec/2026:11:15:02.123] http-in~ web/srv1 10/0/30/69/109 200 '
            b'612 - - ---- 1/1/1/1/0 0/0 "GET /index.html?x=1 HTTP/1.1"')


@pytest.mark.parametrize(("prefix", "offset"), [
    (b"2026-12-05T11:15:02.123000+01:00 lb1 haproxy[14389]: ", 3600),  # rsyslog, RFC 3339
    (b"<134>1 2026-12-05T11:15:02.123+01:00 lb1 haproxy 14389 - - ", 3600),  # RFC 5424
    (b"<134>1 2026-12-05T11:15:02.123Z lb1 haproxy 14389 - - ", 0),
    (b"Dec  5 11:15:02 lb1 haproxy[14389]: ", 0),  # BSD: no offset stated, UTC
])
def test_haproxy_after_a_syslog_time_with_an_offset_is_read_in_it(prefix, offset):
    """A trial: HAProxy's accept date has no offset; forwarded by rsyslog with RFC 3339 times
    at +01:00 it was counted an hour off, and behind an RFC 5424 prefix it was refused."""
    lines = [prefix + HAP_LINE] * 3
    fmt = detect_format(lines).format
    assert fmt is not None and fmt.name == "HAPROXY"
    r = parse_bytes(b"\n".join(lines) + b"\n", fmt, ParseOptions()).records
    assert len(r) == 3
    assert (r.ts == calendar.timegm((2026, 12, 5, 11, 15, 2)) - offset).all()
    assert (r.utc_offset == offset).all()


@pytest.mark.parametrize(("directive", "stamp", "ts"), [
    ("%{%Y-%m-%d %H:%M:%S}t", b"2000-10-10 20:55:36", T),
    ("%{%d/%b/%Y:%H:%M:%S %z}t", b"10/Oct/2000:13:55:36 -0700", T),
    ("%{msec}t", str(T * 1000 + 123).encode(), T),
    ("%{begin:sec}t", str(T).encode(), T),
])
def test_an_apache_logformat_with_a_time_of_its_own_form_is_read(directive, stamp, ts):
    """A trial: `LogFormat "%h %l %u [%{%Y-%m-%d %H:%M:%S}t] ..."` (or `%{msec}t`) was refused,
    "has no time field"."""
    fmt = get_format(f'%h %l %u [{directive}] \\"%r\\" %>s %b')
    line = b'1.2.3.4 - - [' + stamp + b'] "GET /a HTTP/1.1" 200 5'
    r = parse_bytes(line + b"\n", fmt, ParseOptions()).records
    assert len(r) == 1 and r.ts[0] == ts


@pytest.mark.parametrize("fmt", ["COMBINED", "VCOMBINED"])
def test_the_vectorized_path_reads_prefixed_lines_as_the_regex_path_does(fmt):
    """Lines after a syslog or container prefix are read on the vectorized path where their
    shape is exactly one (per line, a journald export was read 11 times slower), and each
    reads as the per-line pattern reads it, odd prefixes included."""
    from trafficwatch.logs.fastclf import parse_chunk

    body = (b"shop.example.com:443 " if fmt == "VCOMBINED" else b"") + COMBINED_LINE
    plain = [b"Dec  5 10:15:02 web1 nginx: ", b"Nov 30 23:59:01 web1 nginx: ",
             b"Dec 05 10:15:02 web1 nginx[1234]: ", b"2026-12-05T10:15:02.123+00:00 web1 nginx: ",
             b"2026-12-05T10:15:02+0000 web1 nginx[1]: ", b"2026-12-05T10:15:02.1Z stdout F ",
             b"\xef\xbb\xbf"]
    odd = [b"<190>Dec  5 10:15:02 web1 nginx: ", b"Dec 5 10:15:02 web1 nginx: ",
           b"Dec  5 10:15:02 web1 ngi[x]: ", b"Dec  5 10:15:02 web1 a b nginx: ",
           b"Dec  5 10:15:02 web1 nginx:", b"2026-12-05T10:15:02Z stdout P ",
           b"2026-12-05T10:15:02Z stderr F ", b"Foo ", b"Dec  5 10:15:02 ",
           b"\xef\xbb\xbfDec  5 10:15:02 web1 nginx: ", b"2026-12-05 "]
    lines = [p + body for p in plain + odd]
    data = b"\n".join(lines) + b"\n"
    _, fast_ids, _, _, _, _ = parse_chunk(data[:data.index(b"\n" + odd[0][:5]) + 1],
                                          combined=True, vhost=fmt == "VCOMBINED")
    assert len(fast_ids) == len(plain)  # every plain prefix on the vectorized path
    fast = Parser(get_format(fmt)).feed(data)
    slow = _regex_only(fmt).feed(data)
    assert _sorted_cols(fast.records) == _sorted_cols(slow.records)
    assert fast.malformed.counts == slow.malformed.counts
    assert len(fast.records) >= len(plain)
