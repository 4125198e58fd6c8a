"""Column types shared by the parser (producer) and the hourly series (consumer)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

EXAMPLE_MAX = 200  # bytes of a malformed line kept as its example
MAX_HOSTS = 1000  # virtual hosts a log's lines may name as sites of their own; the others
OTHER_HOSTS = "(other hosts)"  # are counted together under this name (no host name has brackets)
# Names a parser numbers (a stream's own, beyond its series' MAX_HOSTS: enough to say which were
# folded); a host named after them is OTHER_HOSTS there already. Where nginx logs $host, a
# scanner names a new one each line: numbered without end, they were sorted at every chunk
# (400,000 lines, half of them naming new hosts: 14 s, against 0.3 s a plain log).
NAMED_HOSTS = 2 * MAX_HOSTS
HOST_IDLE_S = 24 * 3600  # a virtual host silent this long gives its slot to a new one (the
# slots full: series._free_slot); a parser numbers names anew after as long (Parser.feed)


@dataclass
class Malformed:
    """Malformed lines by reason, with the first example of each (never silently dropped)."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, bytes] = field(default_factory=dict)

    def add(self, reason: str, line: bytes, n: int = 1) -> None:
        self.counts[reason] += n
        self.examples.setdefault(reason, line[:EXAMPLE_MAX])

    def merge(self, other: Malformed) -> None:
        for reason, n in other.counts.items():
            self.counts[reason] += n
        for reason, ex in other.examples.items():
            self.examples.setdefault(reason, ex)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Records:
    """Parsed requests of one chunk, as equal-length numpy columns.

    ts          int64   seconds since the epoch, UTC
    utc_offset  int32   seconds east of UTC as written in the log (0 when the format has none)
    status      int16   HTTP status, 0 when the format has none
    size        int64   response bytes, -1 for '-' or absent
    is_static   bool    path ends in a static-asset extension (.css, .js, .png, ...)
    is_bot      bool    user agent looks like a bot, crawler or monitoring probe
    client      uint64  64-bit hash of the client address or host name (see parse.client_hash);
                        None when the parser was told not to keep visitors (keep_visitors)
    visitor     uint64  64-bit hash of (client, user agent): the `visitors` metric counts these;
                        None like client
    vhost       int32   index into `vhosts`, -1 when the line names no virtual host
    path        object  str paths without query string, only when asked for (keep_paths)
    client_name object  str client addresses as written, only when asked for (keep_clients)
    """

    ts: np.ndarray
    utc_offset: np.ndarray
    status: np.ndarray
    size: np.ndarray
    is_static: np.ndarray
    is_bot: np.ndarray
    client: np.ndarray | None
    visitor: np.ndarray | None
    vhost: np.ndarray
    vhosts: tuple[str, ...] = ()
    path: np.ndarray | None = None
    client_name: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice(self, lo: int, hi: int | None = None) -> Records:
        """Records lo..hi (each column's, the names they index kept)."""
        from dataclasses import fields, replace

        return replace(self, **{f.name: getattr(self, f.name)[lo:hi] for f in fields(self)
                                if f.name != "vhosts" and getattr(self, f.name) is not None})

    @classmethod
    def empty(cls) -> Records:
        z = np.zeros(0, dtype=np.int64)
        return cls(
            ts=z,
            utc_offset=np.zeros(0, np.int32),
            status=np.zeros(0, np.int16),
            size=z.copy(),
            is_static=np.zeros(0, bool),
            is_bot=np.zeros(0, bool),
            client=np.zeros(0, np.uint64),
            visitor=np.zeros(0, np.uint64),
            vhost=np.zeros(0, np.int32),
        )


@dataclass
class ParseResult:
    """What one call to a parser's `feed` returns."""

    records: Records
    malformed: Malformed
    lines: int  # complete lines seen in this call (parsed + malformed + comments/headers)
    skipped: int = 0  # header/comment lines (W3C `#Fields:`), counted but not requests
    excluded: int = 0  # parsed but left out on request (--exclude-ip, --ignore-status)
    changed: str = ""  # the format these lines were read in, where the file changed to it
    # here (logs.refit)
