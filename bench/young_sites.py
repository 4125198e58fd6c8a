"""The forecast of a site a week old, held out, against seasonal naive 24 h in the same run.

    OMP_NUM_THREADS=1 python bench/young_sites.py [--lengths 144,150,160,168,180,190,192]

For every other series of bench/forecast.py's set (the corpus, the sample logs, the real logs),
two stretches of each length of history (ending 200 and 900 hours or so before the series' end,
a little apart for each length) are forecast 24 hours ahead by the fold model that left the
series out (bench/out/fold{k}.pt; the shipped model for the logs), and scored as MASE over the
stretch's own 24 h seasonal naive error, beside naive 24 h's forecast of the same hours. A site
of 145 to 191 hours has "last week" for its forecast but not for its past days: those are the
lengths where the forecast's check against the naives changes its rule (forecaster._recent).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from forecast import OUT, eval_series

from trafficwatch.model.baselines import naive24
from trafficwatch.model.evaluate import seasonal_scale
from trafficwatch.model.forecaster import Forecaster

HORIZON = 24


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="144,150,160,168,180,190,192",
                    help="hours of history, comma-separated")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    shipped = Forecaster.load(None)
    folds = {k: Forecaster.load(OUT / f"fold{k}.pt") for k in range(3)
             if (OUT / f"fold{k}.pt").is_file()}
    if not folds:
        print("no fold models in bench/out (bench/train_default.py --holdout-fold K): the "
              "shipped model is used, and it saw the corpus", file=sys.stderr)
    print(f"{'hours':>5} {'stretches':>9} {'forecast':>9} {'naive24':>8}  (mean MASE, 24 h)")
    for j, n in enumerate(lengths):
        ours, naive = [], []
        for _, s, fold in eval_series(3)[::2]:
            model = folds.get(fold, shipped)
            for back in (200 + 37 * j, 900 + 53 * j):
                end = len(s) - back
                if end - n < 0:
                    continue
                h = s.iloc[end - n:end]
                y = s.to_numpy(dtype=np.float64)[end:end + HORIZON]
                scale = seasonal_scale(h.to_numpy(dtype=np.float64))
                if not np.isfinite(scale) or scale <= 0 or not np.isfinite(y).all():
                    continue
                try:
                    p = model.forecast(h, HORIZON).p50
                except ValueError:  # too little observed to forecast at all
                    continue
                ours.append(np.mean(np.abs(y - p)) / scale)
                naive.append(np.mean(np.abs(y - naive24(h, HORIZON)[:, 1])) / scale)
        print(f"{n:>5} {len(ours):>9} {np.mean(ours):>9.3f} {np.mean(naive):>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
