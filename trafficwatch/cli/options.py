"""The option groups every command shares, defined once, and the parsers that turn them into
config objects (IngestOptions, SeriesChoice, PromConfig, a time zone, a state path)."""
from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import math
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.counting.load import SeriesChoice
from trafficwatch.counting.state import default_state_path
from trafficwatch.engine.metrics import parse_addr
from trafficwatch.filters import parse_status_classes
from trafficwatch.fleet.prometheus import PromConfig
from trafficwatch.logs.formats import get_format
from trafficwatch.logs.parse import ParseOptions
from trafficwatch.logs.timeparse import check_strptime
from trafficwatch.safe import safe_name

TOKEN_ENV = "TRAFFICWATCH_PROMETHEUS_TOKEN"  # the fleet's bearer token: never on the command line


class UsageError(Exception):
    """Bad usage found after parsing (a format, regex, zone or address that cannot work)."""


def add_input_options(p: argparse.ArgumentParser) -> None:
    """How logs are read (names as GoAccess has them): every command that reads logs."""
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
                   help="leave out requests from this client, or this range (10.0.0.0/8, "
                        "2001:db8::/32) (repeatable); counted as excluded")
    g.add_argument("--ignore-status", action="append", default=[], type=int, metavar="CODE",
                   help="leave out requests with this status (repeatable); counted as excluded")


def add_filter_options(p: argparse.ArgumentParser, site_help: str = "one site (default: each "
                       "site apart for counts, all summed for forecasts)",
                       metrics: tuple[str, ...] = ("hits", "pages", "visitors")) -> None:
    """Metric and filters: every command that produces a series (`metrics`: those it takes)."""
    g = p.add_argument_group("metric and filters")
    words = {"hits": "hits: every request", "pages": "pages: without static assets",
             "visitors": "visitors: unique client+agent per hour"}
    g.add_argument("--metric", choices=metrics, default="hits",
                   help="; ".join(words[m] for m in metrics) + " (default: hits)")
    bots = g.add_mutually_exclusive_group()
    bots.add_argument("--no-bots", dest="bots", action="store_const", const=False, default=True,
                      help="leave out bots and crawlers (by user agent)")
    bots.add_argument("--bots-only", dest="bots", action="store_const", const="only",
                      help="count bots and crawlers only")
    g.add_argument("--status", metavar="CLASSES",
                   help="status classes to keep, e.g. 2xx,3xx or 4xx,5xx; other: no status or "
                        "one outside 100-599 (default: all)")
    g.add_argument("--site", help=site_help)


def add_tz_option(p: argparse.ArgumentParser, what: str = "hours", csv: bool = False) -> None:
    """--tz: the zone times are shown in (every command that prints or shows hours); `csv`: and
    the zone a counts CSV's hours that state no offset are read in (the model commands)."""
    read = "; a CSV's hours that state no offset are read in it (else as UTC)" if csv else ""
    p.add_argument("--tz", metavar="ZONE",
                   help=f"show {what} in this zone (UTC, +02:00, Europe/Paris); "
                        f"default: the log's own offset{read}")


def add_follow_options(p: argparse.ArgumentParser, prefix: str = "", kind: str = "app") -> None:
    """How live logs are followed and where counts and offsets are kept across restarts; `kind`
    is the state's (state_path's): app (watch), follow (counts --follow) or agent."""
    g = p.add_argument_group("following")
    g.add_argument("--poll", action="store_true",
                   help=prefix + "poll files every 0.25 s instead of inotify (for NFS, SMB and "
                        "other filesystems without change events)")
    g.add_argument("--state", metavar="FILE",
                   help=prefix + "keep counts and file offsets here, so a restart resumes without "
                        "re-reading or re-counting (default: $XDG_STATE_HOME/trafficwatch/<hash of "
                        f"the paths>-{kind}.json: watch, counts --follow and agent each keep their "
                        "own for the same paths; STATE.lock and, as used, STATE.tuned/, "
                        "STATE.alerts and STATE.metrics beside it)")
    g.add_argument("--no-state", action="store_true",
                   help=prefix + "keep no state: every start counts the logs from the beginning")


