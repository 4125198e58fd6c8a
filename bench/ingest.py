"""Ingestion speed and memory: `trafficwatch counts` against awk | sort | uniq -c on the same file.

    python bench/ingest.py [--lines 2000000] [--big] [--real] [--vhost] [--junk 0.01]
    (files go to bench/out/, ignored)

Prints lines/s for both and their ratio; with --big, a ~2 GB file and the peak RSS of
trafficwatch on it (memory must not grow with file size). With --vhost, the lines as nginx
writes them for several sites in one log (`$host $remote_addr ...`, VCOMBINED), counted per
site: awk prints the host and the hour.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
AGENTS = [b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
          b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
          b"curl/8.5.0", b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148"]
PATHS = [b"/", b"/products/kettle-12", b"/static/app.js", b"/search?q=tea+cups", b"/favicon.ico"]
MON = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"]


def make_log(path: Path, n: int, seed: int = 0) -> None:
    """A deterministic nginx combined log of `n` lines, in time order, ~180 bytes a line."""
    if path.exists() and path.stat().st_size > 0 and path.with_suffix(".n").exists() and \
            path.with_suffix(".n").read_text() == str(n):
        return
    rng = np.random.default_rng(seed)
    t0 = 1_790_000_000
    with open(path, "wb") as f:
        done = 0
        while done < n:
            k = min(200_000, n - done)
            ts = t0 + (done + np.arange(k)) // 50  # 50 requests a second
            ips = rng.integers(1, 255, (k, 2))
            st = rng.choice([200, 200, 200, 304, 404, 500], k)
            out = []
            for i in range(k):
                t = time.gmtime(int(ts[i]))
                out.append(b'10.%d.%d.7 - - [%02d/%s/%d:%02d:%02d:%02d +0000] "GET %s HTTP/1.1" %d %d '
                           b'"-" "%s"\n' % (ips[i, 0], ips[i, 1], t.tm_mday, MON[t.tm_mon - 1],
                                           t.tm_year, t.tm_hour, t.tm_min, t.tm_sec,
                                           PATHS[i % 5], st[i], 100 + i % 5000, AGENTS[i % 4]))
            f.write(b"".join(out))
            done += k
    path.with_suffix(".n").write_text(str(n))


# Python as installed programs run: with their compiled bytecode cached (pip compiles it at
# install; an editable install writes it on first run). Some environments set
# PYTHONDONTWRITEBYTECODE, which would make every timed run compile our modules again (~40 ms).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")


def timed(cmd: str) -> float:
    """Seconds a shell command takes."""
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=ENV)
    return time.perf_counter() - t


def _tree(root: int) -> list[int]:
    """root and every descendant process (Linux /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += [c for c, p in parent.items() if p == pid]
    return out


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_tree_rss(argv: list[str]) -> tuple[float, float]:
    """(peak of the RSS summed over a command and its workers, peak of one process), MiB.

    Sampled every 20 ms; the sum counts pages the forked workers share with their parent
    once per process, so it overstates the memory really used.
    """
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    tree = largest = 0
    while proc.poll() is None:
        sizes = [_rss_kib(p) for p in _tree(proc.pid)]
        tree, largest = max(tree, sum(sizes)), max([largest, *sizes])
        time.sleep(0.02)
    return tree / 1024, largest / 1024


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_logs"


def make_real_log(path: Path, n: int) -> bool:
    """`n` lines of the real public logs in ../shared/data (all their lines, repeated in turn):
    long agents, many distinct paths and agents, as real traffic has. False when absent."""
    import gzip

    files = sorted(REAL.glob("*.gz")) if REAL.is_dir() else []
    if not files:
        return False
    if path.exists() and path.with_suffix(".n").exists() and path.with_suffix(".n").read_text() == str(n):
        return True
    lines = []
    for f in files:
        with gzip.open(f) as fh:
            lines += [ln for ln in fh.read().split(b"\n") if ln.strip()]
    with open(path, "wb") as out:
        out.writelines(b"\n".join(lines[: n - i]) + b"\n" for i in range(0, n, len(lines)))
    path.with_suffix(".n").write_text(str(n))
    return True


VHOSTS = [b"www.example.com", b"shop.example.com:443", b"api.example.com", b"blog.example.org",
          b"static.example.com:443", b"status.example.io", b"Docs.Example.com", b"m.example.com"]


def with_vhosts(src: Path, path: Path) -> None:
    """`src`'s lines, each opened by one of VHOSTS in turn."""
    if path.exists() and path.stat().st_mtime >= src.stat().st_mtime:
        return
    with open(src, "rb") as f, open(path, "wb") as out:
        out.writelines(VHOSTS[i % len(VHOSTS)] + b" " + line for i, line in enumerate(f))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--big", action="store_true", help="also a ~2 GB file, for peak memory")
    ap.add_argument("--real", action="store_true",
                    help="lines of the real logs in ../shared/data instead of generated ones")
    ap.add_argument("--vhost", action="store_true",
                    help="each line opened by its site's name (nginx's $host first: VCOMBINED)")
    ap.add_argument("--junk", type=float, default=0.0,
                    help="also time the file with this share of junk lines added (no format "
                         "reads them), beside the clean one, both without --log-format: what "
                         "looking for a change of format (logs.refit) costs a log with junk")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    if a.real:
        log = OUT / f"real_{a.lines}.log"
        if not make_real_log(log, a.lines):
            print(f"no real logs at {REAL}", file=sys.stderr)
            return 2
    else:
        log = OUT / f"combined_{a.lines}.log"
        make_log(log, a.lines)
    fmt, awk_cols = "COMBINED", "substr($4,2,14)"
    if a.vhost:
        log, fmt, awk_cols = log.with_name("v" + log.name), "VCOMBINED", "$1, substr($5,2,14)"
        with_vhosts(log.with_name(log.name[1:]), log)
    size = log.stat().st_size
    tw = f"{sys.executable} -m trafficwatch counts {log} --log-format {fmt}"
    awk = f"awk '{{print {awk_cols}}}' {log} | sort | uniq -c"
    print(f"file: {log.name}, {a.lines:,} lines, {size / 1e6:.0f} MB, {os.cpu_count()} cores")
    small = OUT / "combined_1000.log"
    make_log(small, 1000)
    if a.vhost:
        with_vhosts(small, small.with_name("v" + small.name))
        small = small.with_name("v" + small.name)
    timed(tw.replace(str(log), str(small)))  # untimed: bytecode cached, as after an install
    t_tw = timed(tw)
    t_awk = timed(awk)
    print(f"trafficwatch counts : {a.lines / t_tw / 1e6:6.2f} M lines/s ({t_tw:.2f} s)")
    print(f"awk | sort | uniq -c: {a.lines / t_awk / 1e6:6.2f} M lines/s ({t_awk:.2f} s)")
    print(f"ratio trafficwatch/awk: {t_awk / t_tw:.2f}x")
    if a.junk:
        junk = log.with_name(f"junk{a.junk:g}_" + log.name)
        rng = np.random.default_rng(7)
        with open(log, "rb") as f, open(junk, "wb") as out:
            for i, line in enumerate(f):
                out.write(line)
                if rng.random() < a.junk:
                    out.write(b"garbage \x07 line %d that is no request\n" % i)
        plain = f"{sys.executable} -m trafficwatch counts"
        t_clean, t_junk = timed(f"{plain} {log}"), timed(f"{plain} {junk}")
        print(f"detected format, clean: {t_clean:.2f} s; with {100 * a.junk:g} % junk lines: "
              f"{t_junk:.2f} s ({t_junk / t_clean:.2f}x)")
    if a.big:
        big = OUT / "combined_big.log"
        n_big = 13_500_000  # ~2.0 GB
        make_log(big, n_big, seed=1)
        t = timed(tw.replace(str(log), str(big)))
        tree, largest = peak_tree_rss(tw.replace(str(log), str(big)).split())
        print(f"big file: {big.stat().st_size / 1e9:.1f} GB, {n_big / t / 1e6:.2f} M lines/s, "
              f"peak RSS {tree:.0f} MiB summed over the process and its workers "
              f"(largest single process {largest:.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
