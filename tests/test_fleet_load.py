"""Reading the fleet once (counts, forecast, eval, train): what it says when there is no count."""
from __future__ import annotations

import re

import pytest

from trafficwatch.fleet.load import load_fleet
from trafficwatch.fleet.prometheus import PromConfig, PrometheusClient

NOW = 1_796_310_720.0  # 2026-12-03 15:12 UTC: the agents started at 15:00:20


def answers(monkeypatch, sites: list[str]) -> None:
    """A Prometheus whose counters began inside the current hour: no whole hour, and no value
    at its start for the hour in progress; `sites` have series now."""
    def get(self, api, params):
        if api == "query_range":
            return {"resultType": "matrix", "result": []}
        if not params["query"].startswith("count by (site)"):  # the hour in progress: none
            return {"resultType": "vector", "result": []}
        return {"resultType": "vector",
                "result": [{"metric": {"site": s}, "value": [NOW, "6"]} for s in sites]}

    monkeypatch.setattr(PrometheusClient, "get", get)


def test_a_fresh_fleet_is_told_apart_from_a_missing_one(monkeypatch):
    cfg = PromConfig.build("http://prom:9090")
    answers(monkeypatch, ["shop.example.com", "blog.example.org"])
    with pytest.raises(ValueError, match="no whole hour") as fresh:
        load_fleet(cfg, now=NOW)
    said = str(fresh.value)
    assert "blog.example.org, shop.example.com" in said and "16:00 UTC" in said
    assert "are the agents scraped" not in said
    answers(monkeypatch, [])
    with pytest.raises(ValueError, match="are the agents scraped"):
        load_fleet(cfg, now=NOW)


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_refused_token_is_not_told_to_be_set(monkeypatch, capsys, token):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from trafficwatch.cli.main import main

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b"Unauthorized")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if token:
        monkeypatch.setenv("TRAFFICWATCH_PROMETHEUS_TOKEN", token)
    else:
        monkeypatch.delenv("TRAFFICWATCH_PROMETHEUS_TOKEN", raising=False)
    try:
        assert main(["counts", "--prometheus", f"http://127.0.0.1:{server.server_port}"]) == 2
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "401" in err
    if token:
        assert "was refused" in err and "set $TRAFFICWATCH" not in err and "wrong" not in err
    else:
        assert "set $TRAFFICWATCH_PROMETHEUS_TOKEN" in err


