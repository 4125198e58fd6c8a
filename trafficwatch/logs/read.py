"""Files -> chunks of complete lines (plain, .gz, .bz2, .xz), and whole-file parsing on every
core."""
from __future__ import annotations

import bisect
import io
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from typing import BinaryIO

from trafficwatch.logs import refit
from trafficwatch.logs.compressed import Decompressed, kind_of
from trafficwatch.logs.detect import fit
from trafficwatch.logs.formats import LogFormat
from trafficwatch.logs.parse import ParseOptions, Parser, is_binary_line
from trafficwatch.logs.records import ParseResult
from trafficwatch.logs.w3c import header_fields

CHUNK = 2 << 20  # bytes per parse call: large enough to amortise, small enough for flat memory
MAX_DECOMPRESSED = 64 << 30  # a gzip bomb stops here (reported), memory stays flat regardless
PARALLEL_MIN = 32 << 20  # files smaller than this are parsed in-process
TAIL_WINDOW = 64 << 10  # bytes at the end of what was read that the log tail takes its lines from


def open_stream(path: str | os.PathLike, cap: int = MAX_DECOMPRESSED,
                fh: BinaryIO | None = None, buffer: int = CHUNK) -> BinaryIO:
    """A binary stream of the file's text: .gz/.bz2/.xz (by magic bytes) decompressed, capped.

    Archives are read by compressed.Decompressed: every member, to the last recoverable byte.
    `fh`: the file already opened (at its start), e.g. after checking its identity.
    """
    if str(path) == "-":
        return sys.stdin.buffer
    f = fh if fh is not None else open(path, "rb")  # noqa: SIM115 (returned to the caller)
    kind = kind_of(f.read(6))
    f.seek(0)
    if kind is not None:
        return io.BufferedReader(Decompressed(f, kind, cap), buffer)
    return f


def stream_error(stream: BinaryIO) -> str:
    """Why a stream from open_stream stopped early ("" when it read to its end)."""
    raw = getattr(stream, "raw", None)
    return getattr(raw, "error", "") if raw is not None else ""


class _Limited(io.RawIOBase):
    """The first `limit` bytes of a plain file (seekable, with its fileno)."""

    def __init__(self, f: BinaryIO, limit: int) -> None:
        self.f, self.limit = f, limit

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.f.fileno()

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.f.seek(pos, whence)

    def read(self, n: int = -1) -> bytes:
        left = self.limit - self.f.tell()
        return self.f.read(left if n < 0 else max(0, min(n, left)))

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.f.close()
        super().close()


def iter_chunks(stream: BinaryIO, chunk_bytes: int = CHUNK) -> Iterator[bytes]:
    """Chunks that end on b"\\n"; a last unfinished line comes last on its own. A line longer
    than 4 chunks comes as its first 4 chunks alone (the parser counts it as too long, once);
    the rest of it, up to its newline, is dropped: handed on piece by piece, one 20 MB line was
    3 malformed lines."""
    carry = b""
    skipping = False  # inside an enormous line already handed on
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            break
        if skipping:
            nl = block.find(b"\n")
            if nl < 0:
                continue
            block, skipping = block[nl + 1:], False
        block = carry + block
        cut = block.rfind(b"\n") + 1
        if cut == 0 and len(block) < 4 * chunk_bytes:
            carry = block  # no newline yet: keep reading (a long line is capped by the parser)
            continue
        if cut == 0:  # an enormous line: its start alone, which the parser counts as too long
            carry, skipping = b"", True
            yield block
            continue
        carry = block[cut:]
        yield block[:cut]
    if carry:
        yield carry


SAMPLE_LINE_MAX = 65536  # a longer line is no example of the format (too long to parse)
SNIFF_INK_BYTES = 16 << 20  # bytes with no newline in them: binary, no log (sniff reads no further)
NOT_BLANK = re.compile(rb"[^ \t\r\n\x0b\x0c][^\n]*")  # a line that is not blank, from its
# first byte that bytes.strip keeps to its end


