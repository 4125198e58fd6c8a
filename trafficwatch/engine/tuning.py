"""Load the shipped model in the background; fine-tune a copy per site when history allows."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from trafficwatch.counting.load import read_counts_csv
from trafficwatch.files import atomic_write, sweep_orphans, temp_prefix
from trafficwatch.safe import safe_name

log = logging.getLogger(__name__)

CHILD_NICENESS = 10  # the fine-tuning child runs at this niceness: below the app and the server
DECISION_DAYS = 7  # a site's fine-tune decision (and the model kept) serves this long across
# restarts: each start tuned again, a child of about 500 MB for minutes, to decide the same
KEEP_MARGIN = 0.02  # the fine-tune is kept when it backtests this much better than the default,
# at least: a trial's was kept at MASE 0.597 vs 0.600, moving the band and the past anomalies,
# on a difference that 7 days cannot tell from noise (and it erred more over the 14 days shown)
FINE_TUNE_MIN_DAYS = 14  # two weeks: the default model's window (a week) plus a week to learn from
# The model package is imported inside the functions below, never at this module's import: the
# app starts (and forecasts, with the numpy weights) without loading torch.


@dataclass(frozen=True)
class TuneResult:
    """What fine-tuning decided for a site: the note shown, and the model to use when kept.
    The engine applies it (it is the only writer of its state)."""

    site: str
    note: str
    tuned: object | None = None  # the fine-tuned Forecaster, when it backtests better


def load_default(model_path: str | None):
    """(Forecaster or None, status line). Imports torch here, off the UI's first frame."""
    from trafficwatch.model.checkpoint import CheckpointError
    from trafficwatch.model.forecaster import Forecaster

    try:
        f = Forecaster.load(model_path)
    except CheckpointError as exc:
        return None, f"{exc} (seasonal naive meanwhile)"
    return f, ""


def fine_tune_in_subprocess(model_path: str | None, series, timeout: float = 600.0,
                            device: str = "auto", on_epoch=None):
    """Fine-tune a copy of the model in a child process and load the result (weights only).

    Training in a thread of the app's process holds the GIL in its Python parts (windowing,
    the optimiser loop) for hundreds of milliseconds; a child process keeps the UI smooth.
    The series goes over as a counts CSV (gaps as empty values), the model comes back as a
    checkpoint file; the child reports each epoch on stdout ("epoch 3/8"), passed to
    `on_epoch(done, of)` as it comes.
    """
    from trafficwatch.model.forecaster import Forecaster

    sweep_orphans(("tune",))  # the counts an app killed mid-tune (kill -9) left behind
    with tempfile.TemporaryDirectory(prefix=temp_prefix("tune")) as tmp:
        src, out = Path(tmp) / "series.csv", Path(tmp) / "tuned.pt"
        series.rename("count").rename_axis("hour").to_csv(src)
        cmd = child_command(str(src), str(out), device, model_path)
        with open(Path(tmp) / "stderr.txt", "w+") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err, text=True)
            watchdog = threading.Timer(timeout, proc.kill)  # a hung child is ended
            watchdog.start()
            lines = []
            try:
                for line in proc.stdout:  # type: ignore[union-attr]
                    lines.append(line.strip())
                    done, _, of = line.strip().removeprefix("epoch ").partition("/")
                    if line.startswith("epoch ") and done.isdigit() and of.isdigit() and on_epoch:
                        on_epoch(int(done), int(of))
                code = proc.wait()
            finally:
                watchdog.cancel()
            err.seek(0)
            stderr = err.read()
        if code != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"fine-tuning failed: {last}")
        tuned = Forecaster.load(out)
    tuned.name = "fine-tuned"
    used = [ln for ln in lines if ln.startswith("device=")]
    tuned.trained_on = used[-1].partition("=")[2] if used else "cpu"  # type: ignore[attr-defined]
    return tuned


# The child lowers its priority before anything else, then runs this module: niced in _main,
# it ran at nice 0 for the 1.5-2 s of its imports (pandas, torch), beside the web server
_LAUNCH = ("import os, runpy, sys\n"
           f"try:\n    os.nice({CHILD_NICENESS})\n"
           "except OSError as exc:\n"
           "    print(f'trafficwatch: could not lower the fine-tune\\'s priority: {exc}',"
           " file=sys.stderr)\n"
           "runpy.run_module('trafficwatch.engine.tuning', run_name='__main__', alter_sys=True)\n")


