"""trafficwatch: follow access logs, forecast hourly traffic with an inspectable LSTM."""
from __future__ import annotations

__version__ = "0.1.0"