def sample_lines(data: bytes, n: int = 200, longest: int = SAMPLE_LINE_MAX) -> list[bytes]:
    """Up to `n` lines of `data` to find its format from, without the CR of CRLF ends: blank
    lines and lines over `longest` left out (a log opening with 200 blank lines had an empty
    sample, and was said to be empty, its lines lost; one of 256 KiB filled the sample, and
    its file was said to be in no known format, a security trial)."""
    out, at = [], 0
    while len(out) < n:
        ink = NOT_BLANK.search(data, at)  # (over runs of blank lines at C speed)
        if ink is None:
            break
        start = data.rfind(b"\n", 0, ink.start()) + 1
        nl = data.find(b"\n", ink.start())
        stop = len(data) if nl < 0 else nl
        if stop - start <= longest:
            out.append(data[start:stop - (data[stop - 1:stop] == b"\r")])
        at = stop + 1
    return out


def sniff(path: str | os.PathLike, n: int = 200) -> list[bytes]:
    """The first `n` lines (decompressed) for format detection, as sample_lines leaves them,
    read as far as they take (over blank lines and lines too long: a file of them is read
    whole by its count anyway; a budget of 16 MiB had only moved the limit, a review), but
    for a run of SNIFF_INK_BYTES with no newline (binary: not read whole to say so); a file
    none of whose lines is short enough, its first line cut (no format is found from it: not
    said to be empty). OSError if unreadable, or if an archive breaks before its first line."""
    out: list[bytes] = []
    data, first, run = b"", b"", 0  # what is not a whole line yet; the first line not blank;
    # bytes since the last newline
    with open_stream(path) as s:
        while len(out) < n:
            block = s.read(256 << 10)
            if not block:
                out += sample_lines(data, n - len(out))
                break
            if not first:
                first = block.lstrip().split(b"\n", 1)[0][:SAMPLE_LINE_MAX]
            nl = block.rfind(b"\n")
            run = run + len(block) if nl < 0 else len(block) - nl - 1
            data += block
            cut = data.rfind(b"\n") + 1
            out += sample_lines(data[:cut], n - len(out))
            # the rest, a line under way: of a line too long, enough of it to stay too long
            data = data[cut:][-(SAMPLE_LINE_MAX + 1):]
            if run > SNIFF_INK_BYTES:
                break
        err = stream_error(s)
    if not out and first.strip():
        out = [first.rstrip(b"\r")]
    if not out and err:
        raise OSError(err)
    return out


TAIL_LINE_SHOWN = 4096  # bytes of a longer line shown in the log tail, its length said after


def chunk_tail_lines(data: bytes, n: int) -> tuple[list[str], bool]:
    """The last `n` lines of `data`, complete lines as the follower hands them over, and
    whether they are all of its lines (True: a tail kept from earlier data joins on to them).
    Found from the end line by line, not in a window of bytes: a line of 70 KB filled the
    window and the tail was emptied of the lines before it (a new user's trial); such a line
    is shown cut, with its length."""
    out, pos = [], len(data) - 1 if data.endswith(b"\n") else len(data)
    while len(out) < n and pos > 0:
        nl = data.rfind(b"\n", 0, pos)
        line = data[nl + 1:pos]
        pos = nl
        line = line[:-1] if line.endswith(b"\r") else line
        if line.strip():
            out.append(tail_text(line, len(line)))
    return out[::-1], pos <= 0


CUT_LINE = re.compile(r"… \(a line of ([\d,]+) bytes, cut here\)$")  # tail_text's note: the
# log tail reads a cut line's whole length back from it


def tail_text(start: bytes, length: int) -> str:
    """A line of `length` bytes as the log tail shows it, from its first bytes `start`: whole,
    or its first TAIL_LINE_SHOWN bytes and its length (CUT_LINE reads it back)."""
    text = start[:TAIL_LINE_SHOWN].decode("utf-8", "backslashreplace")
    return text if length <= TAIL_LINE_SHOWN else f"{text}… (a line of {length:,} bytes, cut here)"


