"""The app's CPU and memory while it follows a busy server, beside the agent's on the same logs.

    PYTHONPATH=$PWD python bench/app_cpu.py [--rate 420] [--hosts 30] [--seconds 60]

Writes a folder with one vhost-combined log of `--hosts` virtual hosts (`--history-hours` of
history at `--history-rate` lines a second, the last `--busy-hours` of it at `--rate`, every
host's share uneven, as on a real server),
starts the app in a detached 160x50 tmux session and, for reference in the same run, the
headless `agent` on the same folder; once both have read the history, appends `--rate` lines a
second for `--seconds` and reads each process's CPU time (/proc, all its threads) and resident
memory over that window. Workers and children are left out: both read the history with
worker processes, then follow in their own. A busy-server trial measured the app at 74 % of a
core at 420 lines a second (4 frames a second built and drawn) against the agent's 11 %; frames
that new lines alone call for are paced since (engine.frame_interval: at most a fifth of a
core for frames). Target: the app under 35 % of a core at 420 lines a second.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PATHS = ["/", "/index.html", "/products/{}", "/api/v1/orders/{}", "/static/app.{}.js",
         "/img/logo.png", "/search?q=shoes", "/login", "/checkout", "/favicon.ico"]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1",
          "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5.0"]


def stamp(t: float) -> str:
    g = time.gmtime(t)
    return (f"{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:{g.tm_hour:02d}:{g.tm_min:02d}:"
            f"{g.tm_sec:02d} +0000")


def lines(rng: random.Random, hosts: list[str], weights: list[float], t: float, n: int) -> str:
    """`n` lines dated `t`: clients from a few ranges, one in ten a new IPv6 address (every
    hour's top clients and visitors then hold many)."""
    when = stamp(t)
    out = []
    for host in rng.choices(hosts, weights, k=n):
        path = rng.choice(PATHS).format(rng.randrange(5000))
        status = rng.choices((200, 304, 404, 500), (90, 5, 4, 1))[0]
        client = (f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
                  if rng.random() < 0.1 else
                  f"203.0.{rng.randrange(113, 120)}.{rng.randrange(1, 255)}")
        out.append(f"{host}:443 {client} - - "
                   f"[{when}] \"GET {path} HTTP/1.1\" {status} {rng.randrange(100, 50000)} "
                   f"\"-\" \"{rng.choice(AGENTS)}\"\n")
    return "".join(out)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all its threads (not its children)."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return float("nan")


def pid_in_tmux(name: str, needle: str, limit: float = 30.0) -> int:
    """The pid of the process in tmux session `name` whose command line holds `needle`."""
    end = time.time() + limit
    while time.time() < end:
        pane = subprocess.run(["tmux", "list-panes", "-t", name, "-F", "#{pane_pid}"],
                              capture_output=True, text=True, check=False).stdout.split()
        out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True,
                             text=True, check=True).stdout
        for row in out.splitlines():
            pid, ppid, args = row.split(None, 2)
            if pane and ppid == pane[0] and needle in args:
                return int(pid)
            if pane and pid == pane[0] and needle in args:
                return int(pid)
        time.sleep(0.2)
    raise SystemExit(f"no {needle} in tmux session {name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=420.0, help="lines a second appended")
    ap.add_argument("--hosts", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--history-hours", type=int, default=100, help="(the top view reads 97)")
    ap.add_argument("--history-rate", type=int, default=20, help="lines a second")
    ap.add_argument("--busy-hours", type=int, default=2,
                    help="the last hours of the history at --rate (the top view's hours then "
                    "hold as many paths as a busy server's)")
    a = ap.parse_args()
    rng = random.Random(1)
    hosts = [f"www.site{i:02d}.example" for i in range(a.hosts)]
    weights = [1 / (i + 1) ** 1.6 for i in range(a.hosts)]
    work = Path(tempfile.mkdtemp(prefix="app_cpu_"))
    logs = work / "logs"
    logs.mkdir()
    now = time.time()
    with open(logs / "access.log", "w") as fh:
        start = int(now) - a.history_hours * 3600
        busy = a.history_hours * 3600 - a.busy_hours * 3600  # the last hours: at --rate
        fh.writelines(lines(rng, hosts, weights, start + s,
                            a.history_rate if s < busy else int(a.rate))
                      for s in range(a.history_hours * 3600))
    n = int((a.history_hours - a.busy_hours) * 3600 * a.history_rate
            + a.busy_hours * 3600 * int(a.rate))
    name = f"cpu{os.getpid()}"
    py, env = sys.executable, f"PYTHONPATH={os.environ.get('PYTHONPATH', os.getcwd())}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "50",
                    f"env {env} XDG_STATE_HOME={work}/app {py} -m trafficwatch {logs}"],
                   check=True)
    subprocess.run(["tmux", "new-session", "-d", "-s", name + "a", "-x", "80", "-y", "24",
                    (f"env {env} XDG_STATE_HOME={work}/agent {py} -m trafficwatch agent "
                    f"--metrics-addr 127.0.0.1:{port} {logs}")], check=True)
    try:
        app = pid_in_tmux(name, "trafficwatch")
        agent = pid_in_tmux(name + "a", "trafficwatch agent")
        end = time.time() + 300  # the history read: the app's status says it follows
        while time.time() < end:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", name],
                                    capture_output=True, text=True, check=False).stdout
            if "following" in screen or "no new lines" in screen:
                break
            time.sleep(0.5)
        time.sleep(3)
        before = {p: cpu_seconds(p) for p in (app, agent)}
        t0 = time.time()
        sent = 0
        with open(logs / "access.log", "a") as fh:
            while (t := time.time()) - t0 < a.seconds:
                due = int((t - t0) * a.rate) - sent
                if due > 0:
                    fh.write(lines(rng, hosts, weights, t, due))
                    fh.flush()
                    sent += due
                time.sleep(0.05)
        spent = time.time() - t0
        after = {p: cpu_seconds(p) for p in (app, agent)}
        mem = {p: rss_mb(p) for p in (app, agent)}
    finally:
        for s in (name, name + "a"):
            subprocess.run(["tmux", "kill-session", "-t", s], check=False)
    share = {p: (after[p] - before[p]) / spent for p in (app, agent)}
    print(f"{sent:,} lines over {spent:.0f} s ({sent / spent:.0f} a second), {a.hosts} hosts, "
          f"{n:,} lines of history")
    print(f"app (160x50): {share[app]:.0%} of a core, RSS {mem[app]:.0f} MB")
    print(f"agent (same logs, same run): {share[agent]:.0%} of a core, RSS {mem[agent]:.0f} MB")
    print(f"app / agent: {share[app] / max(share[agent], 1e-9):.1f}x (target: app under 35 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
