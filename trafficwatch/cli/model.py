"""`trafficwatch train | eval | forecast`: the model's commands (cli/main.py adds them).

The model package is imported inside each command: torch loads only for the command that
trains, and `counts` or `--help` never pay for it."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from trafficwatch.cli.options import (
    WrappedWithRawEpilog,
    add_device_option,
    add_filter_options,
    add_fleet_options,
    add_input_options,
    add_model_option,
    add_tz_option,
    ingest_options,
    parse_tz,
    prometheus_config,
    series_choice,
)
from trafficwatch.cli.rows import csv_field
from trafficwatch.counting.load import hour_text, is_counts_csv, load_hourly, say_summed
from trafficwatch.engine.lifecycle import writing_result
from trafficwatch.fleet.load import load_fleet
from trafficwatch.hours import HOUR_NUMBERS, OFFSETS, SUB_HOUR
from trafficwatch.safe import safe_name, safe_text

if TYPE_CHECKING:
    import pandas as pd

EXIT_OK, EXIT_FALLBACK, EXIT_USAGE = 0, 1, 2
EXIT_OUTPUT = 74  # an output that could not be written (sysexits' EX_IOERR; cli.main's too)
SAID = 20  # series eval names as trained on, at the most, on stderr (its JSON: every one)


_progress = {"shown": False}  # a progress line is on stderr (a terminal): cleared before a message


def _err(msg: str, err: TextIO | None = None) -> None:
    if _progress["shown"] and err is None:
        sys.stderr.write("\r\x1b[K")
        _progress["shown"] = False
    print(f"trafficwatch: {safe_text(msg)}", file=err or sys.stderr)


def _common(p: argparse.ArgumentParser) -> None:
    """PATHs (or --prometheus URL) and the input and filter options every command that reads
    logs has."""
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="log files or directories, or one CSV of hourly counts (columns "
                        "hour,count, hour,visits or ds,y; ISO 8601 hours, where they carry "
                        "no offset in --tz's zone, else UTC (GA4's 2024031514 too, and its date,hour "
                        "columns), minutes dropped (in a +05:30 zone's own hours too), "
                        "dates without an hour refused; "
                        "or hour numbers 1, 2, 3... without dates, as M4's, written back as "
                        "numbers, or Unix times in s or ms (any size: known by their steps "
                        "of whole hours); with a site or "
                        "unique_id column, several series: as `counts` writes them or "
                        "statsforecast reads them)")
    add_input_options(p)
    add_filter_options(p, "one site, or one series of a CSV (default: logs' sites summed; a "
                          "CSV's series each on its own for eval and forecast)")
    add_fleet_options(p, paths_required=True)


def add_commands(subparsers: argparse._SubParsersAction, epilog: str | None = None,
                 train_epilog: str | None = None) -> None:
    """Register train, eval and forecast on the CLI's sub-command parser (`epilog`: the exit
    codes, shown at the end of each one's --help; train's own, `train_epilog`)."""
    more = {"epilog": epilog, "formatter_class": WrappedWithRawEpilog}
    t = subparsers.add_parser(
        "train", epilog=train_epilog or epilog, formatter_class=WrappedWithRawEpilog,
        help="fine-tune the default LSTM (or train one from scratch) on your traffic",
        description="Train on PATHs' hourly series, holding out the last --holdout-days days, then "
                    "print a backtest on those days against seasonal naive baselines.")
    _common(t)
    t.add_argument("--out", default="model.pt", metavar="FILE",
                   help="where to write the model (default: model.pt), in a folder that exists; "
                        "its .npz twin goes beside it, FILE with .npz for its suffix (m.pt: "
                        "m.npz; the same weights, for forecasting without torch)")
    add_device_option(p=t, what="training")
    t.add_argument("--epochs", type=int, default=None, help="at most this many epochs "
                   "(default: 8 fine-tuning, 30 from scratch; early stopping may end sooner)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    t.add_argument("--scratch", action="store_true",
                   help="train a new model instead of fine-tuning the shipped default")
    t.add_argument("--init", metavar="FILE", help="fine-tune this model instead of the default")
    t.add_argument("--horizon", type=int, default=None,
                   help="with --scratch: hours the new model forecasts in one shot, 1-168 "
                        "(default: 168)")
    t.add_argument("--tz", metavar="ZONE",
                   help="the zone of a CSV's hours that state no offset (UTC, +02:00, "
                        "Europe/Paris; default: UTC): the model learns the hours of the day "
                        "and week as the site's clock keeps them")
    t.add_argument("--holdout-days", type=int, default=7,
                   help="days at the end kept out of training and used for the backtest "
                        "(0: train on everything, no backtest; default: 7)")
    t.set_defaults(func=run_train)

    e = subparsers.add_parser(
        "eval", **more, help="rolling-origin backtest of the forecast against baselines",
        description="Daily origins over the last --days days; each model sees only the hours "
                    "before its origin, and an origin needs 48 of them (a day of 24 h naive errors "
                    "scales MASE). Exit 1 when the LSTM could not forecast at any origin. MASE (vs "
                    "in-sample 24 h seasonal naive), sMAPE, p10-p90 "
                    "coverage; hours with no log are skipped, not counted as zero. Origins are "
                    "24 h apart, the last one --horizon hours before the series' last hour "
                    "ends; MASE and sMAPE are the mean of each origin's (sMAPE counts 0 "
                    "against 0 as 0). The seasonal naives repeat the same hour a day (a week) "
                    "before, or a season further back where that hour is a gap; their p10/p90 "
                    "add the 10 and 90 % quantiles of the last 4 weeks' seasonal differences. "
                    "A CSV of several series (a site or unique_id column) gets each series "
                    "scored on its own and the mean over them, each series counting once; "
                    "--days beyond what the series holds gives fewer origins (the header "
                    "says how many).")
    _common(e)
    e.add_argument("--days", type=int, default=7, help="number of daily origins (default: 7)")
    e.add_argument("--horizon", type=int, default=24, help="hours ahead (default: 24)")
    e.add_argument("--format", choices=("table", "json"), default="table", dest="out_format",
                   help="table (default) or json")
    add_model_option(e)
    add_tz_option(e, "the hours of the backtest's range", csv=True)
    e.add_argument("--statsforecast", action="store_true",
                   help="also run AutoETS and AutoTheta (season 24 h) and MSTL (24 h + 168 h), "
                        "each fit on the last 1008 hours before each origin, gaps filled "
                        "(needs the bench extra)")
    e.add_argument("--lstm-alone", action="store_true",
                   help="also score the LSTM by itself, as 'NAME alone': no blend with another "
                        "candidate, its band not calibrated on the series' own days (the "
                        "model's column is the forecast as forecast and the app show it)")
    e.add_argument("--forecasts", metavar="FILE",
                   help="also write every forecast the backtest made to FILE, a CSV: series, "
                        "model, origin, hour, actual, p10, p50, p90 (hours as the output writes "
                        "them; actual empty where the hour has no count), to plot or score them "
                        "your own way")
    e.set_defaults(func=run_eval)

    f = subparsers.add_parser(
        "forecast", **more, help="print p10/p50/p90 for the coming hours",
        description="Forecast the hours after the last hour of PATHs' series (for a log being "
                    "written, from the hour in progress on, as the app does). The LSTM is first "
                    "checked on the series' own last 14 days against seasonal naive (24 h and "
                    "168 h) and, from 6 days judged, the last hour repeated and the last 2 "
                    "weeks' daily and weekly shape and trend; where it lost there, its blend "
                    "with the best of them is printed and stderr says which (the model column: "
                    "lstm:NAME, naive24, naive168, naive1 or profile, or two of them joined by "
                    "+). A "
                    "series too short for the LSTM gets the 24 h "
                    "seasonal naive forecast instead (said on stderr, exit 1). A CSV of "
                    "several series (a site or unique_id column) gets each one's forecast, "
                    "with a series column (csv) or under its name (json).")
    _common(f)
    f.add_argument("--horizon", type=int, default=24, help="hours ahead, 1-168 (default: 24)")
    f.add_argument("--format", choices=("csv", "json"), default="csv", dest="out_format",
                   help="csv (default: hour,p10,p50,p90,model; series first for a CSV of "
                        "several) or json (with the choice and why)")
    add_model_option(f)
    add_tz_option(f, "the forecast hours", csv=True)
    f.set_defaults(func=run_forecast)


def load_series(args: argparse.Namespace) -> pd.Series:
    """PATHs -> one hourly series (a single .csv is read as counts), or with --prometheus the
    fleet's complete hours (every site summed unless --site); ValueError on failure."""
    fleet = prometheus_config(args)
    if fleet is not None:
        series = load_fleet(replace(fleet, site=args.site or None), partial=False,
                            warn=lambda m: print(f"trafficwatch: {m}", file=sys.stderr))
        if not args.site and len(series.sites()) > 1:
            say_summed(series)
        return series.series(args.site or None, "hits")
    return load_hourly(list(args.paths), ingest_options(args), series_choice(args))


