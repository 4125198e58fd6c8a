"""Prometheus text-format exposition of what the app sees (`--metrics-addr HOST:PORT`), and the
HTTP server the app and the agent serve it with."""
from __future__ import annotations

import contextlib
import gzip
import io
import ipaddress
import logging
import math
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from trafficwatch.safe import safe_name, safe_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One metric sample: name, labels, value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


HELP = {
    "trafficwatch_requests_total": ("counter", "Requests counted, by site and status class."),
    "trafficwatch_yhat": ("gauge", "Forecast requests (median) for the current hour, by site."),
    "trafficwatch_yhat_lower": ("gauge", "Lower edge of the forecast band (--band) for the current hour."),
    "trafficwatch_yhat_upper": ("gauge", "Upper edge of the forecast band (--band) for the current hour."),
    "trafficwatch_forecast": (
        "gauge", "Forecast requests for the current hour, by site and quantile (label q)."),
    "trafficwatch_forecast_hour_timestamp_seconds": (
        "gauge", "Start of the hour the site's forecast is for (UTC epoch seconds)."),
    "trafficwatch_anomaly": ("gauge", "1 above the band, -1 below, 0 inside, for the last complete hour."),
    "trafficwatch_malformed_lines_total": (
        "counter", "Log lines that did not parse (the lines of other_lines_total aside)."),
    "trafficwatch_other_lines_total": (
        "counter", ("Lines of a log that are no request and no fault (an error log's, a "
                    "server's own messages, lines already counted).")),
}


def _escape(value: str) -> str:
    # Label values come from logs (vhost names): the name as shown everywhere (no control
    # characters left), then escaped as the exposition format requires.
    return safe_name(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(samples: Iterable[Sample], catalogue: dict[str, tuple[str, str]] | None = None) -> str:
    """Samples in the Prometheus text exposition format (version 0.0.4); `catalogue`: name ->
    (type, help text), HELP by default."""
    known = HELP if catalogue is None else catalogue
    by_name: dict[str, list[Sample]] = {}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    out: list[str] = []
    for name, group in by_name.items():
        kind, text = known.get(name, ("gauge", name))
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")
        for s in group:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
            value = "NaN" if s.value != s.value else repr(float(s.value))
            out.append(f"{name}{{{labels}}} {value}" if labels else f"{name} {value}")
    return "\n".join(out) + "\n"


def parse_addr(text: str) -> tuple[str, int]:
    """'127.0.0.1:9877', ':9877' (loopback), '[::1]:9877' or '[::]:9877' (IPv6 in brackets, as
    Prometheus and Go write it) -> (host, port); ValueError (one line) when malformed."""
    usage = f"bad --metrics-addr {text!r}: use HOST:PORT, e.g. 127.0.0.1:9877 or [::1]:9877"
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        raise ValueError(usage)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{usage} (brackets hold an IPv6 address)") from None
        return host, int(port)
    if ":" in host:  # '::1:9877' reads as the address ::1:9877 as well as ::1 port 9877
        raise ValueError(f"{usage} (an IPv6 address goes in brackets)")
    if "[" in host or "]" in host:
        raise ValueError(usage)
    return host or "127.0.0.1", int(port)


def _listen_at(host: str, port: int) -> tuple[int, tuple]:
    """(address family, socket address) to bind: IPv6 for an IPv6 address, IPv4 for an IPv4
    one, and for a host name its IPv4 address when it has one (what a name bound before IPv6
    was understood), else its IPv6 one. OSError (socket.gaierror) when it resolves to neither."""
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                               socket.AI_PASSIVE)
    infos = [i for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6)]
    if not infos:
        raise OSError(f"no IPv4 or IPv6 address for {host}")
    family, _, _, _, sockaddr = min(infos, key=lambda i: i[0] != socket.AF_INET)
    return family, sockaddr


