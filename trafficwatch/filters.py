"""What a view is narrowed to (`/` in the app, filter options on the command line)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Status class 0..5 as the series counts them (0: a line without a status), by the names the
# agent exports and Prometheus is asked for.
STATUS_LABELS = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")


CLASS_NAMES = {0: "other", 1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}  # as shown


def parse_status_classes(text: str | None) -> frozenset[int] | None:
    """'4xx,5xx' -> {4, 5}, 'other' -> {0}; None or '' stays None; ValueError names the first
    bad class.

    The one parser for the command line's --status and the filter screen's field.
    """
    if not text:
        return None
    out = set()
    for part in text.split(","):
        part = part.strip().lower()
        if part == "other":  # no status, or one outside 100-599 (the agents' status="other")
            out.add(0)
            continue
        if len(part) == 3 and part.isdigit() and part[0] in "12345":  # --status 404: said what
            # is counted (a GoAccess user read "bad status class" as a typo)
            raise ValueError(f"status {part}: requests are counted by status class, not by "
                             f"code: use {part[0]}xx")
        if len(part) != 3 or not part.endswith("xx") or part[0] not in "12345":
            raise ValueError(f"bad status class {part!r}: use 1xx..5xx or other")
        out.add(int(part[0]))
    return frozenset(out)


def class_words(classes: frozenset[int] | set[int]) -> str:
    """Status classes as parse_status_classes reads them back: "other,5xx" (class 0 had been
    written "0xx", which the filter's own field then refused, a trial)."""
    return ",".join("other" if c == 0 else f"{c}xx" for c in sorted(classes))


@dataclass(frozen=True)
class ViewFilter:
    """What the user narrowed the view to (`/` in the app)."""

    status_classes: frozenset[int] | None = None
    bots: bool | str = True
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    path: str | None = None  # regex searched in the request path (without query string)

    def describe(self, offset_s: int = 0, metric: str = "hits") -> str:
        """In words, its hours as on the chart: in the display offset `offset_s`, each hour
        by its start, both ends included ("2026-12-02 00:00 – 2026-12-03 23:00"). Under the
        `visitors` metric, which is not counted per path, the path says it is not applied (a
        trial read 48 visitors of /cart beside 17 requests to it, the title saying the filter)."""
        def when(t: pd.Timestamp | None) -> str:
            if t is None:
                return "…"
            return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t.timestamp() + offset_s))

        parts = []
        if self.path:
            parts.append(f"path ~ {self.path}"
                         + (" (not applied to visitors)" if metric == "visitors" else ""))
        if self.status_classes:
            parts.append("status " + class_words(self.status_classes))
        if self.bots is False:
            parts.append("no bots")
        elif self.bots == "only":
            parts.append("bots only")
        if self.start is not None or self.end is not None:
            parts.append(f"{when(self.start)} – {when(self.end)}")
        return "; ".join(parts)
