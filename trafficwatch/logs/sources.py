"""Find access logs in files, directories and globs; group rotations per site, oldest first."""
from __future__ import annotations

import glob
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from trafficwatch.logs.read import open_stream
from trafficwatch.safe import safe_name

# access.log, access.log.1, access.log-20261120 (a date stamp is taken off first: _undated),
# example.com.access.log.3 (after .gz, .bz2 or .xz is taken off). A name is any characters, a
# newline too (DOTALL), to its very end (\Z: `$` also matches before a final newline): else a
# rotation of `a\nb.access.log` is not seen as one and becomes a site of its own.
_ROTATION = re.compile(r"(?P<stem>.+?\.log)(?:\.(?P<num>\d+)|-(?P<date>\d{8,14}))?\Z", re.DOTALL)
_COMPRESSED = {".gz": "gz", ".bz2": "bz2", ".xz": "xz"}
_UNREAD_COMPRESSION = {".zst": "zstd", ".lz4": "lz4", ".lzma": "lzma", ".z": "compress"}
# A copy or an older log kept by hand: access.log.bak, access.log.old.gz, access.log~. It is the
# site of the name before it, never its live file, older than its rotations; as another file of
# that site, a copy of one of them is counted once (drop_copies). Read as a site of its own
# ("access.log.bak"), it counted every request again in the total of all sites.
_BACKUP = re.compile(r"(?:[._-](?:bak|backup|old|orig|prev|save|copy)|~)\Z", re.IGNORECASE)
# Not a log, beside the logs: a hidden file (vim's .access.log.swp, rsync's .access.log.Xy12Z),
# emacs's #access.log#, an editor's swap, a copy or a download in progress, a shipper's place
# in a log (fluentd's access.log.pos), a lock or a package manager's spare config. In a
# directory or a glob they were read as sites of their own: a swap file "looks binary" (exit
# 1), a copy counted again.
_TEMPORARY = re.compile(r"\A\.|\A#.*#\Z|\.(?:sw[a-p]|swx|te?mp|part(?:ial)?|crdownload|pos|lock|pid"
                        r"|dpkg-(?:new|old|dist|tmp)|rpm(?:new|save|orig)|ucf-(?:new|old|dist))\Z",
                        re.IGNORECASE)
TEMPORARY = ("a temporary file (hidden, a swap file, a copy in progress, a shipper's position), "
             "not a log: name it alone to read it")
BACKUP_ROTATION = 1_000_000  # a kept copy's rotation: past any numbered one
_ERROR_LOG = re.compile(r"(^|[._-])error[._-]?log|[._-]error\.log", re.IGNORECASE)
ERROR_LOG = "an error log, not an access log"  # a reason for discovery to ignore, not skip
NOT_NAMED_LIKE_A_LOG = ("not named like a log: *log*, *access*, or as AWS names its "
                        "CloudFront and S3 access logs")  # in a directory: ignored too
# the names AWS gives its logs: CloudFront `E2K2LNL5N3WR51.2026-12-05-10.90bfa9e6.gz`, S3's
# server access logs `2026-12-05-10-15-02-A1B2C3D4E5F6A7B8` (a folder filled by `aws s3 sync`
# was "no access log in it", exit 2: a trial)
AWS_LOG_NAME = re.compile(r"[A-Z0-9]{8,20}\.\d{4}-\d\d-\d\d-\d\d\.[0-9a-f]{8}(?:\.gz)?"
                          r"|\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}")
PSEUDO_FS = ("/proc/", "/sys/")  # kernel files: no size, no log
NO_FILE_IN_DIR = "no file in it, only subdirectories (not read: give the directory that holds the logs)"
DANGLING = "dangling symlink"  # (skipped, and looked at again at each scan)
EMPTY_DIR = "empty directory: no access log found"  # reading once; a follower waits for files
NO_LOG_IN_DIR = ("no access log in it, only files not read (error logs, files not named like a "
                 "log)")  # as EMPTY_DIR: a follower waits (a fresh server's README or error.log)
