"""JSON access logs as Caddy, Traefik and nginx (escape=json) write them: the site without its
port, the client behind a proxy, bytes that are not UTF-8, a server's own lines (a trial of a
Caddy and Traefik user found each)."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from trafficwatch.cli.main import main
from trafficwatch.logs.formats import get_format
from trafficwatch.logs.parse import ParseOptions, client_hash, parse_bytes
from trafficwatch.logs.w3c import JsonLine

T = 1796500000  # 2026-12-05 19:46:40 UTC


def caddy(ts=T, host="shop.example", status=200, uri="/", logger="http.log.access.log0",
          **request) -> dict:
    return {"level": "info", "ts": ts, "logger": logger, "msg": "handled request",
            "request": {"remote_ip": "10.0.0.2", "client_ip": "198.51.100.1", "method": "GET",
                        "host": host, "uri": uri, "headers": {"User-Agent": ["Mozilla/5.0"]},
                        **request},
            "size": 10, "status": status}


def parse(*objs, fmt="CADDY"):
    data = b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n"
                    for o in objs)
    return parse_bytes(data, get_format(fmt), ParseOptions(keep_paths=True, keep_clients=True))


def test_a_hosts_port_and_case_make_no_site_of_their_own(tmp_path, capsys):
    """Example.COM:443 and example.com were two sites (the text formats' $host drops the
    port): --site picked one half, a forecast was of half the traffic."""
    r = parse(caddy(host="Shop.Example:443"), caddy(host="shop.example"),
              caddy(host="[2001:db8::1]:8443"), caddy(host="[2001:db8::1]")).records
    assert [r.vhosts[c] for c in r.vhost.tolist()] == ["shop.example", "shop.example",
                                                        "[2001:db8::1]", "[2001:db8::1]"]
    nginx = {"time_iso8601": "2026-12-05T10:00:00+01:00", "remote_addr": "10.0.0.1",
             "request": "GET / HTTP/1.1", "status": "200", "http_host": "Blog.Example:8080"}
    r = parse(nginx, fmt="JSON").records  # $http_host (with its port) names the site too
    assert r.vhosts == ("blog.example",)
    w3c = parse_bytes(b"#Fields: date time cs-host sc-status\n"
                      b"2026-12-05 10:00:00 www.Example.org:8080 200\n", get_format("W3C"))
    assert w3c.records.vhosts == ("www.example.org",)
    log = tmp_path / "caddy.log"
    log.write_text(json.dumps(caddy(host="Shop.Example:443")) + "\n"
                   + json.dumps(caddy(host="shop.example")) + "\n")
    assert main(["counts", str(log)]) == 0
    assert ",shop.example,hits,2," in capsys.readouterr().out


def test_caddys_client_behind_trusted_proxies_is_the_client():
    """remote_ip is the proxy's (a CDN: one client for every request), client_ip the client."""
    r = parse(caddy(), caddy(client_ip="198.51.100.2")).records
    assert r.client.tolist() == [client_hash("198.51.100.1"), client_hash("198.51.100.2")]


def test_bytes_that_are_not_utf8_a_bom_and_odd_numbers_are_read():
    """nginx's escape=json writes bytes >= 0x80 raw: a probe's /\\xc0\\xaf../etc/passwd was
    dropped as 'not a JSON object' (two such among a file's first lines: no format found); a
    byte order mark lost the first line; a JSON-escaped lone surrogate or a NaN status ended
    the program."""
    line = (b'{"time_iso8601":"2026-12-05T10:00:00+01:00","remote_addr":"10.0.0.1",'
            b'"request":"GET /\xc0\xaf../etc/passwd HTTP/1.1","status":"404"}')
    res = parse(b"\xef\xbb\xbf" + line, line, fmt="JSON")
    assert len(res.records) == 2 and res.malformed.total == 0
    assert res.records.path.tolist() == ["/\udcc0\udcaf../etc/passwd"] * 2  # its bytes, kept
    res = parse(b'{"ts":1796500000,"status":200,"uri":"/a\\ud800b"}',
                b'{"ts":1796500000,"status":NaN,"uri":"/b"}',
                b'{"ts":1796500000,"status":Infinity,"uri":"/c","size":1e400}')
    assert res.records.path.tolist() == ["/a\\ud800b", "/b", "/c"]
    assert res.records.status.tolist() == [200, 0, 0] and res.records.size.tolist()[2] == -1


def test_a_servers_own_lines_are_said_not_counted():
    """Caddy's tls.obtain, Traefik's own errors: counted as requests of a site named after the
    file; Caddy's http.log.error line counted its 502 a second time."""
    res = parse(caddy(),
                {"level": "info", "ts": T, "logger": "tls.obtain", "msg": "certificate obtained"},
                {"level": "error", "msg": "entry point error", "time": "2026-12-05T19:00:00Z"},
                caddy(status=502, logger="http.log.error"))
    assert len(res.records) == 1 and res.malformed.total == 3
    reasons = dict(res.malformed.counts)
    assert reasons["Caddy line of a logger other than http.log.access (its request, if any, is "
                   "there)"] == 1
    assert sum(n for k, n in reasons.items() if "not a request" in k) == 2