def add_fleet_options(p: argparse.ArgumentParser, paths_required: bool = False) -> None:
    """--prometheus URL and its companions: the fleet's series instead of log PATHs (watch,
    counts, forecast, eval, train). `paths_required`: the command needs PATHs or --prometheus."""
    if paths_required:
        p.set_defaults(input_parser=p)  # require_input's one-line error names this command
    g = p.add_argument_group(
        "fleet (instead of PATHs)",
        f"hourly requests per site summed over every agent, from Prometheus's HTTP API; a bearer "
        f"token, if the server wants one, is read from ${TOKEN_ENV} (never from the command line)")
    g.add_argument("--prometheus", metavar="URL",
                   help="read the series from this Prometheus (or Thanos, Mimir, "
                        "VictoriaMetrics), e.g. http://prometheus:9090")
    g.add_argument("--site-label", metavar="NAME", default="site",
                   help="the label that names the site (default: site)")
    g.add_argument("--match", action="append", default=[], metavar="MATCHER",
                   help='extra label matcher, e.g. job="trafficwatch" or env=~"prod|eu" '
                        "(repeatable)")
    g.add_argument("--prometheus-days", type=int, default=60, metavar="DAYS",
                   help="how many days back to read (default: 60)")
    g.add_argument("--prometheus-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for a connection and for each part of an answer "
                        "(default: 10; a whole answer gets 6 times as long, at least 60)")


def add_device_option(p: argparse.ArgumentParser, what: str, note: str = "") -> None:
    """--device, once for every command that trains (train, and the app's fine-tuning)."""
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help=f"where {what} runs (default: auto, CUDA when available){note}")


def add_model_option(p: argparse.ArgumentParser) -> None:
    """--model: the checkpoint forecasts use."""
    from trafficwatch.resources import default_model_path

    shipped = str(default_model_path()).replace("%", "%%")  # where it is installed, not a
    # checkout's models/ (a trial); argparse formats help with %: a path holding one crashed it
    p.add_argument("--model", metavar="FILE",
                   help=f"model checkpoint (default: the shipped model, {shipped}, run from its "
                        "torch-free copy default.npz beside it)")


def parse_tz(text: str | None) -> dt.tzinfo | None:
    """'UTC', '+02:00', '-0500' or an IANA name; None keeps the log's own offset; ValueError."""
    if not text:
        return None
    if text.upper() in ("UTC", "Z"):
        return dt.timezone.utc
    t = text.replace(":", "")
    if t[:1] in "+-" and t[1:].isdigit() and len(t) == 5:
        sign = 1 if t[0] == "+" else -1
        hours, minutes = int(t[1:3]), int(t[3:5])
        if hours > 23 or minutes > 59:
            raise ValueError(f"--tz {text}: an offset is -23:59 to +23:59")
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"--tz: unknown time zone {text!r}: use UTC, +HH:MM or an IANA name") \
            from exc


