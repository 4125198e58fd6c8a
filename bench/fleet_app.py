"""The app on a fleet of 2 agents (--prometheus) vs the same traffic on a local log: start-up.

    PYTHONPATH=$PWD python bench/fleet_app.py [--weeks 8] [--interval 60] [--rate 4] [--seconds 20]

Issue 14's target: "the app on a fleet of 2 agents shows the first chart within 3 s of start".
The integration test's data are 6-second buckets, so this builds real hours instead:

1. `--weeks` weeks of one site (example.com) served by 2 agents, up to now: requests per minute
   with a daily and weekly shape (mean `--rate` per minute, seeded), split between the agents and
   over the status classes. Each agent's counters, exactly as the agent exports them and as
   Prometheus stores them after scraping (`trafficwatch_requests_total{site, status, instance,
   job}`, all six status classes from the first sample, cumulative), one sample every
   `--interval` s, go into an OpenMetrics file (timestamps in seconds, each series' samples in
   time order, `# EOF`), which `promtool tsdb create-blocks-from openmetrics` turns into blocks
   of a temp TSDB. A real Prometheus (/usr/bin/prometheus) then serves that TSDB on a free
   loopback port (retention 10 years, so nothing is dropped; it scrapes only itself).
   The counter at each sample counts the lines before it, so the fleet's hour [T-1h, T) equals
   the local log's hour exactly; the bench checks that through the app's own fetch() first, for
   every complete hour (the data begin on the hour, so neither source has a partial first hour).
2. `python -m trafficwatch --no-fine-tune --prometheus URL` in a detached 160x50 tmux session
   (own socket `tmux -L b14`); the screen is read every 50 ms for: first frame (footer
   "q Quit"), first chart (the chart's legend "⣿ actual" and an hour label "dd/mm HH:MM" on its
   axis: both are drawn only once the series has data; before, the chart's title is the status),
   forecast on screen (bench/app_rss.py's NEXT_HOUR: "Next hour ...: N" or the stale wording),
   and the resident memory of the app's process tree after `--seconds` s.
3. For reference, in the same run: the same measures for the app on a local log directory
   holding the same requests as nginx combined lines (`python -m trafficwatch --no-fine-tune
   DIR`, with its own state file in the temp dir). Both screens' "Last 7 days" MASE, band
   coverage and anomaly count are printed side by side: the same hours give the same figures.
4. Everything (prometheus, the tmux server, the temp dir) is cleaned up, also on error.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prometheus_server  # bench/ is not a package
from app_rss import NEXT_HOUR, tree_rss

from trafficwatch.fleet.prometheus import (
    STATUS,
    PromConfig,
    PrometheusClient,
    fetch,
)

SOCKET = "b14"
SITE = "example.com"
REPO = Path(__file__).resolve().parents[1]
STATUS_CODE = {"2xx": 200, "3xx": 301, "4xx": 404, "5xx": 503}
STATUS_P = {"other": 0.0, "1xx": 0.0, "2xx": 0.86, "3xx": 0.07, "4xx": 0.05, "5xx": 0.02}
AXIS_HOUR = re.compile(r"\d\d/\d\d \d\d:\d\d")


def traffic(weeks: int, rate: float, end: int, seed: int = 14) -> tuple[int, np.ndarray]:
    """(start, counts[minute, agent, status class]): requests per minute up to `end`, from the
    top of the hour `weeks` weeks before it (so that both sources have the same first hour:
    README, "Fleet", on a log that begins inside an hour)."""
    rng = np.random.default_rng(seed)
    start = (end - weeks * 7 * 86400) // 3600 * 3600
    minutes = (end - start) // 60
    t = start + 60 * np.arange(minutes)
    hour = (t % 86400) / 3600
    dow = (t // 86400 + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    daily = 1 + 0.8 * np.sin(2 * np.pi * (hour - 9) / 24)  # peak mid-afternoon, trough at night
    weekly = np.where(dow >= 5, 0.6, 1.0)
    lam = rate * daily * weekly / np.mean(daily * weekly)
    total = rng.poisson(lam)
    a = rng.binomial(total, 0.5)  # the load balancer's split
    p = np.array([STATUS_P[s] for s in STATUS])
    out = np.zeros((minutes, 2, len(STATUS)), np.int64)
    for i, n in enumerate((a, total - a)):
        out[:, i] = rng.multinomial(n, p)
    return start, out


def write_openmetrics(out: Path, start: int, counts: np.ndarray, interval: int) -> list[Path]:
    """The agents' counters as Prometheus would have stored them, one OpenMetrics file per UTC
    day (promtool parses its whole input once per 2-hour block it writes: one file of 8 weeks
    took 4 minutes here, a file a day takes seconds)."""
    cum = np.concatenate([np.zeros((1,) + counts.shape[1:], np.int64), counts.cumsum(axis=0)])
    idx = np.arange(0, len(cum), interval // 60)  # sample k at start + 60 * idx[k]: lines before it
    stamps = start + 60 * idx
    files = []
    for day in np.unique(stamps // 86400).tolist():
        keep = stamps // 86400 == day
        path = out / f"fleet-{day}.om"
        with path.open("w") as fh:
            fh.write("# HELP trafficwatch_requests_total Requests counted.\n"
                     "# TYPE trafficwatch_requests_total counter\n")
            for agent in range(counts.shape[1]):
                for c, status in enumerate(STATUS):
                    labels = (f'instance="web{agent + 1}:9877",job="trafficwatch",'
                              f'site="{SITE}",status="{status}"')
                    prefix = f"trafficwatch_requests_total{{{labels}}} "
                    fh.write("".join(f"{prefix}{v} {t}\n" for v, t in
                                     zip(cum[idx[keep], agent, c].tolist(),
                                         stamps[keep].tolist())))
            fh.write("# EOF\n")
        files.append(path)
    return files


def write_log(path: Path, start: int, counts: np.ndarray, seed: int = 15) -> int:
    """The same requests as nginx combined lines (both servers' lines in one file, in time
    order): each minute's lines at random seconds inside it."""
    rng = np.random.default_rng(seed)
    per = counts.sum(axis=1)  # (minutes, status)
    codes = []
    for c, status in enumerate(STATUS):
        if per[:, c].any():
            codes.append((c, STATUS_CODE[status]))
    lines = 0
    stamp_of: dict[int, str] = {}
    with path.open("w") as fh:
        for m in np.flatnonzero(per.sum(axis=1)).tolist():
            row = []
            for c, code in codes:
                row += [code] * int(per[m, c])
            secs = np.sort(rng.integers(0, 60, len(row)))
            rng.shuffle(row)
            out = []
            for s, code in zip(secs.tolist(), row):
                ts = start + 60 * m + s
                stamp = stamp_of.get(ts)
                if stamp is None:
                    stamp = stamp_of[ts] = time.strftime("%d/%b/%Y:%H:%M:%S +0000",
                                                         time.gmtime(ts))
                out.append(f'10.1.{lines % 200}.{lines % 250} - - [{stamp}] "GET /page{lines % 50}'
                           f' HTTP/1.1" {code} 5120 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0)'
                           f' Gecko/20100101 Firefox/128.0"\n')
                lines += 1
            fh.write("".join(out))
    return lines


