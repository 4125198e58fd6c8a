"""Command line: watch (the app, default) | counts | forecast | eval | train."""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from trafficwatch import __version__

COMMANDS = ("watch", "counts", "forecast", "eval", "train", "agent")

EXIT_CODES = """exit codes:
  0  every file was read
  1  some file was skipped or had no parsable line (the others were still counted)
  2  bad usage, or nothing at all could be read
  130  interrupted (Ctrl-C); state was saved
SIGTERM and SIGHUP (the terminal closed) save state and exit 0 within 2 s; anything that
hangs on the way out is cut short by a watchdog (status 128 + the signal's number)
"""


class UsageError(Exception):
    """Bad usage found after parsing (a format, regex, zone or address that cannot work)."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def check_usage(args: argparse.Namespace) -> None:
    """Every option that can be checked before any work is done; UsageError names the first
    bad one. One place for every command, so no command fails later with a traceback."""
    from trafficwatch.commands.counts_cmd import parse_tz

    fmt = getattr(args, "log_format", None)
    if fmt:
        from trafficwatch.logs.formats import get_format

        try:
            get_format(fmt, date_format=getattr(args, "date_format", None),
                       time_format=getattr(args, "time_format", None))
        except ValueError as exc:
            raise UsageError(f"--log-format: {exc}") from exc
    rx = getattr(args, "vhost_from_filename", None)
    if rx:
        try:
            groups = re.compile(rx).groups
        except re.error as exc:
            raise UsageError(f"--vhost-from-filename {rx!r} is not a regex: {exc}") from exc
        if not groups:
            raise UsageError(f"--vhost-from-filename {rx!r} has no group: put the site name's "
                             "part in ( )")
    try:
        parse_tz(getattr(args, "tz", None))
        parse_status_classes(getattr(args, "status", None))
        if getattr(args, "metrics_addr", None):
            from trafficwatch.metrics import parse_addr

            parse_addr(args.metrics_addr)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise UsageError(str(exc)) from exc


def add_follow_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """How live logs are followed and where counts and offsets are kept across restarts."""
    g = p.add_argument_group("following")
    g.add_argument("--poll", action="store_true",
                   help=prefix + "poll files every 0.25 s instead of inotify (for NFS, SMB and "
                        "other filesystems without change events)")
    g.add_argument("--state", metavar="FILE",
                   help=prefix + "keep counts and file offsets here, so a restart resumes without "
                        "re-reading or re-counting (default: $XDG_STATE_HOME/trafficwatch/<hash of "
                        "the paths>.json)")
    g.add_argument("--no-state", action="store_true",
                   help=prefix + "keep no state: every start counts the logs from the beginning")


def state_path(args: argparse.Namespace, paths: list[str], kind: str) -> str | None:
    """The state file the follow options name (None with --no-state); kind: app or follow."""
    if getattr(args, "no_state", False):
        return None
    if getattr(args, "state", None):
        return args.state
    from trafficwatch.state import default_state_path

    return str(default_state_path(paths, kind))


def add_input_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that reads logs (names as GoAccess has them)."""
    g = p.add_argument_group("log input")
    g.add_argument("--log-format", metavar="FMT",
                   help="format name (COMBINED, VCOMBINED, COMMON, VCOMMON, CADDY, W3C, JSON ...), "
                        "a GoAccess spec, an nginx log_format ($...) or an Apache LogFormat (%%h ...); "
                        "default: detected from the first lines")
    g.add_argument("--date-format", metavar="FMT", help="strftime date format for custom specs")
    g.add_argument("--time-format", metavar="FMT", help="strftime time format for custom specs")
    g.add_argument("--vhost-from-filename", metavar="REGEX",
                   help="regex with one group that names the site from the file name "
                        "(like GoAccess --fname-as-vhost)")
    g.add_argument("--exclude-ip", action="append", default=[], metavar="IP",
                   help="leave out requests from this client (repeatable); counted as excluded")
    g.add_argument("--ignore-status", action="append", default=[], type=int, metavar="CODE",
                   help="leave out requests with this status (repeatable); counted as excluded")


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """Metric and filter options for commands that produce a series."""
    g = p.add_argument_group("metric and filters")
    g.add_argument("--metric", choices=("hits", "pages", "visitors"), default="hits",
                   help="hits: every request; pages: without static assets; "
                        "visitors: unique client+agent per hour (default: hits)")
    bots = g.add_mutually_exclusive_group()
    bots.add_argument("--no-bots", dest="bots", action="store_const", const=False, default=True,
                      help="leave out bots and crawlers (by user agent)")
    bots.add_argument("--bots-only", dest="bots", action="store_const", const="only",
                      help="count bots and crawlers only")
    g.add_argument("--status", metavar="CLASSES",
                   help="status classes to keep, e.g. 2xx,3xx or 4xx,5xx (default: all)")
    g.add_argument("--site", help="one site (default: each site apart for counts, all summed for "
                                  "forecasts)")


def parse_status_classes(text: str | None) -> set[int] | None:
    """'4xx,5xx' -> {4, 5}; None stays None."""
    if not text:
        return None
    out = set()
    for part in text.split(","):
        part = part.strip().lower()
        if len(part) != 3 or not part.endswith("xx") or part[0] not in "12345":
            raise argparse.ArgumentTypeError(f"bad status class {part!r}: use 1xx..5xx")
        out.add(int(part[0]))
    return out


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every sub-command."""
    from trafficwatch.commands import counts_cmd, watch_cmd

    parser = Parser(
        prog="trafficwatch",
        description="Follow web-server access logs, count visits per hour and forecast the coming "
                    "hours with an LSTM you can look into. With no command, opens the app on PATHs "
                    "(default: the bundled sample logs).",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"trafficwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    watch = sub.add_parser("watch", help="open the terminal app (the default command)",
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    watch_cmd.configure(watch)
    counts = sub.add_parser("counts", help="print hourly counts as CSV or JSON",
                            epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    counts_cmd.configure(counts)
    from trafficwatch.fleet.cli import configure_agent  # the fleet's agent (issue 14)

    configure_agent(sub.add_parser(
        "agent", help="follow logs headless and serve /metrics for every site (for Prometheus)",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter))
    try:
        from trafficwatch.model.commands import add_commands
    except ImportError as exc:  # the model package is missing pieces: say so, keep counts usable
        print(f"trafficwatch: model commands unavailable ({exc})", file=sys.stderr)
    else:
        add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `trafficwatch` console script."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] not in (*COMMANDS, "-h", "--help", "--version"):
        args_in = ["watch", *args_in]
    parser = build_parser()
    args = parser.parse_args(args_in)
    from trafficwatch.fleet.options import FleetUsageError, check_fleet_usage, require_input

    require_input(args)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_usage(args)
        check_fleet_usage(args, bool(getattr(args, "paths", None)))
        return int(args.func(args) or 0)
    except (UsageError, FleetUsageError) as exc:
        print(f"trafficwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `trafficwatch counts ... | head`
        sys.stderr.close()
        return 0
