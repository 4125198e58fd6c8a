"""Docker's json-file logs: the server's own lines inside the container runtime's JSON.

`/var/lib/docker/containers/<id>/<id>-json.log`, what `docker logs` reads, holds a line like
`{"log":"203.0.113.9 - - [06/Dec/2026:10:00:00 +0000] \\"GET / HTTP/1.1\\" 200 ...\\n",
"stream":"stdout","time":"2026-12-06T10:00:00.1Z"}` for each line the server wrote. The parser
reads the "log" string in the format it would read the line in (the runtime's own time is when
the line was written, not the request's), so every format works inside it. A line over 16 KiB
comes in pieces whose "log" has no newline yet: joined. Lines on stderr are the server's error
log (nginx's image), or its access log where that goes to stderr (Caddy's default): those that
are no request are said apart from the malformed ones. Kubernetes' CRI logs
(/var/log/containers) are a text prefix, `2026-12-05T10:15:02.123Z stdout F ` (formats.
LINE_PREFIX); a long line comes as `P` (partial) lines before its `F`: joined here (`join_cri`).
journald's JSON export (`journalctl -u nginx -o json`) is read alike: its "MESSAGE" is the
server's line, its lines of priority warning and above the error log, systemd's own messages
("Started nginx.service") said apart.
"""
from __future__ import annotations

import json
import re

from trafficwatch.logs.w3c import BOM

HEAD = b'{"log":'  # how the runtime begins every line (Go's encoding of its struct, in order)
JOURNAL_HEAD = b'{"__CURSOR":'  # and journalctl -o json every entry
SYSTEM = "a system message (no request)"  # journald's lines of systemd or the kernel
_SYSTEM_IDS = ("systemd", "kernel")
STDERR_OTHER = "a stderr line that is no request (the server's error log)"  # (journald: its
# lines of priority warning and above)
ENTRYPOINT = "a container's start-up message (no request)"
# the official nginx image's entrypoint, on stdout before the server starts: `/docker-entrypoint
# .sh: Configuration complete; ready for start up`, `10-listen-on-ipv6-by-default.sh: info: ...`
_ENTRYPOINT = re.compile(rb"/docker-entrypoint\.sh: |\d\d-[\w.-]+\.(?:sh|envsh): ")
_ENTRYPOINT_ANY = re.compile(rb"^(?:" + _ENTRYPOINT.pattern + rb")", re.MULTILINE)


CRI = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) "
                 rb"(stdout|stderr) ([FP]) ")
CRI_PART = (b" stdout P ", b" stderr P ")  # in a chunk: some line of it is a piece
MAX_PIECES = 64  # pieces of one line at most (the runtimes cut at 16 KiB: a line of 1 MiB; the
# bytes are capped too, at the parser's longest line)


def join_cri(lines: list[bytes], part: list[bytes] | None = None, cap: int | None = None
             ) -> tuple[list[bytes], list[bytes]]:
    """CRI lines with a long line's `P` pieces joined to its `F` line (`part`: the pieces of
    the lines before, read apart; a 40 KB request split P, P, F was two malformed lines and
    one of "unbalanced quotes", a trial): the lines, and the pieces still waiting for their
    `F`. Past `cap` bytes the pieces so far are a line."""
    out, part = [], list(part or ())
    held = sum(map(len, part))
    for line in lines:
        m = CRI.match(line)
        if m is None:
            if part:  # a piece whose line never ended: what came of it
                out.append(b"".join(part))
                part, held = [], 0
            out.append(line)
            continue
        if m.group(3) == b"P":
            if part:
                part.append(line[m.end():])
            else:
                part = [line[:m.start(3)] + b"F " + line[m.end():]]  # its prefix, as a whole
            held += len(part[-1])
            if cap is not None and (held > cap or len(part) > MAX_PIECES):
                out.append(b"".join(part))
                part, held = [], 0
            continue
        if part:
            out.append(b"".join([*part, line[m.end():]]))
            part, held = [], 0
        else:
            out.append(line)
    return out, part


LOOK = 1 << 16  # bytes of a chunk its lines' kind is told from (every line of a container's
# log is wrapped, or none is): the whole chunk searched four times over cost a plain log 25 %
# of its reading time (bench/ingest.py, 1 M lines: 0.44 s of 2.0)


def _head(data: bytes) -> bytes:
    """The start of `data` that tells its lines' kind: its first line and LOOK bytes after it
    (a crash's NUL-padded line first, of any length: the wrapped ones after it)."""
    first = data.find(b"\n")
    return data if first < 0 else data[:first + 1 + LOOK]


def holds_container_lines(data: bytes) -> bool:
    """Does some line of `data` come wrapped (is_container_log), not only its first? One line
    of garbage first (a crash's NUL-padded line) had all the JSON lines after it malformed, a
    whole file refused (a security trial)."""
    if is_container_log(data):
        return True
    head = _head(data)
    return b"\n" + HEAD in head or b"\n" + JOURNAL_HEAD in head


def may_hold_cri_parts(data: bytes) -> bool:
    """Whether a line of `data` may be a CRI line's piece (CRI_PART): searched for only where
    its first lines are CRI's (" stdout " or " stderr " after their time)."""
    head = _head(data)
    return (b" stdout " in head or b" stderr " in head) and any(p in data for p in CRI_PART)