def check_usage(args: argparse.Namespace) -> None:
    """Every option that can be checked before any work is done; UsageError names the first
    bad one. One place for every command, so no command fails later with a traceback."""
    fmt = getattr(args, "log_format", None)
    if fmt:
        try:
            chosen = get_format(fmt, date_format=getattr(args, "date_format", None),
                                time_format=getattr(args, "time_format", None))
        except ValueError as exc:
            raise UsageError(f"--log-format: {exc}") from exc
        try:
            check_strptime(chosen)
        except ValueError as exc:
            raise UsageError(f"--date-format/--time-format: {exc}") from exc
    rx = getattr(args, "vhost_from_filename", None)
    if rx:
        try:
            groups = re.compile(rx).groups
        except re.error as exc:
            raise UsageError(f"--vhost-from-filename {rx!r} is not a regex: {exc}") from exc
        if groups != 1:
            raise UsageError(f"--vhost-from-filename {rx!r} has {groups or 'no'} groups: put "
                             "the site name's part, and only it, in ( ); (?:...) groups others"
                             if groups else
                             f"--vhost-from-filename {rx!r} has no group: put the site name's "
                             "part in ( )")
    for ip in getattr(args, "exclude_ip", None) or ():
        try:
            if "/" in ip:
                ipaddress.ip_network(ip, strict=False)
            else:
                ipaddress.ip_address(ip)
        except ValueError:
            raise UsageError(f"--exclude-ip {ip!r}: not an IP address or range (one client as "
                             "the log writes it, such as 203.0.113.7 or 2001:db8::1, or a range "
                             "such as 10.0.0.0/8)") from None
    for code in getattr(args, "ignore_status", None) or ():
        if not 100 <= code <= 599:
            raise UsageError(f"--ignore-status {code}: an HTTP status, 100 to 599")
    for name, leave in (("status", "every status"), ("tz", "the logs' own offset")):
        if getattr(args, name, None) == "":  # given, but empty: a shell variable not set
            raise UsageError(f"--{name} is empty: leave it out for {leave}")
    if getattr(args, "state", None) and getattr(args, "no_state", False):
        raise UsageError("--state and --no-state together: choose one")
    if getattr(args, "state", None):
        check_state_option(args.state)
    for name in ("band", "anomaly_band"):
        value = getattr(args, name, None)
        if value is not None and not 0.0 < value < 1.0:
            raise UsageError(f"--{name.replace('_', '-')} {value:g}: a central probability, "
                             "between 0 and 1 (0.8 is p10-p90)")
    band, alarm = getattr(args, "band", None), getattr(args, "anomaly_band", None)
    if band is not None and alarm is not None and alarm < band:
        raise UsageError(f"--anomaly-band {alarm:g} is narrower than --band {band:g}: hours "
                         "inside the band drawn would be flagged (use the same value to flag "
                         "every hour outside it)")
    speed = getattr(args, "speed", None)
    if speed is not None and not 0 < speed < math.inf:
        raise UsageError(f"--speed {speed:g}: log seconds per real second, a number above 0 "
                         "(1e9 replays as fast as the machine can)")
    for name, least, what in (("horizon", 1, "hours ahead"), ("days", 1, "daily origins"),
                              ("holdout_days", 0, "days held out to validate on"),
                              ("epochs", 1, "epochs"), ("hours", 1, "hours"),
                              ("top", 1, "rows")):
        value = getattr(args, name, None)
        if isinstance(value, int) and value < least:
            raise UsageError(f"--{name.replace('_', '-')} {value}: {what}, at least {least}")
    check_unused(args)
    check_fleet_usage(args)
    try:
        parse_tz(getattr(args, "tz", None))
        parse_status_classes(getattr(args, "status", None))
        if getattr(args, "metrics_addr", None):
            parse_addr(args.metrics_addr)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def check_unused(args: argparse.Namespace) -> None:
    """An option given where it does nothing is a UsageError, as --no-state without --follow:
    --speed on logs read whole, --serve-addr without --serve (nothing listened there), train's
    --horizon without --scratch (an 8-epoch fine-tune ran, the horizon unsaid): each had been
    left out without a word (a trial of the docs)."""
    command = getattr(args, "command", None)
    if command == "watch":
        replay = getattr(args, "prometheus", None) is None and (args.replay or not args.paths)
        if args.speed is not None and not replay:
            raise UsageError("--speed applies to a replay (--replay, or the demo without "
                             "PATHs): without --replay these logs are followed as written")
        if args.serve_addr is not None and not args.serve:
            raise UsageError("--serve-addr applies with --serve: nothing is served without it")
    if command == "train" and args.horizon is not None and not args.scratch:
        raise UsageError("--horizon applies with --scratch: a fine-tuned model forecasts the "
                         "hours its base model does")
    if command == "train" and args.init and args.scratch:
        raise UsageError("--init and --scratch together: --scratch trains a new model, --init "
                         "fine-tunes the one named; choose one")


def ingest_options(args: argparse.Namespace) -> IngestOptions:
    """IngestOptions from the log-input options."""
    return IngestOptions(
        log_format=args.log_format, date_format=args.date_format, time_format=args.time_format,
        vhost_from_filename=args.vhost_from_filename,
        parse=ParseOptions(exclude_ips=frozenset(map(exclusion, args.exclude_ip)),
                           ignore_status=frozenset(args.ignore_status)))


