"""What following a log through many rotations costs: the follower's memory and its saved state
after N rename rotations (logrotate's `rotate 1`: the file before deleted at each), with files
let go of as the feed lets go of them (engine.live.RETIRED_KEEP_S, set to 0 here so the run
needs no hours) beside the same feed keeping every file for ever (the reference, in the same
run: RETIRED_KEEP_S infinite, as it was).

    PYTHONPATH=$PWD python bench/rotation_growth.py [--rotations 2500] [--lines 20]

Growth is measured from rotation MAX_RETIRED + 100 on (the follower remembers the last
logs.follow.MAX_RETIRED files it let go of, their first KiB and identity, to know a copy or a
restart's files again: bounded by design) to the last. Target: the state and the feed's
reports stop growing with the number of rotations (a review measured 5 KB of memory and 200
bytes of every save more at each rotation).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

from trafficwatch.engine import live
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.logs import follow

LINE = '203.0.113.{i} - - [{t}] "GET /p{i} HTTP/1.1" 200 5 "-" "ua"\n'
T0 = 1_795_000_000  # 2026-11-18: line k is dated T0 + 10 k s (every file's lines its own, as
# a real log's are: a file whose first KiB is one the follower read before is a copy of it)


def lines(start: int, n: int) -> str:
    return "".join(LINE.format(i=(start + k) % 250, t=time.strftime(
        "%d/%b/%Y:%H:%M:%S +0000", time.gmtime(T0 + 10 * (start + k)))) for k in range(n))


def run(rotations: int, per_file: int, keep_s: float) -> dict:
    live.RETIRED_KEEP_S, live.PRUNE_S, live.RESCAN_S = keep_s, 0.0, 0.0
    live.COMMIT_S = float("inf")  # saved at the two marks only
    follow.AWAY_READ_S = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "logs"
        d.mkdir()
        log, state = d / "access.log", Path(tmp) / "state.json"
        log.write_text(lines(0, per_file))
        e = Engine(EngineConfig(paths=[str(d)], fine_tune=False), lambda s: None)
        f = live.LiveFeed(e.sink, state)
        written, marks = per_file, {}
        first = max(rotations // 4, min(rotations - 100, follow.MAX_RETIRED + 100))
        tracemalloc.start()
        start = time.perf_counter()
        for k in range(1, rotations + 1):
            (d / "access.log.1").unlink(missing_ok=True)
            os.rename(log, d / "access.log.1")
            log.write_text(lines(written, per_file))
            written += per_file
            f.step(0.05)
            f.step(0.05)
            if k in (first, rotations):
                f.commit()
                marks[k] = (tracemalloc.get_traced_memory()[0], state.stat().st_size,
                            len(f.report.files),
                            len(json.loads(state.read_text())["counts"]["parsers"]))
        seconds = time.perf_counter() - start
        tracemalloc.stop()
        ok = f.report.lines == written == e.series.total()
        f.close()
    (m1, s1, _, _), (m2, s2, r2, p2) = marks.values()
    span = rotations - first
    return {"mem_per_rot": (m2 - m1) / span, "state_per_rot": (s2 - s1) / span,
            "state": s2, "reports": r2, "parsers": p2, "exact": ok, "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rotations", type=int, default=2500)
    ap.add_argument("--lines", type=int, default=20, help="lines in each file")
    args = ap.parse_args()
    print(f"{args.rotations} rename rotations, {args.lines} lines a file; growth from rotation "
          f"{max(args.rotations // 4, min(args.rotations - 100, follow.MAX_RETIRED + 100))}")
    print(f"{'':24} {'memory/rotation':>16} {'state/rotation':>15} {'state':>9} "
          f"{'reports':>8} {'parsers':>8} {'exact':>6} {'seconds':>8}")
    for name, keep in (("kept for ever (before)", float("inf")), ("let go of (now)", 0.0)):
        r = run(args.rotations, args.lines, keep)
        print(f"{name:24} {r['mem_per_rot']:>14,.0f} B {r['state_per_rot']:>13,.0f} B "
              f"{r['state']:>7,} B {r['reports']:>8,} {r['parsers']:>8,} {r['exact']!s:>6} "
              f"{r['seconds']:>8.1f}")


if __name__ == "__main__":
    main()
