"""Follow log files live (polling): appended lines, rename and copytruncate rotation, new files."""
from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trafficwatch.ingest import FileReport, IngestReport, _absorb, display_name
from trafficwatch.logs.formats import detect_format, get_format
from trafficwatch.logs.parse import Parser
from trafficwatch.logs.read import open_stream
from trafficwatch.logs.sources import SourceFile, discover
from trafficwatch.snapshot import TailLine

if TYPE_CHECKING:
    from trafficwatch.engine import Engine

READ_MAX = 8 << 20  # bytes read from one file per step: a burst is spread over steps
RESCAN_S = 1.0
FRESH_S = 86400  # a log written within this many seconds is taken as still being written  # how often directories are listed again for new files


@dataclass
class _Tracked:
    """One followed file: open handle, identity, offset at a line boundary, its parser."""

    src: SourceFile
    report: FileReport
    parser: Parser | None = None
    fh: object = None
    ino: tuple[int, int] = (0, 0)
    offset: int = 0
    pending: bytes = b""  # a line whose newline has not arrived yet
    done: bool = False  # compressed files are read once
    fingerprint: str = ""
    sample: list[bytes] = field(default_factory=list)


class LiveFeed:
    """Reads every file, then follows the live ones; every complete line is counted once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.report = IngestReport()
        self.tail: deque[TailLine] = deque(maxlen=200)
        self.rate = 0.0
        self.last_update = time.time()
        self.files: dict[tuple[int, int], _Tracked] = {}
        self.fingerprints: dict[str, int] = {}  # first-KiB hash -> bytes read of that content
        self._last_scan = 0.0
        self._scan()
        if not self.files:
            from trafficwatch.feeds import _nothing_read

            raise ValueError(_nothing_read(self.report, engine.cfg.paths))
        self.step(0.0)

    @property
    def clock(self) -> float:
        return time.time()

    @property
    def fresh(self) -> bool:
        """Some followed file was written in the last day: quiet hours up to now are zeros.

        Logs nobody writes any more (an archive, old rotations) end at their last line instead.
        """
        now = time.time()
        for t in self.files.values():
            try:
                if now - os.stat(t.src.path).st_mtime < FRESH_S:
                    return True
            except OSError:
                continue
        return False

    def close(self) -> None:
        for t in self.files.values():
            if t.fh is not None:
                t.fh.close()

    def _scan(self) -> None:
        found = discover(self.engine.cfg.paths, self.engine.cfg.ingest.vhost_from_filename)
        self.report.skipped = list(found.skipped)
        for files in found.sites.values():
            for src in files:
                try:
                    st = os.stat(src.path)
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in self.files:
                    self.files[key].src = src  # renamed by rotation: same file, new name
                    continue
                if self._already_read(src, st.st_size):
                    continue  # a rotated copy (copytruncate, or .1 compressed to .2.gz): read already
                rep = FileReport(name=display_name(src.path), site=src.site)
                self.report.files.append(rep)
                self.files[key] = _Tracked(src, rep, ino=key)
        self._last_scan = time.monotonic()

    def _already_read(self, src: SourceFile, size: int) -> bool:
        """Same first KiB as a file read before, and no longer than what was read of it."""
        if not self.fingerprints:
            return False
        try:
            with open_stream(src.path) as s:
                head = s.read(1024)
        except OSError:
            return False
        read = self.fingerprints.get(hashlib.blake2b(head, digest_size=16).hexdigest())
        return len(head) == 1024 and read is not None and (src.compressed or size <= read)

    def step(self, dt: float) -> None:
        """Read what was appended since the last step (bounded per file), then count it."""
        if time.monotonic() - self._last_scan > RESCAN_S:
            self._scan()
        n = 0
        for t in list(self.files.values()):
            try:
                n += self._read(t)
            except OSError as exc:
                t.report.error = f"reading {t.report.name} failed: {exc.strerror or exc}; will retry"
        if n:
            self.rate = n / dt if dt > 0 else 0.0
            self.last_update = time.time()
            self.engine._changed()

    def _open(self, t: _Tracked) -> None:
        t.fh = open_stream(t.src.path) if t.src.compressed else open(t.src.path, "rb")  # noqa: SIM115

    def _read(self, t: _Tracked) -> int:
        if t.done:
            return 0
        if t.fh is None:
            self._open(t)
        if not t.src.compressed:
            try:
                st = os.stat(t.src.path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) == t.ino and st.st_size < t.offset:
                t.fh.seek(0)  # copytruncate: the file restarted; what we read stays counted
                t.offset, t.pending = 0, b""
        data = t.fh.read(READ_MAX)
        if not data:
            if t.src.compressed:
                t.done = True
                t.fh.close()
            return 0
        t.offset += len(data)
        data = t.pending + data
        cut = data.rfind(b"\n") + 1
        final = bool(t.src.compressed) and len(data) < READ_MAX
        body, t.pending = (data, b"") if final else (data[:cut], data[cut:])
        if len(t.pending) > self.engine.cfg.ingest.parse.max_line_bytes:
            t.report.malformed.add("line too long", t.pending)
            t.pending = b""
        if not t.fingerprint and t.report.lines == 0 and len(data) >= 1024:
            # The first KiB names the content: a later compressed copy of it is not read again.
            t.fingerprint = hashlib.blake2b(data[:1024], digest_size=16).hexdigest()
        if t.fingerprint:
            self.fingerprints[t.fingerprint] = max(self.fingerprints.get(t.fingerprint, 0), t.offset)
        return self._parse(t, body, final)

    def _parse(self, t: _Tracked, body: bytes, final: bool) -> int:
        if not body:
            return 0
        if t.parser is None:
            opts = self.engine.cfg.ingest
            if opts.log_format:
                fmt = get_format(opts.log_format, date_format=opts.date_format,
                                 time_format=opts.time_format)
            else:
                det = detect_format(body.split(b"\n", 200)[:200])
                if det.format is None:
                    first = body.split(b"\n", 1)[0][:120].decode("utf-8", "backslashreplace")
                    t.report.error = (f"{t.report.name}: no known log format matches (tried "
                                      f"{', '.join(det.scores)}); first line: {first!r}; pass --log-format")
                    t.done = True
                    return 0
                fmt = det.format
            t.report.format = fmt.name
            t.parser = Parser(fmt, opts.parse)
        res = t.parser.feed(body, final=final)
        with self.engine.lock:
            _absorb(t.report, res, self.engine.series)
            if t.report.first_ts is not None:
                self.engine.series.add_coverage(t.src.site, t.report.first_ts, t.report.last_ts)
        for line in body[-8192:].split(b"\n")[-20:]:
            if line.strip():
                self.tail.append(TailLine(time.time(), t.src.site,
                                          line.decode("utf-8", "backslashreplace")))
        return res.lines
