"""The fleet's options: the `agent` command, and --prometheus for watch, counts and the model
commands (one option group, applied to each)."""
from __future__ import annotations

import argparse
import os

from trafficwatch.cli import UsageError, add_follow_options, add_input_options

TOKEN_ENV = "TRAFFICWATCH_PROMETHEUS_TOKEN"


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
    from trafficwatch.fleet.agent import run_agent

    return run_agent(args)


def add_prometheus_options(p: argparse.ArgumentParser, paths_required: bool = False) -> None:
    """--prometheus URL and its companions: the fleet's series instead of log paths
    (`paths_required`: the command's PATHs are then required unless --prometheus is given)."""
    if paths_required:
        p.set_defaults(_paths_or_fleet=p)
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


def prometheus_config(args: argparse.Namespace):
    """PromConfig from the options (None without --prometheus); UsageError when unusable."""
    url = getattr(args, "prometheus", None)
    if not url:
        return None
    from trafficwatch.fleet.prometheus import PromConfig

    status = getattr(args, "status", None)
    classes = None
    if status:
        from trafficwatch.cli import parse_status_classes

        classes = parse_status_classes(status)
    try:
        return PromConfig.build(url, site_label=args.site_label, matchers=list(args.match),
                                days=args.prometheus_days, token=os.environ.get(TOKEN_ENV) or None,
                                status_classes=classes)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def check_fleet_usage(args: argparse.Namespace, paths_given: bool) -> None:
    """--prometheus replaces log PATHs and what only logs carry; UsageError names the clash."""
    if not getattr(args, "prometheus", None):
        return
    if paths_given:
        raise UsageError("give log PATHs or --prometheus URL, not both")
    if getattr(args, "metric", "hits") != "hits":
        raise UsageError(f"--metric {args.metric}: the fleet's agents export requests (hits) "
                         "only")
    if getattr(args, "bots", True) is not True:
        raise UsageError("--no-bots/--bots-only: the fleet's agents do not export bots apart")
    for opt in ("replay", "follow"):
        if getattr(args, opt, False):
            raise UsageError(f"--{opt} reads log files: not with --prometheus")


def require_input(args: argparse.Namespace) -> None:
    """PATHs or --prometheus, for the commands that need one: argparse's one-line error."""
    parser = getattr(args, "_paths_or_fleet", None)
    if parser is not None and not args.paths and not getattr(args, "prometheus", None):
        parser.error("the following arguments are required: PATH (or --prometheus URL)")


def _load(args: argparse.Namespace, partial: bool):
    """The fleet's HourlySeries for these options; ValueError (one line) when it cannot."""
    from dataclasses import replace

    from trafficwatch.fleet.source import load_fleet

    cfg = replace(prometheus_config(args), site=getattr(args, "site", None) or None)
    series = load_fleet(cfg, partial=partial)
    if not series.sites():
        raise ValueError(f"Prometheus at {cfg.url} has no {cfg.selector()} over the last "
                         f"{cfg.days} days: are the agents scraped (and --site-label, --match "
                         "right)?")
    return series


def run_fleet_counts(args: argparse.Namespace) -> int:
    """`counts --prometheus URL`: the fleet's hourly requests per site, as `counts` prints them
    (an hour no agent covered is empty; the hour in progress is marked partial in JSON)."""
    import sys

    from trafficwatch.commands.counts_cmd import write_rows
    from trafficwatch.safe import safe_text

    try:
        series = _load(args, partial=True)
    except ValueError as exc:
        print(f"trafficwatch: {safe_text(str(exc))}", file=sys.stderr)
        return 2
    write_rows(series, args, sys.stdout)
    return 0


def fleet_series(args: argparse.Namespace):
    """forecast/eval/train --prometheus: complete hours, every site summed unless --site;
    ValueError (one line) when Prometheus cannot be read or holds no such series."""
    series = _load(args, partial=False)
    return series.series(getattr(args, "site", None) or None, "hits")
