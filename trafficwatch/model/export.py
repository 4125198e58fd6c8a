"""`python -m trafficwatch.model.export NAME.pt...`: write NAME.npz, the torch-free copy, beside each.

Run it after replacing a `.pt` by hand (e.g. a retrained models/default.pt): without a matching
`.npz` every forecast loads torch. `save_checkpoint` (train, fine-tune) writes both already.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

from trafficwatch.safe import safe_name, safe_text

USAGE = "usage: python -m trafficwatch.model.export MODEL.pt [MODEL.pt ...]"


def main(argv: Sequence[str] | None = None) -> int:
    """Export each checkpoint; 0 when all were written, 2 on bad usage or a bad file."""
    from trafficwatch.model.checkpoint import CheckpointError, export_npz

    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths or any(p.startswith("-") for p in paths):
        print(USAGE, file=sys.stderr)
        return 2
    for p in paths:
        if not p.lower().endswith(".pt"):
            print(f"trafficwatch: {safe_name(p)}: expected a .pt checkpoint", file=sys.stderr)
            return 2
        try:
            out = export_npz(p)
        except (CheckpointError, OSError) as exc:
            print(f"trafficwatch: {safe_text(str(exc))}", file=sys.stderr)
            return 2
        print(f"wrote {safe_name(str(out))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
