"""The log tail under a filter: what judging the tail's lines costs a frame.

    .venv/bin/python bench/tail_filter.py [--sites 20 200] [--exclude-ip]

Every site's last 50 lines (combined format) are in the tail; the view shows all sites under a
status filter (5xx). Printed per site count: the first filtered frame (every line new to the
filter), a frame after one new line (the steady cost, median of 20), a switch to one site and
back, beside the reference of the same frames unfiltered (the tail handed over as it is), in the
same run. A review measured the first version at 23 s for a first frame of 200 sites with one
--exclude-ip (a batch with a line it left out was parsed a line at a time).
"""
from __future__ import annotations

import argparse
import statistics
import time

from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.engine.snapshot import TailLine
from trafficwatch.engine.tail import TailFilter
from trafficwatch.filters import ViewFilter
from trafficwatch.logs.formats import COMBINED
from trafficwatch.logs.parse import ParseOptions


def line(i: int) -> str:
    return (f'192.0.2.{i % 50} - - [20/Nov/2026:10:{i % 60:02d}:00 +0000] '
            f'"GET /api/{i % 7} HTTP/1.1" {(200, 404, 500)[i % 3]} 5 "-" "Mozilla/5.0"')


def frames(n_sites: int, exclude: bool) -> dict[str, float]:
    """Milliseconds of each frame, filtered, and of the same frames unfiltered (reference)."""
    ips = frozenset({"192.0.2.1"}) if exclude else frozenset()
    tf = TailFilter(IngestOptions(parse=ParseOptions(exclude_ips=ips)))
    f = ViewFilter(status_classes=frozenset({5}))
    tail = [TailLine(1e9 + i * 1e-3 + s, f"site{s}", line(i), COMBINED)
            for s in range(n_sites) for i in range(50)]

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return 1000 * (time.perf_counter() - t)

    out = {"first": timed(lambda: tf(tuple(tail), "", f)),
           "ref first": timed(lambda: [x for x in tuple(tail) if x.site][-50:])}
    steady, k = [], 50
    for step in range(20):  # a new line of one site a frame; its oldest leaves the tail
        site = f"site{step % n_sites}"
        oldest = min((x for x in tail if x.site == site), key=lambda x: x.ts)
        tail.remove(oldest)
        tail.append(TailLine(2e9 + step, site, line(k), COMBINED))
        k += 1
        steady.append(timed(lambda: tf(tuple(tail), "", f)))
    out["steady"] = statistics.median(steady)
    out["one site"] = timed(lambda: tf(tuple(tail), "site3", f))
    out["back to all"] = timed(lambda: tf(tuple(tail), "", f))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, nargs="+", default=[20, 200])
    ap.add_argument("--exclude-ip", action="store_true", help="one client left out by --exclude-ip")
    args = ap.parse_args()
    print(f"{'sites':>6} {'first':>9} {'steady':>9} {'one site':>9} {'back':>9} "
          f"{'reference (unfiltered first frame)':>36}")
    for n in args.sites:
        r = frames(n, args.exclude_ip)
        print(f"{n:>6} {r['first']:>7.1f}ms {r['steady']:>7.2f}ms {r['one site']:>7.2f}ms "
              f"{r['back to all']:>7.2f}ms {r['ref first']:>34.2f}ms")


if __name__ == "__main__":
    main()
