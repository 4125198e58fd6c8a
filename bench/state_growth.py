"""What a busy site's counts cost, in memory and in the state file, as the days go by: the app's
series (visitors and per-path counts kept) aged as the app ages it at each save
(HourlySeries.age), beside the same counts never aged (the reference, measured in the same
run), and the visitors of every filter checked equal between the two.

    PYTHONPATH=$PWD python bench/state_growth.py [--days 60] [--visitors 3000] [--requests 20000]

Each hour of `--days` has `--requests` requests from `--visitors` distinct visitors (of a pool
of ten times as many), over 2,000 paths, statuses and bots as on a real site. Target: the
state file of a site followed for months stops growing with its traffic (a few kB a day once
the detail of its first VISITOR_KEYS_DAYS / PATH_DAYS days has aged), where it grew by about
5 MB a day before.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from trafficwatch.counting.series import HourlySeries
from trafficwatch.logs.records import Records

HOUR = 3600


def hour_records(rng: np.random.Generator, h: int, requests: int, visitors: int,
                 pool: int) -> Records:
    who = rng.choice(pool, visitors, replace=False).astype(np.uint64) * np.uint64(2654435761)
    return Records(
        ts=(h * HOUR + np.sort(rng.integers(0, HOUR, requests))).astype(np.int64),
        utc_offset=np.zeros(requests, np.int32),
        status=rng.choice(np.array([200] * 8 + [304, 404, 500], np.int16), requests),
        size=np.zeros(requests, np.int64), is_static=rng.random(requests) < 0.4,
        is_bot=rng.random(requests) < 0.08, client=np.zeros(requests, np.uint64),
        visitor=rng.choice(who, requests), vhost=np.full(requests, -1, np.int32),
        path=np.array([f"/p/{i}" for i in rng.zipf(1.3, requests) % 2000], object))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--visitors", type=int, default=3000)
    p.add_argument("--requests", type=int, default=20000)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    aged = HourlySeries(track_visitors=True, track_paths=True)
    kept = HourlySeries(track_visitors=True, track_paths=True)
    h0 = 1_790_000_000 // HOUR
    t = time.perf_counter()
    print(f"{'day':>4} {'aged state MB':>14} {'never aged MB':>14}")
    for d in range(args.days):
        for h in range(h0 + d * 24, h0 + (d + 1) * 24):
            rec = hour_records(rng, h, args.requests, args.visitors, args.visitors * 10)
            aged.add("busy.example", rec)
            kept.add("busy.example", rec)
        aged.age()  # as the app does at its saves (every 30 s)
        if (d + 1) % 10 == 0 or d + 1 == args.days:
            a, k = (len(json.dumps(s.to_dict())) / 1e6 for s in (aged, kept))
            print(f"{d + 1:4d} {a:14.1f} {k:14.1f}", flush=True)
    for bots in (True, False, "only"):
        for cls in (None, {2}, {4, 5}):
            np.testing.assert_array_equal(aged.series(None, "visitors", bots, cls).to_numpy(),
                                          kept.series(None, "visitors", bots, cls).to_numpy())
    print(f"visitors of 9 filters equal, aged and not ({time.perf_counter() - t:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
