"""Deterministic demo logs: two sites, seven weeks, nginx combined, rotated as logrotate leaves them.

    python -m trafficwatch.cli.samplegen sample_logs/ [--weeks 7 --seed 7 --end 2026-11-20]
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
PROBE = "Uptime-Kuma/1.23.13"
SCANNER = "Mozilla/5.0 zgrab/0.x"
STATIC = ("/static/app.css", "/static/app.js", "/static/logo.png", "/static/font.woff2",
          "/favicon.ico", "/static/hero.webp")


@dataclass(frozen=True)
class Site:
    """One virtual host's traffic shape."""

    name: str
    pages: tuple[str, ...]
    peak: float  # requests an hour at a weekday peak, before trend
    weekend: float  # weekend level relative to weekdays
    evening: bool  # peak in the evening (blog) rather than at lunchtime (shop)
    trend: float  # growth over the whole period (0.2 = +20%)


SITES = (
    Site("shop.example.com", ("/", "/products", "/products/kettle-12", "/products/mug-3", "/cart",
                              "/checkout", "/search?q=tea", "/about", "/api/stock?id=12"),
         peak=260, weekend=0.6, evening=False, trend=0.25),
    Site("blog.example.org", ("/", "/posts/lstm-gates", "/posts/logrotate-tips", "/tags/ops",
                              "/feed.xml", "/posts/nginx-tuning", "/archive/2026"),
         peak=90, weekend=1.3, evening=True, trend=0.1),
)


def _offset(ts: np.ndarray) -> np.ndarray:
    """Europe/Paris: +0200 until 2026-10-25 01:00 UTC, +0100 after (a DST change in the logs)."""
    return np.where(ts < 1_792_890_000, 7200, 3600)


def _rate(site: Site, hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    off = _offset(hours * 3600)
    local = hours + off // 3600
    hod, dow = local % 24, (local // 24 + 3) % 7  # 1970-01-01 was a Thursday (3)
    centre = 20.5 if site.evening else 13.0
    day = 0.08 + np.exp(-0.5 * ((hod - centre) / 3.2) ** 2) + 0.35 * np.exp(-0.5 * ((hod - 10) / 2) ** 2)
    week = np.where(dow >= 5, site.weekend, 1.0)
    t = (hours - hours[0]) / max(len(hours) - 1, 1)
    lam = site.peak * day * week * (1 + site.trend * t)
    if site.evening:  # the blog reaches the front page of a news site for six hours, once
        start = len(hours) * 2 // 3 + 14
        lam[start:start + 6] *= np.array([4, 9, 7, 5, 3, 2])
    return rng.gamma(8.0, lam / 8.0)  # over-dispersed: a negative binomial once Poisson-drawn


def _lines(site: Site, hours: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    n_per = rng.poisson(_rate(site, hours, rng))
    ts = np.concatenate([h * 3600 + rng.integers(0, 3600, k) for h, k in zip(hours, n_per)])
    # Monitoring probe every 5 minutes and a scanner burst twice a week.
    probe = np.arange(hours[0] * 3600, (hours[-1] + 1) * 3600, 300) + 17
    scan_starts = hours[::84][1:] * 3600 + 1800
    scans = np.concatenate([s + np.arange(40) * 2 for s in scan_starts]) if len(scan_starts) else []
    kind = np.concatenate([np.zeros(len(ts), int), np.ones(len(probe), int), np.full(len(scans), 2)])
    ts = np.concatenate([ts, probe, np.asarray(scans, dtype=np.int64)])
    order = np.argsort(ts, kind="stable")
    ts, kind = ts[order], kind[order]
    n = len(ts)
    visitors = rng.zipf(1.6, n) % 5000
    is_bot = (kind == 0) & (rng.random(n) < 0.07)
    is_static = (kind == 0) & ~is_bot & (rng.random(n) < 0.45)
    outage = (ts >= hours[len(hours) // 2] * 3600) & (ts < (hours[len(hours) // 2] + 2) * 3600)
    offs = _offset(ts)
    out = []
    for i in range(n):
        v = int(visitors[i])
        if v % 9 == 0:
            ip = f"2001:db8:{v % 97:x}:{v:x}::{(v * 7) % 4096:x}"
        else:
            ip = f"{(v * 37) % 200 + 20}.{(v * 11) % 250}.{(v * 3) % 250}.{v % 250 + 1}"
        if kind[i] == 1:
            ip, path, agent, status, ref = "198.51.100.7", "/healthz", PROBE, 200, "-"
        elif kind[i] == 2:
            ip, path, agent, ref = "203.0.113.66", rng.choice(("/wp-login.php", "/.env", "/admin.php")), SCANNER, "-"
            status = 404
        else:
            agent = BOTS[v % 3] if is_bot[i] else BROWSERS[v % 5]
            path = STATIC[v % 6] if is_static[i] else site.pages[int(rng.integers(len(site.pages)))]
            r = rng.random()
            status = (304 if is_static[i] and r < 0.3 else 404 if r > 0.97 else
                      301 if r > 0.95 else 500 if r > 0.947 else 200)
            ref = "-" if is_bot[i] or r < 0.4 else ("https://www.google.com/" if r < 0.7 else
                                                   f"https://{site.name}/")
        if outage[i] and kind[i] == 0:
            status = 502
        size = 0 if status in (304, 301) else int(rng.integers(200, 60000))
        off = int(offs[i])
        t = time.gmtime(int(ts[i]) + off)
        stamp = (f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:"
                 f"{t.tm_min:02d}:{t.tm_sec:02d} +{off // 3600:02d}00")
        out.append(f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "{ref}" "{agent}"\n')
    return ts, out


def generate(outdir: Path, weeks: int = 7, seed: int = 7, end: str = "2026-11-20") -> list[Path]:
    """Write every site's rotated files into `outdir` (byte-identical for the same arguments)."""
    rng = np.random.default_rng(seed)
    end_ts = int(dt.datetime.fromisoformat(end).replace(tzinfo=dt.timezone.utc).timestamp())
    end_ts += 9 * 3600 + 40 * 60  # the logs stop at 09:40 UTC on the end day: a partial hour
    hours = np.arange(end_ts // 3600 - weeks * 168, end_ts // 3600 + 1)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for site in SITES:
        ts, lines = _lines(site, hours, rng)
        keep = ts <= end_ts
        ts, lines = ts[keep], [ln for ln, k in zip(lines, keep) if k]
        # logrotate runs daily at 06:25 local time; delaycompress leaves .1 uncompressed.
        local_day = (ts + _offset(ts) - (6 * 3600 + 25 * 60)) // 86400
        last = int(local_day[-1])
        by_day: dict[int, list[str]] = {}
        for ln, d in zip(lines, local_day.tolist()):
            by_day.setdefault(d, []).append(ln)
        for day in np.unique(local_day):
            k = last - int(day)
            chunk = "".join(by_day[int(day)]).encode()
            name = f"{site.name}.access.log" + ("" if k == 0 else f".{k}")
            if k >= 2:
                path = outdir / (name + ".gz")
                with open(path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f,
                                                          mtime=0, compresslevel=9) as gz:
                    gz.write(chunk)
            else:
                path = outdir / name
                path.write_bytes(chunk)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trafficwatch.cli.samplegen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outdir", type=Path)
    p.add_argument("--weeks", type=int, default=7)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end", default="2026-11-20", help="last day (UTC date) of the logs")
    a = p.parse_args(argv)
    files = generate(a.outdir, a.weeks, a.seed, a.end)
    print(f"wrote {len(files)} files to {a.outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
