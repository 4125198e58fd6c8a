"""Reading the fleet once (counts, forecast, eval, train): what it says when there is no count."""
from __future__ import annotations

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