def tail_lines(data: bytes, n: int) -> tuple[list[str], bool]:
    """The last `n` complete lines of `data`, read from its last TAIL_WINDOW bytes, and whether
    the window held all of `data` (False: lines before it were not read, so a tail kept from
    earlier data does not join on to these). `data` of TAIL_WINDOW bytes may be a window
    already (an archive's last bytes): its first line counts as cut."""
    cut = len(data) >= TAIL_WINDOW
    window = data[-TAIL_WINDOW:]
    if cut:
        window = window[window.find(b"\n") + 1:]  # its first line may be a part: not shown
    return last_lines(window, n), not cut


def last_lines(data: bytes, n: int = 20) -> list[str]:
    """The last `n` lines of `data` that are not blank, as text, without the CR of CRLF ends."""
    out = []
    for line in data.split(b"\n")[-(n + 1):]:
        line = line[:-1] if line.endswith(b"\r") else line
        if line.strip():
            out.append(line.decode("utf-8", "backslashreplace"))
    return out


def is_binary(sample: list[bytes]) -> bool:
    """Not a text log at all: most lines binary (is_binary_line), or mostly non-text bytes.

    Decided over the sample's lines, not by one NUL: a text log with a binary line is read
    (that line is malformed, reason "binary"); callers also ask whether the format fits.
    """
    if not sample:
        return False
    if 2 * sum(is_binary_line(ln) for ln in sample) >= len(sample):
        return True
    blob = b"\n".join(sample)
    other = len(blob.translate(None, _TEXT_BYTES))  # what is left once text bytes are deleted
    return other / len(blob) > 0.1


def looks_binary(sample: list[bytes], fmt: LogFormat | None) -> bool:
    """A binary file, not a log: mostly binary lines, and the format (if any) fits few of them."""
    return is_binary(sample) and (fmt is None or fit(fmt, sample) < 0.5)


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def binary_why(name: str, sample: list[bytes]) -> str:
    """Why a file looks_binary skips is skipped, in words: UTF-16 text (Excel's "Unicode text",
    PowerShell's default) is said as such, with what to do (it read "looks binary", a trial)."""
    if sample and sample[0].startswith(UTF16_BOMS):
        return f"{name} is UTF-16 text (Excel's \"Unicode text\"?): save it as UTF-8; skipped"
    return f"{name} looks binary, not a text access log; skipped"


_TEXT_BYTES = bytes(c for c in range(256) if 32 <= c < 127 or c in (9, 10, 13) or c >= 128)


def worker_init(main: int) -> None:
    """Set up a parse worker: malloc tuned (tune_malloc), and its end tied to `main`'s (the
    trafficwatch that started it): a kill -9 of trafficwatch in its first read left the workers,
    and the fork server they hold open, waiting for ever (135 MB each set, and a pipe reading
    its stdout never ended: they hold it too)."""
    tune_malloc()
    import threading

    def watch() -> None:
        try:  # readable once `main` has ended (Linux 5.3+)
            import select

            fd = os.pidfd_open(main)
            select.select([fd], [], [])
            os._exit(1)
        except (AttributeError, OSError):
            pass
        import time

        while True:  # elsewhere: asked every second
            time.sleep(1.0)
            try:
                os.kill(main, 0)
            except ProcessLookupError:
                os._exit(1)
            except OSError:
                pass

    threading.Thread(target=watch, name="trafficwatch-parent-watch", daemon=True).start()


def worker_pool(workers: int, ctx) -> ProcessPoolExecutor:
    """Parse workers (worker_init): they end with this process, however it ends."""
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=worker_init,
                               initargs=(os.getpid(),))


