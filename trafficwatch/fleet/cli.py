"""`trafficwatch agent` and `counts --prometheus`: the fleet's commands (cli.py and counts call
these)."""
from __future__ import annotations

import argparse
import sys
import threading

from trafficwatch.cli import add_follow_options, add_input_options


def configure_agent(p: argparse.ArgumentParser) -> None:
    """Arguments of `agent`."""
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files or directories to follow (every site found is exported)")
    p.add_argument("--metrics-addr", metavar="HOST:PORT", default="127.0.0.1:9877",
                   help="serve /metrics here (default 127.0.0.1:9877: this machine only; "
                        "0.0.0.0:9877 or the server's address for a Prometheus elsewhere)")
    add_follow_options(p, "")
    add_input_options(p)
    p.set_defaults(func=_run_agent)


def _run_agent(args: argparse.Namespace) -> int:
    return run_agent(args)


def run_fleet_counts(args: argparse.Namespace) -> int:
    """`counts --prometheus URL`: the fleet's hourly requests per site, as `counts` prints them
    (an hour no agent covered is empty; the hour in progress is marked partial in JSON)."""
    import sys

    from trafficwatch.commands.counts_cmd import write_rows
    from trafficwatch.fleet.options import _load
    from trafficwatch.safe import safe_text

    try:
        series = _load(args, partial=True)
    except ValueError as exc:
        print(f"trafficwatch: {safe_text(str(exc))}", file=sys.stderr)
        return 2
    write_rows(series, args, sys.stdout)
    return 0


def run_agent(args, stop: threading.Event | None = None) -> int:
    """Follow and serve until SIGTERM, SIGHUP or Ctrl-C (state saved; exit 0, 0, 130)."""
    from trafficwatch.cli import state_path
    from trafficwatch.commands.counts_cmd import ingest_options
    from trafficwatch.fleet.agent import Agent
    from trafficwatch.lifecycle import Shutdown, check_fd_budget
    from trafficwatch.state import UntrustedState

    stop = stop or threading.Event()
    shutdown = None
    if threading.current_thread() is threading.main_thread():
        shutdown = Shutdown()
        shutdown.on_shutdown(stop.set)
        shutdown.install()
    try:
        check_fd_budget(args.paths, args.vhost_from_filename)
        agent = Agent(args.paths, ingest_options(args), args.metrics_addr,
                      state_path(args, args.paths, "agent"), poll=args.poll)
    except (ValueError, UntrustedState) as exc:
        _say(str(exc))
        return 2
    except OSError as exc:
        _say(f"cannot follow {', '.join(args.paths)[:200]}: {exc.strerror or exc}")
        return 2
    for notice in (agent.feed.notice, agent.floor.notice):
        if notice:
            _say(notice)
    host, port = agent.address
    with agent.ctx.lock:
        sites = len(agent.ctx.series.sites())
    _say(f"agent: {len(agent.feed.follower.tracked())} files of {sites} sites followed; "
         f"serving http://{host}:{port}/metrics")
    agent.start()
    printed = agent.feed.event_count
    try:
        while not stop.wait(0.25):
            agent.step(0.25)
            printed = _report_events(agent.feed, printed)
    finally:
        agent.close()
        if shutdown is not None and not shutdown.requested:
            shutdown.uninstall()
    return shutdown.exit_code if shutdown is not None and shutdown.requested else 0


def _say(msg: str) -> None:
    from trafficwatch.safe import safe_text

    print(f"trafficwatch: {safe_text(msg)}", file=sys.stderr, flush=True)


def _report_events(feed, printed: int) -> int:
    """Rotations, truncations and unreadable files: one line each on stderr as they happen."""
    new = min(feed.event_count - printed, len(feed.events))
    for msg in list(feed.events)[len(feed.events) - new:]:
        _say(msg)
    return feed.event_count

