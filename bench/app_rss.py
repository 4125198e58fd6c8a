"""Resident memory of the app's whole process tree after N seconds on the sample logs (tmux).

    PYTHONPATH=$PWD python bench/app_rss.py [--seconds 45] [-- APP ARGS...]

Starts `python -m trafficwatch ARGS` (default: sample_logs/) in a detached 160x50 tmux session,
waits, sums `ps -o rss` over the app and all its descendants, prints each process and the total,
then kills the session. A running fine-tune child (trafficwatch.engine.tuning) is reported apart.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def tree_rss(root: int) -> list[tuple[int, int, str]]:
    """(pid, rss KiB, command) for root and every descendant."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss=,args="], capture_output=True,
                         text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        pid, ppid, rss, args = line.split(None, 3) + [""] * (4 - len(line.split(None, 3)))
        rows[int(pid)] = (int(ppid), int(rss), args)
    keep, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in rows:
            keep.append((p, rows[p][1], rows[p][2][:100]))
            todo += [c for c, (pp, _, _) in rows.items() if pp == p]
    return keep


def torch_loaded(pid: int) -> bool:
    """Whether the process has torch's shared library mapped."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def main() -> int:
    """Run the app in tmux, measure, report."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--screen", action="store_true", help="print the screen at the end")
    ap.add_argument("app_args", nargs="*", default=["sample_logs/"])
    a = ap.parse_args()
    name = f"rss{os.getpid()}"
    cmd = " ".join([sys.executable, "-m", "trafficwatch", *a.app_args])
    env = f"PYTHONPATH={os.environ.get('PYTHONPATH', os.getcwd())}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "50",
                    f"env {env} {cmd}"], check=True)
    try:
        pane = subprocess.run(["tmux", "list-panes", "-t", name, "-F", "#{pane_pid}"],
                              capture_output=True, text=True, check=True).stdout.split()[0]
        time.sleep(a.seconds)
        procs = tree_rss(int(pane))
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                                text=True, check=False).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)
    tuning = [p for p in procs if "trafficwatch.engine.tuning" in p[2]]
    if a.screen:
        print(screen)
    for pid, rss, args in procs:
        print(f"{pid:>8} {rss / 1024:8.1f} MB  torch loaded: {torch_loaded(pid)}  {args}")
    total = sum(r for _, r, _ in procs) / 1024
    print(f"total {total:.1f} MB after {a.seconds:.0f} s; fine-tune running: {bool(tuning)}"
          + (f" (tree without it: {total - sum(r for _, r, _ in tuning) / 1024:.1f} MB)"
             if tuning else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
