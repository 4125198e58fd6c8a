"""What makes two files the same content: the first KiB and the bytes before an offset, never
an inode number alone.

An inode number is only trusted while the follower holds the file open (then it cannot be
reused); a closed file seen again under its old number is checked against the content read from
it (`same_content`) whenever its stat signature changed. A file that starts like content already
read is the same content: read on past what was counted (`probe` matches the tail at the saved
offset), or nothing of it at all when it is a shorter copy of what was counted, or, when another
followed file is reading that content now, not read at all while that one is (an `Alias`).
"""
from __future__ import annotations

import hashlib
import os
import time
from bisect import bisect_left, insort
from dataclasses import dataclass

from trafficwatch.logs.read import open_stream

READ_BYTES = 1 << 20  # one read
FP_BYTES = 1024  # the first bytes a file is fingerprinted by (and its first line looked for in)
TAIL_BYTES = 64  # bytes before an offset whose hash tells a file replaced or regrown while stopped


def digest(data: bytes) -> str:
    """The hash used for fingerprints and tail hashes (hex, 128 bits)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class FileRecord:
    """One file's content as read so far: identity, offset at a line boundary, and its proof."""

    dev: int
    ino: int
    fingerprint: str  # digest of the first `fp_len` bytes of decompressed content
    fp_len: int  # how many bytes the fingerprint covers (1024, fewer for a short file)
    offset: int  # decompressed bytes consumed, always at a line boundary
    tail_hash: str  # digest of the TAIL_BYTES bytes before `offset`
    path: str = ""  # last name it was seen under (informational)
    done: bool = False  # a compressed file read to its end, or content no longer on disk
    first_line: str = ""  # digest of its first line (within its first bytes; "": not known,
    # a state saved before it was kept): the file edited on its own inode while stopped is
    # known by it where its first bytes changed (Counted.match)
    last_line_ts: int = 0  # the time of the last line read of it, in its order (0: not known,
    # a state saved before it was kept, or no line): a new log under its name opening before
    # it is an edited copy of it (engine.live._replaced), the latest time of all (a line dated
    # ahead) having taken a rotation's new log for one


def first_record(head: bytes) -> bytes:
    """The first whole line of `head` that is no header or comment (W3C's `#Fields:`, which
    every file of a log opens with alike), newline included; b"" where none is whole."""
    start = 0
    while (nl := head.find(b"\n", start)) >= 0:
        line = head[start:nl + 1]
        if line.strip() and not line.startswith(b"#"):
            return line
        start = nl + 1
    return b""


def first_line_digest(head: bytes) -> str:
    """FileRecord.first_line of content whose first bytes are `head` (its first record)."""
    line = first_record(head)
    return digest(line) if line else ""


def opens_as(head: bytes, old: bytes) -> bool:
    """Whether content whose first bytes are `head` opens as one whose first bytes were `old`
    did: its first record (no header) is one of their whole lines. An edit in place that kept
    that line (`truncate -s`, `grep -v` of other lines); copytruncate's new content opens with
    a line of its own (a header alike in every file, W3C's, is no evidence: a review)."""
    line = first_record(head)
    return bool(line) and (old.startswith(line) or b"\n" + line in old)


def open_content(path: str, cap: int):
    """The decompressed content of a file; archives read to their last recoverable byte.

    A plain file is read unbuffered: each read returns what the file holds then. A read-ahead
    buffer keeps the bytes of when it was filled (seeking back into it does not refill it), and
    the follower checks a file for truncation on disk (fstat, pread) before each read: a file
    copytruncated and regrown between its first KiB being read and the rest was delivered as
    its old content up to the buffer's end, then the new content after that offset.
    """
    fh = open(path, "rb", buffering=0)  # noqa: SIM115 (returned to the caller)
    try:
        return open_stream(path, cap, fh=fh, buffer=1 << 16)
    except BaseException:
        fh.close()
        raise


def signature(st: os.stat_result) -> tuple[int, int, int]:
    """What changes when a file is written, renamed or replaced by another with its inode number."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


@dataclass
class Probe:
    """A file's content at an offset: the hash of the bytes before it, or how short it is."""

    tail_hash: str | None  # digest of the TAIL_BYTES before the offset; None if shorter
    length: int  # the content's length when shorter than the offset, else the offset
    end_hash: str = ""  # digest of the TAIL_BYTES before `length`