def exclusion(ip: str) -> str:
    """An --exclude-ip as the parser takes it: one IPv6 address as its /128, so that it is
    read as an address, not matched as text (2001:DB8:9:9:0:0:0:3F excluded none of the log's
    2001:db8:9:9::3f, nor 2001:db8::2 its [2001:db8::2]: a trial). One IPv4 address is written
    one way: matched as text, the fast way."""
    return f"{ip}/128" if "/" not in ip and ":" in ip and "%" not in ip else ip


def series_choice(args: argparse.Namespace) -> SeriesChoice:
    """SeriesChoice from the metric and filter options."""
    return SeriesChoice(site=args.site, metric=args.metric, bots=args.bots,
                        status_classes=parse_status_classes(args.status),
                        tz=parse_tz(getattr(args, "tz", None)))


def check_state_option(path: str) -> None:
    """--state names a file in a folder that exists (a typo made `/nonexist/dir/` at the root
    of the disk, silently), and not a symbolic link (one to /etc/passwd was read through and
    moved aside as unusable): UsageError otherwise (a folder, a FIFO: counting.state refuses
    them). The default state's folder is made."""
    p = Path(path)
    if p.is_symlink():
        raise UsageError(f"--state {safe_name(path)} is a symbolic link: use a regular file")
    folder = p.parent
    if not folder.is_dir():
        raise UsageError(f"--state {safe_name(path)}: no folder {safe_name(folder)} "
                         "(make it first: the state goes where you name it)")


def state_path(args: argparse.Namespace, paths: list[str], kind: str) -> str | None:
    """The state file the follow options name (None with --no-state); kind: app or follow."""
    if args.no_state:
        return None
    if args.state:
        return args.state
    return str(default_state_path(paths, kind))


def require_input(args: argparse.Namespace) -> None:
    """PATHs or --prometheus, for the commands that need one: argparse's one-line error."""
    parser = getattr(args, "input_parser", None)
    if parser is not None and not args.paths and not getattr(args, "prometheus", None):
        parser.error("the following arguments are required: PATH (or --prometheus URL)")


def prometheus_config(args: argparse.Namespace) -> PromConfig | None:
    """PromConfig from the fleet options (None without --prometheus); UsageError when unusable.
    The token comes from $TRAFFICWATCH_PROMETHEUS_TOKEN; --status narrows the query."""
    url = getattr(args, "prometheus", None)
    if not url:
        return None
    try:
        return PromConfig.build(url, site_label=args.site_label, matchers=list(args.match),
                                days=args.prometheus_days, token=os.environ.get(TOKEN_ENV, "").strip() or None,
                                timeout=getattr(args, "prometheus_timeout", 10.0),
                                status_classes=parse_status_classes(getattr(args, "status", None)))
    except ValueError as exc:  # the url, label, matchers, days or status classes
        raise UsageError(str(exc)) from exc


def check_fleet_usage(args: argparse.Namespace) -> None:
    """--prometheus replaces log PATHs and what only logs carry; UsageError names the clash."""
    if not getattr(args, "prometheus", None):
        return
    prometheus_config(args)  # the URL, label, matchers and days, before any work
    if getattr(args, "paths", None):
        raise UsageError("give log PATHs or --prometheus URL, not both")
    if getattr(args, "metric", "hits") != "hits":
        raise UsageError(f"--metric {args.metric}: the fleet's agents export requests (hits) only")
    if getattr(args, "bots", True) is not True:
        raise UsageError("--no-bots/--bots-only: the fleet's agents do not export bots apart")
    for opt in ("replay", "follow"):
        if getattr(args, opt, False):
            raise UsageError(f"--{opt} reads log files: not with --prometheus")


class WrappedWithRawEpilog(argparse.HelpFormatter):
    """Help whose description is wrapped as usual and whose epilog (the exit codes, laid out
    by hand) is kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit codes:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

