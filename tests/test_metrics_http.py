"""The /metrics endpoint over HTTP, for the app and the agent alike: HEAD as GET without the body."""
from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.engine.agent import Agent
from trafficwatch.engine.metrics import MetricsServer, Sample

LINE = '1.2.3.4 - - [20/Nov/2026:10:01:00 +0000] "GET / HTTP/1.1" {s} 1 "-" "ua"\n'
SAMPLES = [Sample("trafficwatch_yhat", (("site", "a"),), 7),
           Sample("trafficwatch_forecast", (("site", "a"), ("q", "0.5")), 7)]


@pytest.fixture
def logs(tmp_path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a.example.access.log").write_text(LINE.format(s=200) * 3 + LINE.format(s=503))
    return d


@pytest.fixture
def ipv6_loopback() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")


def raw(host: str, port: int, method: str) -> tuple[str, dict[str, str], bytes]:
    """One HTTP/1.0 request: the status line, the headers and every byte after them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(f"{method} /metrics HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *rows = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (r.partition(":") for r in rows)}
    return status, headers, body


def assert_head_is_get_without_body(host: str, port: int) -> None:
    status, got, body = raw(host, port, "GET")
    assert status.split()[1] == "200" and int(got["content-length"]) == len(body) > 0
    status, head, rest = raw(host, port, "HEAD")
    assert status.split()[1] == "200", status
    assert rest == b""
    assert head["content-type"] == got["content-type"]
    assert head["content-type"].startswith("text/plain; version=0.0.4")
    assert head["content-length"] == got["content-length"]


def test_head_metrics_answers_as_get_without_a_body():
    server = MetricsServer("127.0.0.1:0", lambda: SAMPLES)
    server.start()
    try:
        assert_head_is_get_without_body(*server.address[:2])
        host, port = server.address[:2]
        req = urllib.request.Request(f"http://{host}:{port}/metrics", method="HEAD")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200 and resp.read() == b""
    finally:
        server.stop()


def test_head_on_the_agents_metrics_answers_as_get(logs):
    agent = Agent([str(logs)], IngestOptions(), "127.0.0.1:0", None)
    agent.start()
    try:
        assert_head_is_get_without_body(*agent.address)
    finally:
        agent.close()


def test_head_elsewhere_is_404_without_a_body():
    server = MetricsServer("127.0.0.1:0", lambda: SAMPLES)
    server.start()
    try:
        host, port = server.address[:2]
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"HEAD /other HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.split()[1] == b"404" and body == b""
    finally:
        server.stop()
