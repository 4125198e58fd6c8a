"""Prometheus text-format exposition of what the app sees (`--metrics-addr HOST:PORT`)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from trafficwatch.safe import safe_name


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
    "trafficwatch_malformed_lines_total": ("counter", "Log lines that did not parse."),
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
    """'127.0.0.1:9877' or ':9877' (loopback) -> (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"bad --metrics-addr {text!r}: use HOST:PORT, e.g. 127.0.0.1:9877")
    return (host.strip("[]") or "127.0.0.1"), int(port)


class MetricsServer:
    """A small HTTP server answering GET and HEAD /metrics from a callable, in a daemon thread.

    ValueError (one line, naming the address) when the address is malformed or cannot be bound.
    """

    def __init__(self, addr: str, samples: Callable[[], Iterable[Sample]],
                 catalogue: dict[str, tuple[str, str]] | None = None) -> None:
        host, port = parse_addr(addr)
        get = samples

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(body_too=True)

            def do_HEAD(self) -> None:  # the same headers as GET, no body
                self._answer(body_too=False)

            def _answer(self, body_too: bool) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics here")  # no body for HEAD either
                    return
                body = render(get(), catalogue).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body_too:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep the TUI's terminal clean
                return

        try:
            self._httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:  # in use, no such host or address, not allowed (< 1024)
            why = exc.strerror or str(exc)
            raise ValueError(f"--metrics-addr {addr}: cannot listen there: {why}") from exc
        self.address = self._httpd.server_address
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve loop: never started, forever
            self._httpd.shutdown()
        self._httpd.server_close()
