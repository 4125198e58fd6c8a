"""Start a real Prometheus for a benchmark or a test and wait until it is ready (shared by
bench/fleet_app.py and tests/test_fleet_prometheus.py; bench/ is not a package)."""
from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prometheus(tmp: Path, config: str, tsdb: Path, timeout_s: float,
                     extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """Run `prometheus` with this config text ("{port}" in it: the port it listens on; written
    to tmp/prometheus.yml, its stderr to tmp/prometheus.err) on a free port; (process, base URL)
    once /-/ready answers, else RuntimeError with why (the process is killed)."""
    port = free_port()
    (tmp / "prometheus.yml").write_text(config.replace("{port}", str(port)))
    err = tmp / "prometheus.err"
    with err.open("w") as log:
        proc = subprocess.Popen(["prometheus", f"--config.file={tmp / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tsdb}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                                 *extra], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus could not start: {err.read_text()[-800:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"prometheus did not get ready within {timeout_s:.0f} s")