def child_command(src: str, out: str, device: str, model_path: str | None) -> list[str]:
    """The fine-tuning child's command line: niced from its first line (_LAUNCH)."""
    return [sys.executable, "-c", _LAUNCH, src, out, device, *([str(model_path)] if model_path
                                                              else [])]


def _main(argv: list[str]) -> int:
    """Child side of fine_tune_in_subprocess: SERIES_CSV OUT_PT DEVICE [MODEL_PT] (run by
    child_command, which has lowered its priority first)."""
    from trafficwatch.model.forecaster import Forecaster
    from trafficwatch.model.train import FINE_TUNE, select_device

    series = read_counts_csv(argv[0])
    device = select_device(argv[2])  # ValueError (exit 1, said on stderr) for cuda without one
    base = Forecaster.load(argv[3] if len(argv) > 3 else None)
    base.fine_tune(series, replace(FINE_TUNE, device=device.type),
                   on_progress=lambda p: print(f"epoch {p.epoch}/{p.epochs}", flush=True)
                   ).save(argv[1])
    print(f"device={device.type}", flush=True)
    return 0


def tune_store(state_path: str | os.PathLike | None) -> Path | None:
    """Where fine-tune decisions are kept across restarts: beside the state, `<state>.tuned/`
    (None without a state file: --no-state keeps nothing)."""
    if not state_path:
        return None
    p = Path(state_path)
    return p.with_name(p.name + ".tuned")


def _model_ids(model_path: str | None) -> tuple[str, ...]:
    """The default model a decision was made against, as decisions name it: by its content
    (the first), or, as decisions made before 2026-12-07 did, by its file, size and time. By
    time alone, a reinstall of the same model (pip, a new venv, pipx) dropped every kept
    fine-tune without a word (an upgrade trial)."""
    from trafficwatch.resources import default_model_path

    p = Path(model_path) if model_path else default_model_path()
    try:
        st = p.stat()
        where = p.resolve()
    except OSError:
        return (str(p),)
    return (_content_id(str(where), st.st_size, st.st_mtime_ns),
            f"{where}:{st.st_size}:{int(st.st_mtime)}")


