"""Add to a checkpoint the keys of the days it was trained on (trafficwatch.model.seen), from
the corpus series its data names (`real_series`), its weights unchanged: `eval` then knows a
series it learned from by its counts, whatever the series is called.

    python bench/seen_days.py models/default.pt     # writes NAME.pt and NAME.npz again

bench/train_default.py stores them when it trains; this is for a model trained before it did.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    import numpy as np

    from trafficwatch.model.checkpoint import load_checkpoint, save_checkpoint
    from trafficwatch.model.corpus import load_corpus
    from trafficwatch.model.seen import SEEN_KEY, day_keys, encode

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a .pt checkpoint (its .npz is written again beside it)")
    args = ap.parse_args()
    ck = load_checkpoint(args.model)
    names = ck.data.get("real_series") or []
    corpus = load_corpus()
    missing = [n for n in names if n not in corpus]
    if missing:
        print(f"not in the corpus: {', '.join(missing)}", file=sys.stderr)
        return 1
    keys = np.concatenate([day_keys(corpus[n].to_numpy()) for n in names])
    save_checkpoint(args.model, ck.model, data=ck.data | {SEEN_KEY: encode(keys)},
                    metrics=ck.metrics)
    print(f"{args.model}: {len(np.unique(keys)):,} days of {len(names)} series")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