# A date stamp in a name (YYYYMMDD[HH], YYYY-MM-DD, YYMMDD) with the separator before it: never
# part of a site's name (IIS writes W3SVC1/u_ex240101.log, one file a day, all one site).
_MM, _DD = r"(?:0[1-9]|1[0-2])", r"(?:0[1-9]|[12]\d|3[01])"
# logrotate's dateformat may add the hour, minutes and seconds (-%Y%m%d%H%M%S, or -%Y-%m-%d-%H:
# each rotation of an hourly rotated log was a site of its own, "web.access.log-20261206091031":
# a trial)
_HMS = r"(?:[01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d)?)?"
_DATE_STAMP = re.compile(rf"[._-]?(?<!\d)(?P<date>(?:19|20)\d\d{_MM}{_DD}(?:{_HMS})?"
                         rf"|(?:19|20)\d\d-{_MM}-{_DD}(?:[-_T]{_HMS})?"
                         rf"|(?P<short>\d\d{_MM}{_DD}(?:[01]\d|2[0-3])?))(?!\d)")
# (YYMMDDHH: IIS's hourly u_ex26120608.log was a site an hour, "u_ex26120608": a review)
# What is left of an IIS name without its date (u_ex, u_in, u_nc, ex, in, nc, u_ex_x for custom
# fields): the folder names the site
_CONTAINER_DIR = re.compile(r"[0-9a-f]{64}\Z")  # Docker's folder of one container
_CONTAINER_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_IIS_SITE_DIR = re.compile(r"W3SVC\d+\Z", re.IGNORECASE)  # IIS's folder of one site's logs
_IIS_PREFIX = re.compile(r"(?:u_)?(?:ex|in|nc)(?:_x)?\Z", re.IGNORECASE)


@dataclass(frozen=True)
class SourceFile:
    """One log file of a site: its rotation index (0 = live file) and compression."""

    path: str
    site: str
    rotation: int = 0  # 0 for the live file, N for .N / .N.gz, a large number for dated files
    compressed: str | None = None  # None, "gz", "bz2" or "xz"
    date_key: str = ""  # the date suffix of dated rotations (access.log-20261120)
    passive: bool = False  # a rotation of a file named alone, listed only to follow that file:
    # read only where it holds content already counted (the file itself, renamed; its copy)

    @property
    def display_name(self) -> str:
        return safe_name(self.path)


