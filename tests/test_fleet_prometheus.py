"""The fleet end to end: two agents follow two log directories of one site, a real Prometheus
(the Debian package `prometheus`) scrapes them every second, and the fleet's series read back
through the --prometheus code equals the sum of the two logs' own hourly counts.

Prometheus's clock cannot be sped up, so the test's "hours" are buckets of BUCKET_S seconds of
scrape time: the lines of log hour H0 + k are appended during bucket k, and the query runs with
a step of BUCKET_S instead of 3600 s (the same query, the same code). Tolerance: none. The test
waits, in each bucket, until Prometheus has scraped both agents after the last append, which is
the condition for exactness (README, "Fleet": otherwise lines counted in the last scrape
interval of an hour move to the next one). Where prometheus cannot start, the test fails.
"""
from __future__ import annotations

import calendar
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trafficwatch.fleet.prometheus import STATUS, PromConfig, PrometheusClient, fetch

BUCKET_S = 10  # a bucket holds an agent's kill, its restart and two scrapes: at 6 s a review's
# loaded 2-core machine restarted the agent too late ("the machine is too slow")
SITE = "example.com"
REPO = Path(__file__).resolve().parents[1]


def prometheus_server():
    """bench/prometheus_server.py (bench/ is not a package): starting a real Prometheus."""
    spec = importlib.util.spec_from_file_location("prometheus_server",
                                                  REPO / "bench" / "prometheus_server.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def line(ts: int, n: int, status: int) -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
    return f'10.0.0.{n % 250} - - [{stamp}] "GET /p{n} HTTP/1.1" {status} 12 "-" "curl/8"\n'


def append(log: Path, hour: int, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    stamps = np.sort(hour + rng.integers(0, 3600, count))
    statuses = rng.choice([200, 200, 200, 301, 404, 500], count)
    with log.open("a") as fh:
        fh.write("".join(line(int(t), i, int(s)) for i, (t, s) in enumerate(zip(stamps, statuses))))


def spawn_agent(logs: Path, state: Path, addr: str = "127.0.0.1:0") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "trafficwatch", "agent", str(logs),
                             "--metrics-addr", addr, "--state", str(state)],
                            stderr=subprocess.PIPE, env=env)


def agent_port(proc: subprocess.Popen) -> int:
    """The port `proc` (spawn_agent) says it serves on, once it says so."""
    deadline = time.monotonic() + 30
    seen = b""
    while time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.2)[0]:
            chunk = os.read(proc.stderr.fileno(), 4096)  # unbuffered: select sees every line
            seen += chunk
            for text in seen.decode(errors="replace").splitlines():
                if "serving http://" in text:
                    return int(text.rsplit(":", 1)[1].split("/")[0])
            if not chunk:
                break
    proc.kill()
    pytest.fail(f"the agent did not start: {seen.decode(errors='replace')[-500:]}")


def start_agent(logs: Path, state: Path, addr: str = "127.0.0.1:0") -> tuple[subprocess.Popen, int]:
    proc = spawn_agent(logs, state, addr)
    return proc, agent_port(proc)


def start_prometheus(tmp: Path, targets: list[str]) -> tuple[subprocess.Popen, str]:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: `apt-get install prometheus` (as root; "
                    ".ci/run does it) — this test needs a real server")
    config = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
              "scrape_configs:\n  - job_name: trafficwatch\n    static_configs:\n"
              f"      - targets: {json.dumps(targets)}\n")
    try:
        return prometheus_server().start_prometheus(tmp, config, tmp / "tsdb", 20)
    except RuntimeError as exc:
        pytest.fail(str(exc))


def per_instance(client: PrometheusClient) -> dict[str, float]:
    out = {}
    for labels, ((_, value),) in client.vector(
            'sum by (instance) (trafficwatch_requests_total{site="example.com"})', time.time()):
        out[labels["instance"]] = float(value)
    return out


def wait_scraped(client: PrometheusClient, want: dict[str, int], deadline: float, what: str):
    while time.time() < deadline:
        if per_instance(client) == {k: float(v) for k, v in want.items()}:
            return
        time.sleep(0.2)
    pytest.fail(f"{what}: Prometheus did not scrape both agents' new totals {want} within the "
                f"bucket (got {per_instance(client)}); the machine is too slow for this test")


