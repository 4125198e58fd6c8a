"""The fleet's options (--prometheus URL and its companions), one group applied to watch, counts,
forecast, eval and train; no import of the CLI module (the model's commands use it too)."""
from __future__ import annotations

import argparse
import os

TOKEN_ENV = "TRAFFICWATCH_PROMETHEUS_TOKEN"


class FleetUsageError(ValueError):
    """A --prometheus option that cannot work (the CLI turns it into its usage error)."""


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
    """PromConfig from the options (None without --prometheus); FleetUsageError when unusable."""
    url = getattr(args, "prometheus", None)
    if not url:
        return None
    from trafficwatch.fleet.prometheus import PromConfig

    status = getattr(args, "status", None)
    # checked by the CLI before: '4xx,5xx' -> {4, 5}
    classes = {int(p.strip()[0]) for p in status.split(",")} if status else None
    try:
        return PromConfig.build(url, site_label=args.site_label, matchers=list(args.match),
                                days=args.prometheus_days, token=os.environ.get(TOKEN_ENV) or None,
                                status_classes=classes)
    except ValueError as exc:
        raise FleetUsageError(str(exc)) from exc  # url, label, matcher or days


def check_fleet_usage(args: argparse.Namespace, paths_given: bool) -> None:
    """--prometheus replaces log PATHs and what only logs carry; FleetUsageError names the clash."""
    if not getattr(args, "prometheus", None):
        return
    prometheus_config(args)  # the URL, label, matchers and days, before any work
    if paths_given:
        raise FleetUsageError("give log PATHs or --prometheus URL, not both")
    if getattr(args, "metric", "hits") != "hits":
        raise FleetUsageError(f"--metric {args.metric}: the fleet's agents export requests (hits) "
                         "only")
    if getattr(args, "bots", True) is not True:
        raise FleetUsageError("--no-bots/--bots-only: the fleet's agents do not export bots apart")
    for opt in ("replay", "follow"):
        if getattr(args, opt, False):
            raise FleetUsageError(f"--{opt} reads log files: not with --prometheus")


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


def fleet_series(args: argparse.Namespace):
    """forecast/eval/train --prometheus: complete hours, every site summed unless --site;
    ValueError (one line) when Prometheus cannot be read or holds no such series."""
    series = _load(args, partial=False)
    return series.series(getattr(args, "site", None) or None, "hits")