def _not_there(rec: FileRecord) -> bool:
    """Whether the content `rec` was saved for is no longer at its path: another inode there,
    or its inode number reused by a new file not opening as it did (the test's new log got the
    edited one's number back)."""
    try:
        st = os.stat(rec.path)
        if (st.st_dev, st.st_ino) != (rec.dev, rec.ino):
            return True
        with open(rec.path, "rb") as fh:
            return first_line_digest(fh.read(FP_BYTES)) != rec.first_line
    except OSError:
        return True


def probe(path: str, offset: int, cap: int) -> Probe | None:
    """The content of `path` at `offset` (decompressed); None when it cannot be read."""
    last = b""
    try:
        with open_content(path, cap) as s:
            skip, seen = max(0, offset - TAIL_BYTES), 0
            while skip:
                got = s.read(min(skip, READ_BYTES))
                if not got:
                    return Probe(None, seen, digest(last))
                last = (last + got[-TAIL_BYTES:])[-TAIL_BYTES:]
                skip -= len(got)
                seen += len(got)
            tail = s.read(offset - seen)
    except OSError:
        return None
    if len(tail) == offset - seen:
        return Probe(digest(tail), offset, digest(tail))
    return Probe(None, seen + len(tail), digest((last + tail)[-TAIL_BYTES:]))


def same_content(path: str, head: bytes, tail: bytes, boundary: int, compressed: bool,
                 cap: int) -> bool:
    """`path` still starts with `head` and (plain files) has `tail` just before `boundary`."""
    try:
        with open_content(path, cap) as s:
            if s.read(len(head)) != head:
                return False
            if compressed or not tail:
                return True
            return os.pread(s.fileno(), len(tail), boundary - len(tail)) == tail
    except OSError:
        return False


@dataclass
class Alias:
    """A copy of content another followed file (`of`) reads now: not read while that one is."""

    of: object  # the follower's record of the file being read
    gen: int  # that file's content generation when this was found (a truncation bumps it)
    sig: tuple[int, int, int]  # this copy's stat signature: a change means look again
    dev: int = 0
    ino: int = 0
    path: str = ""
    head: bytes = b""  # its first bytes
    record: FileRecord | None = None  # what of it is counted (by `of`), saved with the state
    at: int = -1  # the offset of `of` when `record` was made

    def current(self, boundary: int, tail_hash: str, cap: int) -> FileRecord | None:
        """Its record now that `of` was read up to `boundary` (looked at when that moved)."""
        if boundary != self.at and boundary:
            got = probe(self.path, boundary, cap)
            if got is not None and got.tail_hash in (None, tail_hash):
                self.record = FileRecord(self.dev, self.ino, digest(self.head[:got.length]),
                                         min(len(self.head), got.length), got.length,
                                         got.tail_hash or got.end_hash, self.path,
                                         first_line=first_line_digest(self.head[:got.length]))
            self.at = boundary
        return self.record


class PrefixIndex:
    """Items by the first bytes of their content: those a head starts with, or that start
    with it (a copy may be shorter or longer than what is known of the file it copies)."""

    def __init__(self) -> None:
        self._by_len: dict[int, dict[bytes, list]] = {}
        self._keys: list[bytes] = []  # sorted, for the keys that start with a head

    def add(self, key: bytes, item: object) -> None:
        """Index `item` under `key` (an empty key is not indexed: it tells nothing)."""
        if key:
            self._by_len.setdefault(len(key), {}).setdefault(key, []).append(item)
            insort(self._keys, key)

    def find(self, head: bytes) -> list:
        """The items whose key is a prefix of `head`, or starts with `head`, each once."""
        out: dict[int, object] = {}
        for n, keys in self._by_len.items():
            if n <= len(head):
                for item in keys.get(head[:n], ()):
                    out[id(item)] = item
        i = bisect_left(self._keys, head) if head else len(self._keys)
        while i < len(self._keys) and self._keys[i].startswith(head):
            for item in self._by_len[len(self._keys[i])][self._keys[i]]:
                out[id(item)] = item
            i += 1
        return list(out.values())