def spawn_counts(d: Path) -> subprocess.Popen:
    """`trafficwatch counts` of one directory, started (the test waits for its buckets)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", str(d),
                             "--format", "json", "--tz", "UTC"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def local_hourly(*runs: subprocess.Popen) -> dict[int, int]:
    """The logs' own hourly counts (`trafficwatch counts`, spawn_counts), summed over the
    directories."""
    total: dict[int, int] = {}
    for proc in runs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode(errors="replace")[-500:]
        for row in json.loads(out):
            if row["count"] is not None:
                hour = calendar.timegm(time.strptime(row["hour"][:19], "%Y-%m-%dT%H:%M:%S"))
                total[hour] = total.get(hour, 0) + row["count"]
    return total


def test_fleet_series_equals_the_sum_of_both_logs_across_an_agent_kill(tmp_path):
    dirs = [tmp_path / "web1", tmp_path / "web2"]
    logs = []
    for d in dirs:
        d.mkdir()
        logs.append(d / f"{SITE}.access.log")
    h0 = (int(time.time()) // 3600 - 48) * 3600  # log hour of bucket 0 (two days ago)
    for i, log in enumerate(logs):
        append(log, h0 - 3600, 5 + i, seed=i)  # history: the counters start above zero
    odd = "we\\ird\x1b[0m"  # a name the agent exports as shown ('we\\\\ird\\x1b[0m')
    append(dirs[1] / f"{odd}.access.log", h0 - 3600, 3, seed=9)
    agents, procs = [], []
    before = int(time.time())
    try:
        # both agents start at once (each waits on its interpreter's imports)
        procs.extend(spawn_agent(d, tmp_path / f"state{i}.json") for i, d in enumerate(dirs))
        agents.extend(agent_port(proc) for proc in procs)
        prom, url = start_prometheus(tmp_path, [f"127.0.0.1:{p}" for p in agents])
        procs.append(prom)
        client = PrometheusClient(PromConfig.build(url, step=BUCKET_S))
        totals = {f"127.0.0.1:{agents[0]}": 5, f"127.0.0.1:{agents[1]}": 6}
        wait_scraped(client, totals, time.time() + 15, "start")
        t0 = (int(time.time()) // BUCKET_S + 1) * BUCKET_S
        sizes = [(40, 25), (31, 17), (12, 50), (9, 14)]
        for k, (na, nb) in enumerate(sizes):
            time.sleep(max(0.0, t0 + k * BUCKET_S + 0.3 - time.time()))
            if k == 1:  # web1's agent dies (no state saved since its start) while lines arrive
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
            append(logs[0], h0 + k * 3600, na, seed=10 + k)
            append(logs[1], h0 + k * 3600, nb, seed=20 + k)
            if k in (1, 3):
                if k == 3:  # down across the end of bucket 2 (a deploy at an hour's end):
                    # no sample of it at that instant, left out of buckets 2 and 3 (a trial)
                    time.sleep(max(0.0, t0 + k * BUCKET_S + 1.5 - time.time()))
                procs[0], _ = start_agent(dirs[0], tmp_path / "state0.json",
                                          f"127.0.0.1:{agents[0]}")
            totals = {key: v + n for (key, v), n in zip(totals.items(), (na, nb))}
            wait_scraped(client, totals, t0 + (k + 1) * BUCKET_S - 0.2, f"bucket {k}")
            if k == 2:  # scraped, then killed a second before the bucket ends
                time.sleep(max(0.0, t0 + (k + 1) * BUCKET_S - 1.5 - time.time()))
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
        # the logs are whole: their own counts are taken while the last bucket ends
        counting = [spawn_counts(d) for d in dirs]
        procs.extend(counting)
        time.sleep(max(0.0, t0 + len(sizes) * BUCKET_S + 0.2 - time.time()))

        fleet = fetch(client, t0, t0 + len(sizes) * BUCKET_S)
        grid = fleet.sites[SITE]  # (buckets, status classes)
        local = local_hourly(*counting)
        got = [int(v) for v in grid.sum(axis=1)]
        want = [local[h0 + k * 3600] for k in range(len(sizes))]
        assert got == want == [na + nb for na, nb in sizes]  # the kill: no lost, doubled or
        assert (grid >= 0).all() and grid[:, STATUS.index("4xx")].sum() > 0  # negative bucket
        # before the agents started Prometheus had nothing: gaps, not zeros
        early = fetch(client, before - before % BUCKET_S - 3 * BUCKET_S,
                      before - before % BUCKET_S)
        assert SITE not in early.sites or np.isnan(early.sites[SITE]).all()
        # --site takes the name, as on the server itself, and finds it under the agent's label
        one = fetch(PrometheusClient(PromConfig.build(url, step=BUCKET_S, site=odd)), t0,
                    t0 + len(sizes) * BUCKET_S)
        assert list(one.sites) == [odd] and set(fleet.sites) == {SITE, odd}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