def _shown(index: pd.DatetimeIndex, args: argparse.Namespace,
           series: pd.Series | None = None) -> Sequence[pd.Timestamp]:
    """The UTC hours in --tz, else in the logs' own offset (each hour's, where the series
    holds a daylight-saving change; else their latest line's, when every site read has the
    same), else UTC (sites of several offsets, a CSV)."""
    import datetime as dt

    tz = parse_tz(args.tz)
    offset = series.attrs.get("utc_offset") if series is not None else None
    if tz is None and offset is not None:
        tz = dt.timezone(dt.timedelta(seconds=int(offset)))
    sub = series.attrs.get(SUB_HOUR, 0) if series is not None else 0
    each = series.attrs.get(OFFSETS) if series is not None and args.tz is None else None
    if each is not None and len(each):  # a daylight-saving change among the hours: each in
        # the offset it was counted in, as `counts` writes it (eval's forecasts wrote a known
        # 14:00+01:00 as 15:00+02:00, the offset after the change, a trial); hours past the
        # series' end in its last offset
        last = int(each.iloc[-1])
        return [(t + dt.timedelta(seconds=int(sub))).tz_convert(dt.timezone(dt.timedelta(
            seconds=int(each.get(t, last))))) for t in index]
    if sub:  # a CSV's hours, half an hour (or 45 minutes) after UTC's: as it wrote them
        index = index + dt.timedelta(seconds=int(sub))
    return index.tz_convert(tz) if tz is not None else index


def _hour_texts(index: pd.DatetimeIndex, args: argparse.Namespace,
                series: pd.Series) -> list:
    """The hours as outputs write them: ISO 8601 as _shown puts them, or, for a series whose
    times were hour numbers (a benchmark's), those numbers (ints)."""
    base = series.attrs.get(HOUR_NUMBERS)
    if base is None:
        return [t.isoformat() for t in _shown(index, args, series)]
    return [int(hour_text(t, base)) for t in index]


def _when(t: pd.Timestamp, args: argparse.Namespace, series: pd.Series, fmt: str) -> str:
    """One hour in a message: `fmt` of it as _shown puts it, or "hour N" (hour numbers)."""
    import pandas as pd

    if series.attrs.get(HOUR_NUMBERS) is not None:
        return f"hour {_hour_texts(pd.DatetimeIndex([t]), args, series)[0]}"
    return f"{_shown(pd.DatetimeIndex([t]), args, series)[0]:{fmt}}"


def _lost(series: pd.Series) -> int:
    """1 when a file could not be read whole (skipped, truncated, unreadable), as `counts`
    says it; the documented exit codes are the same for every command."""
    return EXIT_FALLBACK if series.attrs.get("some_file_lost") else EXIT_OK


def _load_forecaster(path: str | None):
    from trafficwatch.model.forecaster import Forecaster

    return Forecaster.load(path)


def _kept(args: argparse.Namespace, every: dict[str, pd.Series] | None = None):
    """The fine-tune the app keeps for these PATHs and --site beside its default state (as
    `trafficwatch PATH` keeps it), and its note for stderr; None without one. `every` (what
    load_every read): logs of one site are shown by the app as all sites, and it keeps their
    fine-tune under all sites; --site naming that site gets it too (it got the default, while
    the screen, titled with the site's name, showed the fine-tune)."""
    from trafficwatch.counting.state import default_state_path
    from trafficwatch.engine.tuning import kept_fine_tune

    if args.model or not args.paths or getattr(args, "prometheus", None):
        return None
    state = default_state_path(args.paths, "app")
    kept = kept_fine_tune(state, args.site or "")
    only = {s.attrs.get("sites") for s in (every or {}).values()}
    if kept is None and args.site and only == {(args.site,)}:
        kept = kept_fine_tune(state, "")
    if kept is None:
        return None
    who = safe_name(args.site or "all sites")
    return kept.tuned, f"the fine-tune the app keeps for {who} ({kept.note})"


def _shipped_hint() -> str:
    """The shipped model's file, as --model takes it (the numpy one: no torch import)."""
    from trafficwatch.resources import default_model_path

    p = default_model_path()
    return str(p.with_suffix(".npz") if p.with_suffix(".npz").is_file() else p)


def _shipped_beside(args: argparse.Namespace, fc):
    """The shipped model, for eval to score beside --model's (README: "--model FILE: that
    model instead; eval scores it beside the shipped one"); None without --model, when --model
    is the shipped model's own file, or when it cannot forecast --horizon hours."""
    from trafficwatch.resources import default_model_path

    if not args.model:
        return None
    shipped_files = {default_model_path().resolve(),
                     default_model_path().with_suffix(".npz").resolve()}
    if Path(args.model).resolve() in shipped_files:
        return None
    shipped = _load_forecaster(None)
    if args.horizon > shipped.cfg.horizon:
        return None
    if shipped.name == fc.name:  # --model elsewhere/default.pt: two columns of one name
        shipped.name = f"{shipped.name} (shipped)"
    return shipped


