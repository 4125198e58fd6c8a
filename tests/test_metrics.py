"""Prometheus exposition: format, label escaping, the HTTP endpoint on loopback."""
from __future__ import annotations

import urllib.request

import pytest

from trafficwatch.engine.metrics import MetricsServer, Sample, parse_addr, render


def test_render_groups_samples_with_help_and_type():
    text = render([
        Sample("trafficwatch_requests_total", (("site", "a"), ("status", "2xx")), 5),
        Sample("trafficwatch_requests_total", (("site", "a"), ("status", "5xx")), 1),
        Sample("trafficwatch_anomaly", (("site", "a"),), -1),
    ])
    lines = text.splitlines()
    assert lines[0].startswith("# HELP trafficwatch_requests_total")
    assert lines[1] == "# TYPE trafficwatch_requests_total counter"
    assert 'trafficwatch_requests_total{site="a",status="2xx"} 5.0' in lines
    assert 'trafficwatch_anomaly{site="a"} -1.0' in lines


def test_label_values_from_logs_are_escaped():
    text = render([Sample("trafficwatch_yhat", (("site", 'x"} 1\nevil 2'),), 3)])
    assert 'trafficwatch_yhat{site="x\\"} 1\\\\x0aevil 2"} 3.0' in text
    assert "\nevil 2" not in text


def test_nan_is_written_as_prometheus_nan():
    assert render([Sample("trafficwatch_yhat", (), float("nan"))]).endswith("trafficwatch_yhat NaN\n")


@pytest.mark.parametrize("addr,expected", [(":9877", ("127.0.0.1", 9877)),
                                           ("0.0.0.0:80", ("0.0.0.0", 80)),
                                           ("[::1]:9000", ("::1", 9000))])
def test_parse_addr(addr, expected):
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("addr", ["9877", "host:", "h:99999", "h:x"])
def test_bad_addr_is_refused(addr):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_addr(addr)


def test_server_answers_metrics_on_loopback():
    server = MetricsServer("127.0.0.1:0", lambda: [Sample("trafficwatch_yhat", (("site", "a"),), 7)])
    server.start()
    try:
        host, port = server.address[:2]
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert 'trafficwatch_yhat{site="a"} 7.0' in body
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://{host}:{port}/other", timeout=5)
    finally:
        server.stop()
