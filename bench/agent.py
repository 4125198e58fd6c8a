"""The agent's memory and CPU at a steady rate of appended lines, scraped every second.

    python bench/agent.py [--rate 1000] [--seconds 30] [--sites 2] [--per-line] [--poll]

Writes nginx combined lines to one log per site at --rate lines/s (in 50 ms batches; with
--per-line one write() a line, spread evenly, as nginx without access_log's buffer=), scrapes
/metrics every second as Prometheus would, and samples the agent's RSS (VmRSS) and CPU time
(utime + stime, /proc) after a warm-up of 3 s. Reference in the same run: `counts --follow` on
the same kind of logs at the same rate (the follower the agent shares). Targets: RSS < 120 MB,
CPU < 5 % of a core at 1,000 lines/s. Every written line must be in the counters at the end.
"""
from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINE = ('203.0.113.{a} - - [{t}] "GET /item/{n}?q=1 HTTP/1.1" {s} 5120 '
        '"https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"\n')
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return 0.0


def run(cmd: list[str], logs: list[Path], rate: int, seconds: float, scrape: bool,
        per_line: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=env)
    port = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and port is None and scrape:
        if select.select([proc.stderr], [], [], 0.2)[0]:
            text = proc.stderr.readline()
            if "serving http://" in text:
                port = int(text.rsplit(":", 1)[1].split("/")[0])
    if not scrape:
        time.sleep(2.0)
    written, n = 0, 0
    fds = [os.open(log, os.O_WRONLY | os.O_APPEND) for log in logs] if per_line else []
    start = time.monotonic()
    next_scrape = start
    cpu0 = rss_max = None
    t_cpu0 = 0.0
    samples = []
    while (now := time.monotonic()) - start < seconds:
        due = int((now - start) * rate) - written
        if due > 0 and per_line:  # one write() a line, spread over the tick, as nginx without
            # access_log's buffer= writes each request's line as it ends (an ops trial: the
            # 50 ms batches below had hidden a CPU cost of one wake-up per line)
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            for i in range(due):
                fd = fds[(n + i) % len(fds)]
                os.write(fd, LINE.format(a=(n + i) % 250, t=stamp, n=n + i,
                                         s=(200, 200, 404, 500)[(n + i) % 4]).encode())
                time.sleep(0.04 / due)
            n += due
            written += due
        elif due > 0:
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            for k, log in enumerate(logs):
                share = due // len(logs) + (k < due % len(logs))
                with log.open("a") as fh:
                    fh.write("".join(LINE.format(a=(n + i) % 250, t=stamp, n=n + i,
                                                 s=(200, 200, 404, 500)[(n + i) % 4])
                                     for i in range(share)))
                n += share
            written += due
        if scrape and now >= next_scrape:
            next_scrape += 1.0
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                r.read()
        if now - start >= 3.0:
            if cpu0 is None:
                cpu0, t_cpu0 = cpu_seconds(proc.pid), now
            samples.append(rss_mb(proc.pid))
        time.sleep(0.05)
    cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t_cpu0)
    for fd in fds:
        os.close(fd)
    rss_max = max(samples)
    counted = None
    if scrape:
        time.sleep(1.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            counted = sum(float(row.rsplit(" ", 1)[1]) for row in r.read().decode().splitlines()
                          if row.startswith("trafficwatch_requests_total{"))
    proc.terminate()
    proc.wait(timeout=10)
    return {"rss_mb": rss_max, "cpu": cpu, "written": written, "counted": counted}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--sites", type=int, default=2)
    ap.add_argument("--per-line", action="store_true",
                    help="one write() a line, spread evenly (nginx without buffer=), not 50 ms "
                         "batches")
    ap.add_argument("--poll", action="store_true", help="the agent with --poll")
    args = ap.parse_args()
    print(f"{args.rate} lines/s for {args.seconds:.0f} s over {args.sites} sites, "
          f"{'one write a line' if args.per_line else 'in 50 ms batches'}, "
          f"{os.cpu_count()} cores")
    for name in ("agent", "counts --follow (reference)"):
        with tempfile.TemporaryDirectory() as tmp:
            logs = [Path(tmp) / f"site{i}.example.access.log" for i in range(args.sites)]
            for log in logs:
                log.write_text("")
            state = str(Path(tmp) / "state.json")
            if name == "agent":
                cmd = [sys.executable, "-m", "trafficwatch", "agent", tmp,
                       "--metrics-addr", "127.0.0.1:0", "--state", state] + \
                    (["--poll"] if args.poll else [])
            else:
                cmd = [sys.executable, "-m", "trafficwatch", "counts", "--follow", tmp,
                       "--state", state]
            r = run(cmd, logs, args.rate, args.seconds, scrape=name == "agent",
                    per_line=args.per_line)
        extra = ("" if r["counted"] is None else
                 f"; {int(r['counted']):,} of {r['written']:,} lines counted")
        print(f"{name:28s} RSS max {r['rss_mb']:6.1f} MB   CPU {r['cpu'] * 100:5.1f} % of a "
              f"core{extra}")


if __name__ == "__main__":
    main()