def serve(handler_get):
    """A local HTTP server whose GETs `handler_get(handler)` answers; (server, its URL)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            handler_get(self)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def matrix_of(series: list[tuple[str, list]]) -> bytes:
    import json

    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"site": site, "status": "2xx"}, "values": values}
        for site, values in series]}}).encode()


def test_a_count_no_site_could_have_and_sites_not_asked_for_are_not_read(monkeypatch):
    """A broken or hostile Prometheus: 1e19 in an hour had overflowed into a negative count and
    the app grew to 12 GB, unable to quit; a site "" crashed the site picker (its id was the
    'all sites' entry's); a site not asked for with --site raised a KeyError traceback; a
    sample's time of "1e400" or null raised OverflowError or TypeError out of `counts`, and
    stopped the app's reading for good (a security trial)."""
    import json
    import urllib.parse

    end = int(NOW) - int(NOW) % 3600

    def answer(h):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        if "query_range" in h.path:
            ts = range(int(q["start"][0]), int(q["end"][0]) + 1, 3600)
            odd = [["1e400", "3"], [None, "3"], ["x", "3"], [{"t": 1}, "3"], ["-inf", "3"]]
            body = matrix_of([("shop", [[t, "1e19" if t == end - 5 * 3600 else "40"]
                                        for t in ts] + odd),
                              ("", [[t, "5"] for t in ts]), ("blog", [[t, "7"] for t in ts])])
        else:
            body = json.dumps({"status": "success", "data": {"resultType": "vector",
                                                            "result": []}}).encode()
        h.send_response(200)
        h.end_headers()
        h.wfile.write(body)

    server, url = serve(answer)
    try:
        series = load_fleet(PromConfig.build(url, days=2), now=NOW, partial=False)
        assert series.sites() == ["blog", "shop"]  # no site ""
        shop = series.series("shop", "hits")
        assert shop.max() == 40 and shop.isna().sum() == 1 and (shop.dropna() >= 0).all()
        one = load_fleet(PromConfig.build(url, days=2, site="blog"), now=NOW, partial=False)
        assert one.sites() == ["blog"]
        with pytest.raises(ValueError, match="has no trafficwatch_requests_total"):
            load_fleet(PromConfig.build(url, days=2, site="nosuch"), now=NOW, partial=False)
    finally:
        server.shutdown()


def test_an_answer_that_drips_in_is_given_up_at_the_deadline():
    import time
    from dataclasses import replace

    from trafficwatch.fleet.prometheus import PrometheusError

    def drip(h):
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        try:
            for _ in range(60):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    server, url = serve(drip)
    try:
        client = PrometheusClient(replace(PromConfig.build(url), deadline=1.0))
        t0 = time.monotonic()
        with pytest.raises(PrometheusError, match="no whole answer within 1 s"):
            client.get("query", {"query": "up"})
        assert time.monotonic() - t0 < 3
    finally:
        server.shutdown()


@pytest.mark.parametrize("token", ["sk-PROD-abc123\r\n", "sk PROD", "sk-PRÖD-abc123"])
def test_a_token_with_a_line_end_or_a_space_is_never_printed(monkeypatch, capsys, token):
    from trafficwatch.cli.main import main

    def ok(h):  # a Prometheus with no such series
        import json

        kind = "matrix" if "query_range" in h.path else "vector"
        h.send_response(200)
        h.end_headers()
        h.wfile.write(json.dumps({"status": "success", "data": {"resultType": kind,
                                                                "result": []}}).encode())

    server, url = serve(ok)
    monkeypatch.setenv("TRAFFICWATCH_PROMETHEUS_TOKEN", token)
    try:
        code = main(["counts", "--prometheus", url, "--prometheus-days", "1"])
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert "PROD" not in err and "PRÖD" not in err and "abc123" not in err
    if token.strip() == token:  # a space inside: refused, said without it
        assert code == 2 and "an HTTP header cannot carry" in err
    else:  # a line end around it (a token file from Windows): read without it
        assert code == 2 and "over the last day:" in err and err.count("\n") == 1


@pytest.mark.parametrize("url, said", [("http://[::1", "Invalid IPv6 URL"),
                                       ("http://prom:99999", "Port out of range"),
                                       ("http://prom:9090/?x=1", "no ?query or #fragment")])
def test_a_url_that_cannot_be_asked_is_said_with_the_option(url, said):
    with pytest.raises(ValueError, match=r"^--prometheus .*" + re.escape(said)):
        PromConfig.build(url)


def test_a_site_asked_for_by_its_name_is_found_under_the_label_our_agent_gave_it(monkeypatch):
    # the agent exports a name as shown ('we\\ird' for the file we\ird.access.log): --site takes
    # the name, as the app does on the server, and the fleet keys the series by the name

    labels = ["we\\\\ird", "we\\ird.other", "plain"]  # ours, another exporter's, a plain name
    asked = []

    def unquote(s: str) -> str:
        return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), s)

    def matches(query: str, label: str) -> bool:  # Prometheus's matchers: = and =~ (anchored)
        m = re.search(r'site(=~?)"((?:[^"\\]|\\.)*)"', query)
        if m is None:
            return True
        asked.append(m.group(0))
        value = unquote(m.group(2))
        return label == value if m.group(1) == "=" else re.fullmatch(value, label) is not None

    def get(self, api, params):
        q = params["query"]
        if api == "query_range":
            return {"resultType": "matrix", "result": [
                {"metric": {"site": s, "status": "2xx"}, "values": [[NOW - NOW % 3600, "4"]]}
                for s in labels if matches(q, s)]}
        return {"resultType": "vector", "result": [
            {"metric": {"site": s}, "value": [NOW, "6"]} for s in labels
            if q.startswith("count by (site)") and matches(q, s)]}

    monkeypatch.setattr(PrometheusClient, "get", get)
    series = load_fleet(PromConfig.build("http://prom:9090", days=1), now=NOW, partial=False)
    assert series.sites() == ["plain", "we\\ird", "we\\ird.other"]
    one = load_fleet(PromConfig.build("http://prom:9090", days=1, site="we\\ird"), now=NOW,
                     partial=False)
    assert one.sites() == ["we\\ird"] and one.series("we\\ird", "hits").dropna().tolist() == [4]
    other = load_fleet(PromConfig.build("http://prom:9090", days=1, site="we\\ird.other"),
                       now=NOW, partial=False)
    assert other.sites() == ["we\\ird.other"]  # another exporter's label, as it is
    plain = load_fleet(PromConfig.build("http://prom:9090", days=1, site="plain"), now=NOW,
                       partial=False)
    assert plain.sites() == ["plain"] and asked[-1] == 'site="plain"'


