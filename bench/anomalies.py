"""How many anomalies a healthy week gives, and which faults are still caught, by anomaly band.

    .venv/bin/python bench/anomalies.py [--weeks 2]

Series: each site of the bundled sample_logs/ and of ../shared/data/real_logs with two weeks of
hours or more, and six real series of ../shared/data/series (a tweet volume, taxis, WorldCup98,
a street, ISP flows, a pedestrian counter; their last 60 days). For each of the last `weeks`
weeks: the app's prediction (engine.predict, the shipped model) at the week's end, its day-ahead
forecasts for the 7 days before, and the anomalies (engine.anomalies.detect, trigger 1) at each
band: 0.8 is the band drawn (the old rule, the reference), 0.98 the default `--anomaly-band`;
the model's band alone, then as shipped (engine.predict.alarm_band: the default band, never
narrower than the noise of counting), and in the last column the --alert-cmd pages of those
(engine.alerts.Alerter, judged hour by hour as the app does: a run pages at its first hour far
outside the band or at its second hour, never again an hour after one that paged, nor for
traffic coming back after a long run the other way).
Then three faults are put, one at a time, into the busiest hour of the week's last two days, and
counted as caught when an anomaly covers that hour: no request for an hour (the site down), half
the requests for three hours, three times the requests for an hour.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BANDS = (0.8, 0.9, 0.95, 0.98, 0.99)
CORPUS = ("nab_counts/twitter_AAPL", "nab_counts/nyc_taxi", "worldcup98",
          "auckland_pedestrians/akl_ped_107_quay_street", "cesnet_isp_traffic/cesnet_ip103_n_flows",
          "melbourne_pedestrians/melb_ped_s13")
FAULTS = {"down 1 h": (0, 1, 0.0), "half 3 h": (-1, 2, 0.5), "x3 1 h": (0, 1, 3.0)}


def load_series() -> dict[str, pd.Series]:
    """name -> hourly hits, whole hours."""
    from trafficwatch.counting.ingest import IngestOptions, ingest
    from trafficwatch.model.corpus import load_corpus

    out = {}
    for path in (REPO / "sample_logs", REPO.parent / "shared" / "data" / "real_logs"):
        if path.is_dir():
            counts, _ = ingest([str(path)], IngestOptions())
            for site in counts.sites():
                s = counts.series(site, "hits", whole_hours=True)
                if s.notna().sum() >= 14 * 24:
                    out[site] = s
    try:
        corpus = load_corpus()
    except FileNotFoundError:
        corpus = {}
    out.update({n: corpus[n].iloc[-24 * 60:] for n in CORPUS if n in corpus})
    return out


def paged(hours: np.ndarray, actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list:
    """The anomalies --alert-cmd pages for, judged at the end of each hour on the day before
    it, as the app judges them (engine.site_forecasts)."""
    from trafficwatch.engine.alerts import Alerter, AlertMarks
    from trafficwatch.engine.anomalies import detect
    from trafficwatch.hours import HOUR

    class Pages(Alerter):
        def _put(self, jobs):  # counted, not run (as queued: not judged again)
            for site, ev in jobs:
                self._queued[site] = max(ev.fired_at, self._queued.get(site, ev.fired_at))
                self.got.append(ev)

    pager = Pages("true", AlertMarks(None))
    pager.got = []
    pager.begin(float(hours[0]))
    for t in range(len(hours)):  # (each run from its own start, as LOOK_BACK finds it)
        pager.check("site", [e for e in detect(hours[:t + 1], actual[:t + 1], lo[:t + 1],
                                               hi[:t + 1])
                             if e.end is None or e.end > hours[t] - 23 * HOUR])
    return pager.got


def main() -> int:
    """Print anomalies a week and faults caught per band, per series and in all."""
    from trafficwatch.engine.anomalies import ANOMALY_BAND, detect
    from trafficwatch.engine.predict import alarm_band, alarm_quantiles, past_days, widen
    from trafficwatch.hours import HOUR, epoch
    from trafficwatch.model.forecaster import Forecaster

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=2)
    args = ap.parse_args()
    np.seterr(all="ignore")
    fc = Forecaster.load()
    series = load_series()
    cols = (*BANDS, "shipped", "pages")
    events = {b: [] for b in cols}
    caught = {(b, f): [] for b in cols for f in FAULTS}
    print(f"anomalies a week by band (0.8: the band drawn, the old rule; {ANOMALY_BAND}: the "
          "default --anomaly-band; shipped: it with the counting-noise floor)")
    print(f"{'series':<44}" + "".join(f"{b:>8}" for b in cols))
    for name, s in series.items():
        per = {b: 0 for b in cols}
        for w in range(args.weeks):
            h = s.iloc[:len(s) - 168 * w]
            # the day-ahead forecasts of the 7 days before, as the screen and every site's
            # check make them (engine.predict, engine.site_forecasts)
            days = list(past_days(h, fc.as_function(alarm=True), fc,
                                  epoch(h.index[-1]) + HOUR, 7))
            hours = np.concatenate([d.hours for d in days])
            q = np.concatenate([d.q for d in days])
            alo, ahi = alarm_quantiles(q)  # the band drawn may be wider: Forecast.band_note
            a = s.reindex(pd.to_datetime(hours, unit="s", utc=True)).to_numpy(dtype=float)
            busy = int(np.nanargmax(a[-48:])) + len(a) - 48
            for b in cols:
                lo, hi = (widen(alo, q[:, 1], ahi, b) if b not in ("shipped", "pages") else
                          alarm_band(alo, q[:, 1], ahi, ANOMALY_BAND))
                per[b] += len(paged(hours, a, lo, hi) if b == "pages" else
                              detect(hours, a, lo, hi))
                for f, (d0, d1, k) in FAULTS.items():
                    x = a.copy()
                    x[busy + d0:busy + d1] *= k
                    runs = [e for e in detect(hours, x, lo, hi) if e.start <= hours[busy]
                            and (e.end is None or e.end > hours[busy])]
                    if b == "pages":  # a page for that run, by the end of the hour after
                        runs = [e for e in paged(hours, x, lo, hi) if e.fired_at <= hours[busy]
                                + 2 * HOUR and any(r.start == e.start for r in runs)]
                    caught[(b, f)].append(bool(runs))
        for b in cols:
            events[b].append(per[b] / args.weeks)
        print(f"{name[:44]:<44}" + "".join(f"{per[b] / args.weeks:>8.1f}" for b in cols))
    print(f"{'mean':<44}" + "".join(f"{np.mean(events[b]):>8.1f}" for b in cols))
    for f in FAULTS:
        print(f"{'caught: ' + f:<44}" + "".join(f"{100 * np.mean(caught[(b, f)]):>7.0f}%"
                                                for b in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