def start_prometheus(tmp: Path, tsdb: Path) -> tuple[subprocess.Popen, str]:
    """A Prometheus that keeps ten years, scraping only itself (the fleet is backfilled)."""
    config = ("global:\n  scrape_interval: 60s\n"
              "scrape_configs:\n  - job_name: self\n    static_configs:\n"
              "      - targets: ['127.0.0.1:{port}']\n")
    try:
        return prometheus_server.start_prometheus(tmp, config, tsdb, 120,
                                                  ("--storage.tsdb.retention.time=3650d",))
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


SCORES = {  # what the screen says of the last 7 days' day-ahead forecasts
    "MASE (last 7 days)": re.compile(r"Last 7 days \(\d+ h with a count\): MASE (\d+\.\d+)"),
    "band coverage": re.compile(r"band coverage (\d+%)"),
    "anomalies": re.compile(r"Anomalies \((\d+)\)"),
}


def screen_scores(screen: str) -> dict[str, str]:
    """The Now pane's scores and the anomaly count as shown ("?" where not on screen)."""
    out = {}
    for k, pat in SCORES.items():
        m = pat.search(screen)
        out[k] = m.group(1) if m else "?"
    return out


def tmux(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True,
                          check=check)


def measure(name: str, cmd: list[str], seconds: float) -> dict:
    """Start `cmd` in tmux; seconds to first frame, first chart, forecast; tree RSS at the end."""
    tests = {
        "first frame": lambda s: "q Quit" in s,
        "first chart": lambda s: "⣿ actual" in s and AXIS_HOUR.search(s) is not None,
        "forecast": lambda s: NEXT_HOUR.search(s) is not None,
    }
    env = f"PYTHONPATH={REPO}"
    line = " ".join(["env", env, *cmd])
    t0 = time.perf_counter()
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", line, check=True)
    pane = int(tmux("list-panes", "-t", name, "-F", "#{pane_pid}", check=True).stdout.split()[0])
    seen: dict[str, float] = {}
    screen = ""
    while time.perf_counter() - t0 < seconds:
        screen = tmux("capture-pane", "-p", "-t", name).stdout
        now = time.perf_counter() - t0
        for key, test in tests.items():
            if key not in seen and test(screen):
                seen[key] = now
        time.sleep(0.05)
    procs = tree_rss(pane)
    screen = tmux("capture-pane", "-p", "-t", name).stdout
    tmux("kill-session", "-t", name)  # SIGHUP: the app saves its state and exits within 2 s
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pane}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # so that no state file is written after the temp dir is removed
    rss = sum(r for _, r, _ in procs) / 1024
    return {**{k: seen.get(k, float("nan")) for k in tests}, "rss": rss, "screen": screen,
            "procs": procs}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--interval", type=int, default=60, choices=(60, 120, 300),
                    help="seconds between the agents' samples (Prometheus's scrape interval)")
    ap.add_argument("--rate", type=float, default=4.0, help="mean requests per minute (site)")
    ap.add_argument("--seconds", type=float, default=20.0, help="when RSS is read")
    ap.add_argument("--screen", action="store_true", help="print both screens at the end")
    a = ap.parse_args()
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        raise SystemExit("needs prometheus and promtool (Debian package `prometheus`)")
    tmp = Path(tempfile.mkdtemp(prefix="tw-fleet-bench-"))
    prom = None
    try:
        t = time.perf_counter()
        end = int(time.time()) // 60 * 60
        start, counts = traffic(a.weeks, a.rate, end)
        oms = write_openmetrics(tmp, start, counts, a.interval)
        samples = len(range(0, counts.shape[0] + 1, a.interval // 60)) * 2 * len(STATUS)
        logs = tmp / "logs"
        logs.mkdir()
        lines = write_log(logs / f"{SITE}.access.log", start, counts)
        built = time.perf_counter() - t
        t = time.perf_counter()
        tsdb = tmp / "tsdb"
        for om in oms:
            r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                                "--quiet", str(om), str(tsdb)], capture_output=True, text=True,
                               check=False)
            if r.returncode:
                raise SystemExit(f"promtool failed on {om.name}: {(r.stdout + r.stderr)[-800:]}")
            om.unlink()
        blocks = sum(1 for p in tsdb.iterdir() if p.is_dir())
        backfill = time.perf_counter() - t
        t = time.perf_counter()
        prom, url = start_prometheus(tmp, tsdb)
        ready = time.perf_counter() - t
        print(f"data: {a.weeks} weeks of {SITE} up to {time.strftime('%Y-%m-%d %H:%M', time.gmtime(end))}"
              f" UTC, {lines} requests ({counts.sum(axis=(1, 2)).mean() * 60:.0f}/h on average), "
              f"2 agents x 6 status classes, a sample every {a.interval} s: {samples} samples; "
              f"built in {built:.1f} s; promtool: {blocks} blocks from {len(oms)} files in {backfill:.1f} s; "
              f"prometheus ready in {ready:.1f} s at {url}")

        # the fleet's hours (the app's own fetch) must equal the log's: otherwise the data is wrong
        client = PrometheusClient(PromConfig.build(url))
        hour_end = end - end % 3600
        t = time.perf_counter()
        # every complete hour, the first included: a gap (NaN) on one side only is a difference
        # too (the forecasts start from the first hour either source has)
        fleet = fetch(client, start, hour_end)
        fetch_s = time.perf_counter() - t
        per_min = counts.sum(axis=(1, 2))
        hours = (start + 60 * np.arange(len(per_min))) // 3600 * 3600
        want = {int(h): int(per_min[hours == h].sum()) for h in range(start, hour_end, 3600)}
        grid = fleet.sites[SITE]
        got = {int(h): None if np.isnan(row).all() else int(np.nansum(row))
               for h, row in zip(fleet.starts.tolist(), grid)}
        if got != want:
            bad = [h for h in want if got.get(h) != want[h]][:3]
            raise SystemExit(f"the fleet's hours differ from the log's: {[(h, got.get(h), want[h]) for h in bad]}")
        print(f"check: all {len(want)} complete hours read through fetch(), the first included, "
              f"equal the log's hourly counts ({fetch_s:.2f} s for that query_range)")

        py = sys.executable
        fleet_cmd = [py, "-m", "trafficwatch", "--no-fine-tune", "--prometheus", url]
        local_cmd = [py, "-m", "trafficwatch", "--no-fine-tune", "--state",
                     str(tmp / "state.json"), str(logs)]
        res = {}
        for key, cmd in (("fleet", fleet_cmd), ("local", local_cmd)):
            res[key] = measure(f"{key}{os.getpid()}", cmd, a.seconds)
        print()
        print(f"{'':28}{'fleet (--prometheus)':>22}{'local log':>14}")
        for k in ("first frame", "first chart", "forecast"):
            print(f"{k + ' (s)':28}{res['fleet'][k]:>22.2f}{res['local'][k]:>14.2f}")
        print(f"{f'RSS of the tree at {a.seconds:.0f} s (MB)':28}{res['fleet']['rss']:>22.1f}"
              f"{res['local']['rss']:>14.1f}")
        scores = {key: screen_scores(res[key]["screen"]) for key in res}
        for k in SCORES:
            print(f"{k:28}{scores['fleet'][k]:>22}{scores['local'][k]:>14}")
        if scores["fleet"] != scores["local"]:
            print("the screens' scores differ: same hours should give the same forecasts (an "
                  "hour that began between the two captures moves the 7 days scored)")
        for key in ("fleet", "local"):
            print(f"{key}: {' '.join(fleet_cmd if key == 'fleet' else local_cmd)}")
            for pid, rss, args in res[key]["procs"]:
                print(f"  {pid:>8} {rss / 1024:8.1f} MB  {args}")
        if a.screen:
            for key in ("fleet", "local"):
                print(f"--- {key} screen at {a.seconds:.0f} s ---\n{res[key]['screen']}")
        return 0
    finally:
        tmux("kill-server")
        if prom is not None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
