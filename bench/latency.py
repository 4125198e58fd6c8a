"""Live latency: a writer appends timestamped lines at a steady rate with rotations in between.

The lines are nginx combined lines; they go through what the app uses (LiveFeed: the Follower,
the parser and the hourly series). Prints p50/p99 delay from a line's write to its being counted
in the series, lines appended vs counted (must be equal, each once) and the reading process's CPU
share. Reference: the same run's writer process CPU share, for scale.

    python bench/latency.py --rate 10000 --seconds 60 [--poll]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time

WRITER = r'''
import os, shutil, sys, time
path, rate, seconds, rotate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
n, t0, k, nxt = 0, time.time(), 0, time.time() + rotate
h = open(path, "ab", buffering=0)
while (now := time.time()) < t0 + seconds:
    due = int((now - t0) * rate)
    if due > n:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()).encode()
        h.write(b"".join(b'192.0.2.%d - - [%s] "GET /t=%.6f/n=%d HTTP/1.1" 200 5 "-" "bench"\n'
                         % (i % 250, stamp, time.time(), i) for i in range(n, due)))
        n = due
    if now >= nxt:
        k, nxt = k + 1, now + rotate
        if k % 2:  # rename + create
            h.close()
            os.rename(path, path + ".%d" % k)
            h = open(path, "ab", buffering=0)
        else:  # copytruncate
            shutil.copyfile(path, path + ".%d" % k)
            os.truncate(path, 0)
    time.sleep(0.005)
h.close()
print(n, os.times().user + os.times().system)
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=10_000, help="lines per second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rotate-every", type=float, default=7.0, help="seconds between rotations")
    ap.add_argument("--poll", action="store_true", help="polling back end instead of inotify")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from trafficwatch.counting.ingest import IngestOptions
    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.engine.live import LiveFeed
    from trafficwatch.engine.sink import Sink, SourceConfig

    d = tempfile.mkdtemp(prefix="tw-latency-")
    path = os.path.join(d, "access.log")
    open(path, "wb").close()
    delays: list[float] = []
    seen: set[int] = set()
    dup = [0]
    lock = threading.Lock()

    rx = re.compile(rb"GET /t=([0-9.]+)/n=([0-9]+) ")
    counted = LiveFeed._on_data

    def on_data(self, key, chunk: bytes) -> None:
        counted(self, key, chunk)  # parsed and added to the series: now it is counted
        now = time.time()
        with lock:
            for t, n in rx.findall(chunk):
                delays.append(now - float(t))
                i = int(n)
                dup[0] += i in seen
                seen.add(i)

    LiveFeed._on_data = on_data
    with open(path, "wb") as h:  # a first line, so that the format is known from the start
        h.write(b'192.0.2.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n')
    sink = Sink(SourceConfig([d], IngestOptions(), poll=args.poll),
                HourlySeries(track_visitors=False))  # what `counts --follow` gives the feed
    feed = LiveFeed(sink, None)
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    out = subprocess.run([sys.executable, "-c", WRITER, path, str(args.rate), str(args.seconds),
                          str(args.rotate_every)], capture_output=True, text=True, check=True)
    written, writer_cpu = out.stdout.split()
    written = int(written)
    end = time.monotonic() + 10
    while len(seen) < written and time.monotonic() < end:
        time.sleep(0.05)
    wall = time.monotonic() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    feed.close()
    in_series = sink.series.total() - 1
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    delays.sort()
    q = lambda p: delays[min(len(delays) - 1, int(p * len(delays)))] * 1000
    mode = "poll" if args.poll else "inotify"
    print(f"backend={mode} rate={args.rate}/s seconds={args.seconds:g} "
          f"rotations={int(args.seconds // args.rotate_every)}")
    ok = len(delays) == len(seen) == written == in_series
    print(f"appended={written} counted={in_series} distinct={len(seen)} duplicates={dup[0]} "
          f"{'OK' if ok else 'MISMATCH'}")
    print(f"delay p50={q(0.5):.1f} ms p99={q(0.99):.1f} ms max={delays[-1] * 1000:.1f} ms")
    print(f"reading process CPU {cpu / wall:.1%} of a core (writer reference: "
          f"{float(writer_cpu) / args.seconds:.1%})")


if __name__ == "__main__":
    main()