MAX_CLIENTS = 64  # connections served at once; more are closed at once (a scraper needs one)
MAX_PER_ADDRESS = 8  # of them from one address: one that opened them again as each was cut held
# every slot all the same, 85 % of scrapes refused (a review)
CLIENT_TIMEOUT_S = 10.0  # a connection is served this long at most, from its first byte to
# its answer: a timeout of each read (its first form) let 64 clients each trickle a header byte
# every 4 s hold every slot for ever, every scrape refused (a review)
# (a security trial held 2,000 connections open, each having sent half a request: 2,008
# threads, 102 MB, for ever; each client that reset its connection printed a traceback on
# the agent's stderr, a way to flood its log)
PENDING_S = 1.0  # every slot taken, a connection that has not sent its whole request this long
# after it opened is cut for the new one (a scraper sends it at once): 70 sockets that sent
# nothing, reopened every 10 s, had kept every scrape out (a fleet trial)
SLOT_WAIT_S = 1.0  # how long a connection waits for the slot so freed
READY_S = 0.01  # ... which it gets only once its own whole request is in, looked for this long
# (connections that sent nothing, opened from many addresses, each cutting the one before as it
# turned a second old, had left a scrape nothing to cut: 61 % refused, a security review; on
# the thread that takes connections, 50 ms let a flood of empty ones hold scrapes seconds)
BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 25\r\nConnection: close\r\n\r\ntoo many connections now\n")
# (answered, not closed bare: Prometheus said only "EOF", a fleet trial)


class _Deadline(io.RawIOBase):
    """A connection's reads, each given what is left of one deadline (the answer's write
    then gets at most the same): a request sent a byte at a time ends at it."""

    def __init__(self, sock: socket.socket, end: float) -> None:
        super().__init__()
        self._sock, self._end = sock, end

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took too long")
        self._sock.settimeout(left)
        return self._sock.recv_into(b)


_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # an absolute-form request target