def tune_malloc() -> None:
    """Keep glibc from returning each big numpy temporary to the kernel (mmap/munmap per array).

    Parsing allocates and frees arrays of a few MB per chunk; by default each one is a fresh
    mmap whose pages fault in again: about a tenth of the parse time went to the kernel. With a
    32 MiB mmap threshold and a 128 MiB trim threshold they are reused from the heap instead.
    Only in parse workers (processes that do nothing else); a no-op where mallopt is missing.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _line_start_at_or_after(f: BinaryIO, pos: int, limit: int) -> int | None:
    """The first line start >= pos (just past a newline at pos-1 or later), looking at most
    `limit` bytes on; None at the end of the file or past the limit."""
    if pos == 0:
        return 0
    f.seek(pos - 1)
    looked = 0
    while looked <= limit:
        block = f.read(64 << 10)
        if not block:
            return None
        nl = block.find(b"\n")
        if nl >= 0:
            return pos + looked + nl if looked + nl <= limit else None
        looked += len(block)
    return None


def read_lines_at(f: BinaryIO, start: int, end: int, limit: int = 4 * CHUNK) -> bytes:
    """The complete lines of file `f` that start in [start, end): read at their offsets.

    A line running past `end` is read to its newline (or to the end of the file), at most
    `limit` bytes further; the part of a longer one that is left belongs to no range (the
    parser counts the line as too long). The ranges of a file's partition share out its lines
    exactly once. Both ends are found first, so the lines come in one read, not copied again.
    """
    first = _line_start_at_or_after(f, start, end - start)
    if first is None or first >= end:
        return b""  # inside a line that began in an earlier range
    last = _line_start_at_or_after(f, end, limit)
    f.seek(first)
    return f.read((end + limit if last is None else last) - first)


PROBE = 16 << 10  # bytes a time probe of since_offset parses (a few dozen lines)
PROBE_SAMPLES = 32  # probes of the part before the offset found, which must all be older


def _time_at(f: BinaryIO, pos: int, parser: Parser) -> tuple[int, int] | None:
    """(offset, time) of the first line starting at or after `pos` whose time the parser
    reads within PROBE bytes; None when none does (the end, a line too long, not parsable)."""
    start = _line_start_at_or_after(f, pos, PROBE)
    if start is None:
        return None
    f.seek(start)
    data = f.read(PROBE)
    data = data[: data.rfind(b"\n") + 1]
    ts = parser.feed(data, final=True).records.ts if data else ()
    return (start, int(ts[0])) if len(ts) else None


def since_offset(path: str | os.PathLike, fmt: LogFormat, opts: ParseOptions,
                 since: int, slack: int) -> int:
    """A line start of the plain file at `path` before which every line is older than `since`
    (epoch seconds), found by a binary search on the lines' times: what `top --hours` reads
    of a big log. The part before it is probed at PROBE_SAMPLES places too, and the file is
    read whole (0) where a probe there holds a line at `since` or later, or where the probes'
    times, in file order, go back by more than `slack` seconds (lines are written in time
    order but for a request's length: two servers' logs concatenated had one's last hours in
    the middle, and a search from the end found the other's). 0 too for a compressed file,
    W3C (whose fields are declared by its header lines) or times the parser cannot read."""
    if fmt.kind == "w3c":
        return 0
    parser = Parser(fmt, opts)
    with open(path, "rb") as f:
        if kind_of(f.read(6)) is not None:
            return 0
        lo, hi = 0, os.fstat(f.fileno()).st_size
        seen = []
        while hi - lo > 2 * PROBE:
            got = _time_at(f, (lo + hi) // 2, parser)
            if got is None or got[0] >= hi:
                break
            seen.append(got)
            if got[1] < since:
                lo = got[0]
            else:
                hi = (lo + hi) // 2
        if lo:
            seen += [got for k in range(PROBE_SAMPLES)
                     if (got := _time_at(f, lo * k // PROBE_SAMPLES, parser)) is not None]
    before = sorted(t for t in seen if t[0] < lo)
    if any(t >= since for _, t in before):
        return 0
    latest = None
    for _, t in sorted(seen):
        if latest is not None and t < latest - slack:
            return 0
        latest = t if latest is None else max(latest, t)
    return lo


_worker_parser: Parser | None = None  # a worker's parser, kept for its host and agent caches


def w3c_headers(f: BinaryIO, size: int) -> tuple[list[int], list[list[bytes]]]:
    """The offsets of a W3C file's `#Fields:` lines before `size`, and the fields each
    declares (lower case, as W3CState reads them): found by their line's `#` (C speed over
    the file), each then read whole."""
    import mmap

    offsets: list[int] = []
    fields: list[list[bytes]] = []
    if size <= 0:
        return offsets, fields
    with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mm:
        at = 0
        while at >= 0:
            end = mm.find(b"\n", at)
            declared = header_fields(mm[at:size if end < 0 else end])
            if declared is not None:
                offsets.append(at)
                fields.append(declared)
            nxt = mm.find(b"\n#", at)
            at = nxt + 1 if nxt >= 0 else -1
    return offsets, fields


def _parse_range(args: tuple) -> list | None:
    """A worker's part: parse the lines that start in [start, end) of the file at `path` (one
    result, or two where the lines changed format there: logs.refit; each reduced).

    None when that path is no longer the file being read (rotated or replaced meanwhile) or
    cannot be opened: the caller then reads the range from its own open file.
    """
    global _worker_parser
    path, ident, start, end, limit, fmt, opts, reduce, fields, fixed = args
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if (st.st_dev, st.st_ino) != ident:
                return None
            data = read_lines_at(f, start, end, limit)
    except OSError:
        return None
    p = _worker_parser
    if p is None or p.fmt != fmt or p.opts != opts:
        p = _worker_parser = Parser(fmt, opts)
    if fields is not None:  # W3C: the header in force where the range begins
        p.w3c_fields = fields
    return [reduce(res) if reduce is not None else res
            for res in refit.whole(p, data, fixed=fixed)]


def start_worker_server() -> None:
    """Start the fork server (and the resource tracker it needs) now, from a process that still
    has its own stderr: a UI that captures stderr (Textual gives it fileno -1) leaves the
    tracker no valid descriptor to start with later. For the app, whose first read runs in a
    thread; a no-op where fork servers do not exist."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver, resource_tracker

    _forkserver()
    resource_tracker.ensure_running()
    forkserver.ensure_running()


