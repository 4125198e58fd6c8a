"""Anomalies: completed hours outside the forecast band, with trigger and recovery windows."""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

ANOMALY_BAND = 0.98  # anomalies are judged on the day-ahead forecast's 98 % band, not on the
# 80 % band drawn: outside p10-p90 is one hour in five by design, and on the sample logs and a
# real nginx log that made 23 to 37 anomalies (and as many --alert-cmd runs) a week on healthy
# sites. At 98 %: 5 to 11 a week there (6.3 on average over nine real and sample series), and a
# busy hour's outage (no requests) or tripling still flagged (89 % and 100 % of those injected).
# The band is floored by the noise of counting (noise_floor; bench/anomalies.py "shipped": 4.7 a
# week on average, faults caught as before).


def noise_floor(p50: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray]:
    """The narrowest anomaly band a count can have: the central `band` of a Poisson count with
    mean p50 (at least 1), through Anscombe's square root, which is near normal even for small
    means. On a steady site the model's band shrinks to nothing (60 an hour every hour:
    59.8-60.2), and an hour of 61 -- or of 60, by a rounding error -- was an anomaly and ran
    --alert-cmd. Requests arrive one by one: an hour's count varies by about the square root of
    its mean when nothing is wrong (60: 43-79 at 98 %; 1: 0-5)."""
    z = NormalDist().inv_cdf(0.5 + band / 2)
    mid = np.clip(np.nan_to_num(np.asarray(p50, dtype=float), nan=0.0), 1.0, None)
    root = np.sqrt(mid + 0.375)
    lo = np.clip(root - z / 2, 0.0, None) ** 2 - 0.375
    return np.clip(lo, 0.0, None), (root + z / 2) ** 2 - 0.375


@dataclass(frozen=True)
class AnomalyEvent:
    """A run of hours outside the band: fires after `trigger` hours, clears after `recovery`."""

    start: int  # epoch seconds of the first hour outside the band
    end: int | None  # first hour of the recovery that cleared it; None while active
    peak_hour: int
    actual: float  # the value at the peak hour
    low: float
    high: float
    direction: int  # +1 above the band, -1 below
    fired: int  # epoch seconds of the hour that completed the trigger window
    clipped: bool = False  # its first hour is the first one judged, with hours before it not
    # judged: it may have begun earlier (site_forecasts judges the last day only)
    last: int | None = None  # epoch seconds of its latest hour outside the band (None: start)

    @property
    def hours_out(self) -> int:
        """Hours from its first to its latest outside the band (gaps between them count)."""
        return 1 if self.last is None else (self.last - self.start) // 3600 + 1

    @property
    def fired_at(self) -> int:
        """When the event fired: the end of the hour that completed its trigger window."""
        return self.fired + 3600

    @property
    def active(self) -> bool:
        return self.end is None


def detect(
    hours: np.ndarray,
    actual: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    trigger: int = 1,
    recovery: int = 1,
) -> list[AnomalyEvent]:
    """Scan completed hours in order, as an alert monitor would (Datadog's conventions).

    An hour is out when `actual` lies outside [low, high]; NaN actual (a gap) or NaN band
    is neither in nor out and leaves the state as it was, as does a 0 inside a band that
    reaches 0 while a drop is firing (it cannot tell the silence from a quiet hour). An
    event fires once `trigger` consecutive hours are out, and clears after `recovery`
    consecutive hours back inside.
    A run that crosses the band (below, then above) is two events: the first ends where the
    second direction begins, and the second fires after its own `trigger` hours.
    """
    if trigger < 1 or recovery < 1:
        raise ValueError("trigger and recovery windows are at least one hour")
    events: list[AnomalyEvent] = []
    run_out: list[int] = []  # indices of the current run of out-of-band hours, one direction
    run_in = 0
    firing: dict | None = None
    for i in range(len(hours)):
        a, lo, hi = actual[i], low[i], high[i]
        if np.isnan(a) or np.isnan(lo) or np.isnan(hi):
            continue
        direction = 1 if a > hi else -1 if a < lo else 0
        if not direction and a <= 0 and firing is not None and firing["dir"] < 0:
            # a 0 in an hour whose band reaches 0 (a night) tells nothing of a silence going
            # on: it neither ends the drop nor starts another (a dead site alerted again the
            # next morning, for an hour the screen never listed: a trial)
            continue
        if not direction:
            run_out = []
            if firing is not None:
                run_in += 1
                if run_in >= recovery:
                    events.append(_event(firing, hours, actual, low, high, end=int(hours[i])))
                    firing, run_in = None, 0
            continue
        run_in = 0
        if run_out and _direction(run_out[-1], actual, low, high) != direction:
            run_out = []  # a swing from above to below is a new run
        if firing is not None and firing["dir"] != direction:
            events.append(_event(firing, hours, actual, low, high, end=int(hours[i])))
            firing, run_out = None, []
        run_out.append(i)
        if firing is None and len(run_out) >= trigger:
            firing = {"start": run_out[0], "peak": run_out[0], "dir": direction, "fired": i}
        if firing is not None:
            firing["last"] = i
            p = firing["peak"]
            if abs(_excess(a, lo, hi)) > abs(_excess(actual[p], low[p], high[p])):
                firing["peak"] = i
    if firing is not None:
        events.append(_event(firing, hours, actual, low, high, end=None))
    return events


def _direction(i: int, actual, low, high) -> int:
    return 1 if actual[i] > high[i] else -1 if actual[i] < low[i] else 0


def _excess(a: float, lo: float, hi: float) -> float:
    return a - hi if a > hi else lo - a if a < lo else 0.0


def _event(f: dict, hours, actual, low, high, end: int | None) -> AnomalyEvent:
    p = f["peak"]
    return AnomalyEvent(start=int(hours[f["start"]]), end=end, peak_hour=int(hours[p]),
                        actual=float(actual[p]), low=float(low[p]), high=float(high[p]),
                        direction=f["dir"], fired=int(hours[f["fired"]]),
                        last=int(hours[f.get("last", f["start"])]))