def _kept_or_default(args: argparse.Namespace, every: dict[str, pd.Series] | None = None):
    """The model the app shows for these logs and --site: the fine-tune it kept, else the
    shipped model. The screen and `forecast` disagreed on a site whose fine-tune was kept."""
    kept = _kept(args, every)
    if kept is not None:
        _err(f"model: {kept[1]}; --model {_shipped_hint()} for the shipped one")
        return kept[0]
    return _load_forecaster(args.model)


def load_every(args: argparse.Namespace) -> dict[str, pd.Series]:
    """Every series the input holds: each of one CSV's several (a site or unique_id column)
    when --site picks none, else the one `load_series` gives, keyed ""."""
    from trafficwatch.counting.load import (
        is_counts_csv,
        read_counts_csv_all,
        reading,
        shown_name,
        warn_stderr,
        without_hour_in_progress,
    )

    paths = list(args.paths)
    with reading(paths):  # stdin, copied once: a counts CSV or a log, read from that copy
        if prometheus_config(args) is None and not args.site and is_counts_csv(paths):
            table = read_counts_csv_all(paths[0], warn=warn_stderr,
                                        metric=getattr(args, "metric", None) or "hits",
                                        tz=parse_tz(getattr(args, "tz", None)))
            if getattr(args, "tz", None) and any(s.attrs.get(HOUR_NUMBERS) is not None
                                                 for s in table.series.values()):
                _err("--tz is not used: the hours are numbers, and are written back as "
                     "numbers")  # (it was ignored without a word: a trial)
            every = {name: without_hour_in_progress(
                s, shown_name(paths[0]) + (f" ({safe_name(name)})" if len(table.series) > 1
                                           else ""))
                for name, s in table.series.items()}
            for s in every.values() if table.left else ():  # a series left out: exit 1,
                s.attrs["some_file_lost"] = True  # as for a file skipped (a trial's was 0)
                # and counted among the file's ("1 of 2 series scored" of a file of 3, a trial)
                s.attrs["series_left"] = len(table.left)
            if len(every) > 1 or table.left:  # one of several left: still named, its output
                return every  # as the file's (a series column that came and went with its data)
            return {"": next(iter(every.values()))}
        return {"": load_series(args)}


def several(every: dict[str, pd.Series]) -> bool:
    """Whether `load_every` read a file of several series: its output names each (a series is
    keyed "" only where the input holds one)."""
    return "" not in every


