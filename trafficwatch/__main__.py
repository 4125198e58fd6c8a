"""`python -m trafficwatch` runs the command line."""
from __future__ import annotations

from trafficwatch.cli import main

raise SystemExit(main())
