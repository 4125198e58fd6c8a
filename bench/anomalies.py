"""How many anomalies a healthy week gives, and which faults are still caught, by anomaly band.

    .venv/bin/python bench/anomalies.py [--weeks 2]

Series: each site of the bundled sample_logs/ and of ../shared/data/real_logs with two weeks of
hours or more, and six real series of ../shared/data/series (a tweet volume, taxis, WorldCup98,
a street, ISP flows, a pedestrian counter; their last 60 days). For each of the last `weeks`
weeks: the app's prediction (engine.predict, the shipped model) at the week's end, its day-ahead
forecasts for the 7 days before, and the anomalies (engine.anomalies.detect, trigger 1) at each
band: 0.8 is the band drawn (the old rule, the reference), 0.98 the default `--anomaly-band`;
the model's band alone, and in the last column as shipped (engine.predict.alarm_band: the default
band, never narrower than the noise of counting).
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
    cols = (*BANDS, "shipped")
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
                lo, hi = (widen(alo, q[:, 1], ahi, b) if b != "shipped" else
                          alarm_band(alo, q[:, 1], ahi, ANOMALY_BAND))
                per[b] += len(detect(hours, a, lo, hi))
                for f, (d0, d1, k) in FAULTS.items():
                    x = a.copy()
                    x[busy + d0:busy + d1] *= k
                    caught[(b, f)].append(any(
                        e.start <= hours[busy] and (e.end is None or e.end > hours[busy])
                        for e in detect(hours, x, lo, hi)))
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
