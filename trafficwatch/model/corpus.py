"""The real hourly series the shipped model learns from, and whole-series folds to judge it.

Reads `../shared/data/series/` (never copied into the repo): `worldcup98_hourly.csv` and the long
CSVs of `corpus/` (`series,hour,count`; an empty count is a gap). Sources that record the local
wall clock are moved to UTC by their zone's standard offset, as a web server's log in that zone
would be counted: a site's day then starts at a different UTC hour, which the model must cope
with anyway. Validation holds whole series out (`folds`), never only their last weeks.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

# Standard UTC offset (hours) of each corpus file's wall clock; 0 where the source is UTC or says
# nothing (NAB).
CLOCK_OFFSET = {
    "auckland_pedestrians": 12, "melbourne_pedestrians": 10, "dc_bikeshare": -5,
    "mn_i94_traffic": -6, "nab_counts": 0, "cesnet_isp_traffic": 0, "seoul_bike": 9,
}
MIN_HOURS = 24 * 14  # two weeks: a week of history and a week of daily origins to judge it


def default_root() -> Path:
    """`../shared/data/series` beside the repository checkout."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "series"


def _hourly(hours: pd.Series, counts: pd.Series, offset_h: int) -> pd.Series:
    idx = pd.DatetimeIndex(pd.to_datetime(hours, format="ISO8601", utc=True))
    idx = idx - pd.Timedelta(hours=offset_h)
    s = pd.Series(pd.to_numeric(counts, errors="coerce").to_numpy(dtype=float), index=idx)
    s = s.groupby(level=0).sum(min_count=1).sort_index()
    full = pd.date_range(s.index[0], s.index[-1], freq="h")
    return s.reindex(full).rename("count")


def load_corpus(root: str | Path | None = None) -> dict[str, pd.Series]:
    """Name -> hourly UTC series (NaN = gap) for every series of at least MIN_HOURS hours.

    Names are `file/series` (`nab_counts/elb_requests_8c0756`) and `worldcup98`.
    Raises FileNotFoundError when the folder is not there.
    """
    root = Path(root) if root is not None else default_root()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no series folder (../shared/data/series)")
    out: dict[str, pd.Series] = {}
    wc = root / "worldcup98_hourly.csv"
    if wc.is_file():
        df = pd.read_csv(wc)
        out["worldcup98"] = _hourly(df["hour"], df["visits"], 0)
    for path in sorted((root / "corpus").glob("*.csv.gz")):
        stem = path.name.removesuffix(".csv.gz")
        df = pd.read_csv(path, dtype={"series": str, "hour": str})
        for name, g in df.groupby("series", sort=True):
            out[f"{stem}/{name}"] = _hourly(g["hour"], g["count"], CLOCK_OFFSET.get(stem, 0))
    return {k: v for k, v in out.items() if int(np.isfinite(v.to_numpy()).sum()) >= MIN_HOURS}


def fold_of(name: str, k: int) -> int:
    """Stable fold (0..k-1) of a series name: the same split on every machine and run."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % k


def folds(names: list[str], k: int) -> list[list[str]]:
    """Whole-series folds: names grouped by `fold_of`, every name in exactly one fold."""
    out: list[list[str]] = [[] for _ in range(k)]
    for n in sorted(names):
        out[fold_of(n, k)].append(n)
    return out
