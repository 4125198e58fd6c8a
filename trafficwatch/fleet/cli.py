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


def add_prometheus_options(p: argparse.ArgumentParser) -> None:
    """--prometheus URL and its companions: the fleet's series instead of log paths."""
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
