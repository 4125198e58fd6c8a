"""`trafficwatch [watch] PATH...`: the terminal app (default command)."""
from __future__ import annotations

import argparse
import sys

from trafficwatch.cli import add_filter_options, add_follow_options, add_input_options


def configure(p: argparse.ArgumentParser) -> None:
    """Arguments of the app."""
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="log files or directories to follow (default: the bundled sample_logs/)")
    p.add_argument("--replay", action="store_true",
                   help="feed existing logs by their timestamps instead of opening them whole")
    p.add_argument("--speed", type=float, default=3600.0,
                   help="with --replay: log seconds per real second (3600 = an hour a second)")
    p.add_argument("--model", metavar="FILE", help="model checkpoint (default: models/default.pt)")
    p.add_argument("--no-fine-tune", action="store_true",
                   help="never fine-tune the model on this site (it otherwise runs once per site "
                        "with 14 days of history, in a child process at low priority, and is "
                        "kept only if it backtests better)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where per-site fine-tuning runs (default: auto, CUDA when available); "
                        "forecasts run on the CPU, where one small LSTM step is fastest")
    p.add_argument("--band", type=float, default=0.8,
                   help="width of the forecast band as a central probability (default 0.8: p10-p90)")
    p.add_argument("--alert-cmd", metavar="CMD",
                   help="run CMD (through the shell) when a new anomaly fires; details in env vars")
    p.add_argument("--metrics-addr", metavar="HOST:PORT",
                   help="serve Prometheus metrics here, e.g. 127.0.0.1:9877")
    p.add_argument("--serve", action="store_true",
                   help="serve the app to a browser (needs the 'serve' extra) on --serve-addr")
    p.add_argument("--serve-addr", metavar="HOST:PORT", default="127.0.0.1:8000",
                   help="where --serve listens (default 127.0.0.1:8000: this machine only; "
                        "any other address is your explicit choice)")
    p.add_argument("--tz", metavar="ZONE", help="show times in this zone (default: the log's own)")
    add_follow_options(p, "live logs: ")
    add_input_options(p)
    add_filter_options(p)
    from trafficwatch.fleet.options import add_prometheus_options

    add_prometheus_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the app (imports Textual only now, so headless commands never load it)."""
    try:
        from trafficwatch.app.main import run_app
    except ImportError as exc:
        print(f"trafficwatch: the app cannot start ({exc}); headless commands still work: "
              f"trafficwatch counts PATH", file=sys.stderr)
        return 2
    if _reads_in_workers(args):
        from trafficwatch.logs.read import start_worker_server

        start_worker_server()  # before the app captures stderr (see its docstring)
    return run_app(args)


def _reads_in_workers(args: argparse.Namespace) -> bool:
    """Will the first read use worker processes (two archives of ARCHIVE_MIN bytes or more, or a
    plain log of PARALLEL_MIN bytes or more; see LiveFeed._read_in_workers)?"""
    import os

    from trafficwatch.live import ARCHIVE_MIN
    from trafficwatch.logs import read
    from trafficwatch.logs.sources import discover

    if (os.cpu_count() or 1) < 2 or not getattr(args, "paths", None):
        return False
    archives = 0
    for files in discover(args.paths, getattr(args, "vhost_from_filename", None)).sites.values():
        for src in files:
            try:
                size = os.stat(src.path).st_size
            except OSError:
                continue
            archives += bool(src.compressed) and size >= ARCHIVE_MIN
            if archives >= 2 or (not src.compressed and size >= read.PARALLEL_MIN):
                return True
    return False
