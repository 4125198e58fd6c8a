"""`python -m trafficwatch` runs the command line."""
from __future__ import annotations

from trafficwatch.cli.main import main

if __name__ == "__main__":  # not when a worker process imports the main module
    raise SystemExit(main())