def test_a_forecast_of_the_whole_fleet_says_it_sums_its_sites(monkeypatch, capsys):
    """`forecast DIR` says "3 sites summed (...); --site NAME for one"; `forecast --prometheus`
    printed the same sum without a word (a trial)."""
    import math
    import time

    from trafficwatch.cli.main import main

    end = int(time.time()) // 3600 * 3600

    def get(self, api, params):
        if api == "query_range":
            values = [[t, str(100 + 50 * math.sin(t / 3600 / 24 * 2 * math.pi))]
                      for t in range(int(params["start"]), int(params["end"]) + 1, 3600)
                      if t <= end]
            return {"resultType": "matrix",
                    "result": [{"metric": {"site": s, "status": "2xx"}, "values": values}
                               for s in ("shop.example.com", "blog.example.org")]}
        return {"resultType": "vector", "result": []}

    monkeypatch.setattr(PrometheusClient, "get", get)
    code = main(["forecast", "--prometheus", "http://prom:9090", "--horizon", "2"])
    err = capsys.readouterr().err
    assert code in (0, 1), err
    assert ("2 sites summed (blog.example.org, shop.example.com); --site NAME for one"
            in err), err
    main(["forecast", "--prometheus", "http://prom:9090", "--horizon", "2", "--site",
          "shop.example.com"])
    assert "summed" not in capsys.readouterr().err


@pytest.mark.parametrize("url", [
    "http://alice:s3cr3tPW@127.0.0.1:9090 ",  # a trailing space from a copy and paste
    "http://alice:s3cr3tPW@127.0.0.1:abc", "http://alice:s3cr3tPW@[::1",
    "ftp://alice:s3cr3tPW@x", "alice:s3cr3tPW@prom:9090", "http://alice:s3cr3tPW/x@prom:9090",
    "http://alice:s3cr3tPW?x@prom:9090", "http://alice:s3cr3tPW#x@prom:9090",
    "http://alice:1234/s3cr3tPW@prom:9090",  # parsed, it is host alice, port 1234
])
def test_a_password_in_a_url_that_does_not_parse_is_never_printed(capsys, url):
    """A URL with user:password is refused, but one that also failed to parse was quoted back
    whole, password and all (a trial: 5 of 5 such URLs)."""
    from trafficwatch.cli.main import main

    assert main(["counts", "--prometheus", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cr3t" not in err and "cr3tPW" not in err


def test_a_failed_redirect_names_its_target_and_a_slow_answer_is_not_unreachable(capsys):
    """A 302 to a port that refused read "cannot reach Prometheus at <the server that had
    answered>"; an answer slower than the timeout read "cannot reach ... timed out", sending
    a user to the firewalls for a heavy query (a trial)."""
    import time

    from trafficwatch.cli.main import main

    def redirect(h):
        h.send_response(302)
        h.send_header("Location", "http://127.0.0.1:9/elsewhere" + h.path)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def slow(h):
        time.sleep(3)

    server, url = serve(redirect)
    try:
        assert main(["counts", "--prometheus", url]) == 2
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"at {url} (redirected to http://127.0.0.1:9/elsewhere/api/v1/query_range)" in err
    assert "query=" not in err
    server, url = serve(slow)
    try:
        assert main(["counts", "--prometheus", url, "--prometheus-timeout", "1"]) == 2
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach" not in err
    assert f"Prometheus at {url} did not answer within 1 s" in err and "--site" in err


def test_counts_of_a_fleet_say_an_agent_not_reporting(monkeypatch, capsys):
    # a fleet trial: an agent killed, `counts --prometheus` printed the hour in progress fallen
    # by its requests and said nothing (the app said "1 of 4 agents not reporting")
    def get(self, api, params):
        q = params["query"]
        if api == "query_range":
            return {"resultType": "matrix", "result": [
                {"metric": {"site": "shop", "status": "2xx"},
                 "values": [[NOW - NOW % 3600 - 3600, "4"], [NOW - NOW % 3600, "6"]]}]}
        if q.startswith("count by (instance, job)"):
            live = ["10.0.0.1:9877", "10.0.0.2:9877"] if "last_over_time" in q else \
                ["10.0.0.1:9877"]
            return {"resultType": "vector", "result": [
                {"metric": {"instance": n, "job": "tw"}, "value": [NOW, "1"]} for n in live]}
        return {"resultType": "vector", "result": []}

    monkeypatch.setattr(PrometheusClient, "get", get)
    said: list[str] = []
    load_fleet(PromConfig.build("http://prom:9090", days=1), now=NOW, warn=said.append)
    assert said == [("Prometheus at http://prom:9090: 1 of 2 agents not reporting "
                     "(10.0.0.2:9877): the hours lack their requests")], said
    monkeypatch.setattr("sys.argv", ["trafficwatch"])
    from trafficwatch.cli.main import main

    monkeypatch.setattr("time.time", lambda: NOW)
    assert main(["counts", "--prometheus", "http://prom:9090"]) == 0
    assert "1 of 2 agents not reporting (10.0.0.2:9877)" in capsys.readouterr().err
