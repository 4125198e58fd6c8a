"""The one way archives are read: every .gz member / .bz2 or .xz stream, to the last
recoverable byte.

`Decompressed` is a raw stream of an archive's content for every reader (batch counts, the
worker processes, the follower). It never loses what was already decompressed:

- members (gzip) and streams (bzip2, xz) follow one another until the input ends;
- bytes after the last member that start no member are trailing garbage: the content read so far
  is kept (it ended with its member) and `error` says how many bytes were ignored (zero padding
  is ignored silently, as gzip does);
- a member cut short or corrupt: every complete line decompressed before the break is kept, the
  unfinished line after it is dropped, and `error` says "archive is truncated" (or corrupt);
- past `cap` decompressed bytes reading stops (a decompression bomb), said in `error`.

Lines are not counted here (that would cost a third of the decompression time): the reader that
parses them says after how many lines the archive broke.
"""
from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections import deque
from typing import BinaryIO

IN_BLOCK = 64 << 10  # compressed bytes read at a time
OUT_BLOCK = 1 << 20  # at most this much decompressed per step: memory stays flat
HOLD_MAX = 1 << 20  # a longer unfinished line is handed on as it comes (the parser caps it)
_MAGIC = {"gz": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}


def kind_of(magic: bytes) -> str | None:
    """'gz', 'bz2' or 'xz' by a file's first bytes, else None."""
    return next((k for k, m in _MAGIC.items() if magic[:len(m)] == m), None)


def _decompressor(kind: str):
    if kind == "gz":
        return zlib.decompressobj(wbits=31)
    # logrotate's `compresscmd xz`: its rotations were skipped, and lines written to a log
    # while stopped and rotated into one were lost (a trial)
    return bz2.BZ2Decompressor() if kind == "bz2" else lzma.LZMADecompressor(lzma.FORMAT_XZ)


class Decompressed(io.RawIOBase):
    """The decompressed content of a .gz, .bz2 or .xz file, all members, up to a byte cap.

    `error` holds why reading stopped early or what was ignored ("" when the archive was whole).
    """

    def __init__(self, fh: BinaryIO, kind: str, cap: int) -> None:
        self.fh, self.kind, self.cap = fh, kind, cap
        self.error = ""
        self.read_bytes = 0  # decompressed bytes handed out
        self._d = _decompressor(kind)
        self._in = b""  # compressed bytes not yet given to the decompressor
        self._eof_in = False
        self._out: deque[memoryview] = deque()  # complete lines (or the end) to hand out
        self._pending = 0  # bytes in _out
        self._held = b""  # the line being decompressed: handed out once its newline comes
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._out and not self._done:
            self._step()
        if not self._out:
            return 0
        seg = self._out[0]
        n = min(len(b), len(seg))
        b[:n] = seg[:n]
        if n == len(seg):
            self._out.popleft()
        else:
            self._out[0] = seg[n:]
        self._pending -= n
        self.read_bytes += n
        return n

    def close(self) -> None:
        self.fh.close()
        super().close()

    # -- one step: some input in, some content out ------------------------------------------
    def _step(self) -> None:
        room = self.cap - self.read_bytes - self._pending - len(self._held)
        if room <= 0:
            self._stop(f"stopped at the decompressed-size cap ({self.cap >> 20} MiB)")
            return
        if self._d.eof:
            self._next_member()
            return
        if self._needs_input() and not self._in and not self._eof_in:
            self._in = self.fh.read(IN_BLOCK)
            self._eof_in = not self._in
        snap = (self._d.copy(), self._in) if self.kind == "gz" else None
        try:
            got = self._decompress(min(room, OUT_BLOCK))
        except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
            if snap is not None:
                self._recover(*snap)
            self._stop(f"archive is corrupt ({exc})")
            return
        if not got and not self._d.eof and self._needs_input() and not self._in and self._eof_in:
            self._stop("archive is truncated")
            return
        self._emit(got)

    def _needs_input(self) -> bool:
        return not self._in if self.kind == "gz" else self._d.needs_input and not self._in

    def _decompress(self, room: int) -> bytes:
        if self.kind == "gz":
            got = self._d.decompress(self._in, room)
            self._in = self._d.unconsumed_tail
            return got
        data, self._in = (self._in, b"") if self._d.needs_input else (b"", self._in)
        return self._d.decompress(data, room)

    def _recover(self, d, data: bytes) -> None:
        """After a gzip error: what the failing input held before the break, byte by byte."""
        for i in range(len(data)):
            try:
                self._emit(d.decompress(data[i:i + 1]))
            except zlib.error:
                return

    def _next_member(self) -> None:
        """At a member's end: the next member, the end, or trailing garbage (reported)."""
        rest = self._d.unused_data + self._in
        while len(rest) < len(_MAGIC[self.kind]) and not self._eof_in:
            more = self.fh.read(IN_BLOCK)
            self._eof_in = not more
            rest += more
        if rest.startswith(_MAGIC[self.kind]):
            self._d, self._in = _decompressor(self.kind), rest
            return
        ignored, zeros = len(rest), not rest.strip(b"\0")
        while not self._eof_in:
            more = self.fh.read(IN_BLOCK)
            self._eof_in = not more
            ignored += len(more)
            zeros = zeros and not more.strip(b"\0")
        self._finish("" if zeros else f"{ignored:,} bytes of trailing garbage (ignored)")

    # -- output ---------------------------------------------------------------------------
    def _emit(self, got: bytes) -> None:
        if not got:
            return
        cut = got.rfind(b"\n") + 1
        if cut:  # the held line ends in `got`: both go out, uncopied
            self._put(self._held)
            self._put(memoryview(got)[:cut])
            self._held = got[cut:]
        else:
            self._held += got
        if len(self._held) > HOLD_MAX:  # far too long for a line: handed on (memory stays flat)
            self._put(self._held)
            self._held = b""

    def _put(self, data: bytes | memoryview) -> None:
        if len(data):
            self._out.append(memoryview(data))
            self._pending += len(data)

    def _finish(self, error: str) -> None:
        """The content ended where its member did: the last line counts, newline or not."""
        self._put(self._held)
        self._held = b""
        self.error, self._done = error, True

    def _stop(self, error: str) -> None:
        """Reading broke off: the unfinished line is dropped, only complete lines are kept."""
        self._held = b""
        self.error, self._done = error, True