def _forkserver():
    """The fork-server context, its server preloading the parser (not the main module)."""
    import multiprocessing
    import sys

    # the resource tracker is a Python of its own, given this one's -W options when it starts:
    # after a kill -9 during the first read it cleans up the workers' semaphores and said so,
    # "UserWarning: resource_tracker: There appear to be 5 leaked semaphore objects", on the
    # terminal of a user who had only stopped the app (a trial). The cleaning is all it does
    quiet = "ignore:resource_tracker:UserWarning"
    if quiet not in sys.warnoptions:
        sys.warnoptions.append(quiet)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["trafficwatch.logs.read"])
    return ctx


def start_method():
    """How to start worker processes here, or None when they cannot be started.

    fork where this process runs one thread (fast: workers inherit the imports); else a fork
    server started clean, since a fork copies locks other threads may hold (the app reads its
    first logs beside the UI thread). None when the fork server cannot start (stderr taken by a
    UI before start_worker_server ran): the callers then read in this process.
    """
    import multiprocessing
    import threading

    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver, resource_tracker

    ctx = _forkserver()
    try:
        resource_tracker.ensure_running()
        forkserver.ensure_running()
    except (OSError, ValueError):
        return None
    return ctx


def _parse_parallel(stream: BinaryIO, path: str | os.PathLike, size: int, fmt: LogFormat,
                    opts: ParseOptions, workers: int, chunk_bytes: int,
                    reduce: Callable | None, begin: int = 0, fixed: bool = False) -> Iterator:
    """Workers read and parse byte ranges themselves (the bytes are not piped to them).

    A range a worker could not read as the same file (rotated away mid-read, permissions) or
    lost with its worker (killed) is read here from the file opened at the start. A W3C
    file's ranges each begin with the `#Fields:` header in force there (w3c_headers).
    """
    st = os.fstat(stream.fileno())
    ident, limit = (st.st_dev, st.st_ino), 4 * chunk_bytes
    local = Parser(fmt, opts)
    headers = w3c_headers(stream, size) if fmt.kind == "w3c" else None

    def fields_at(start: int) -> list[bytes] | None:
        if headers is None:
            return None
        k = bisect.bisect_left(headers[0], start) - 1  # a header at `start` is the range's own
        return headers[1][k] if k >= 0 else []

    def result(start: int, end: int, fut: Future | None):
        try:
            res = fut.result() if fut is not None else None
        except BrokenExecutor:
            res = None
        if res is None:
            if headers is not None:
                local.w3c_fields = fields_at(start)
            res = [reduce(r) if reduce is not None else r for r in
                   refit.whole(local, read_lines_at(stream, start, end, limit), fixed=fixed)]
        return res

    ctx = start_method()
    if ctx is None:  # no worker can start: read here, the same ranges in the same order
        for start in range(begin, size, chunk_bytes):
            yield from result(start, min(start + chunk_bytes, size), None)
        return
    pool = worker_pool(workers, ctx)
    try:
        pending: deque = deque()
        for start in range(begin, size, chunk_bytes):
            end = min(start + chunk_bytes, size)
            try:
                fut = pool.submit(_parse_range, (path, ident, start, end, limit, fmt, opts, reduce,
                                                 fields_at(start), fixed))
            except BrokenExecutor:
                fut = None
            pending.append((start, end, fut))
            if len(pending) >= 2 * workers:  # bounded in flight: memory flat in file size
                yield from result(*pending.popleft())
        while pending:
            yield from result(*pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def parse_file(path: str | os.PathLike, fmt: LogFormat, options: ParseOptions | None = None,
               workers: int | None = None, chunk_bytes: int | None = None,
               reduce: Callable[[ParseResult], object] | None = None, *,
               end: int | None = None, ident: tuple[int, int] | None = None,
               begin: int = 0, fixed: bool = False) -> Iterator:
    """Parse a whole file chunk by chunk, with bounded memory; big files use every core.

    Where its lines change format, they are read in the new one from there (logs.refit; not
    with `fixed`, a format the user named: --log-format).

    Plain files of PARALLEL_MIN bytes or more are parsed in parallel, each worker reading its
    own `chunk_bytes` range (a W3C file's with the `#Fields:` header in force there: IIS's
    logs had been read on one core, 97,000 lines a second); results come back in file order.
    A truncated archive yields what it held, then raises OSError.
    `reduce` (picklable) turns each ParseResult into what is yielded instead, in the worker
    that parsed it: a summary much smaller than the records saves sending them back.
    `end` (a plain file): only the lines before this offset, which must be a line boundary.
    `ident`: the (st_dev, st_ino) the file must have; OSError before anything is read if not.
    `begin` (a plain file): only the lines from this offset, which must be a line start.
    """
    opts = options or ParseOptions()
    chunk_bytes = chunk_bytes or CHUNK
    stream = open_stream(path)
    try:
        st = os.fstat(stream.fileno()) if hasattr(stream, "fileno") else None
    except (OSError, io.UnsupportedOperation):
        st = None
    if ident is not None and (st is None or (st.st_dev, st.st_ino) != ident):
        stream.close()
        raise OSError(f"{path} is no longer the file it was")
    size = st.st_size if st is not None else 0
    if end is not None:
        if st is None:
            stream.close()
            raise ValueError("end= needs a plain file")
        size = min(size, end)
        stream = _Limited(stream, size)
    if begin:
        if st is None:
            stream.close()
            raise ValueError("begin= needs a plain file")
        stream.seek(begin)
    n = workers if workers is not None else min(os.cpu_count() or 1, 8)
    try:
        if n <= 1 or size - begin < PARALLEL_MIN or fmt.kind == "w3c" and begin:
            parser, run = Parser(fmt, opts), refit.Run()
            for chunk in iter_chunks(stream, chunk_bytes):
                parser, got = refit.feed(parser, chunk, run, final=True, fixed=fixed, hold=True)
                for res in got:
                    yield reduce(res) if reduce is not None else res
            for res in refit.flush(parser, run)[1]:
                yield reduce(res) if reduce is not None else res
        else:
            yield from _parse_parallel(stream, path, size, fmt, opts, n, chunk_bytes, reduce,
                                       begin, fixed)
        err = stream_error(stream)
    finally:
        stream.close()
    if err:
        raise OSError(err)
