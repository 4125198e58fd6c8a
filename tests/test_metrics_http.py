"""The /metrics endpoint over HTTP, for the app and the agent alike: HEAD as GET without the body,
IPv6 addresses in brackets ([::1]:9877, [::]:9877), bad addresses one line and exit 2."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from trafficwatch.cli.agent import run_agent
from trafficwatch.cli.main import build_parser, main
from trafficwatch.cli.options import check_usage
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


def raw(host: str, port: int, method: str,
        target: str = "/metrics") -> tuple[str, dict[str, str], bytes]:
    """One HTTP/1.0 request: the status line, the headers and every byte after them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(f"{method} {target} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
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
        req = urllib.request.Request(f"{server.url}", method="HEAD")
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
        status, _, body = raw(*server.address[:2], "HEAD", "/other")
        assert status.split()[1] == "404" and body == b""
    finally:
        server.stop()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def test_the_apps_metrics_serve_on_ipv6_loopback(ipv6_loopback):
    server = MetricsServer("[::1]:0", lambda: SAMPLES)
    server.start()
    try:
        assert server.url.startswith("http://[::1]:")
        port = server.address[1]
        assert 'trafficwatch_yhat{site="a"} 7.0' in fetch(f"http://[::1]:{port}/metrics")
        assert_head_is_get_without_body("::1", port)
    finally:
        server.stop()


def test_all_interfaces_in_ipv6_take_ipv4_too(ipv6_loopback):
    server = MetricsServer("[::]:0", lambda: SAMPLES)
    server.start()
    try:
        port = server.address[1]
        assert 'trafficwatch_yhat{site="a"} 7.0' in fetch(f"http://[::1]:{port}/metrics")
        assert 'trafficwatch_yhat{site="a"} 7.0' in fetch(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.stop()


def test_the_app_binds_a_bracketed_ipv6_metrics_addr(capsys, logs, ipv6_loopback):
    # the address parses and binds; the app then stops only because the tests have no terminal
    assert main(["--metrics-addr", "[::1]:0", str(logs)]) == 2
    err = capsys.readouterr().err
    assert "needs a terminal" in err and "metrics-addr" not in err, err


def free_ipv6_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def test_agent_command_serves_on_ipv6_loopback(logs, ipv6_loopback, capfd):
    port = free_ipv6_port()
    args = build_parser().parse_args(["agent", str(logs), "--metrics-addr", f"[::1]:{port}",
                                      "--no-state"])
    check_usage(args)
    stop, done = threading.Event(), {}
    t = threading.Thread(target=lambda: done.setdefault("rc", run_agent(args, stop)))
    t.start()
    try:
        deadline, text = time.monotonic() + 5, ""
        while not text and time.monotonic() < deadline:
            try:
                text = fetch(f"http://[::1]:{port}/metrics")
            except OSError:
                time.sleep(0.05)
    finally:
        stop.set()
        t.join(timeout=10)
    assert 'trafficwatch_requests_total{site="a.example",status="5xx"} 1.0' in text
    assert done.get("rc") == 0
    assert f"serving http://[::1]:{port}/metrics" in capfd.readouterr().err  # a URL one can open


@pytest.mark.parametrize("command", [[], ["agent"]])
@pytest.mark.parametrize(("addr", "says"), [
    ("::1:9877", "an IPv6 address goes in brackets"),
    ("::", "use HOST:PORT"),
    ("[::1]", "use HOST:PORT"),
    ("[::1:9877", "use HOST:PORT"),
    ("[localhost]:9877", "brackets hold an IPv6 address"),
    ("[::1]:99999", "use HOST:PORT"),
])
def test_bad_ipv6_metrics_addr_is_one_line_and_status_2(capsys, logs, command, addr, says):
    # in a thread: an address wrongly accepted would have the agent serve on it for ever
    done = {}
    t = threading.Thread(target=lambda: done.setdefault(
        "rc", main([*command, "--metrics-addr", addr, str(logs)])), daemon=True)
    t.start()
    t.join(timeout=10)
    code = done.get("rc", "still running: the address was accepted")
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert says in err and "[::1]:9877" in err, err


def test_idle_clients_are_bounded_and_closed_and_reset_ones_print_nothing(monkeypatch, capfd):
    """A security trial: 2,000 connections that sent half a request held 2,008 threads for
    ever; each client that reset its connection printed a traceback on the agent's stderr."""
    import struct

    from trafficwatch.engine import metrics

    monkeypatch.setattr(metrics, "CLIENT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(metrics, "MAX_CLIENTS", 8)
    server = MetricsServer("127.0.0.1:0", lambda: SAMPLES)
    server.start()
    before = threading.active_count()
    idle: list[socket.socket] = []
    try:
        host, port = server.address[:2]
        for _ in range(30):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")  # and nothing more
            idle.append(s)
        time.sleep(0.3)
        assert threading.active_count() <= before + 8
        for _ in range(5):  # sent, then reset before the answer is read
            s = socket.create_connection((host, port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            s.close()
        end = time.monotonic() + 10  # the idle ones closed by the server: a scrape answers
        status, body = "", b""  # (503 while every slot is taken: tried again)
        while time.monotonic() < end and status[9:12] in ("", "503"):
            try:
                status, _, body = raw(host, port, "GET")
            except OSError:
                pass
            if status[9:12] in ("", "503"):
                time.sleep(0.1)
        assert status.split()[1] == "200" and b"trafficwatch_yhat" in body
        # closed from its end, or told it was busy (503) past the slots
        assert all(s.recv(1) in (b"", b"H") for s in idle)
    finally:
        for s in idle:
            s.close()
        server.stop()
    assert "Traceback" not in capfd.readouterr().err


def held(monkeypatch, slots: int, connections: int | None = None, **settings: float):
    """A server of `slots` slots (metrics' other settings as given), every slot taken by a
    connection that has sent nothing (or `connections` of them): (server, host, port, those
    connections)."""
    from trafficwatch.engine import metrics

    monkeypatch.setattr(metrics, "MAX_CLIENTS", slots)
    for name, value in settings.items():
        monkeypatch.setattr(metrics, name, value)
    server = MetricsServer("127.0.0.1:0", lambda: SAMPLES)
    server.start()
    host, port = server.address[:2]
    return server, host, port, [socket.create_connection((host, port), timeout=5)
                                for _ in range(slots if connections is None else connections)]


def test_clients_that_trickle_a_request_cannot_hold_every_slot(monkeypatch):
    """A review: 64 connections each sending a header byte every 4 s kept their slots for ever
    (the timeout was per read), and every scrape was refused."""
    server, host, port, slow = held(monkeypatch, 4, CLIENT_TIMEOUT_S=1.0)
    stop = threading.Event()

    def trickle() -> None:
        for s in slow:
            s.sendall(b"GET /metrics HTTP/1.1\r\nX-a: ")
        while not stop.wait(0.3):  # a byte each, well within a read's timeout
            for s in slow:
                with contextlib.suppress(OSError):
                    s.sendall(b"a")

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        time.sleep(1.6)  # past the deadline of each: cut, their slots free again
        status, _, body = raw(host, port, "GET")
        assert status.split()[1] == "200" and b"trafficwatch_yhat" in body
    finally:
        stop.set()
        t.join(timeout=5)
        for s in slow:
            s.close()
        server.stop()


def test_the_agent_on_a_folder_still_empty_says_so_once(tmp_path, capfd):
    # a security trial: "empty for now; watching it for access logs" came twice at the start
    empty = tmp_path / "logs"
    empty.mkdir()
    args = build_parser().parse_args(["agent", str(empty), "--metrics-addr", "127.0.0.1:0",
                                      "--no-state"])
    check_usage(args)
    stop, done = threading.Event(), {}
    t = threading.Thread(target=lambda: done.setdefault("rc", run_agent(args, stop)))
    t.start()
    time.sleep(1.0)
    stop.set()
    t.join(timeout=10)
    err = capfd.readouterr().err
    assert done.get("rc") == 0 and err.count("empty for now; watching it") == 1, err


def test_one_address_cannot_take_every_slot_by_reconnecting(monkeypatch):
    """A review: 64 clients that each sent a byte and opened a new connection as soon as the
    old one was cut kept every slot full, 85 % of scrapes refused. One address holds
    MAX_PER_ADDRESS of them at most; another address is still served."""
    from trafficwatch.engine import metrics

    monkeypatch.setattr(metrics, "MAX_PER_ADDRESS", 3)
    server = MetricsServer("127.0.0.1:0", lambda: SAMPLES)
    server.start()
    host, port = server.address[:2]
    held = [socket.create_connection((host, port), timeout=5) for _ in range(3)]
    try:
        for s in held:
            s.sendall(b"G")
        time.sleep(0.3)
        with socket.create_connection((host, port), timeout=5) as extra:  # a 4th: 503
            extra.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            assert extra.recv(100).startswith(b"HTTP/1.0 503 ")
        for s in held:
            s.close()
        time.sleep(0.3)
        status, _, body = raw(host, port, "GET")  # slots given back once they are closed
        assert status.split()[1] == "200" and b"trafficwatch_yhat" in body
    finally:
        for s in held:
            s.close()
        server.stop()


def test_connections_that_send_nothing_give_their_slots_to_a_scrape(monkeypatch):
    """A fleet trial: 70 sockets that never sent a byte, reopened every 10 s, kept every scrape
    out, each refused with a bare close (Prometheus said "EOF"). Every slot taken, the one
    waiting longest for its request is cut for the new one; with none to cut, 503."""
    server, host, port, idle = held(monkeypatch, 4, PENDING_S=0.3)
    try:
        time.sleep(0.1)  # none waited PENDING_S: the next is told, not taken
        with socket.create_connection((host, port), timeout=5) as extra:
            got = extra.recv(200)
        assert got.startswith(b"HTTP/1.0 503 ") and b"Retry-After: 1" in got
        time.sleep(0.4)
        t0 = time.monotonic()
        status, _, body = raw(host, port, "GET")  # well before their 10 s are up
        assert status.split()[1] == "200" and b"trafficwatch_yhat" in body
        assert time.monotonic() - t0 < 2.0
        cut = 0
        for s in idle:
            s.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                cut += s.recv(1) == b""
        assert cut == 1  # the oldest one
        idle.append(socket.create_connection((host, port), timeout=5))  # full again
        time.sleep(0.4)  # a newcomer that has sent nothing cuts no one (one from each of many
        # addresses, cutting the one before, had left a scrape nothing to cut: a review)
        with socket.create_connection((host, port), timeout=5) as empty:
            assert empty.recv(200).startswith(b"HTTP/1.0 503 ")
        status, _, _ = raw(host, port, "GET")  # a scrape still does
        assert status.split()[1] == "200"
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_other_methods_are_405_and_a_gzip_scrape_is_compressed():
    """A fleet trial: POST was "501 Unsupported method", /metrics/ 404, and 470 KB of 1,001
    sites went unpacked to a Prometheus that asks for gzip."""
    import gzip

    server = MetricsServer("127.0.0.1:0", lambda: SAMPLES * 50)
    server.start()
    host, port = server.address[:2]
    try:
        status, headers, body = raw(host, port, "POST")
        assert status.split()[1] == "405" and headers["allow"] == "GET, HEAD" and body == b""
        url = f"http://{host}:{port}/metrics"
        plain = urllib.request.urlopen(url, timeout=5).read()
        for accept, packed in (("gzip", True), ("deflate, gzip;q=0.5", True), ("GZIP", True),
                               ("gzip;q=0", False), ("identity", False), ("br, *", True),
                               ("gzip;level=1;q=0", False), ("gzip;q=0, identity", False),
                               ("*;q=0", False), ("gzip;q=nan", False)):
            req = urllib.request.Request(url, headers={"Accept-Encoding": accept})
            with urllib.request.urlopen(req, timeout=5) as r:
                data = r.read()
                assert (r.headers.get("Content-Encoding") == "gzip") is packed, accept
                assert r.headers["Vary"] == "Accept-Encoding"
            assert (gzip.decompress(data) if packed else data) == plain
            if packed:
                assert len(data) < len(plain) / 5
        assert urllib.request.urlopen(url + "/", timeout=5).read() == plain
    finally:
        server.stop()


def test_an_absolute_form_target_is_answered():
    # RFC 9112: a server accepts `GET http://host/metrics` (a fleet trial's 404)
    server = MetricsServer("127.0.0.1:0", lambda: SAMPLES)
    server.start()
    try:
        for target, code in (("http://x/metrics", "200"), ("http://x:9/metrics/?a=1", "200"),
                             ("http://x/other", "404"), ("http://x", "404"),
                             ("/a://b/metrics", "404"), ("foo://bar/metrics?x", "200")):
            status, _, _ = raw(*server.address[:2], "GET", target)
            assert status.split()[1] == code, (target, status)
    finally:
        server.stop()


def test_a_scrape_from_an_address_at_its_share_cuts_its_connection_pending_longest(monkeypatch):
    # a fleet trial: 8 idle connections from the scraper's address, each seconds old, and
    # every scrape from it refused (the longest pending was cut for the whole pool only)
    server, host, port, idle = held(monkeypatch, 64, 3, MAX_PER_ADDRESS=3, PENDING_S=0.3)
    try:
        time.sleep(0.5)
        status, _, body = raw(host, port, "GET")
        assert status.split()[1] == "200" and b"trafficwatch_yhat" in body
        cut = 0
        for s in idle:
            s.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                cut += s.recv(1) == b""
        assert cut == 1
        idle.append(socket.create_connection((host, port), timeout=5))  # its share again
        time.sleep(0.4)
        with socket.create_connection((host, port), timeout=5) as empty:  # sent nothing:
            assert empty.recv(200).startswith(b"HTTP/1.0 503 ")  # cuts no one
    finally:
        for s in idle:
            s.close()
        server.stop()