def is_container_log(data: bytes) -> bool:
    """Do these lines come wrapped by Docker's json-file driver or journald's JSON export (read
    at their first line)?"""
    data = data.removeprefix(BOM)
    return data.startswith((HEAD, JOURNAL_HEAD))


def inner_data(lines: list[bytes]) -> bytes | None:
    """The server's lines, where each of `lines` is one whole line it wrote on stdout (no
    start-up message): the usual chunk, read in one go (0.3 s for 68k lines one by one); None
    where some line needs `unwrap`."""
    try:
        objs = json.loads(b"[" + b",".join(lines) + b"]")
        if len(objs) != len(lines) or any(o["stream"] != "stdout" for o in objs):
            return None  # (a line holding two objects)
        text = "".join([o["log"] for o in objs])
        if text.count("\n") != len(lines) or not text.endswith("\n"):
            return None  # a line in pieces, or a piece holding two
        data = text.encode("utf-8", "surrogateescape")
    except (ValueError, RecursionError, KeyError, TypeError):  # (not JSON, not UTF-8, not the
        return None  # runtime's, a surrogate escaped in it: UnicodeEncodeError)
    return None if _ENTRYPOINT_ANY.search(data) else data


def unwrap(lines: list[bytes], part: list[bytes] | None = None, cap: int | None = None
           ) -> tuple[list[tuple[bytes, str | None]], list[bytes]]:
    """Each server line in `lines` with its stream ("stdout", "stderr"; None: a line that is
    not the runtime's JSON, given back as it was, to be read or counted malformed as any), and
    the pieces of a long line whose end has not come yet (`part`: those of the lines before:
    a follower reads the pieces as they are written; each read apart, its 40 KB request was
    three malformed lines, a trial). Pieces past `cap` bytes are given as the line so far."""
    out: list[tuple[bytes, str | None]] = []
    part = list(part or ())  # the pieces of a long line so far
    held = sum(map(len, part))  # their bytes (kept as they come: summed at each piece, 80,000
    # empty pieces took 74 s, a security trial)
    for raw in lines:
        entry = _entry(raw)
        if entry is None:
            if part:  # a long line cut off before its end: what came of it
                out.append((b"".join(part), "stdout"))
                part, held = [], 0
            out.append((raw, None))
            continue
        text, stream = entry
        part.append(text)
        held += len(text)
        if text.endswith(b"\n"):
            line = b"".join(part)[:-1]
            part, held = [], 0
            out.append((line[:-1] if line.endswith(b"\r") else line, stream))
        elif cap is not None and (held > cap or len(part) > MAX_PIECES):  # no end in sight
            out.append((b"".join(part), stream))
            part, held = [], 0
    return out, part


def _entry(raw: bytes) -> tuple[bytes, str] | None:
    s = raw.strip().removeprefix(BOM)
    if not s.startswith((HEAD, JOURNAL_HEAD)):
        return None
    try:
        obj = json.loads(s.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return None
    return _of(obj)


def _of(obj: object) -> tuple[bytes, str] | None:
    if not isinstance(obj, dict):
        return None
    if "MESSAGE" in obj and "log" not in obj:
        return _journal(obj)
    if not isinstance(obj.get("log"), str):
        return None
    stream = obj.get("stream")
    return _utf8(obj["log"]), stream if isinstance(stream, str) else "stdout"


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate escaped in the JSON ("\ud800")
        return text.encode("utf-8", "backslashreplace")


def _journal(obj: dict) -> tuple[bytes, str] | None:
    """journald's entry: its MESSAGE (text, or its bytes as a list of numbers where they are
    not UTF-8) as a whole line, and "stderr" for its error log (priority 0-4), "system" for
    systemd's and the kernel's own."""
    msg = obj["MESSAGE"]
    if isinstance(msg, list) and all(isinstance(b, int) and 0 <= b < 256 for b in msg):
        text = bytes(msg)
    elif isinstance(msg, str):
        text = _utf8(msg)
    else:
        return None
    ident = obj.get("SYSLOG_IDENTIFIER")
    prio = obj.get("PRIORITY")
    stream = ("system" if ident in _SYSTEM_IDS or obj.get("_TRANSPORT") == "kernel" else
              "stderr" if isinstance(prio, str) and prio in "01234" and prio else "stdout")
    return text.rstrip(b"\n") + b"\n", stream


def entrypoint_line(line: bytes) -> bool:
    """A container's start-up message (the nginx image's entrypoint scripts)."""
    return _ENTRYPOINT.match(line) is not None


def shown(text: str) -> str:
    """The server's line inside a container log's line, as the tail pane shows it ("" where
    `text` is none)."""
    raw = text.encode("utf-8", "surrogateescape")
    if not is_container_log(raw.lstrip()):
        return ""
    got, part = unwrap([raw])
    if part:  # a piece of a long line
        return part[0].decode("utf-8", "surrogateescape")
    return got[0][0].decode("utf-8", "surrogateescape") if got and got[0][1] else ""
