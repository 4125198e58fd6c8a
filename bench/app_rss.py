"""The app's start-up times and the resident memory of its whole process tree (tmux).

    PYTHONPATH=$PWD python bench/app_rss.py [--seconds 45] [-- APP ARGS...]

Starts `python -m trafficwatch ARGS` (default: sample_logs/) in a detached 160x50 tmux session and
reads the screen every 50 ms: the first frame is the first capture showing the footer ("q Quit"),
the forecast is on screen when the stats pane's "Next hour" line carries a number (for a log
silent over an hour, as sample_logs/ is once its last day has passed, that line reads "After the
log's last hour, DATE HH:00: N"). For reference,
the same is measured in the same run for a bare Textual app that only paints a footer: the floor
set by Python, Textual and the terminal on this machine. After `--seconds`, sums `ps -o rss` over
the app and all its descendants, prints each process and the total, then kills the session.
A running fine-tune child (trafficwatch.engine.tuning) is reported apart.
Targets (issue 13): first frame within 1 s, forecast within 3 s, tree under 250 MB (CPU build).
"""
from __future__ import annotations

import argparse
import os
import re
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


BARE_APP = """
from textual.app import App
from textual.widgets import Footer
class Bare(App):
    BINDINGS = [("q", "quit", "Quit")]
    def compose(self):
        yield Footer()
Bare().run()
"""
NEXT_HOUR = re.compile(r"(Next hour \S+|After the log's last hour, \S+ \S+): \d")


def capture(name: str) -> str:
    """The tmux session's screen as text."""
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                          text=True, check=False).stdout


def start(name: str, cmd: str) -> float:
    """Start `cmd` in a detached 160x50 tmux session; the time it started."""
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "50", cmd],
                   check=True)
    return t0


def wait_for(name: str, t0: float, tests: dict, limit: float) -> dict[str, float]:
    """Seconds from t0 until each named test first holds on the screen (NaN: never in limit)."""
    seen: dict[str, float] = {}
    while len(seen) < len(tests) and time.perf_counter() - t0 < limit:
        screen = capture(name)
        now = time.perf_counter() - t0
        for key, test in tests.items():
            if key not in seen and test(screen):
                seen[key] = now
        time.sleep(0.05)
    return {k: seen.get(k, float("nan")) for k in tests}


def main() -> int:
    """Run the app in tmux, measure, report."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--screen", action="store_true", help="print the screen at the end")
    ap.add_argument("app_args", nargs="*", default=["sample_logs/"])
    a = ap.parse_args()
    name = f"rss{os.getpid()}"
    footer = {"first frame": lambda screen: "q Quit" in screen}
    bare = Path(f"/tmp/{name}_bare.py")
    bare.write_text(BARE_APP)
    t0 = start(name + "b", f"{sys.executable} {bare}")
    try:
        ref = wait_for(name + "b", t0, footer, 20.0)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name + "b"], check=False)
        bare.unlink()
    cmd = " ".join([sys.executable, "-m", "trafficwatch", *a.app_args])
    env = f"PYTHONPATH={os.environ.get('PYTHONPATH', os.getcwd())}"
    t0 = start(name, f"env {env} {cmd}")
    try:
        pane = subprocess.run(["tmux", "list-panes", "-t", name, "-F", "#{pane_pid}"],
                              capture_output=True, text=True, check=True).stdout.split()[0]
        times = wait_for(name, t0, {**footer, "forecast": NEXT_HOUR.search}, a.seconds)
        time.sleep(max(0.0, a.seconds - (time.perf_counter() - t0)))
        procs = tree_rss(int(pane))
        screen = capture(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)
    tuning = [p for p in procs if "trafficwatch.engine.tuning" in p[2]]
    if a.screen:
        print(screen)
    print(f"first frame {times['first frame']:.2f} s (bare Textual app, same run: "
          f"{ref['first frame']:.2f} s) · forecast on screen {times['forecast']:.2f} s")
    for pid, rss, args in procs:
        print(f"{pid:>8} {rss / 1024:8.1f} MB  torch loaded: {torch_loaded(pid)}  {args}")
    total = sum(r for _, r, _ in procs) / 1024
    print(f"total {total:.1f} MB after {a.seconds:.0f} s; fine-tune running: {bool(tuning)}"
          + (f" (tree without it: {total - sum(r for _, r, _ in tuning) / 1024:.1f} MB)"
             if tuning else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
