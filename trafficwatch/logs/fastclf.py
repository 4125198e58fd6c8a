"""Vectorized parsing of common/combined lines over a whole chunk; odd lines go to the regex path.

A line is taken here only when its structure is exactly the usual one:
`host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status size ["referer" "agent" ...]`.
Everything else (stray quotes that break the pattern, glued records, bad times, ...) is returned
as line spans for the per-line regex parser, which counts or reports it. Only unique hosts and
agents reach Python objects; timestamps, statuses, sizes and static-asset checks are numpy.
"""
from __future__ import annotations

import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from trafficwatch.logs.formats import EXTRA_FIELDS
from trafficwatch.logs.timeparse import MAX_OFFSET, window

_TAIL = re.compile(EXTRA_FIELDS + rb"\s*")  # what a format's regex reads after its last field

_MON = np.array([int.from_bytes(m, "big") for m in (
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")])
_MON_ORDER = np.argsort(_MON)
_MON_SORTED = _MON[_MON_ORDER]
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])  # by month, 28 in Feb


def _digits(b: np.ndarray, pos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Value of the n ASCII digits at each pos, and whether they all are digits."""
    val = np.zeros(len(pos), np.int64)
    ok = np.ones(len(pos), bool)
    for k in range(n):
        d = b[pos + k] - np.uint8(48)  # wraps below '0': then > 9
        ok &= d <= 9
        val = val * 10 + d
    return val, ok


_M64 = (1 << 64) - 1
_HP = 0x100000001B3
HASH_WORDS = 5  # spans up to 40 bytes are hashed in numpy; longer ones by span_hash_py


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


_N_MULT = 64
_MULT = [_splitmix(k) | 1 for k in range(_N_MULT)]  # one odd multiplier per 8-byte word
_MULT_NP = np.array(_MULT, dtype=np.uint64)


def _mult(k: int) -> int:
    return _MULT[k] if k < _N_MULT else _splitmix(k) | 1


def _finish(h):
    """Mix the word sum (an int, or a uint64 array: the same function mod 2**64)."""
    if isinstance(h, int):
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & _M64
        return h ^ (h >> 29)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    return h ^ (h >> np.uint64(29))


def span_hash_py(data: bytes) -> int:
    """64-bit hash of a byte string; span_hashes computes the same over many spans at once.

    The length times one multiplier plus each little-endian 8-byte word (zero-padded) times its
    own, mod 2**64, then mixed: a sum of independent products, so numpy computes it for a whole
    matrix of spans in two passes.
    """
    h = len(data) * _HP
    for k in range(0, len(data), 8):
        h += int.from_bytes(data[k:k + 8].ljust(8, b"\0"), "little") * _mult(k // 8)
    return _finish(h & _M64)


_TIERS = (4, 8, 16, 32, 64)
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [_M64], dtype=np.uint64)


def _hash_rows(b: np.ndarray, start: np.ndarray, n: np.ndarray, words: int) -> np.ndarray:
    """The span hash of spans of at most 8*words bytes (longer ones: of their first 8*words)."""
    if words <= 4:  # short spans (clients): word by word from the unaligned view
        w = _words(b)
        h = n.astype(np.uint64) * np.uint64(_HP)
        for j in range(words):
            left = np.clip(n - 8 * j, 0, 8)
            h += (w[start + 8 * j] & _BYTE_MASKS[left]) * _MULT_NP[j]
        return _finish(h)
    width = words * 8
    # One gather of each span's first `width` bytes (a window view: no index matrix). The words
    # wholly inside the span add up as a running sum; the word the span ends in is masked to its
    # bytes; the words past it do not count.
    w64 = sliding_window_view(b, width)[start].view("<u8")  # (N, words), a copy
    run = np.cumsum(w64 * _MULT_NP[:words], axis=1, dtype=np.uint64)
    inside = np.minimum(n, width)
    full, rest = inside // 8, (inside % 8).astype(np.uint64)
    rows = np.arange(len(n))
    h = n.astype(np.uint64) * np.uint64(_HP)
    h += np.where(full > 0, run[rows, np.maximum(full - 1, 0)], np.uint64(0))
    k = np.minimum(full, words - 1)
    tail = w64[rows, k] & ((np.uint64(1) << (rest * np.uint64(8))) - np.uint64(1))
    h += np.where(full < words, tail * _MULT_NP[k], np.uint64(0))
    return _finish(h)


def span_hashes(b: np.ndarray, start: np.ndarray, end: np.ndarray, data: bytes,
                words: int = HASH_WORDS) -> np.ndarray:
    """span_hash_py(data[start:end]) for every span, vectorized for spans of <= 8*words bytes."""
    n = end - start
    if not len(n):
        return np.zeros(0, np.uint64)
    words = max(1, min(words, _N_MULT, int((n.max() + 7) // 8)))  # no wider than needed
    width = words * 8
    if len(b) < int(start.max()) + width:  # parse_chunk's buffer is padded enough already
        b = np.concatenate([b, np.zeros(width, np.uint8)])
    # Spans in tiers of up to 4, 8, 16, 32, 64 words, each hashed as a matrix that wide: a
    # few long agents do not make every short one pay for their width.
    n_words = (np.minimum(n, width) + 7) // 8
    h = np.empty(len(n), np.uint64)
    lo = 0
    for hi in _TIERS:
        hi = min(hi, words)
        rows = np.flatnonzero((n_words > lo) & (n_words <= hi)) if lo else \
            np.flatnonzero(n_words <= hi)
        if len(rows) == len(n):
            h = _hash_rows(b, start, n, hi)
        elif len(rows):
            h[rows] = _hash_rows(b, start[rows], n[rows], hi)
        lo = hi
        if lo >= words:
            break
    long = np.flatnonzero(n > width)
    for i in long.tolist():
        h[i] = span_hash_py(data[start[i]:end[i]])
    return h


# Positions in `dd/Mon/yyyy:HH:MM:SS +zzzz] "` of its separators, and of its digits in pairs:
# day, year (two pairs), hour, minute, second, offset hours, offset minutes.
_TIME_SEP_AT = [2, 6, 11, 14, 17, 20, 26, 27, 28]
_TIME_SEP = np.frombuffer(b"//::: ] \"", np.uint8)
_TIME_DIGITS_AT = [0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25]


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (Howard Hinnant's algorithm), vectorized."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_FAR = np.iinfo(np.int64).max // 2
# Zero bytes after the data: fixed offsets and windows never index past the end, and spans
# hashed from the returned buffer (agents: up to 64 words) need no copy of it.
PAD = 8 * 65


# Bytes compared eight at a time ("SWAR"): w[i] is the little-endian word of b[i:i+8] (an
# unaligned view, no copy), so one gather reads 8 bytes per line, and a few uint64 operations
# find a byte in them. Far cheaper than a (lines x width) byte matrix and a row-wise argmax.
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_HI = np.uint64(0x8080808080808080)


def _words(b: np.ndarray) -> np.ndarray:
    """w[i] = int.from_bytes(b[i:i+8], "little") for every i (a view of b)."""
    return np.ndarray(shape=(len(b) - 7,), dtype="<u8", buffer=b, strides=(1,))


def _eq(w: np.ndarray, byte: int) -> np.ndarray:
    """The high bit of each byte of w that equals `byte` (exact: no borrow between bytes)."""
    x = w ^ np.uint64(byte * 0x0101010101010101)
    return ~(((x & _LOW7) + _LOW7) | x | _LOW7)


def _exponent(x: np.ndarray) -> np.ndarray:
    """floor(log2(x)) of flags at bits 8k+7 (exact: sparse bits never round up); -1023 for 0."""
    return (x.astype(np.float64).view(np.int64) >> 52) - 1023


def _low(f: np.ndarray) -> np.ndarray:
    """Index (0..7) of the lowest flagged byte of _eq's flags; 8 when none."""
    k = (_exponent(f & (np.uint64(0) - f)) - 7) >> 3
    return np.where(f != 0, k, 8)


def _high(f: np.ndarray) -> np.ndarray:
    """Index (0..7) of the highest flagged byte of _eq's flags; -1 when none."""
    return np.where(f != 0, (_exponent(f) - 7) >> 3, -1)


def _find(w: np.ndarray, p: np.ndarray, byte: int, words: int) -> np.ndarray:
    """Offset of the first `byte` in the 8*words bytes at each p; 8*words where there is none."""
    k = _low(_eq(w[p], byte))
    for j in range(1, words):
        k = np.where(k < 8 * j, k, 8 * j + _low(_eq(w[p + 8 * j], byte)))
    return k


def _first(w: np.ndarray, pos: np.ndarray, width: int, byte: int, step: int = 1) -> np.ndarray:
    """For each pos, the first index >= pos holding `byte` within `width` bytes, else _FAR.

    `w` is _words(b); width a multiple of 8*step. `step` words at a time, and only for the
    positions not found yet: most fields end within their first word or two.
    """
    out = np.full(len(pos), _FAR, np.int64)
    todo = np.arange(len(pos))
    p = np.minimum(pos, len(w) + 7 - width)
    for _ in range(width // (8 * step)):
        k = _find(w, p, byte, step)
        hit = k < 8 * step
        out[todo[hit]] = p[hit] + k[hit]
        todo, p = todo[~hit], p[~hit] + 8 * step
        if not len(todo):
            break
    return out


_ZEROS = np.uint64(0x3030303030303030)
_NO_USER = np.uint64(int.from_bytes(b" - - [", "little"))


def _number(w: np.ndarray, b: np.ndarray, start: np.ndarray, length: np.ndarray,
            want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decimal number of `length` (1..18) digits at each start, and whether all are digits
    (numbers of more than 8 digits only where `want`; elsewhere not ok).

    Up to 8 digits as one word: checked byte-wise, right-aligned behind '0's, then combined
    in three multiply-and-shift steps (pairs, quads, octets). Longer ones digit by digit.
    """
    x = w[start]
    short = length <= 8
    n = np.where(short, length, 8).astype(np.uint64)
    keep = _BYTE_MASKS[n]
    low7 = x & _LOW7
    digit = (low7 + np.uint64(0x5050505050505050)) & ~(low7 + np.uint64(0x4646464646464646)) & \
        ~x & _HI  # high bit of each byte in '0'..'9'
    ok = (digit & keep & _HI) == (keep & _HI)
    shift = (np.uint64(8) - n) * np.uint64(8)
    y = ((x & keep) << shift) | (_ZEROS & ~(keep << shift))
    v = y - _ZEROS
    v = (v * np.uint64(10) + (v >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    v = (v * np.uint64(100) + (v >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    v = ((v * np.uint64(10000) + (v >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.int64)
    ok &= short
    for i in np.flatnonzero(~short & want).tolist():  # 9..18 digits: rare
        text = b[start[i]:start[i] + length[i]].tobytes()
        ok[i] = text.isdigit()
        v[i] = int(text) if ok[i] else 0
    return v, ok


def _first_before(w: np.ndarray, data: bytes, pos: np.ndarray, stop: np.ndarray, byte: int,
                  words: int = 8) -> np.ndarray:
    """For each pos, the first index in [pos, stop) holding `byte`, else stop.

    Word by word for the first `words` words; spans longer than that by bytes.find when they
    are few, else by a scan of the chunk for the byte.
    """
    out = stop.copy()
    todo = np.flatnonzero(pos < stop)
    p = pos[todo]
    for _ in range(words // 2):
        k = _find(w, p, byte, 2)
        hit = (k < 16) & (p + k < out[todo])
        out[todo[hit]] = p[hit] + k[hit]
        more = ~hit & (p + 16 < out[todo])
        todo, p = todo[more], p[more] + 16
        if not len(todo):
            return out
    if len(todo) > 256:  # many long spans: list the byte's places in the whole chunk once
        at = np.flatnonzero(np.frombuffer(data, np.uint8) == byte)
        out[todo] = np.minimum(out[todo], _next(at, p))
        return out
    needle = bytes([byte])
    for i, a in zip(todo.tolist(), p.tolist()):
        j = data.find(needle, a, int(out[i]))
        if j >= 0:
            out[i] = j
    return out


def _status_quote(b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quotes followed by ` DDD ` (a request's closing quote before the status)."""
    return (b[q + 1] == 32) & (b[q + 2] - 48 < 10) & (b[q + 3] - 48 < 10) & \
        (b[q + 4] - 48 < 10) & (b[q + 5] == 32)


def _closing(b: np.ndarray, q: np.ndarray, n_bytes: int) -> np.ndarray:
    """Quotes followed by a space, a line end or the end of the data (a field's last quote)."""
    nxt = b[q + 1]
    return (nxt == 32) | (nxt == 10) | (nxt == 13) | (q + 1 >= n_bytes)


def _next(positions: np.ndarray, after: np.ndarray) -> np.ndarray:
    """For each value in `after`, the first position >= it (a sentinel past the end if none)."""
    i = np.searchsorted(positions, after)
    padded = np.append(positions, _FAR)
    return padded[i]


def _lead(b: np.ndarray, w: np.ndarray, starts: np.ndarray,
          ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(where each line's own fields begin, the lines to leave to the per-line parser) for what
    formats.LINE_PREFIX reads before a line: a byte order mark, a syslog prefix (`Dec  5
    10:15:02 web1 nginx[12]: `, its ISO time) or the container runtime's (`2026-12-05T10:15:02Z
    stdout F `). Read here where its shape is exactly that (here the syslog time had been the
    client, a trial; per line, such a log was read 11 times slower); a line that only opens
    like one (a `<PRI>`, a month's name, an ISO date) goes the per-line way."""
    at = lambda k: b[starts + k]  # (PAD bytes follow the data)
    lead = starts.copy()
    c0 = at(0)  # a line that can open with none of them (an address, a host name): as it is
    # (each chunk's 19 gathers over every line had cost a plain log 4 % of its reading time)
    if not ((c0 == 0xEF) | (c0 == 60) | ((c0 >= 65) & (c0 <= 90)) | (at(4) == 45)).any():
        return lead, np.zeros(len(starts), bool)
    bom = (at(0) == 0xEF) & (at(1) == 0xBB) & (at(2) == 0xBF)
    lead[bom] += 3
    month = (at(0) >= 65) & (at(0) <= 90) & (at(1) >= 97) & (at(2) >= 97) & (at(3) == 32)
    bsd = month & ((at(4) == 32) | ((at(4) >= 48) & (at(4) <= 51))) & (at(5) >= 48) & \
        (at(5) <= 57) & (at(6) == 32) & (at(9) == 58) & (at(12) == 58) & (at(15) == 32)
    dated = (at(4) == 45) & (at(7) == 45) & (at(10) == 84) & (at(13) == 58)
    slow = (at(0) == 60) | (month & ~bsd) | (bom & ((at(3) == 60) | (at(7) == 45)
                                                     | (at(6) == 32)))
    tend = np.where(bsd, starts + 15, starts)
    if dated.any():
        iso_end = _first(w, starts, 40, 32)
        tend = np.where(dated, np.minimum(iso_end, ends), tend)  # (in the data: read at +9)
        slow |= dated & (iso_end >= ends)
    timed = (bsd | dated) & ~slow
    if not timed.any():
        return lead, slow
    # the container runtime's: `stdout F ` (a P line is part of one: per line)
    cri = timed & dated & (((b[tend + 1] == 115) & (b[tend + 4] == 111) & (b[tend + 6] == 116))
                           | ((b[tend + 1] == 115) & (b[tend + 4] == 101) & (b[tend + 6] == 114)))
    cri &= (b[tend + 7] == 32) & (b[tend + 8] == 70) & (b[tend + 9] == 32)
    # syslog's `host tag: ` or `host tag[pid]: `: one space before the colon, then a space
    sys_ = timed & ~cri
    colon = _first(w, tend + 1, 64, 58)
    colon = np.where(sys_, colon, tend)
    spaces = np.concatenate(([0], np.cumsum(b == 32)))
    # no colon (_FAR): read at the line's end, within the data and its PAD (at len(b) - 1, the
    # byte after it was past the buffer: a last line `2026-12-05T00:00:03Z INF x y`, Traefik's
    # own, ended `counts` and the agent in an IndexError, a trial)
    safe = np.minimum(colon, ends)
    one = (spaces[safe] - spaces[np.minimum(tend + 1, len(b) - 1)]) == 1
    sys_ok = sys_ & (colon < ends) & one & (b[safe + 1] == 32) & (b[tend + 1] != 32) & \
        (b[np.maximum(safe - 1, 0)] != 32)
    # a `[` in the tag only as `[pid]` right before the colon (as the per-line pattern reads it)
    bracket = _first(w, tend + 1, 64, 91)
    has = sys_ok & (bracket < colon)
    if has.any():
        good = b[np.maximum(safe - 1, 0)] == 93
        for k in range(1, 9):
            pos = np.minimum(bracket + k, len(b) - 1)
            good &= (bracket + k >= colon - 1) | ((b[pos] >= 48) & (b[pos] <= 57))
        good &= (colon - bracket >= 3) & (colon - bracket <= 10)
        sys_ok &= ~has | good
    lead = np.where(cri, tend + 10, np.where(sys_ok, colon + 2, lead))
    slow |= timed & ~(cri | sys_ok)
    return lead, slow


def parse_chunk(data: bytes, combined: bool, vhost: bool = False) -> tuple[
        dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Columns for the lines of the usual shape, and (start, end) spans of the others.

    Returns (columns, fast_line_ids, slow_line_ids, starts, ends, buffer): columns holds ts,
    off, status, size, static, host spans and agent spans for the fast lines (in line order);
    buffer is the data as uint8 followed by PAD zero bytes (for span_hashes). With `vhost`
    (nginx's `$host $remote_addr ...`, VCOMMON/VCOMBINED) each line opens with its virtual
    host, `name[:port] `, whose name's spans are the column vhost.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    n_bytes = len(b)
    b = np.append(b, np.zeros(PAD, np.uint8))  # so fixed-width gathers never index past the end
    ctl = np.flatnonzero(b[:n_bytes] < 32)  # newlines, other whitespace and control bytes
    kind = b[ctl]
    nl = ctl[kind == 10]
    ws = ctl[(kind != 10) & (kind != 27)]  # tabs, lone CRs, NULs, ... (ESC is left to safe.py)
    starts = np.concatenate(([0], nl + 1)).astype(np.int64)
    ends = np.concatenate((nl, [n_bytes])).astype(np.int64)
    if len(starts) and starts[-1] >= n_bytes:  # the chunk ends with a newline: no empty last line
        starts, ends = starts[:-1], ends[:-1]
    ends = ends - (b[np.maximum(ends - 1, 0)] == 13) * (ends > starts)  # CRLF
    q = np.flatnonzero(b[:n_bytes] == 34)
    ok = ends > starts
    # Whitespace other than spaces (a tab, a lone CR) separates fields for the per-line parser
    # but not here, and control bytes (NUL, ...) make a line binary there: such lines go the
    # per-line way.
    if len(ws):
        line_of = np.searchsorted(starts, ws, side="right") - 1
        inside = (line_of >= 0) & (ws < ends[np.maximum(line_of, 0)])
        ok[line_of[inside]] = False
    w = _words(b)
    lead, odd = _lead(b, w, starts, ends)  # after a line's prefix, if it has one
    ok &= ~odd & (lead < ends)
    fs = lead  # where the client's field starts
    if vhost:  # `name[:port] client ...`: as formats' "vhost" piece reads it, else slow
        sp = np.minimum(_first(w, lead, 64, 32, step=2), ends)  # (a name of 64+ bytes: slow)
        colon = _first_before(w, data, lead, sp, 58)
        ok &= (sp < ends) & (colon > lead) & (b[np.maximum(colon - 1, 0)] != 44) & \
            (b[sp + 1] != 32) & (np.searchsorted(q, sp) == np.searchsorted(q, lead))
        port = sp - colon - 1  # `:digits`, 1 to 5 of them, where there is a colon
        ok &= (colon == sp) | ((port >= 1) & (port <= 5))
        for k in range(1, 6):
            ok &= (colon + k >= sp) | (b[np.minimum(colon + k, n_bytes)] - np.uint8(48) <= 9)
        fs = np.where(ok, sp + 1, lead)
    host_end = _first(w, fs, 64, 32, step=2)  # a client longer than 63 bytes goes the slow way
    ok &= host_end < ends
    # a client field that is a list (X-Forwarded-For's "a, b": its first word ends with a
    # comma): its first address is the client, which the per-line parser takes
    ok &= b[np.where(ok, host_end, 1) - 1] != 44
    # The time's '[': right after " - - " mostly (no ident, no user); else looked for.
    he = np.where(ok, host_end, 0)
    t = he + 6
    other = np.flatnonzero((w[he] & np.uint64(0xFFFFFFFFFFFF)) != _NO_USER)
    if len(other):
        t[other] = _first(w, he[other], 64, 91) + 1  # first char of the time
    ok &= t + 29 < ends
    # `host ident user [`: one space between non-empty fields (else the per-line parser decides)
    t, he = np.where(ok, t, 3), np.where(ok, host_end, 0)
    ident_end = he + 2  # the usual one-character ident ("-"); others are looked for
    long_ident = np.flatnonzero(b[ident_end] != 32)
    if len(long_ident):
        ident_end[long_ident] = _first(w, he[long_ident] + 1, 64, 32)
    ok &= (he > fs) & (b[he + 1] != 32) & (ident_end < t - 2) & (b[t - 2] == 32) & \
        (b[t - 3] != 32)
    if vhost:  # an ident other than "-": the per-line parser reads it (a Host header of
        # several words, the client among them, or identd's answer)
        ok &= (b[he + 1] == 45) & (b[he + 2] == 32)
    t = np.where(ok, t, 0)
    # The time `dd/Mon/yyyy:HH:MM:SS +zzzz] "`: one gather of its 29 bytes, checked at once.
    tm = sliding_window_view(b, 29)[t]
    ok &= (tm[:, _TIME_SEP_AT] == _TIME_SEP).all(1) & ((tm[:, 21] == 43) | (tm[:, 21] == 45))
    dg = tm[:, _TIME_DIGITS_AT] - np.uint8(48)  # wraps below '0': then > 9
    ok &= (dg <= 9).all(1)
    pairs = dg[:, 0::2].astype(np.int64) * 10 + dg[:, 1::2]
    day, hh, mi, ss, oh, om = pairs[:, 0], pairs[:, 3], pairs[:, 4], pairs[:, 5], pairs[:, 6], pairs[:, 7]
    year = pairs[:, 1] * 100 + pairs[:, 2]
    mon_key = (tm[:, 3].astype(np.int64) << 16) | (tm[:, 4].astype(np.int64) << 8) | tm[:, 5]
    mi_idx = np.clip(np.searchsorted(_MON_SORTED, mon_key), 0, 11)
    ok &= _MON_SORTED[mi_idx] == mon_key
    month = _MON_ORDER[mi_idx] + 1
    off = (oh * 3600 + om * 60) * np.where(tm[:, 21] == 43, 1, -1)
    dim = _DAYS[month]
    feb29 = np.flatnonzero((day == 29) & (month == 2))
    if len(feb29):  # a real date in leap years only
        y = year[feb29]
        dim[feb29[(y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))]] = 29
    ok &= (day >= 1) & (day <= dim) & (hh < 24) & (mi < 60) & (ss < 61) & \
        (np.abs(off) <= MAX_OFFSET)
    ropen = t + 28
    # Quotes. A "plain" line holds exactly the quotes of its format (2, or 6 when combined),
    # none after a backslash, the first one opening the request and the second closing it
    # (followed by ` DDD `): its field bounds are read off the quote list directly. The others
    # (stray or escaped quotes, extra fields) are searched among their own quotes only.
    n_q = 6 if combined else 2
    qp = np.append(q, np.full(n_q + 1, n_bytes))  # qp[k0 + j] is always an index
    k0 = n_q * np.arange(len(starts))  # index of each line's first quote, when all are plain
    if len(q) != n_q * len(starts) or not (qp[k0] >= starts).all() or \
            not (qp[k0[1:] - 1] < starts[1:]).all():
        k0 = np.searchsorted(q, starts)
    per_line = np.diff(np.append(k0, len(q)))
    qn = [qp[k0 + j] for j in range(n_q)]
    plain = (qn[-1] < ends) & (qp[k0 + n_q] >= ends) & (qn[0] == ropen) & \
        _status_quote(b, qn[1])
    esc = q[b[q - 1] == 92]  # q - 1 = -1 reads the zero padding at the end
    if len(esc):
        plain[np.searchsorted(starts, esc, side="right") - 1] = False
    q = q[np.repeat(~plain, per_line)]  # the quotes of the other lines
    # The request ends at the first quote followed by ` DDD ` (stray quotes inside are fine).
    close = np.where(plain, qn[1], _next(q[_status_quote(b, q)], ropen + 1))
    ok &= close < ends
    close = np.where(ok, close, 0)
    status, _ = _digits(b, close + 2, 3)
    size_start = close + 6
    size_end = np.minimum(_first(w, size_start, 24, 32), ends)
    size_len = size_end - size_start
    dash = (size_len == 1) & (b[size_start] == 45)
    ok &= ((size_len >= 1) & (size_len <= 18)) | dash
    size, size_ok = _number(w, b, size_start, np.clip(size_len, 1, 18), ok)
    ok &= dash | size_ok
    size = np.where(dash, -1, size)
    # Path: METHOD SP path [SP HTTP/x]; a static asset by the extension before any '?'.
    meth_end = _first(w, ropen + 1, 32, 32)
    ok &= meth_end < close
    pstart = meth_end + 1
    # a path: an absolute URL (a proxy's) or `*` goes the per-line way
    ok &= b[np.where(ok, pstart, 0)] == 47
    # The path ends at the last space before the closing quote when " HTTP/..." follows it
    # (looked for in the 16 bytes before the quote: protocols are short).
    w0 = np.maximum(close - 16, 0)
    k0, k1 = _high(_eq(w[w0], 32)), _high(_eq(w[w0 + 8], 32))
    has_sp = (k0 >= 0) | (k1 >= 0)
    last_sp = np.where(k1 >= 0, w0 + 8 + k1, np.where(k0 >= 0, w0 + k0, close))
    low = np.uint8(32)  # "HTTP/" in any case, as the per-line parser compares it
    has_proto = has_sp & (last_sp > meth_end) & (b[last_sp + 1] | low == 104) & \
        (b[last_sp + 2] | low == 116) & (b[last_sp + 3] | low == 116) & \
        (b[last_sp + 4] | low == 112) & (b[last_sp + 5] == 47)
    pend = np.where(has_proto, last_sp, close)
    pend = _first_before(w, data, np.where(ok, pstart, pend), pend, 63)  # the query string
    static = _static(b, pend, pend - pstart)
    ts = _days_from_civil(year, month, day) * 86400 + hh * 3600 + mi * 60 + ss - off
    lo, hi = window()  # outside it (or not a real date): timeparse says why, line by line
    ok &= (ts >= lo) & (ts <= hi)
    cols = {"ts": ts, "off": off, "status": status, "size": size, "static": static,
            "host": (fs, host_end), "req": (ropen, close), "path": (pstart, pend)}
    if vhost:
        cols["vhost"] = (lead, colon)
    if combined:
        ref_open = size_end + 1
        ok &= (b[size_end] == 32) & (b[ref_open] == 34)
        # A plain line: quote 3 closes the referer when ` "` follows it (quote 4 opens the
        # agent), quote 5 closes the agent when a space or the line's end follows; else it is
        # not of this shape (what the search below would also find).
        qr = q[(b[q + 1] == 32) & (b[q + 2] == 34) & (b[np.maximum(q - 1, 0)] != 92)]
        ref_close = np.where(plain, np.where(b[qn[3] + 1] == 32, qn[3], _FAR),
                             _next(qr, ref_open + 1))
        ok &= ref_close < ends
        a_open = ref_close + 2
        ok &= ~plain | ((qn[2] == ref_open) & (qn[4] == a_open))
        q_end = q[(b[np.maximum(q - 1, 0)] != 92) & _closing(b, q, n_bytes)]
        a_close = np.where(plain, np.where(_closing(b, qn[5], n_bytes), qn[5], _FAR),
                           _next(q_end, a_open + 1))
        ok &= a_close < ends
        # Inside referer and agent only escaped quotes (\"), as the per-line parser reads them;
        # a quote after an escaped backslash (\\") is left to it.
        # Between the referer's opening quote and the agent's closing one: exactly the
        # referer's closing quote and the agent's opening one.
        bare = q[b[np.maximum(q - 1, 0)] != 92]
        ac = np.where(ok, a_close, 0)
        ok &= plain | (np.searchsorted(bare, ac) - np.searchsorted(bare, ref_open + 1) == 2)
        odd = q[(b[np.maximum(q - 1, 0)] == 92) & (b[np.maximum(q - 2, 0)] == 92)]
        if len(odd):
            ok[np.searchsorted(starts, odd, side="right") - 1] = False
        cols["agent"] = (a_open + 1, a_close)
        last = a_close
    else:
        last = size_end - 1
    # After the last field: only spaces, or extra quoted fields; else (glued records) slow path.
    after = np.where(ok, last + 1, 0)
    rest = ends - after
    a = np.minimum(after, len(b) - 16)
    k0, k1 = _low(~_eq(w[a], 32) & ~_LOW7), _low(~_eq(w[a + 8], 32) & ~_LOW7)
    first_other = np.where(k0 < 8, k0, 8 + k1)  # the first byte that is not a space (16: none)
    blank = (first_other >= rest) & (rest <= 16)
    extra = ok & ~blank & (b[after] == 32) & (b[after + 1] == 34)
    ok &= blank
    if extra.any():  # quoted fields past the format's: fast where they are all the line has
        # left, as the regex reads them (a record glued after them is the per-line parser's)
        i = np.flatnonzero(extra)
        ok[i] = [_TAIL.match(data, a, e).end() == e
                 for a, e in zip(after[i].tolist(), ends[i].tolist())]
    fast = np.flatnonzero(ok)
    slow = np.flatnonzero(~ok)
    if len(slow):
        cols = {k: (v[0][fast], v[1][fast]) if isinstance(v, tuple) else v[fast]
                for k, v in cols.items()}
    return cols, fast, slow, starts, ends, b


_EXT = [e.encode() for e in (".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif",
                             ".webp", ".avif", ".svg", ".ico", ".woff", ".woff2", ".ttf", ".otf",
                             ".eot", ".mp4", ".webm", ".mp3", ".wasm", ".pdf", ".zip", ".gz",
                             ".txt", ".xml", ".json")]
_EXT_KEYS = np.array(sorted(int.from_bytes(e, "little") for e in _EXT), dtype=np.uint64)
# High bits of bytes i..6 of a word: where the dot of an extension of 2..6 bytes can be.
_DOT_AT = np.array([sum(0x80 << (8 * k) for k in range(i, 7)) for i in range(9)], np.uint64)


def _lower(x: np.ndarray) -> np.ndarray:
    """ASCII A-Z to a-z in every byte of the words x (other bytes unchanged)."""
    low7 = x & _LOW7
    ge_a = low7 + np.uint64(0x3F3F3F3F3F3F3F3F)  # high bit set where the byte's low 7 bits >= 'A'
    gt_z = low7 + np.uint64(0x2525252525252525)  # ... > 'Z'
    upper = ge_a & ~gt_z & ~x & _HI
    return x | (upper >> np.uint64(2))  # 0x80 >> 2 == 0x20


def _static(b: np.ndarray, end: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Path ends in a static-asset extension (case-insensitive): the bytes from its last '.'.

    The path's last 8 bytes as one word: the last dot 2..6 bytes before the end (inside the
    path), and the word shifted down to it is the extension as a little-endian key.
    """
    x = _words(b)[np.maximum(end - 8, 0)]  # paths of lines of this shape end past byte 8
    dot = _high(_eq(x, 46) & _DOT_AT[np.clip(8 - length, 2, 7)])
    key = _lower(x) >> (np.maximum(dot, 0).astype(np.uint64) * np.uint64(8))
    i = np.minimum(np.searchsorted(_EXT_KEYS, key), len(_EXT_KEYS) - 1)
    return (dot >= 0) & (_EXT_KEYS[i] == key)