def test_caddys_time_formats():
    """unix_nano was 'more than a day ahead' (the whole file refused), wall and wall_milli a
    bad time; unix (s), unix_milli and the ISO forms were read (wall: no zone, read as UTC)."""
    got = parse(caddy(ts=T * 10**9 + 123), caddy(ts=T * 10**6), caddy(ts=T * 1000),
                caddy(ts="2026/12/05 19:46:40"), caddy(ts="2026/12/05 19:46:40.250"),
                caddy(ts="2026-12-05T19:46:40.250Z"))
    assert got.malformed.total == 0 and got.records.ts.tolist() == [T] * 6


def test_iso_times_read_alike_from_the_minute_they_were_cached_in():
    """ISO times are read once a minute, as CLF's (W3C 72k -> 97k lines/s): each second, zone
    and impossible second of a minute read as when each was read alone."""
    lines = [(s, z) for s in ("00", "59", "60", "61", "07.5") for z in ("Z", "+05:30", "-0700", "")]
    got = parse(*({"time": f"2026-12-05T10:00:{s}{z}", "status": 200} for s, z in lines),
                fmt="JSON")
    assert got.malformed.counts == {"bad time": 4}  # :61 in each zone
    zone = {"Z": 0, "+05:30": 19800, "-0700": -25200, "": 0}
    base = 1796464800  # 2026-12-05T10:00:00Z
    want = [base + int(float(s)) - zone[z] for s, z in lines if s != "61"]
    assert got.records.ts.tolist() == want


def test_odd_numbers_never_end_the_program():
    """A status of 40000 overflowed the int16 column and a size of 20 digits the int64 one
    (a fuzz test below): no status class, no size."""
    res = parse(b'{"time":"2026-12-05T10:00:00Z","status":"40000","size":"99999999999999999999"}',
                b'{"time":"2026-12-05T10:00:00Z","status":40000,"size":123456789012345678901}',
                fmt="JSON")
    assert res.records.status.tolist() == [0, 0] and res.records.size.tolist() == [-1, -1]


_KEYS = st.sampled_from(["ts", "time", "status", "uri", "host", "request", "method", "size",
                         "remote_ip", "client_ip", "User-Agent", "headers", "logger", "msec",
                         "http_host", "x"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                     st.sampled_from(["http.log.error", "2026-12-05T10:00:00Z", "1796500000",
                                      "[::1]:80", "a:b:c", "\ud800", "GET / HTTP/1.1", "40000"]))
_VALUES = st.recursive(_SCALARS, lambda c: st.one_of(st.lists(c, max_size=3),
                                                      st.dictionaries(_KEYS, c, max_size=4)),
                       max_leaves=12)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.dictionaries(_KEYS, _VALUES, max_size=8), st.sampled_from(["JSON", "CADDY"]))
def test_any_json_object_is_a_request_or_a_reason_never_a_crash(obj, fmt):
    line = json.dumps(obj).encode()
    res = parse(line, fmt=fmt)
    assert len(res.records) + res.malformed.total == 1
    JsonLine(get_format(fmt)).summary(line)  # the tail pane's words for it: no exception


def test_a_log_that_begins_with_the_servers_own_lines_is_still_read(tmp_path, capsys):
    """30 of Caddy's tls.cache.maintenance lines before its first request: counted as lines it
    could not read, they refused the log ("no known log format matches", a review). Its
    reverse proxy's debug lines carry a request and are no request either."""
    own = {"level": "info", "ts": T, "logger": "tls.cache.maintenance", "msg": "started"}
    proxy = caddy(logger="http.handlers.reverse_proxy")
    log = tmp_path / "caddy.log"
    log.write_text("".join(json.dumps(o) + "\n" for o in [own] * 30 + [caddy()] * 20 + [proxy]))
    assert main(["counts", str(log)]) == 0
    out, err = capsys.readouterr()
    assert ",shop.example,hits,20," in out and "20 counted, 0 malformed, 31 no request" in err, err


def test_the_tail_summary_cannot_be_made_to_show_another_request():
    """A path ending in `" 200 512 "Mozilla/5.0` read as a request that got 200 (a review): its
    quotes and backslashes are written as nginx writes them."""
    line = json.dumps(caddy(status=403, uri='/admin" 200 512 "Mozilla/5.0\\', host="C.example"))
    got = JsonLine(get_format("CADDY")).summary(line.encode())
    assert got == ('c.example 198.51.100.1 - - [05/Dec/2026:19:46:40 +0000] '
                   '"GET /admin\\x22 200 512 \\x22Mozilla/5.0\\x5C" 403 10 "-" "Mozilla/5.0"')