def run_eval(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Backtest the LSTM and baselines; print a table or JSON (one CSV's several series: each,
    and their mean)."""
    from trafficwatch.model.baselines import baseline_models
    from trafficwatch.model.checkpoint import CheckpointError

    out = out or sys.stdout
    try:
        # the model and --horizon first: a bad one was said after every log had been read
        fc = _load_forecaster(args.model)
        if not 1 <= args.horizon <= fc.cfg.horizon:  # as forecast: not a table of NaN, exit 1
            raise ValueError(f"--horizon {args.horizon}: {fc.name} forecasts "
                             f"1..{fc.cfg.horizon} hours")
        if args.forecasts is not None:  # before the backtest, not after it (minutes)
            _check_forecasts_path(args.forecasts)
        every = load_every(args)
        models = {fc.name: fc.as_function(), **baseline_models(args.statsforecast)}
        if args.lstm_alone:
            alone = _load_forecaster(args.model)
            alone.calibrate = False  # no recent check: the LSTM's own forecast and band
            models[f"{fc.name} alone"] = alone.as_function()
        # said with the table: before it, not before why there is none ("too short")
        notes = [f"{fc.name} is the forecast as shown: the LSTM or, where another candidate "
                 "did better on the days before an origin, its blend with it"
                 + ("" if args.lstm_alone else " (--lstm-alone: the LSTM by itself too)")]
        # the hours the backtest scores and the 23 before them: every day a model learned from
        # that holds a scored hour is whole in them, and none that holds none is (a
        # fine-tune's own held-out days were called in-sample for the day before them, the
        # history every model reads, a trial)
        scored = (args.days - 1) * 24 + args.horizon + 23
        seen = trained_on(fc, list(args.paths), [k or args.site or "" for k in every],
                          [to_last_count(s)[0].iloc[-scored:] for s in every.values()])
        args.in_sample = set(seen)  # and in the JSON, each series' "in_sample"
        if seen:
            which = "it" if seen == [""] else (
                f"{len(seen)} of these {len(every)} series" if len(every) > 1 else "this series")
            # every one named (3 and "…" left a trial to run each series alone to find 7)
            from trafficwatch.resources import models_dir

            card = models_dir() / "README.md"  # where it is installed (a trial)
            notes.append(f"{fc.name} was trained on {which}"
                         + (f" ({safe_name(', '.join(seen[:SAID]))}" + (
                             f" and {len(seen) - SAID} more: the JSON's in_sample says which"
                             if len(seen) > SAID else "") + ")" if len(every) > 1 else "")
                         + ": its scores there are in-sample, better than on a site it has never"
                         f" seen ({card} has the held-out ones)")
        kept = _kept(args, every)
        if kept is not None:  # the app's "MASE 0.82 vs default 0.84 in eval's backtest": both
            models = {kept[0].name: kept[0].as_function(), **models}
            notes.append(f"also scored: {kept[1]}")
        shipped = _shipped_beside(args, fc)
        if shipped is not None:  # --model's scores mean little without the model it replaces
            models = {fc.name: models.pop(fc.name), shipped.name: shipped.as_function(),
                      **models}
            notes.append(f"also scored: {shipped.name}, the shipped model, beside --model's "
                         f"{fc.name}")
    except (ValueError, OSError, CheckpointError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    if several(every):
        for note in notes:
            _err(note)
        return _eval_many(every, args, models, fc.name, out)
    series = next(iter(every.values()))
    table, code = _backtest_one(series, args, models, fc.name, "")
    if table is None:
        return code
    for note in notes:
        _err(note)
    if args.forecasts and not _write_forecasts(args, [(args.site or "", series, table)]):
        code = max(code, EXIT_OUTPUT)  # the table is printed still: the backtest is not lost
    from trafficwatch.model.evaluate import format_table, to_json

    origins = _origins(table)
    if args.out_format == "json":
        doc = to_json(table, args.days, args.horizon)
        doc["origins"] = _hour_texts(origins, args, series)  # in --tz
        doc["in_sample"] = bool(args.in_sample)
        json.dump(doc, out, indent=1)
        out.write("\n")
    else:
        out.write(f"rolling origin: {_span(origins, args, series, _scored(table))}\n")
        out.write(format_table(table) + "\n")
    return max(code, _lost(series))


def _check_forecasts_path(path: str) -> None:
    """ValueError unless `path` can take eval's forecasts: a regular file, new or not, in a
    folder that can be written (a review: written by renaming a file over it, /dev/full as root
    became a regular file, and a folder given failed once the backtest was done)."""
    shown = safe_name(path)
    if not path or path == "-":
        raise ValueError(f"--forecasts {shown!r}: name a file to write them to")
    p = Path(os.path.realpath(path))  # a link: the file it names is written
    if p.exists() and not p.is_file():
        raise ValueError(f"--forecasts {shown}: not a regular file (a folder or a device): "
                         "name a file to write them to")
    if p.is_file() and not os.access(p, os.W_OK):
        raise ValueError(f"--forecasts {shown}: cannot write it (permission denied)")
    folder = p.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ValueError(f"--forecasts {shown}: no folder {safe_name(str(folder))} to write it "
                         "in")


def _write_forecasts(args: argparse.Namespace,
                     parts: list[tuple[str, pd.Series, pd.DataFrame]]) -> bool:
    """eval --forecasts: every forecast of the backtests `parts` (name, series, table) written,
    whole or not at all, to the CSV args.forecasts; False (said) where it cannot be written."""
    import io

    import pandas as pd

    from trafficwatch.files import atomic_write

    buf = io.StringIO()
    buf.write("series,model,origin,hour,actual,p10,p50,p90\n")
    for name, series, table in parts:
        who = csv_field(safe_name(name)) if name else ""
        for model, origin, hours, actual, q in table.attrs.get("forecasts", ()):
            lead = (f"{who},{csv_field(safe_name(model))},"
                    f"{_hour_texts(pd.DatetimeIndex([origin]), args, series)[0]},")
            for h, y, row in zip(_hour_texts(hours, args, series), actual, q):
                # every figure to 10 places (3 decimals changed a series of 0.006 an hour's
                # scores, a review); none: empty
                y, lo, mid, hi = ("" if not math.isfinite(x) else f"{x:.10g}" for x in (y, *row))
                buf.write(f"{lead}{h},{y},{lo},{mid},{hi}\n")
    try:  # through a link to the file it names (renamed over, the link became a file)
        atomic_write(os.path.realpath(args.forecasts), buf.getvalue().encode(), mode=0o644)
    except OSError as exc:
        _err(f"--forecasts {safe_name(args.forecasts)}: cannot write it: {exc.strerror or exc}")
        return False
    return True



def trained_on(fc, paths: list[str], names: list[str],
               series: list[pd.Series] | None = None) -> list[str]:
    """Which of a CSV's series (`names`, "" for its only one) the model was trained on: named
    as its checkpoint lists them (`real_series`: `file/series`, `worldcup98`), the corpus's own
    files, or, whatever their name, holding days it learned from (`series`: the hours scored,
    known by their counts, model/seen.py; a fine-tune's held-out days are not). A trial read
    the shipped model's 1.26 on nyc_taxi as what a site gets (held out it scores 1.08), and a
    copy of WorldCup98 under another name, on stdin or saved again by pandas scored in-sample
    without a word."""
    import ast

    from trafficwatch.model.seen import MIN_MATCHED, SEEN_KEY, days_seen, decode

    data = getattr(fc, "checkpoint", None) and fc.checkpoint.data or {}
    out = set()
    seen = data.get("real_series")
    if isinstance(seen, str):
        try:
            seen = ast.literal_eval(seen)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            seen = None
    if isinstance(seen, (list, tuple)) and len(paths) == 1 and paths[0] != "-":
        seen = {str(x) for x in seen}
        stem = Path(paths[0]).name
        for suffix in (".gz", ".bz2", ".xz", ".csv", "_hourly"):
            stem = stem.removesuffix(suffix)
        out |= {name for name in names if (f"{stem}/{name}" if name else stem) in seen}
    keys = decode(data.get(SEEN_KEY))
    for name, s in zip(names, series or []):
        if name not in out and days_seen(s.to_numpy(dtype="float64"), keys) >= MIN_MATCHED:
            out.add(name)
    return [name for name in names if name in out]


def _origins(table: pd.DataFrame) -> pd.DatetimeIndex:
    import pandas as pd

    return pd.DatetimeIndex(sorted(pd.Timestamp(o) for o in table["origin"].unique()))


def _scored(table: pd.DataFrame) -> pd.DatetimeIndex:
    """The origins the figures rest on: those at which every model that scored an hour
    scored one (evaluate.shared_origins)."""
    import pandas as pd

    from trafficwatch.model.evaluate import shared_origins

    shared = set(shared_origins(table))
    return pd.DatetimeIndex(sorted(pd.Timestamp(o) for o in table.loc[table["n"] > 0, "origin"]
                                   .unique() if o in shared))


def _span(origins: pd.DatetimeIndex, args: argparse.Namespace, series: pd.Series,
          scored: pd.DatetimeIndex | None = None) -> str:
    """"7 daily origins, 24 h ahead, hours scored A .. B": from the first origin to the last
    one's horizon, each end in its own offset (a DST change between them). `scored`: the
    origins with an hour scored; where fewer, "7 daily origins (2 with hours scored)" and the
    hours from theirs (a trial's log with a gap of years read "7 daily origins" of 24 hours)."""
    import pandas as pd

    n = len(origins)
    some = f" ({len(scored)} with hours scored)" if scored is not None and \
        0 < len(scored) < n else ""
    if some:
        origins = scored
    span = origins[[0, -1]] + pd.to_timedelta([0, args.horizon - 1], unit="h")
    if series.attrs.get(HOUR_NUMBERS) is not None:  # hour numbers: no dates to show
        a, b = _hour_texts(span, args, series)
        return (f"{n} daily origin{'s' if n > 1 else ''}{some}, {args.horizon} h ahead, "
                f"hours scored {a} .. {b}")
    first, last = _shown(span, args, series)

    def zone(t: pd.Timestamp) -> str:
        return "UTC" if t.utcoffset().total_seconds() == 0 else f"UTC{t:%z}"

    ends = (f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} {zone(first)}"
            if zone(first) == zone(last) else
            f"{first:%Y-%m-%d %H:%M} {zone(first)} .. {last:%Y-%m-%d %H:%M} {zone(last)}")
    return (f"{n} daily origin{'s' if n > 1 else ''}{some}, {args.horizon} h ahead, "
            f"hours scored {ends}")


def to_last_count(series: pd.Series) -> tuple[pd.Series, int]:
    """The series up to its last observed hour, and how many rows without a count follow it:
    `eval` places its origins from there, as `forecast` starts after it (a CSV ending in rows
    of gaps had its last origin scored on 18 of its 48 hours, a trial). Only `eval`'s: `train`
    and the app's fine-tune hold out their last days by position, and a backtest moved back
    would score days they trained on (a review)."""
    seen = np.flatnonzero(np.isfinite(series.to_numpy(dtype=np.float64)))
    after = len(series) - int(seen[-1]) - 1 if len(seen) else 0
    return (series.iloc[:len(series) - after] if after else series), after


def _backtest_one(series: pd.Series, args: argparse.Namespace, models: dict, lstm: str,
                  label: str) -> tuple[pd.DataFrame | None, int]:
    """One series' backtest and what stderr must say of it (each line after `label`, a
    series' name and ": " when there are several): (table, exit code), the table None when
    nothing could be scored."""
    import pandas as pd

    from trafficwatch.model.evaluate import backtest, shared_origins, summarize

    def err(msg: str) -> None:
        _err(label + msg)

    if not series.notna().any():  # a CSV of bad counts only: one line and status 2, as forecast
        # (a line per model had said it, and "naive168 at 4 of 7 origins" after "at any origin")
        err("the series has no observed hour: nothing to evaluate")
        if hint := rotations_hint(list(args.paths)):
            err(hint)
        return None, EXIT_FALLBACK if label else EXIT_USAGE
    series, after = to_last_count(series)
    keep = [] if getattr(args, "forecasts", None) else None
    try:
        table = backtest(series, models, days=args.days, horizon=args.horizon, keep=keep)
    except ValueError as exc:  # logs read, too short to score: no model was backtested, as
        # when the LSTM is scored at no origin (README's exit codes)
        err(str(exc).replace(" hours is too short", f" hours to its last count ({after} "
                             "without one after it) is too short") if after else str(exc))
        if hint := rotations_hint(list(args.paths)):
            err(hint)
        return None, EXIT_FALLBACK
    n_origins = table["origin"].nunique()
    for name, g in table[table["error"] != ""].groupby("model", sort=False):
        where = ("at any origin" if len(g) == n_origins else
                 f"at {len(g)} of {n_origins} origins")
        why = g["error"].iloc[-1]  # the latest origin's reason: the one nearest to now (the
        # first one's, "no observed hour in the last 168 hours", read as wrong where the
        # naives scored the last origin's hours)
        at = " (at the last origin)" if g["error"].nunique() > 1 else ""
        err(f"{name} could not forecast {where}{at}: {why}")
    young = sum((pd.Timestamp(o) - series.index[0]) < pd.Timedelta(hours=168)
                for o in table["origin"].unique())
    if young and "naive168" in models:  # "same hour last week" where there was no last week
        where = "every origin" if young == n_origins else f"{young} of {n_origins} origins"
        err(f"naive168 at {where}: less than a week of history before it, so for hours "
            "whose week-ago hour the series does not hold it forecasts the last day's median")
    from trafficwatch.model.baselines import nominal_band

    for name, season in (("naive24", 24), ("naive168", 168)):  # a band not measured: its
        # coverage says little (naive168 at 93 % on a series of +-5, a recheck)
        if name not in models:
            continue
        nominal = sum(nominal_band(series[series.index < pd.Timestamp(o)], season)
                      for o in table["origin"].unique())
        if nominal:
            where = "every origin" if nominal == n_origins else \
                f"{nominal} of {n_origins} origins"
            err(f"{name}'s band at {where} is a nominal +-50 % around its forecast (too few "
                "hours a season apart before it to measure one): its coverage there says "
                "little")
    summary = summarize(table)
    scored = table[table["n"] > 0].groupby("model", sort=False)["origin"].nunique()
    shared = len(shared_origins(table))
    if shared and (scored > shared).any():  # the rest are not compared on the others' origins
        more = ", ".join(f"{name} at {k}" for name, k in scored.items() if k > shared)
        err(f"every figure is over the {shared} origin{'s' * (shared > 1)} at which every model "
            f"forecast (also scored: {more}), so that the models are compared on the same hours")
    elif not shared and len(scored) > 1:
        err("no origin at which every model forecast: the models cannot be compared on the "
            "same hours (each one's origins: "
            + ", ".join(f"{name} {k}" for name, k in scored.items()) + ")")
        return None, EXIT_FALLBACK
    if not summary["hours"].any():
        which = ("the only origin has no" if n_origins == 1 else
                 f"none of the {n_origins} origins has an")
        err(f"nothing to score: {which} observed hour in the {args.horizon} h after it that "
            "a model forecast")
        return None, EXIT_FALLBACK
    if not np.isfinite(summary["mase"]).any():
        v = series.to_numpy(dtype=float)
        if not (np.isfinite(v[24:]) & np.isfinite(v[:-24])).any():  # every other day missing
            why = "no two observed hours are a day apart (the 24 h seasonal naive's error, its "
            why += "scale, cannot be measured)"
        else:
            why = ("the history never changes from one day to the next (the 24 h seasonal "
                   "naive's error, its scale, is 0)")
        err(f"MASE is undefined here: {why}; sMAPE and coverage are still scored")
    if keep is not None:  # for --forecasts
        table.attrs["forecasts"] = keep
    # the baselines were scored, the model never: not a backtest of it (stderr said why), as
    # `forecast` exits 1 then
    return table, EXIT_OK if summary.loc[lstm, "hours"] else EXIT_FALLBACK


NAME_WIDTH = 48  # a series' name in eval's table of several, at the most: a longer one keeps its
# head and its end, a "~" between (its head alone, 24 characters, made x0.001, x1 and x1000 of a
# series one name, three rows alike: a trial)
EMPTY_AT_END = 3  # forecast: this many empty hours or more at the series' end are said (1 or 2 are
# the hours the readers make gaps themselves: a log's last, partial hour, the hour in progress)


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """`name` in at most `width` characters: its head and its end, "~" between them (series
    differ at either end: a file's folder before, a variant's suffix after)."""
    if len(name) <= width:
        return name
    tail = (width - 1) // 2
    return name[:width - 1 - tail] + "~" + name[len(name) - tail:]


def _eval_many(every: dict[str, pd.Series], args: argparse.Namespace, models: dict, lstm: str,
               out: TextIO) -> int:
    """Each series of a CSV backtested alone; a row of MASE per series and the mean over them."""
    import time

    from trafficwatch.model.evaluate import across, format_across, summarize, to_json

    code = EXIT_OK
    summaries, docs, counts = {}, {}, {}
    made: list = []  # (name, series, table) for --forecasts
    tty = sys.stderr.isatty()  # a long run (statsforecast: ~12 s a series) is not silent
    t0 = time.monotonic()
    for k, (name, series) in enumerate(every.items()):
        if tty:
            sys.stderr.write(f"\r\x1b[Kscoring series {k + 1} of {len(every)} "
                             f"({time.monotonic() - t0:.0f} s)")
            sys.stderr.flush()
            _progress["shown"] = True
        table, one = _backtest_one(series, args, models, lstm, f"{safe_name(name)}: ")
        code = max(code, one, _lost(series))
        if table is None:
            continue
        summaries[name] = summarize(table)
        if args.forecasts:
            made.append((name, series, table))
        counts[name] = len(_origins(table))
        docs[safe_name(name)] = doc = to_json(table, args.days, args.horizon)  # as every
        # output names a series (a raw name keyed JSON: `jq -r` wrote its escapes, a trial)
        doc["origins"] = _hour_texts(_origins(table), args, series)
        doc["in_sample"] = name in args.in_sample
    if _progress["shown"]:
        sys.stderr.write("\r\x1b[K")  # the progress line cleared
        sys.stderr.flush()
        _progress["shown"] = False
    if not summaries:
        _err(f"none of the {len(every)} series could be scored")
        return EXIT_FALLBACK
    if args.forecasts and not _write_forecasts(args, made):
        code = max(code, EXIT_OUTPUT)  # the table is printed still: the backtest is not lost
    # the LSTM alone is a diagnostic beside the forecast shown, not a contender for "best on"
    mean = across(summaries, aside=[m for m in models if m == f"{lstm} alone"])
    unscored = len(every) - len(summaries)  # too short or nothing to score: said above
    partial = len(summaries) - int(mean["series"].iloc[0])
    left = max((s.attrs.get("series_left", 0) for s in every.values()), default=0)
    total = len(every) + left  # the file's series, those left out as it was read among them
    if unscored or partial or left:
        why = [f"{left} left out as the file was read" if left else "",
               f"{unscored} not scored" if unscored else "",
               f"{partial} not scored by every model" if partial else ""]
        _err(f"the mean leaves out {left + unscored + partial} of {total} series "
             f"({', '.join(w for w in why if w)})")
    if args.out_format == "json":
        doc = {"days": args.days, "horizon": args.horizon, "series": docs,
               "mean": {m: {k: (None if k == "best_on" and v < 0 else int(v))  # aside: null
                            if k in ("best_on", "series", "mase_series", "hours")
                            else _json_safe(float(v)) for k, v in r.items()}
                        for m, r in mean.iterrows()}}
        json.dump(doc, out, indent=1)
        out.write("\n")
        return code
    names = list(models)
    width = max(7, *(len(safe_name(n)) for n in names))
    scored = (f"{total} series" if len(summaries) == total else
              f"{len(summaries)} of {total} series scored")
    lo, hi = min(counts.values()), max(counts.values())
    origins = "1 daily origin each" if hi == 1 else f"{hi} daily origins each"
    if lo < hi:  # a series too short for all of them (the header said 7 where one had 6)
        fewer = sum(c < hi for c in counts.values())
        origins = (f"{lo} to {hi} daily origins ({fewer} series with fewer than {hi}: too "
                   "short for all)")
    out.write(f"{scored}, {origins}, {args.horizon} h ahead; MASE per series\n")
    # two spaces between columns: a name as wide as its column ran into the one before it
    shown_names = {name: short_name(safe_name(name)) for name in summaries}
    col = max(len("series"), *(len(n) for n in shown_names.values()))
    out.write(f"{'series':<{col}} " + "  ".join(f"{safe_name(n):>{width}}" for n in names)
              + "\n")
    for name, s in summaries.items():
        shown = shown_names[name]
        cells = [f"{s.loc[n, 'mase']:>{width}.3f}" if n in s.index
                 and np.isfinite(s.loc[n, "mase"]) else f"{'-':>{width}}" for n in names]
        # "-" as the one-series table has it where MASE has no scale, not "nan" (a trial)
        out.write(f"{shown:<{col}} " + "  ".join(cells) + "\n")
    n, m = int(mean["series"].iloc[0]), int(mean["mase_series"].min())
    aside = [name for name in mean.index if mean.loc[name, "best_on"] < 0]
    out.write(f"\nmean over {n} series (each series' MASE counts once; best on: series where "
              "the model's MASE was lowest, a tie for each"
              + (f"; {', '.join(aside)} aside: the LSTM without the choice the forecast "
                 "shown makes, a diagnostic" if aside else "") + ")\n")
    if m < n:  # sMAPE and coverage are over all of them
        out.write(f"MASE and median over {m} of them: {n - m} never change from one day to the "
                  "next (MASE has no scale there)\n")
    out.write(format_across(mean) + "\n")
    return code


def run_forecast(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the forecast as CSV (hour,p10,p50,p90,model) or JSON; one CSV's several series:
    each, with a series column (CSV) or under its name (JSON)."""
    from trafficwatch.model.checkpoint import CheckpointError

    out = out or sys.stdout
    try:
        for fc in (_load_forecaster(args.model), None):  # --model and --horizon before the logs
            if fc is None:  # (a bad one was said after every log had been read), then the model
                every = load_every(args)  # shown for them: the fine-tune kept for the site
                fc = _kept_or_default(args, every)
            if not 1 <= args.horizon <= fc.cfg.horizon:
                raise ValueError(f"--horizon {args.horizon}: {fc.name} forecasts "
                                 f"1..{fc.cfg.horizon} hours; train a longer one with "
                                 "`trafficwatch train --scratch --horizon N`")
    except (ValueError, OSError, CheckpointError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    many = several(every)
    code, done = EXIT_OK, {}
    for name, series in every.items():
        try:
            f, series, one = _forecast_one(series, args, fc, f"{safe_name(name)}: " if many else "")
        except ValueError as exc:
            _err(f"{safe_name(name)}: {exc}" if many else str(exc))
            if not many:
                if hint := rotations_hint(list(args.paths)):
                    _err(hint)
                return EXIT_USAGE
            code = EXIT_FALLBACK  # the others are still printed
            continue
        code = max(code, one, _lost(series))
        done[name] = (f, _hour_texts(f.index, args, series))
    if args.out_format == "csv":
        out.write(("series," if many else "") + "hour,p10,p50,p90,model\n")
        for name, (f, hours) in done.items():
            lead = csv_field(safe_name(name)) + "," if many else ""
            model = csv_field(safe_name(f.model))
            for h, a, b, c in zip(hours, f.p10, f.p50, f.p90):
                out.write(f"{lead}{h},{_fig(a)},{_fig(b)},{_fig(c)},{model}\n")
    else:
        docs = {name: {"model": f.model, "horizon": args.horizon, "choice": f.choice,
                       "band_note": f.band_note,
                       "hours": [{"hour": h, "p10": float(a), "p50": float(b),
                                  "p90": float(c)}
                                 for h, a, b, c in zip(hours, f.p10, f.p50, f.p90)]}
                for name, (f, hours) in done.items()}
        docs = {safe_name(name): doc for name, doc in docs.items()}  # as the CSV names them
        json.dump({"horizon": args.horizon, "series": docs} if many else docs[""], out, indent=1)
        out.write("\n")
    return code


def rotations_hint(paths: list[str]) -> str:
    """For a history too short: the rotations beside a log named alone, which were not read
    (a trial forecast a log just rotated by its name: "no observed hour", and three weeks lay in
    access.log.1 beside it). "" when there are none, or they were named too."""
    import os

    from trafficwatch.logs.sources import rotations_of

    named = {os.path.realpath(p) for p in paths if p != "-"}
    left, stem = [], ""
    for p in paths:
        if p == "-" or any(c in p for c in "*?[") or not Path(p).is_file() or \
                p.lower().endswith(".csv"):
            continue
        near = [f.path for f in rotations_of(Path(p), "") if os.path.realpath(f.path) not in named]
        stem = stem or (Path(p).name if near else "")
        left += near
    if not left:
        return ""
    shown = ", ".join(safe_name(Path(x).name) for x in left[:3]) + \
        (", …" if len(left) > 3 else "")
    return (f"{len(left)} rotation{'s' * (len(left) != 1)} beside it not read ({shown}): name the "
            f"folder, or '{safe_name(stem)}*' (quoted), for a longer history")


def _with_so_far(f, series: pd.Series, args: argparse.Namespace, err):
    """The hour in progress forecast as its whole count: what its lines so far hold, plus the
    forecast's share of the hour still to come (a trial: 280 requests counted by 12:40 while
    its p90 printed 57). Said on stderr."""
    from dataclasses import replace

    import pandas as pd

    from trafficwatch.counting.load import SO_FAR

    got = series.attrs.get(SO_FAR)
    if not got or not len(f.index) or int(f.index[0].timestamp()) != got[0]:
        return f
    start, so_far = got
    left = float(np.clip(1.0 - (pd.Timestamp.now(tz="UTC").timestamp() - start) / 3600, 0, 1))

    def whole(q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64).copy()
        q[0] = so_far + left * q[0]
        return q

    first = _shown(f.index[:1], args, series)[0]
    err(f"{first:%H:%M}: {so_far:,.0f} counted so far, and {1 - left:.0%} of the hour gone: its "
        f"forecast is those plus {left:.0%} of the hour's ({f.p50[0]:,.1f} -> "
        f"{so_far + left * f.p50[0]:,.1f})")
    out = replace(f, p10=whole(f.p10), p50=whole(f.p50), p90=whole(f.p90))
    if f.alarm_p10 is not None:
        out = replace(out, alarm_p10=whole(f.alarm_p10), alarm_p90=whole(f.alarm_p90))
    return out


STALE_H = 3  # hours from a log's last counted hour to the hour of now, said by `forecast` (a
# live log's last is 1 or 2 before: the hour in progress and one ended since, unsettled)


def _forecast_one(series: pd.Series, args: argparse.Namespace, fc, label: str):
    """(forecast, the series it was made from, exit code) of one series, stderr's notes after
    `label`; ValueError when nothing at all is observed."""
    import pandas as pd

    from trafficwatch.model.baselines import BURST_TIMES, calmed_bursts, naive24, nominal_band
    from trafficwatch.model.forecaster import Forecast

    def err(msg: str) -> None:
        _err(label + msg)

    now = pd.Timestamp.now(tz="UTC").floor("h")
    if len(series) and np.isnan(series.iloc[-1]) and series.notna().any() \
            and series.index[-1] >= now:  # (later: a server's clock ahead of ours)
        # a live log is inside its last hour, the hour in progress: a gap to the model (its
        # lines so far are not an hour's count; load_hourly) and the first hour forecast, as
        # the app forecasts it ("This hour so far"); the forecast began an hour later, skipping
        # it. (A log no longer written starts after its last hour, as in the app.)
        attrs = dict(series.attrs)
        series = series.loc[:series.last_valid_index()]
        series.attrs.update(attrs)
        first = _shown(series.index[-1:] + pd.Timedelta(hours=1), args, series)[0]
        err(f"the hour in progress, {first:%Y-%m-%d %H:%M}, is forecast first (its lines "
            "so far are not a whole hour's count)")
    last = series.last_valid_index()
    empty = 0 if last is None else int((series.index > last).sum())
    if empty >= EMPTY_AT_END:  # a user read a forecast from data 2 days old as today's
        newest = _when(last, args, series, "%Y-%m-%d %H:%M")
        err(f"the last {empty} hours have no count (the newest is {newest}): "
            "the forecast starts after them, from the hours before")
    behind = 0 if last is None else int((now - last) / pd.Timedelta(hours=1))
    if behind >= STALE_H and not getattr(args, "prometheus", None) and \
            not is_counts_csv(list(args.paths)):  # a log's quiet or dead site: its forecast
        # began days ago, exit 0, not a word (a hosting trial; the help says "from the hour in
        # progress on" of a log being written)
        newest = _when(last, args, series, "%Y-%m-%d %H:%M")
        said = f"the last hour with a count is {newest}"
        if empty == 1:  # the hour the log ends inside: `counts` prints its lines (marked
            # partial), so "the last hour with a count" read as wrong by an hour (a trial)
            inside = _when(series.index[-1], args, series, "%Y-%m-%d %H:%M")
            said = (f"the log ends inside {inside} (read as part of an hour, not a whole "
                    f"hour's count; the last whole hour is {newest})")
        err(f"{said}, {behind} hours before now: the forecast starts after it, not at the hour "
            "in progress (no line was logged since)")
    window = fc.cfg.window  # what the model reads: fewer than half of it with a count, after
    # older counts, is said (sites of other years summed: a forecast from 25 hours after 14
    # months of nothing had said only "unjudged")
    seen = int(series.iloc[-window:].notna().sum())
    before = series.iloc[:-window].last_valid_index() if len(series) > window else None
    if 0 < seen < window // 2 and before is not None:
        older = _when(before, args, series, "%Y-%m-%d")
        err(f"only {seen} of the last {window} hours have a count (the newest before them "
            f"is from {older}): the forecast rests on those hours")
    try:
        f = fc.forecast(series, args.horizon)
        err(f"forecast shown: {f.choice}")
        if f.band_note:  # "trafficwatch: band widened ...", as every stderr line reads
            err(f.band_note[:1].lower() + f.band_note[1:])
        f = _with_so_far(f, series, args, err)
        return f, series, EXIT_OK
    except ValueError as exc:
        q = naive24(series, args.horizon)  # raises itself when nothing at all is observed
        err(f"LSTM refused ({exc}); printing the 24 h seasonal naive forecast instead")
        if hint := rotations_hint(list(args.paths)):
            err(hint)
        seen = int(series.iloc[-24:].notna().sum())
        if seen < 24:  # "same hour yesterday" is not there for every hour
            err(f"the last day has {seen} hour{'s' * (seen != 1)} with a count: hours "
                "whose same hour yesterday it lacks are forecast as their median")
        q, n, typical = calmed_bursts(series, q)
        if n:
            err(f"{n} hour{'s' * (n != 1)} would repeat a burst (over {BURST_TIMES:g}x the "
                f"day's median, {typical:,.0f}): forecast at that hour's median over the "
                "last 7 days instead (the day's median, with under 3 days to take it from)")
        if nominal_band(series):  # the naive's band: +-50 % where its errors are unknown
            err("its band is nominal (the median +-50 %): too little history to measure one")
        idx = pd.date_range(series.index[-1] + pd.Timedelta(hours=1), periods=args.horizon,
                            freq="h")
        return Forecast(idx, q[:, 0], q[:, 1], q[:, 2], "naive24"), series, EXIT_FALLBACK


def run_train(args: argparse.Namespace, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    """Fine-tune (or train) on the series, save atomically, print a backtest on held-out days."""
    from trafficwatch.model.checkpoint import CheckpointError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        out_path = Path(args.out)
        folder = out_path.parent
        if not folder.is_dir():  # before minutes of training, not after; and a mistyped path
            # is not made (it was, as root: /nonexistent/dir/)
            raise ValueError(f"--out {safe_name(args.out)}: no folder {safe_name(str(folder))}")
        if out_path.is_symlink() or (out_path.exists() and not out_path.is_file()):
            # a folder was refused after the training; a FIFO, a symbolic link (its target never
            # written), even /dev/full as root, replaced by the model (a trial)
            what = ("a symbolic link: name the file itself" if out_path.is_symlink() else
                    "a folder: name a file in it" if out_path.is_dir() else
                    "not a regular file (a device, a FIFO): name a file")
            raise ValueError(f"--out {safe_name(args.out)} is {what}")
        if args.device == "cuda":  # none there: said before the logs are read, not after
            from trafficwatch.model.train import select_device
            select_device("cuda")
        series = load_series(args)  # before torch's import: a mistyped log path took 4 s to say so
        last = series.last_valid_index()  # hours after the last count (the hour in progress, a
        # log's part-hour): not held out, as eval scores from the last count (train's origins
        # were an hour later than eval's, its verdict another; a short one failed in numpy)
        if last is not None:
            series = series.loc[:last]
        from trafficwatch.model.baselines import baseline_models
        from trafficwatch.model.evaluate import backtest, format_table, summarize, to_json
        from trafficwatch.model.forecaster import Forecaster
        from trafficwatch.model.lstm import LSTMConfig
        from trafficwatch.model.seen import SEEN_KEY, day_keys, decode, encode
        from trafficwatch.model.train import FINE_TUNE, TrainConfig, select_device, train_model

        select_device(args.device)
        hold = max(args.holdout_days, 0) * 24
        fit_on = series.iloc[:-hold] if hold else series
        if hold and len(fit_on) < 72:
            raise ValueError(f"{len(series)} hours: too short to hold out "
                             f"{args.holdout_days} days; "
                             "use --holdout-days 0 or more data")
        base = None if args.scratch else _load_forecaster(args.init)
        cfg = LSTMConfig(horizon=args.horizon or 168) if base is None else None
        if base is None:
            tcfg = TrainConfig(epochs=args.epochs or 30, seed=args.seed, device=args.device)
        else:
            tcfg = TrainConfig(**{**FINE_TUNE.__dict__, "seed": args.seed, "device": args.device,
                                  "epochs": args.epochs or FINE_TUNE.epochs})
        model, result = train_model([fit_on], cfg, tcfg, init=base.model if base else None,
                                    on_progress=lambda p: err.write(p.line() + "\n"))
    except (ValueError, OSError, CheckpointError) as exc:
        _err(str(exc), err)
        return EXIT_USAGE
    trained = Forecaster(model, name="lstm:" + Path(args.out).stem)
    metrics: dict = {"val_pinball": result.best_val, "epochs": result.epochs_run}
    if hold:
        models = {trained.name: trained.as_function()}
        if base is not None:
            models[base.name] = base.as_function()
        models.update(baseline_models())
        table = backtest(series, models, days=args.holdout_days, horizon=24)
        metrics["backtest"] = to_json(table, args.holdout_days, 24)
        out.write(f"backtest on the {args.holdout_days} held-out days (24 h ahead):\n")
        out.write(format_table(table) + "\n")
    data = {"series": [safe_name(p) for p in args.paths or [args.prometheus]], "start": result.data_start,
            "end": result.data_end, "hours": len(fit_on),
            "observed_hours": int(np.isfinite(fit_on.to_numpy()).sum()),
            "init": "scratch" if base is None else base.name, "seed": args.seed,
            # the days it learned from, its init's too: eval says where it scores in-sample
            # (a trial's fine-tune scored on the days it had just trained on, no word of it)
            SEEN_KEY: encode(np.concatenate([
                day_keys(fit_on.to_numpy(dtype="float64")),
                decode((base.checkpoint.data if base is not None and base.checkpoint else
                        {}).get(SEEN_KEY))]))}
    try:
        with writing_result():  # a signal from here on leaves the model written, and exit 0
            path = trained.save(args.out, data=data, metrics=_json_safe(metrics))
    except OSError as exc:  # trained, not written: the output's fault (74), as every command's
        _err(f"cannot write {args.out}: {exc.strerror or exc}", err)
        return EXIT_OUTPUT
    early = (f" of {tcfg.epochs}: stopped early, validation no better for "
             f"{tcfg.patience} epochs" if result.epochs_run < tcfg.epochs else "")
    n = result.epochs_run
    err.write(f"trafficwatch: saved {safe_name(path)} ({n} epoch{'' if n == 1 else 's'}{early}, "
              f"{result.seconds:.1f} s)\n")
    if hold and base is not None:  # saved either way; said plainly when the app would not
        # keep it (it keeps one KEEP_MARGIN better: a fine-tune 1.1 % better was said nothing
        # of, a trial)
        from trafficwatch.engine.tuning import KEEP_MARGIN

        mase = summarize(table)["mase"]
        if not mase[trained.name] < mase[base.name] * (1 - KEEP_MARGIN):
            how = ("no better than" if not mase[trained.name] < mase[base.name] else
                   f"under {KEEP_MARGIN:.0%} better than")
            _err(f"{trained.name} is {how} {base.name} on the held-out days (MASE "
                 f"{mase[trained.name]:.3f} vs {mase[base.name]:.3f}): the app keeps a "
                 f"fine-tune only when it is at least {KEEP_MARGIN:.0%} better", err)
    return _lost(series)


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


FIG_ZERO = 1e-12  # a forecast figure below this (in size) is written 0.000


def _fig(x: float) -> str:
    """A forecast figure in forecast's CSV: 3 decimals, or 4 significant figures below 0.1
    (a series of millionths was all 0.000, 0.001 and 0.002, a trial), never an exponent. Below
    FIG_ZERO it is floating-point rounding, 0: a sparse site's p90 of 1.39e-17 was printed
    "0.000000000000000" beside p50 "0.000" (a trial)."""
    if abs(x) < FIG_ZERO:
        x = 0.0
    if not math.isfinite(x) or x == 0 or abs(x) >= 0.1:
        return f"{x:.3f}"
    return f"{x:.{min(3 - math.floor(math.log10(abs(x))), 15)}f}"