@functools.lru_cache(maxsize=8)
def _content_id(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of the file at `path` (as it is at that size and time: read once for each)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return path
    return "sha256:" + h.hexdigest()


def _site_file(store: Path, site: str) -> Path:
    """A site's decision file, named by a hash: site names come from logs."""
    return store / hashlib.sha256(site.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def recall(store: Path, site: str, model_path: str | None,
            restarted: bool = True) -> TuneResult | None:
    """The decision kept for `site`, if it was made against this default model in the last
    DECISION_DAYS days (and its model, when kept, still loads); else None: tune again."""
    from trafficwatch.model.checkpoint import CheckpointError
    from trafficwatch.model.forecaster import Forecaster

    base = _site_file(store, site)
    try:
        rec = json.loads(base.with_suffix(".json").read_bytes())
        decided, kept, note = float(rec["decided"]), bool(rec["kept"]), str(rec["note"])
        if rec.get("version") != 1 or rec.get("site") != site or rec.get("model") not in \
                _model_ids(model_path):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    age = time.time() - decided
    if not 0 <= age < DECISION_DAYS * 86400:
        return None
    tuned = None
    if kept:
        try:
            tuned = Forecaster.load(base.with_suffix(".pt"))
        except (CheckpointError, OSError):
            return None
        tuned.name = "fine-tuned"
        tuned.trained_on = str(rec.get("on", "cpu"))  # type: ignore[attr-defined]
    again = time.strftime("%Y-%m-%d", time.localtime(decided + DECISION_DAYS * 86400))
    if not restarted:  # read by a command, not by the app starting again: its note as made
        return TuneResult(site, note, tuned)
    return TuneResult(site, f"{note}; decided before this start, tuned again from {again}", tuned)


def kept_fine_tune(state_path: str | os.PathLike, site: str) -> TuneResult | None:
    """The fine-tune the app kept for `site` beside its state `state_path` (against the shipped
    model, in the last DECISION_DAYS days), for `forecast` to show what the screen shows; None
    when there is none (or the app decided to keep the default)."""
    store = tune_store(state_path)
    res = recall(store, site, None, restarted=False) if store is not None and store.is_dir() \
        else None
    return res if res is not None and res.tuned is not None else None


def _remember(store: Path, site: str, model_path: str | None, res: TuneResult) -> None:
    """Keep a decision (and the model kept) for the next starts; a failure costs only a re-tune."""
    base = _site_file(store, site)
    try:
        store.mkdir(mode=0o700, parents=True, exist_ok=True)
        if res.tuned is not None:
            res.tuned.save(base.with_suffix(".pt"))  # .pt and .npz, each written atomically
        rec = {"version": 1, "site": site, "model": _model_ids(model_path)[0],
               "decided": time.time(),
               "kept": res.tuned is not None, "note": res.note,
               "on": getattr(res.tuned, "trained_on", "cpu")}
        atomic_write(base.with_suffix(".json"), json.dumps(rec).encode(), mode=0o600)
    except Exception as exc:  # noqa: BLE001 (a decision not kept is tuned again next start)
        log.info("fine-tune decision for %r not kept: %s", site, exc)


def waiting_note(s, enabled: bool) -> str:
    """The Model line's reason while no fine-tune was decided for the view: switched off, or
    too little history yet (maybe_fine_tune waits, and says nothing, until FINE_TUNE_MIN_DAYS),
    or waiting for the model loop to start it (another site's may be running)."""
    if not enabled:
        return "not fine-tuned: switched off (--no-fine-tune)"
    days = int(np.isfinite(s.to_numpy(dtype=float)).sum()) // 24
    if days >= FINE_TUNE_MIN_DAYS:  # the model loop starts it (one site at a time)
        return "fine-tuning on this site: waiting to start"
    return (f"not fine-tuned yet: that needs {FINE_TUNE_MIN_DAYS} days of counts, this view "
            f"has {days} day{'s' * (days != 1)}")


def base_name(model_path: str | None) -> str:
    """The model a site's fine-tune starts from, as its notes name it: "default" (the shipped
    one), or a --model file's name (its notes read "default kept" beside "Model: lstm:mine")."""
    if not model_path:
        return "default"
    return safe_name(Path(model_path).stem) or "default"


def maybe_fine_tune(site: str, s, default, model_path: str | None, device: str,
                    on_progress: Callable[[TuneResult], object] | None = None,
                    store: Path | None = None) -> TuneResult | None:
    """Fine-tune `default` on the site's series `s` once it has enough history; keep the result
    only if it backtests better on the last 7 days. None: not yet (too little history).

    `on_progress` hears each note while it works (starting, each epoch of the child, the
    backtest): the caller records them (the engine is the only writer of its state). With a
    `store` (tune_store), a decision made in the last DECISION_DAYS days is reused, and a new
    one kept there.
    """
    observed_days = int(np.isfinite(s.to_numpy(dtype=float)).sum()) // 24
    if observed_days < FINE_TUNE_MIN_DAYS:
        return None
    last = s.last_valid_index()  # from its last count, as eval scores (a log's part-hour at
    # the end put the origins an hour later: "default 0.8068 in eval's backtest", where eval
    # said 0.799, a trial)
    if last is not None:
        s = s.loc[:last]
    if store is not None and (known := recall(store, site, model_path)) is not None:
        return known
    from trafficwatch.model.evaluate import backtest, summarize

    holdout = s.iloc[:-7 * 24]  # tune on what the backtest does not score
    try:
        default.check(holdout)
    except ValueError as exc:  # e.g. the history before the last week ends in a long gap
        return TuneResult(site, _too_little(holdout, default.cfg.window, exc))
    started = time.time()
    begun = time.strftime("%H:%M", time.localtime(started))
    base = base_name(model_path)

    def say(note: str) -> None:
        if on_progress is not None:
            on_progress(TuneResult(site, note))

    low = f"started {begun}, low priority (nice {CHILD_NICENESS})"
    say(f"fine-tuning on this site: starting, {low}")
    tuned = fine_tune_in_subprocess(
        model_path, holdout, device=device,
        on_epoch=lambda done, of: say(f"fine-tuning on this site: epoch {done}/{of}, {low}"))
    if _same_weights(default, tuned):  # early stopping kept the default's own weights: no
        # epoch did better on the week it validates on ("fine-tuned no better, MASE 0.7462
        # each" read as if nothing had run)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
        res = TuneResult(site, f"{base} kept: no epoch of fine-tuning did better than it on "
                               f"the week before the last 7 days ({when})")
        if store is not None:
            _remember(store, site, model_path, res)
        return res
    say("fine-tuning on this site: done, backtesting it against the "
        + ("default" if base == "default" else f"model {base}"))
    table = summarize(backtest(s, {"default": default.as_function(),
                                   "fine-tuned": tuned.as_function()}, days=7))
    mase = table["mase"].to_dict()
    d, t = mase.get("default", math.nan), mase.get("fine-tuned", math.nan)
    score = "MASE"
    if not (math.isfinite(d) and math.isfinite(t)):  # no scale: the same count every day
        # (a constant site read "fine-tuned no better, MASE nan each"): judged on sMAPE
        smape = table["smape"].to_dict()
        d, t = smape.get("default", math.nan), smape.get("fine-tuned", math.nan)
        score = "sMAPE (%)"
    res = _decide(site, t, d, started, tuned, score, base)
    if store is not None:
        _remember(store, site, model_path, res)
    return res


def _too_little(holdout, window: int, exc: ValueError) -> str:
    """Why the weeks before the last one cannot be tuned on, in the words of those weeks: the
    model's own refusal speaks of "the last 168 hours" (its window), which reads as the last week,
    beside a chart that has counts there (a site whose log stopped, then started again)."""
    from trafficwatch.model.forecaster import MIN_OBSERVED

    why = ("not fine-tuned: it learns from the weeks before the last one and is checked on the "
           "last, and ")
    seen = int(np.isfinite(holdout.to_numpy(dtype=float)[-window:]).sum())
    if seen >= MIN_OBSERVED:  # refused for another reason: say the model's own
        return why + f"those weeks cannot be forecast from: {exc}"
    start = holdout.index[-min(len(holdout), window)].strftime("%Y-%m-%d")
    has = "no hour with a count" if seen == 0 else f"only {seen} hour{'s' * (seen > 1)} with a count"
    return (why + f"the {window} hours before the last week (from {start}) have {has} "
            f"({MIN_OBSERVED} needed)")


def _decide(site: str, t: float, d: float, started: float, tuned,
            score: str = "MASE", base: str = "default") -> TuneResult:
    """The fine-tuned model kept when it backtested better (`score` `t` against the default's
    `d`: MASE, or sMAPE where MASE has no scale), and the note that says so (`base`: the model
    tuned from, as base_name names it)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
    on = getattr(tuned, "trained_on", "cpu")
    # scored as `trafficwatch eval` scores (forecasts from the hour 7, 6 ... 1 days before the
    # series' end), not as "Last 7 days" above it (forecasts from each day's midnight): the two
    # MASEs of one model differ, and the note must not read as a second figure for the same
    how = "in eval's backtest of the last 7 days"
    if not (math.isfinite(t) and math.isfinite(d)):
        return TuneResult(site, f"{base} kept: the fine-tune could not be scored {how} "
                                f"({when})")
    ts, ds = two_figures(t, d)
    if t < d * (1 - KEEP_MARGIN):
        # after the model's name ("Model: fine-tuned · kept ..."), not "fine-tuned" twice
        return TuneResult(site, f"kept: tuned {when} on {on}, {score} {ts} vs {base} {ds} {how}",
                          tuned)
    if ts == ds:  # alike to 4 decimals: not "0.5872 vs 0.5872", which reads as a typo
        return TuneResult(site, f"{base} kept: fine-tuned no better, {score} {ds} each {how} "
                                f"({when})")
    if t < d:
        return TuneResult(site, f"{base} kept: fine-tuned {score} {ts} vs {base} {ds} {how}, "
                                f"under {KEEP_MARGIN:.0%} better: too close to call ({when})")
    return TuneResult(site, f"{base} kept: fine-tuned {score} {ts} vs {base} {ds} {how} "
                            f"({when})")


def _same_weights(a, b) -> bool:
    """Whether two forecasters hold the same weights (False where either has none to read)."""
    wa, wb = _weights(a), _weights(b)
    return wa is not None and wb is not None and wa.keys() == wb.keys() and all(
        np.array_equal(wa[k], wb[k]) for k in wa)


def _weights(f) -> dict | None:
    from trafficwatch.model.numpy_lstm import NumpyLSTM

    net = getattr(f, "net", None)
    if isinstance(net, NumpyLSTM):
        return net.weights
    if net is not None and hasattr(net, "state_dict"):  # a torch model
        return NumpyLSTM.from_torch(net).weights
    return None


def two_figures(a: float, b: float) -> tuple[str, str]:
    """Two scores with the decimals (2 to 4) that tell them apart: the better one kept must
    not read as equal ('0.81 vs 0.81')."""
    for k in (2, 3, 4):
        if f"{a:.{k}f}" != f"{b:.{k}f}":
            break
    return f"{a:.{k}f}", f"{b:.{k}f}"


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