def _rkey(rec: FileRecord) -> tuple:
    return rec.dev, rec.ino, rec.fingerprint, rec.offset


class Counted:
    """Content counted that no followed file holds now (gone, truncated, or saved before a
    restart): records to recognise it by, so that of a file holding it only what is past
    them is read."""

    def __init__(self, records: list[FileRecord], cap: int, keep: int = 2000) -> None:
        self.records = list(records)
        self.cap, self.keep = cap, keep
        self.sites: dict[str, str] = {}  # path -> site, as last listed: copies keep their site
        self._heads: dict[tuple, bytes] = {}  # first bytes of content retired in this run
        self._pool: dict[str, list[FileRecord]] | None = None  # fingerprint -> records
        self.rewritten: set[tuple[int, int]] = set()  # (dev, ino) of files that start as their
        # own content counted and go on otherwise: edited in place (match)

    def new_scan(self) -> None:
        """Records may have changed since the last listing: index them again when asked."""
        self._pool = None

    def remember(self, rec: FileRecord, head: bytes) -> None:
        """Keep the record of content no longer followed, to recognise its copies by."""
        self.records.append(rec)
        del self.records[:-self.keep]
        self._heads[_rkey(rec)] = head  # its first bytes: a copy shorter than them is known too
        if len(self._heads) > 2 * self.keep:
            for k in list(self._heads)[: self.keep]:
                del self._heads[k]
        self._pool = None

    def take(self, rec: FileRecord) -> None:
        """A file holds this content now: it is that file's to record."""
        if rec in self.records:
            self.records.remove(rec)
        if self._pool is not None and rec in self._pool.get(rec.fingerprint, []):
            self._pool[rec.fingerprint].remove(rec)

    def owners(self) -> set[tuple[int, int]]:
        """The (dev, ino) the records were saved under."""
        return {(r.dev, r.ino) for r in self.records}

    def of_file(self, dev: int, ino: int, head: bytes, done: bool = False) -> list[FileRecord]:
        """Records saved under this inode number whose first bytes are these (content too)."""
        return [r for r in self.records if (r.dev, r.ino) == (dev, ino) and (r.done or not done)
                and r.offset and len(head) >= r.fp_len and digest(head[: r.fp_len]) == r.fingerprint]

    def match(self, path: str, dev: int, ino: int, site: str, head: bytes,
              settle: float, kept: bool = False, compressed: bool = False) -> int | None:
        """Where to start in a newly seen file: 0, or after content already counted.

        Content counted before that this file starts like: read on from the saved offset when
        the bytes before it match (from the furthest such record); nothing of it when the file
        is shorter than what was counted of that content (a copy cut short: copytruncate's
        copy, with lines written after the copy read from the original before its truncation).
        None: such a shorter file written within `settle` seconds: most likely a copy in
        progress, to be looked at again once it has settled. `kept`: a copy kept by hand
        (access.log.bak), looked at after every other file has taken its records: its own
        record does not come first. `compressed`: an archive shorter than what was counted is a
        copy of a part too (copytruncate's copy is plain), as a kept one.
        """
        if self._pool is None:
            self._pool = {}
            for rec in self.records:
                if rec.fp_len and rec.offset:
                    self._pool.setdefault(rec.fingerprint, []).append(rec)
        cands: list[FileRecord] = []
        for n in {r.fp_len for recs in self._pool.values() for r in recs[:1]}:
            if len(head) >= n:
                cands += self._pool.get(digest(head[:n]), [])
            elif head:  # shorter than what was fingerprinted: a copy of its start, maybe
                cands += [r for recs in self._pool.values() for r in recs if r.fp_len == n
                          and self._heads.get(_rkey(r), b"").startswith(head)]
        cands.sort(key=lambda r: (r.dev, r.ino) != (dev, ino))  # same inode first
        short, same, edited = None, [], []
        for rec in cands:
            got = probe(path, rec.offset, self.cap)
            if got is None and not os.path.lexists(path):
                # gone while looked at (copytruncate's copy, gzipped and removed meanwhile):
                # not known to be new. Taken for new, it was read whole through the handle
                # still open, every line of it counted twice (kill -9 chaos in CI, once in
                # 150 runs: 81 lines)
                return None
            if got is not None and got.tail_hash != rec.tail_hash and (rec.dev, rec.ino) == \
                    (dev, ino) and rec.path == path and not kept and not compressed:
                edited.append(rec)  # its own first bytes, other content after them, under its
                # own name (another log on a deleted one's inode, opening with the same line,
                # had taken its record: said gone no more, a test)
            if got is not None and got.tail_hash == rec.tail_hash:
                if kept and (rec.dev, rec.ino) != (dev, ino) and \
                        self.sites.get(rec.path, site) != site:
                    continue  # a kept copy takes no other site's record (`cp a.log b.log.bak`)
                same.append(rec)
            elif (got is not None and got.tail_hash is None and short is None
                    and self.sites.get(rec.path, site) == site):
                short = (rec, got.length)  # starts like it, ends before what was counted of it
        own = [rec for rec in same if (rec.dev, rec.ino) == (dev, ino)]
        if own and not kept:  # its own record first: another file's (one that starts as it
            # does, c.log the first 50 lines of a.log) is that file's, counted again from 0 if
            # taken. Not a kept copy's: a .bak saved as a 5-line copy of the log, rewritten with
            # all 78 of it while stopped and the log deleted, read on from its own 5 lines
            # counted the log's 45 after them again (the chaos bench); the log's record is
            # what its content was counted under, and nothing else takes it now.
            same = own
        if same:  # the same content as all these: counted up to the furthest of them
            for rec in same:
                self.take(rec)
            return max(rec.offset for rec in same)
        if not kept and not compressed:  # its first bytes changed, its first line did not:
            # edited too (a line taken out of its first KiB)
            line = first_line_digest(head)
            edited += [rec for rec in self.records if line and rec.first_line == line and
                       rec.offset and not rec.done and rec not in edited and (
                           (rec.dev, rec.ino) == (dev, ino) and rec.path == path
                           # or edited (a new inode) then rotated while stopped: the log no
                           # longer under its name, another file of its site opening as it
                           # did (`sed -i`, then logrotate's mv: counted whole again, 409 of
                           # 209, a recheck)
                           or (rec.dev, rec.ino) != (dev, ino) and rec.path != path
                           and self.sites.get(rec.path) == site and _not_there(rec))]
        if edited:  # the file itself edited on its own inode while stopped (`grep -v IP
            # access.log > t && cat t > access.log`, `truncate -s`), lines written since
            # included: read from its start, its lines up to the latest counted not counted
            # again (engine.live: the follower says it `edited`). Cut shorter, it had been
            # taken for a copy of a part, its new lines never read; longer, read as new, its
            # old lines counted twice (an SSH trial)
            for rec in edited:
                self.take(rec)
            self.rewritten.add((dev, ino))
            return 0
        if short is None:
            return 0
        if short[0].path == path and (short[0].dev, short[0].ino) != (dev, ino):
            # the log itself under its own name, another inode, shorter than what was counted
            # of it: edited in place (`sed -i`, `grep -v IP access.log > t && mv t access.log`,
            # its first KiB kept), lines written since included, not a copy of a part. Read
            # from its start, said edited (engine.live: its lines up to the latest counted are
            # not counted again, whatever its times: a log of under 5 minutes, restarted, had
            # been counted twice, a review); taken for copytruncate's copy, it was skipped
            # whole, its 20 new lines never counted, a restart too (an SSH recheck)
            self.rewritten.add((dev, ino))
            return 0
        try:
            st = os.stat(path)
        except OSError:
            return 0
        if time.time() - st.st_mtime < settle:
            return None
        if not kept and not compressed:  # copytruncate's copy goes on as the file it copies:
            # its record now. A kept copy (`cp -p access.log access.log.orig`) holds a part: the
            # record stays for the archive that holds it all, which had read on from the
            # .orig's end and counted the lines after it twice (a fuzz of the real follower: 18
            # of 12). So does a compressed one (`gzip -c access.log > access.log.gz`, a backup
            # by hand): access.log.1.gz read on from its end, 20 lines again (an ops trial)
            self.take(short[0])
        return short[1]