def _peer(address: str) -> str:
    """Whose connections a client's are, for MAX_PER_ADDRESS: its IPv4 address, or its IPv6
    address's /64 (one machine is given a /64: 8 connections an address let it take them all)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # (an IPv4 client of a [::] listener)
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def _request_in(sock: socket.socket) -> bool:
    """Whether a connection's whole request head is in (looked for READY_S at most)."""
    try:  # (poll: select fails past descriptor 1,024, which an agent of many logs passes)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        if not poller.poll(READY_S * 1000):
            return False
        return b"\r\n\r\n" in sock.recv(8192, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (OSError, ValueError):
        return False


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer on the address family of the address it serves, MAX_CLIENTS at a
    time, and quiet about clients that go away (the app's terminal is its screen)."""

    request_queue_size = 128  # connections the kernel holds before they are taken (5 had
    # left a burst of scrapes waiting seconds in its retries of the connect: a fleet trial)

    def __init__(self, family: int, sockaddr: tuple, handler: type) -> None:
        self.address_family = family  # read when the socket is made, in the base __init__
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._per_address: dict[str, int] = {}  # address -> connections served now
        self._pending: dict[socket.socket, tuple[float, str]] = {}  # served, whole request
        # not read yet: when each opened, and from where (_peer)
        self._count_lock = threading.Lock()
        self._freed = threading.Condition(self._count_lock)  # a connection gave its slot back
        super().__init__(sockaddr, handler)

    def _take(self, address: str, request: socket.socket) -> bool:
        with self._count_lock:
            full = self._per_address.get(address, 0) >= MAX_PER_ADDRESS
        if full:  # that address's share: its connection pending longest is cut for a
            # newcomer whose request is in, as for the whole pool (a scraper sharing an address
            # with a stuck client had every scrape refused, a fleet trial)
            if not (_request_in(request) and self._cut_pending(address)):
                return False
            with self._freed:  # until the cut one's thread has given its slot back
                if not self._freed.wait_for(
                        lambda: self._per_address.get(address, 0) < MAX_PER_ADDRESS,
                        timeout=SLOT_WAIT_S):
                    return False
        with self._count_lock:
            if self._per_address.get(address, 0) >= MAX_PER_ADDRESS:
                return False
            got = self._slots.acquire(blocking=False)
        if not got and _request_in(request) and self._cut_pending():
            got = self._slots.acquire(timeout=SLOT_WAIT_S)
        if not got:
            return False
        with self._count_lock:
            self._per_address[address] = self._per_address.get(address, 0) + 1
            self._pending[request] = (time.monotonic(), address)
        return True

    def _cut_pending(self, address: str | None = None) -> bool:
        """Cut the connection waiting longest for its request (of `address`, where given),
        where one has waited PENDING_S: its thread ends and gives its slot back. Whether one
        was cut."""
        with self._count_lock:
            waiting = [(since, sock) for sock, (since, peer) in self._pending.items()
                       if address is None or peer == address]
            if not waiting:
                return False
            since, sock = min(waiting, key=lambda w: w[0])
            if time.monotonic() - since < PENDING_S:
                return False
            del self._pending[sock]
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return True

    def answering(self, request: socket.socket) -> None:
        """The request is read: its connection is answered now, not cut for another."""
        with self._count_lock:
            self._pending.pop(request, None)

    def _give_back(self, address: str, request: socket.socket) -> None:
        with self._count_lock:
            self._pending.pop(request, None)
            left = self._per_address.get(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)
            self._slots.release()
            self._freed.notify_all()

    def process_request(self, request, client_address) -> None:
        address = _peer(str(client_address[0]))
        if not self._take(address, request):  # full, or that address has its share: 503
            with contextlib.suppress(OSError):  # (never waited on: a client not reading)
                request.setblocking(False)
                request.send(BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: its slot is free again
            self._give_back(address, request)
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._give_back(_peer(str(client_address[0])), request)

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ValueError)):  # reset, broken pipe, timed out: the
            return  # client's doing
        log.warning("metrics: answering a request failed: %s", safe_text(repr(exc)))

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:  # [::] takes IPv4 clients too, whatever
            with contextlib.suppress(AttributeError, OSError):  # the system's default
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def gzip_wanted(accept: str) -> bool:
    """Whether an Accept-Encoding header takes gzip: named (or `*`) with no q of 0."""
    wanted: dict[str, float] = {}
    for item in accept.split(","):
        name, *params = (x.strip().lower() for x in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            wanted[name] = q if math.isfinite(q) or q > 0 else 0.0  # (NaN: refused)
    q = wanted.get("gzip", wanted.get("x-gzip", wanted.get("*", 0.0)))
    return q > 0


class MetricsServer:
    """A small HTTP server answering GET and HEAD /metrics from a callable, in a daemon thread.

    ValueError (one line, naming the address) when the address is malformed or cannot be bound.
    """

    def __init__(self, addr: str, samples: Callable[[], Iterable[Sample]],
                 catalogue: dict[str, tuple[str, str]] | None = None) -> None:
        host, port = parse_addr(addr)
        get = samples

        class Handler(BaseHTTPRequestHandler):
            timeout = CLIENT_TIMEOUT_S

            def setup(self) -> None:
                super().setup()  # (one request a connection: HTTP/1.0, no keep-alive)
                made, self.rfile = self.rfile, io.BufferedReader(
                    _Deadline(self.connection, time.monotonic() + CLIENT_TIMEOUT_S))
                made.close()

            def parse_request(self) -> bool:
                ok = super().parse_request()
                self.server.answering(self.connection)  # read: never cut for another now
                return ok

            def do_GET(self) -> None:
                self._answer(body_too=True)

            def do_HEAD(self) -> None:  # the same headers as GET, no body
                self._answer(body_too=False)

            def _not_allowed(self) -> None:  # (501 "Unsupported method" had been said, as
                # of a method no server knows: a fleet trial)
                self.send_response(405)
                self.send_header("Allow", "GET, HEAD")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

            def _answer(self, body_too: bool) -> None:
                target = self.path  # absolute-form too (RFC 9112 3.2.2: a server accepts
                # `GET http://host/metrics`; 404 to a fleet trial's proxy-style request)
                if _ABSOLUTE.match(target):  # (a scheme first: `/a://b/metrics` is a path)
                    target = "/" + target.split("://", 1)[1].partition("/")[2]
                if target.split("?")[0] not in ("/metrics", "/metrics/"):
                    self.send_error(404, "only /metrics here")  # no body for HEAD either
                    return
                body = render(get(), catalogue).encode()
                packed = gzip_wanted(self.headers.get("Accept-Encoding", ""))
                if packed:  # what Prometheus asks for: 470 KB of 1,001 sites, 20 times less
                    body = gzip.compress(body, compresslevel=5)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                if packed:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Vary", "Accept-Encoding")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body_too:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep the TUI's terminal clean
                return

        try:
            self._httpd = _Server(*_listen_at(host, port), Handler)
        except OSError as exc:  # in use, no such host or address, not allowed (< 1024), no IPv6
            why = exc.strerror or str(exc)
            raise ValueError(f"--metrics-addr {addr}: cannot listen there: {why}") from exc
        self.address = self._httpd.server_address  # (host, port), or a 4-tuple for IPv6
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics",
                                        daemon=True)

    @property
    def url(self) -> str:
        """Where to fetch the metrics: http://127.0.0.1:9877/metrics, http://[::1]:9877/metrics."""
        host, port = self.address[:2]
        return f"http://[{host}]:{port}/metrics" if ":" in host else f"http://{host}:{port}/metrics"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve loop: never started, forever
            self._httpd.shutdown()
        self._httpd.server_close()
