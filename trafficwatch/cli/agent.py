"""`trafficwatch agent PATH... --metrics-addr HOST:PORT`: follow logs headless and serve every
site's counters on /metrics (engine/agent.py), for Prometheus to collect from each server."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from trafficwatch.cli.follow import report_events
from trafficwatch.cli.options import (
    add_follow_options,
    add_input_options,
    ingest_options,
    state_path,
)
from trafficwatch.counting.state import UntrustedState
from trafficwatch.engine.agent import Agent
from trafficwatch.engine.lifecycle import Shutdown, check_fd_budget
from trafficwatch.safe import safe_name, safe_text


def configure(p: argparse.ArgumentParser) -> None:
    """Arguments of `agent`."""
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files or directories to follow (every site found is exported)")
    p.add_argument("--metrics-addr", metavar="HOST:PORT", default="127.0.0.1:9877",
                   help="serve /metrics here (default 127.0.0.1:9877: this machine only; "
                        "0.0.0.0:9877 or the server's address for a Prometheus elsewhere; IPv6 "
                        "in brackets: [::1]:9877, [::]:9877 for every interface)")
    add_follow_options(p, "", "agent")
    add_input_options(p)
    p.set_defaults(func=run_agent)


def run_agent(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Follow and serve until SIGTERM, SIGHUP or Ctrl-C (state saved; exit 0, 0, 130)."""
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
    lost = ""
    if (agent.floor.resumed and not agent.feed.report.restored_lines
            and agent.feed.state_held_by is None):  # floors, no state: it was deleted or
        # lost (a trial's agent then skipped ~100 lines without a word). Not a state another
        # trafficwatch holds: that is said, and "no saved state" beside it was untrue (a trial)
        lost = (f"no saved state to go on from beside {safe_name(str(agent.floor.path))}: "
                "each counter goes on from the larger of its last value and what the logs hold "
                "now: lines written since the last save are counted only where the logs now "
                "hold more than it had counted (after a rotation, none of them)")  # (it had said only "to a file no longer here": a
        # trial lost 44 lines of a log still there; then "what was written since the last
        # save and while stopped is not counted", of a log still there whose 8 new lines
        # were: a fleet trial; where the counters' last values are above what the logs hold,
        # all of them are lost, a review)
    for notice in (agent.feed.notice, agent.floor.notice, lost):  # (a folder that waits for
        # its logs: one of the events below; said twice, a trial)
        if notice:
            _say(notice)
    # what the first read met (a file it may not read, one binary...), as `counts --follow`
    # says it: the agent said nothing of a site's log it lacked the rights to (a trial)
    printed = report_events(agent.feed, 0)
    with agent.sink.lock:  # hosts beyond MAX_HOSTS: one site on /metrics
        folded = agent.sink.series.folded_note()
    if folded:
        _say(folded)
    with agent.sink.lock:
        sites = len(agent.sink.series.sites())
    files = agent.feed.follower.following()
    skipped = len(agent.feed.report.skipped)
    # "1 file of 0 sites" read oddly for a log still empty (a trial): no site until a line
    whose = (f" of {sites} site{'s' if sites != 1 else ''}" if sites else "")
    empty = " (no line read yet: its sites show once lines come)" if files and not sites else ""
    _say(f"agent: {files} file{'s' if files != 1 else ''}{whose} followed{empty}"
         f"{f' ({skipped} skipped, said above)' if skipped else ''}; "
         f"serving {agent.server.url}")
    agent.start()
    said = agent.feed.notice  # the state's notice, said again whenever it changes
    floors_said = ""  # the counter floors' failure to save, said once each time it changes
    try:
        while not stop.wait(0.25):
            agent.step(0.25)
            printed = report_events(agent.feed, printed)
            if not folded:  # said once, when it first happens
                with agent.sink.lock:
                    folded = agent.sink.series.folded_note()
                if folded:
                    _say(folded)
            if agent.feed.notice and agent.feed.notice != said:
                said = agent.feed.notice
                _say(said)
            if agent.floor.save_error and agent.floor.save_error != floors_said:
                floors_said = agent.floor.save_error  # (it was logged bare, no "trafficwatch:")
                _say(floors_said)
            elif not agent.floor.save_error:
                floors_said = ""  # saved since: said again should it fail again
    finally:
        agent.close()
        if shutdown is not None and not shutdown.requested:
            shutdown.uninstall()
    if agent.feed.notice and agent.feed.notice != said:  # the last save's, if it failed
        _say(agent.feed.notice)
    if agent.floor.save_error and agent.floor.save_error != floors_said:
        _say(agent.floor.save_error)
    if shutdown is not None and shutdown.requested and shutdown.signum:  # in its log (journald,
        # nohup.out): why it stopped (a trial's agent ended with its SSH session, nothing said)
        _say(f"agent: stopped by {signal.Signals(shutdown.signum).name}")
    return shutdown.exit_code if shutdown is not None and shutdown.requested else 0


def _say(msg: str) -> None:
    print(f"trafficwatch: {safe_text(msg)}", file=sys.stderr, flush=True)