@dataclass
class Discovery:
    """Sites -> files oldest first, what was skipped with the reason, and what was ignored."""

    sites: dict[str, list[SourceFile]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # error logs, and files of a
    # directory not named like a log: not read by design, not a problem (exit code 0)
    unnamed: list[str] = field(default_factory=list)  # files --vhost-from-filename did not
    # name (named as without it: a typo in the regex had gone unsaid)


def _vhost_of(name: str, vhost_rx: re.Pattern[str]) -> str:
    """The site --vhost-from-filename's group names in a file's name ("" where none)."""
    m = vhost_rx.search(name)
    return m.group(1) if m and m.groups() and m.group(1) else ""


_DOCKER_LOG = re.compile(r"(?P<id>[0-9a-f]{64})-json\.log\Z")  # Docker's json-file driver's
_K8S_LOG = re.compile(r"(?P<pod>[^_/]+)_(?P<ns>[^_/]+)_(?P<container>[^/]+)-[0-9a-f]{64}\.log\Z")
# a Deployment's pod: its ReplicaSet's hash and its own suffix; a DaemonSet's or a Job's: its
# own (a StatefulSet's `-0` stays: that pod is the same one after a restart)
_POD_SUFFIX = re.compile(r"(?:-[bcdfghjklmnpqrstvwxz2-9]{6,10})?-[bcdfghjklmnpqrstvwxz2-9]{5}\Z")
CONTAINER_CONFIG_MAX = 4 << 20
CONTAINER_NAME_MAX = 128  # bytes of a container's config.v2.json read for its name


def _container_name(folder: Path, cid: str) -> str:
    """A container's name (`docker run --name web`: "web"), from the runtime's config beside
    its log; its short id (as `docker ps` shows it) where that cannot be read."""
    path = folder / "config.v2.json"
    try:  # a regular file only (a FIFO there held `counts` for ever at its open: a trial)
        name = None
        if stat.S_ISREG(path.lstat().st_mode):
            with open(path, "rb") as f:
                name = json.loads(f.read(CONTAINER_CONFIG_MAX)).get("Name")
    except (OSError, ValueError, AttributeError, RecursionError):
        name = None
    name = name.strip("/") if isinstance(name, str) else ""
    if len(name) > CONTAINER_NAME_MAX:  # (Docker's own are short: a 10,000-character one
        name = name[:CONTAINER_NAME_MAX - 1] + "…"  # filled the site picker, a trial)
    return name or cid[:12]


def _site_of(path: Path, stem: str, vhost_rx: re.Pattern[str] | None) -> str:
    named = _vhost_of(path.name, vhost_rx) if vhost_rx is not None else ""
    if named:
        return named
    docker = _DOCKER_LOG.match(stem)
    if docker is not None:  # /var/lib/docker/containers/<id>/<id>-json.log: a site a container
        return _container_name(path.parent, docker.group("id"))
    pod = _K8S_LOG.match(stem)
    if pod is not None:  # /var/log/containers/<pod>_<namespace>_<container>-<id>.log: named
        # without the ids a restart changes (the container's, the pod's own suffixes): each
        # restart had been a site of its own, named with 64 hex digits (a trial)
        workload = _POD_SUFFIX.sub("", pod.group("pod"))
        return f"{workload}_{pod.group('ns')}_{pod.group('container')}"
    base = stem[:-4]  # drop ".log"
    for suffix in (".access", "_access", "-access", "access"):
        if base.endswith(suffix):
            base = base[: -len(suffix)].rstrip("._-")
            break
    if _IIS_PREFIX.match(base):
        base = ""
    return base or path.parent.resolve().name or "default"


def _undated(name: str) -> tuple[str, str]:
    """The name without its date stamp (if it holds one) and the stamp as digits (YYYYMMDD...).
    A container's id (64 hex digits) holds none: 1.9 % of ids have a run of digits that reads
    as a date (…cea070514eb…: 2007-05-14), cut out, the container's log named after the rest
    (a trial)."""
    if _CONTAINER_ID.search(name):
        return name, ""
    m = None
    for m in _DATE_STAMP.finditer(name):
        pass  # the last stamp: rotations append theirs
    if m is None:
        return name, ""
    digits = re.sub(r"[-_T]", "", m.group("date"))
    if m.group("short"):  # YYMMDD[HH]
        digits = "20" + digits
    return name[:m.start()] + name[m.end():], digits


def classify(path: Path, vhost_rx: re.Pattern[str] | None = None) -> SourceFile | str:
    """A SourceFile, or the reason the path is not read."""
    name = path.name
    try:
        st = path.stat()
    except FileNotFoundError:
        return DANGLING if path.is_symlink() else "no such file"
    except OSError as exc:
        return f"cannot stat: {exc.strerror}"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISFIFO(st.st_mode) and str(path).startswith(("/dev/fd/", "/proc/self/fd/")):
        # `counts <(zcat ...)` said "FIFO, device or socket", and nothing of what reads it
        return "not a regular file (the shell's <(...), a pipe: give it on stdin, as -)"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (FIFO, device or socket)"
    if os.path.realpath(path).startswith(PSEUDO_FS):  # its size is 0 whatever it holds: a
        # link to /proc/self/status was followed as truncated at each read (a security trial)
        return "a /proc or /sys file, not a log"
    if not os.access(path, os.R_OK):
        if not os.path.exists(path):  # renamed or deleted since its stat (logrotate at
            # work): "permission denied" sent a review after a problem that was not there
            return "no such file"
        return "permission denied: run as a user that can read it (e.g. in group adm)"
    if _ERROR_LOG.search(name):
        return ERROR_LOG
    kind = next((k for ext, k in _UNREAD_COMPRESSION.items() if name.lower().endswith(ext)), None)
    if kind is not None:  # said so: it "looked binary" (a trial, logrotate with compresscmd xz)
        return (f"compressed with {kind}, which is not read (only .gz, .bz2 and .xz are): "
                f"decompress it, or have logrotate compress with gzip or xz")
    return _named(path, vhost_rx)


def _named(path: Path, vhost_rx: re.Pattern[str] | None) -> SourceFile:
    """What a log's name says: its site, rotation, compression and date (the file unread)."""
    name = path.name
    comp = None
    for ext, kind in _COMPRESSED.items():
        if name.endswith(ext):
            name, comp = name[: -len(ext)], kind
    backup = _BACKUP.search(name)
    if backup is not None and backup.start() > 0:
        name = name[:backup.start()]
    else:
        backup = None
    name, date = _undated(name)
    m = _ROTATION.match(name)
    cut = name.lower().rfind(".log.")
    if m is None and cut > 0 and _kept_copy(path, name[:cut + 4], name[cut + 5:]):
        # access.log.keep, access.log.dpkg-bak, access.log.1.gz.bak, access.log.1.tmpcopy
        # beside access.log: a copy kept by hand under a name of its own. Each was a site of
        # its own ("access.log.keep"), every request counted again in all sites' total and the
        # agent's (a trial: 1,800 lines counted of 300); a file of the log's site, older than
        # its rotations, it is read once (drop_copies)
        stem, backup = name[:cut + 4], backup or True
    elif m is None:
        stem, rotation = name, 0
    else:
        stem = m.group("stem")
        rotation = int(m.group("num")) if m.group("num") else 0
        date = date or m.group("date") or ""
    if backup is not None:  # older than the rotations, whatever it was a copy of
        rotation, date = BACKUP_ROTATION, ""
    site = _site_of(path, stem if stem.endswith(".log") else stem + ".log", vhost_rx)
    return SourceFile(str(path), site, rotation, comp, date)


# NAME.log.EXT is a log of its own in these formats (caddy.log.json written live), not a copy
_LOG_FORMAT_EXT = frozenset({"json", "ndjson", "jsonl", "csv", "tsv", "txt", "log"})


def _kept_copy(path: Path, log: str, rest: str) -> bool:
    """Whether a file NAME.log.REST (`log`: NAME.log) is a copy of NAME.log kept by hand: the
    log or its first rotation is beside it, and REST names no format of a log of its own. A
    live `shop.log.json` with no shop.log was taken for a copy and, empty at the start, never
    read (a review)."""
    if rest.split(".", 1)[0].lower() in _LOG_FORMAT_EXT:
        return False
    return any((path.parent / f"{log}{x}").is_file() for x in ("", ".1", ".1.gz", "-1"))


# What logrotate makes of a file's name: NAME.1, NAME.2.gz, NAME-20261205, NAME.2026-12-05.bz2
_ROTATED_SUFFIX = re.compile(r"(?:\.(?P<num>\d+)|[.-](?P<date>\d{8,14}|\d{4}-\d\d-\d\d"
                             r"(?:[-_T]\d\d(?:-?\d\d){0,2})?))?"
                             r"(?P<comp>\.gz|\.bz2|\.xz)?\Z")


def rotations_of(path: Path, site: str) -> list[SourceFile]:
    """The rotations beside a file named alone (`access.log.1`, `access.log.2.gz`,
    `access.log-20261205`), as passive SourceFiles of its site: a follower of that file looks
    for it there once renamed (the server's late writes, a restart after a rotation) and for
    copytruncate's copy of it, and reads none of them for content it did not count."""
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    out = []
    for name in sorted(names):
        if not name.startswith(path.name) or name == path.name:
            continue
        m = _ROTATED_SUFFIX.match(name, len(path.name))
        if m is None:
            continue
        p = path.parent / name
        try:
            if not stat.S_ISREG(os.stat(p).st_mode):
                continue
        except OSError:
            continue
        date = re.sub(r"[-_T]", "", m.group("date") or "")
        out.append(SourceFile(str(p), site, int(m.group("num") or 0) or (0 if date else 1),
                              _COMPRESSED.get(m.group("comp") or ""), date, passive=True))
    return out


def iis_site_dirs(folder: str) -> list[str]:
    """The W3SVCn folders (IIS's, a site's logs each) in `folder`; [] where it cannot be listed."""
    try:
        return [e.path for e in os.scandir(folder)
                if _IIS_SITE_DIR.match(e.name) and e.is_dir()]
    except OSError:
        return []


def _expand(arg: str, skipped: list[tuple[str, str]] | None = None) -> tuple[list[Path], bool]:
    if arg == "-":
        return [Path("-")], True
    p = Path(arg)
    if p.is_dir():  # links after files: a link to a file of the folder is that file, named as
        # it is (link.access.log -> web.access.log had named the site "link", in a trial)
        found = sorted(p.iterdir(), key=lambda x: (x.is_symlink(), x.name))
        # IIS's LogFiles folder: a folder per site, W3SVC1, W3SVC2..., each of its days. Given
        # the folder of those, they are read (it was "no access log yet; watching for one",
        # files 0: a trial); each is its site, by name
        # Docker's containers folder: a folder per container, named by its id, its log in it
        # (`trafficwatch /var/lib/docker/containers/` said "no file in it, only
        # subdirectories": a trial)
        for sub in [x for x in found if (_IIS_SITE_DIR.match(x.name) or _CONTAINER_DIR.match(
                x.name)) and x.is_dir()]:
            try:
                found += sorted(sub.iterdir(), key=lambda x: (x.is_symlink(), x.name))
            except OSError as exc:  # that site's folder alone (it was the whole folder: a review)
                if skipped is not None:
                    why = f"directory cannot be listed: {exc.strerror or exc}"
                    skipped.append((safe_name(sub), why))
        return found, False
    if any(c in arg for c in "*?["):
        hits = [Path(x) for x in sorted(glob.glob(arg))]
        if hits and all(x.is_dir() for x in hits):  # 'containers/*/', quoted: each folder
            # read as the shell's expansion of it is (it was "nothing to read: ...: directory")
            return [f for x in hits for f in _expand(str(x), skipped)[0]], False
        return hits, True
    return [p], True


SAME_FILE_AS = "the same file as {} (a hard link): its lines are counted once, from there"


def _linked(p: Path, inodes: dict[tuple[int, int], str]) -> str | None:
    """The path of a regular file listed before that `p` is a hard link of (the same device
    and inode), else None; `p` is remembered when it is a regular file."""
    try:
        st = os.stat(p)
    except OSError:
        return None  # classify says why
    if not stat.S_ISREG(st.st_mode):
        return None
    key = (st.st_dev, st.st_ino)
    if key in inodes:
        return inodes[key]
    inodes[key] = str(p)
    return None


def discover(paths: list[str], vhost_from_filename: str | None = None,
             rotations: bool = False) -> Discovery:
    """Every readable access log under `paths`, per site, oldest rotation first. With
    `rotations` (a follower), a file named alone (not a glob) brings its rotations beside it, as
    passive files (`rotations_of`); missing, it is not skipped when any of them is there (it is
    being rotated: renamed, and not yet created again)."""
    rx = re.compile(vhost_from_filename) if vhost_from_filename else None
    out = Discovery()
    seen: set[str] = set()
    inodes: dict[tuple[int, int], str] = {}  # (st_dev, st_ino) of each file listed: its path
    passive: list[SourceFile] = []
    for arg in paths:
        try:
            found, explicit = _expand(arg, out.skipped)
        except PermissionError:
            why = ("directory cannot be listed: permission denied: run as a user that can read "
                   "it (e.g. in group adm)")
            out.skipped.append((safe_name(arg), why))
            continue
        except OSError as exc:  # an I/O error, a directory gone while listed
            out.skipped.append((safe_name(arg), f"directory cannot be listed: {exc.strerror}"))
            continue
        if not found:
            why = EMPTY_DIR if Path(arg).is_dir() else "no file matches"
            out.skipped.append((safe_name(arg), why))
        globbed = any(c in arg for c in "*?[")
        before = (sum(map(len, out.sites.values())), len(out.skipped), len(out.ignored))
        dangling = 0  # a directory's links to files not there (yet: a volume not mounted)
        again = 0  # files an earlier path already gave (a.log a.log, a dir and a file in it)
        for p in found:
            if str(p) == "-":
                out.sites.setdefault("stdin", []).append(SourceFile("-", "stdin"))
                continue
            key = os.path.realpath(p)
            if key in seen:
                again += 1
                continue
            seen.add(key)
            same = _linked(p, inodes)
            if same is not None:  # a hard link to a file already listed: counted twice, as
                # two sites, where a symlink was read once (a trial)
                out.ignored.append((safe_name(p), SAME_FILE_AS.format(safe_name(same))))
                again += 1
                continue
            if (not explicit or globbed) and _TEMPORARY.search(p.name):
                out.ignored.append((safe_name(p), TEMPORARY))
                continue
            res = classify(p, rx)
            if rotations and explicit and not globbed:
                near = rotations_of(p, _named(p, rx).site)
                passive += near
                if near and res == "no such file":
                    again += 1  # being rotated: not a fault
                    continue
            if res == ERROR_LOG:
                out.ignored.append((safe_name(p), res))
                continue
            if isinstance(res, str):
                if res == "no such file" and not explicit:  # listed, then gone before its
                    # stat: a rotation deleted it ("skipped ....8.gz: no such file", a trial,
                    # of a file whose lines had been counted). Not a file that was not read
                    again += 1
                    continue
                if explicit or res not in ("directory",):
                    out.skipped.append((safe_name(p), res))
                    dangling += res == DANGLING and not explicit
                continue
            low = p.name.lower()
            if not explicit and "log" not in low and "access" not in low and \
                    not AWS_LOG_NAME.fullmatch(p.name):
                # a README or a script beside the logs: not read by design, as error logs are;
                # Docker's own files beside a container's log (config.v2.json, hostname...)
                # not even said: a line for each of each container's (a trial)
                if not _CONTAINER_DIR.match(p.parent.name):
                    out.ignored.append((safe_name(p), NOT_NAMED_LIKE_A_LOG))
                continue
            if rx is not None and not _vhost_of(p.name, rx):
                out.unnamed.append(safe_name(p))
            out.sites.setdefault(res.site, []).append(res)
        after = (sum(map(len, out.sites.values())), len(out.skipped), len(out.ignored))
        if again == len(found):  # all given before (a.log a.log): read once, no fault
            pass
        elif found and after == before:  # only subdirectories (not read): not in silence
            out.skipped.append((safe_name(arg), NO_FILE_IN_DIR))
        elif found and not explicit and after[0] == before[0] and \
                after[1] - before[1] == dangling:  # files, none read by design (or links to
            # none yet): awaiting its log. A directory of one dangling link had ended the
            # agent (2), under systemd a restart loop, where an empty one is watched (a trial)
            out.skipped.append((safe_name(arg), NO_LOG_IN_DIR))
    for f in passive:  # after every path given: a rotation also named is read as named
        key = os.path.realpath(f.path)
        if key not in seen and _linked(Path(f.path), inodes) is None:
            seen.add(key)
            out.sites.setdefault(f.site, []).append(f)
    for files in out.sites.values():
        # Oldest first: numbered rotations by number descending, dated ones by date, live last.
        files.sort(key=lambda f: (f.rotation == 0 and not f.date_key, -f.rotation, f.date_key))
    return out


HEAD_BYTES = 1024  # of decompressed content: files whose heads differ are no copies
COPY_OF = "a copy of {}: its lines are counted once, from there"  # reason a copy is not read
EDITED_FROM = ("kept beside {}, which opens as it does (an edit's backup: sed -i.bak, vim): its "
               "lines are counted from there, as edited")  # a kept copy of a log, not read


def _content(path: str, limit: int | None = None) -> tuple[int, str]:
    """(length, digest) of a file's decompressed content, or of its first `limit` bytes."""
    import hashlib

    h, n = hashlib.blake2b(digest_size=16), 0
    with open_stream(path) as s:
        while limit is None or n < limit:
            chunk = s.read(1 << 20 if limit is None else min(1 << 20, limit - n))
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
    return n, h.hexdigest()


def _head(path: str) -> bytes:
    """The first HEAD_BYTES of a file's decompressed content."""
    with open_stream(path) as s:
        return s.read(HEAD_BYTES)


def _edited_from(head: bytes, kept: bytes) -> bool:
    """Whether a log whose first bytes are `head` is an edit of the kept copy whose first bytes
    are `kept`: of its first 3 lines (records: no header), 2 are whole lines of the copy's
    first KiB (or its only one is), lines taken out before or among them: `sed -i.bak 1d` was
    counted 199 of 99, the .bak read as a log (a recheck). Not one line alone: logs that all
    open with one line (a banner written at each rotation) had an older one left out (a
    review: 100 of 200). Not by times: an older log kept so may open at the same second
    (every line rewritten is read twice by `counts`; followed, it is told)."""
    lines, start = [], 0
    while len(lines) < 3 and (nl := head.find(b"\n", start)) >= 0:
        line = head[start:nl + 1]
        start = nl + 1
        if line.strip() and not line.startswith(b"#"):
            lines.append(line)
    if not lines:
        return False
    found = sum(kept.startswith(line) or b"\n" + line in kept for line in lines)
    return found >= min(2, len(lines))


def drop_copies(found: Discovery) -> None:
    """Leave out of `found.sites` every file whose content is all or the start of another file
    of the same site (`gzip -c access.log > access.log.gz`, or both access.log.1 and
    access.log.1.gz half-way through logrotate): read, it would count the same requests twice.
    They go to `found.ignored`, naming the file kept. Only files sharing their first KiB of
    content are compared (rotations of different days never do), and a file shorter than that
    with each longer one (`head -5 access.log.1 | gzip > x.gz` was read: its 5 lines counted
    twice, a trial)."""
    for site, files in found.sites.items():
        heads: dict[str, list[SourceFile]] = {}
        sizes: dict[str, int] = {}  # path -> bytes of its head (HEAD_BYTES, or all it holds)
        for f in files:
            if f.path == "-":
                continue
            try:
                sizes[f.path], head = _content(f.path, HEAD_BYTES)
            except OSError:
                continue  # reading it will say why
            if sizes[f.path]:  # (an empty file is said empty, no copy of another empty one:
                heads.setdefault(head, []).append(f)  # .1 was "a copy of" its empty log)
        drop: set[str] = set()
        for group in heads.values():
            if len(group) < 2:
                continue
            try:
                whole = {f.path: _content(f.path) for f in group}
            except OSError:
                continue
            # longest first; of equal ones the plain file, the live one, stays (it is the original)
            # (a kept copy last: the log edited from it, shorter, is no copy of it)
            order = sorted(group, key=lambda f: (f.rotation == BACKUP_ROTATION, -whole[f.path][0],
                                                 f.compressed is not None, f.rotation, f.path))
            kept: list[SourceFile] = []
            for f in order:
                n, d = whole[f.path]
                twin = next((k for k in kept if whole[k.path][0] == n and whole[k.path][1] == d
                             or whole[k.path][0] > n and _content(k.path, n) == (n, d)), None)
                live = next((k for k in group if k.rotation != BACKUP_ROTATION), None)
                if twin is None and f.rotation == BACKUP_ROTATION and live is not None:
                    # access.log.bak beside the access.log edited from it: both read, every
                    # line the edit kept was counted twice (an SSH trial: 328 of 180)
                    drop.add(f.path)
                    found.ignored.append((safe_name(f.path),
                                          EDITED_FROM.format(safe_name(live.path))))
                elif twin is None:
                    kept.append(f)
                else:
                    drop.add(f.path)
                    found.ignored.append((safe_name(f.path), COPY_OF.format(safe_name(twin.path))))
        live = [f for f in files if f.rotation != BACKUP_ROTATION and f.path in sizes
                and f.path not in drop]
        for f in files:  # a kept copy opening with the first line of a log of the site, the
            # edit having changed its first KiB (sed -i.bak of its 4th line): as above
            if f.rotation != BACKUP_ROTATION or f.path in drop or f.path not in sizes:
                continue
            try:
                mine = _head(f.path)
                other = next((k for k in live if _edited_from(_head(k.path), mine)), None)
            except OSError:
                continue
            if other is not None:
                drop.add(f.path)
                found.ignored.append((safe_name(f.path), EDITED_FROM.format(safe_name(other.path))))
        for f in files:  # a short file (not empty: that is the start of any) that is the
            # start of a longer one
            n = sizes.get(f.path, 0)
            if f.path in drop or not 0 < n < HEAD_BYTES:
                continue
            try:
                head = _content(f.path, n)
                twin = next((k for k in files if sizes.get(k.path, 0) > n and k.path not in drop
                             and _content(k.path, n) == head), None)
            except OSError:
                continue
            if twin is not None:
                drop.add(f.path)
                found.ignored.append((safe_name(f.path), COPY_OF.format(safe_name(twin.path))))
        if drop:
            found.sites[site] = [f for f in files if f.path not in drop]
