"""Randomised fault test of the follower: every line written is counted once, under its site.

Each sequence is a seeded random run of operations on two sites' logs in a fresh directory:
append, rename rotation, copytruncate (the copy seen before the truncation or not, lines written
between copy and truncation), compression of a rotated copy (the archive seen before the plain
copy is removed or not), delete and recreate, truncation, deletion of an old rotation, reading
passes (with a directory listing, as inotify gives, or without, as a poll between rescans), a
copy kept by hand (`cp site.log site.log.bak`, over the last one) and
kill -9 (the follower dropped without its final save, mid-pass or between passes, and restarted
from the last committed state, at once or after more operations). The follower is driven through
its public API as LiveFeed drives it: a commit when `on_gone` says a file read from went away,
and every few passes.

A model of the files (which line is in which file) says what must be counted at the end: every
line once, under its own site. The exceptions are counted and reported, not failed: lines
destroyed (deleted, truncated, overwritten) before any follower read them, lines read by a
follower that was killed before it could see that their file had gone, and lines whose only
copy was destroyed while no follower ran and whose reading had not been committed.

    python bench/follow_chaos.py --sequences 2000 [--seed 1] [--steps 60]
"""
from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from trafficwatch.counting.state import State, StateStore
from trafficwatch.logs.follow import FileKey, Follower

SITES = ("a.example", "b.example")
KEEP = 4  # rotations kept per site: the oldest is deleted when the others shift


class Killed(Exception):
    """The follower process died here (kill -9 mid-pass)."""


@dataclass
class Result:
    """What one or many sequences found."""

    sequences: int = 0
    written: int = 0
    counted: int = 0
    lost: int = 0  # not counted, though some follower could have read it and kept it
    doubled: int = 0  # counted more than once
    misattributed: int = 0  # counted under another site
    garbled: int = 0  # pieces of lines delivered as lines
    unread: int = 0  # destroyed before any follower read it (excused)
    kill_window: int = 0  # read, file gone, killed before the follower saw it gone (excused)
    while_down: int = 0  # read but not committed, destroyed while no follower ran (excused)
    kills: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: Result) -> None:
        for name in ("sequences", "written", "counted", "lost", "doubled", "misattributed", "garbled",
                     "unread", "kill_window", "while_down", "kills"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.misattributed or self.garbled)


class Sequence:
    """One random run: the files on disk, the model of their lines, and the follower."""

    def __init__(self, root: Path, seed: int, savelog: bool = False) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.savelog = savelog  # rotations named as Debian's savelog names them (.0, .1.gz)
        self.dir = root / "logs"
        self.dir.mkdir()
        self.store = StateStore(root / "state.json")
        self.files: dict[str, list[int]] = {}  # name -> line ids, in order (the model)
        self.site_of: list[str] = []  # line id -> site
        self.counted: Counter[int] = Counter()  # by the running follower (restored + read)
        self.saved: Counter[int] = Counter()  # as last committed
        self.wrong_site: Counter[int] = Counter()
        self.garbled = 0
        self.excused: dict[int, str] = {}
        self.at_risk: set[int] = set()  # read, not committed, destroyed: the next pass commits
        self.uncommitted: set[int] = set()  # read by the follower killed last, not committed
        self.follower: Follower | None = None
        self.kill_after = -1  # deliveries left before a kill -9 mid-pass (-1: none due)
        self.kills = 0
        self.log: list[str] = []
        self.start()

    # -- the follower, as LiveFeed drives it -----------------------------------------------
    def start(self) -> None:
        st = self.store.load()
        self.counted = Counter(self.saved)
        self.follower = Follower([str(self.dir)], self.on_data, poll=True, settle=0,
                                 resume=st.files if st else None, on_gone=self.commit)

    def on_data(self, key: FileKey, chunk: bytes) -> None:
        for line in chunk.split(b"\n")[:-1]:
            if self.kill_after == 0:
                raise Killed
            self.kill_after -= 1 if self.kill_after > 0 else 0
            parts = line.split(b" ", 2)
            if len(parts) < 3 or parts[0].decode() not in SITES or not parts[1].isdigit():
                self.garbled += 1  # a piece of a line: read from the middle of one
                continue
            site, ident = parts[0], parts[1]
            self.counted[int(ident)] += 1
            if key.site != site.decode():
                self.wrong_site[int(ident)] += 1

    def commit(self) -> None:
        f = self.follower
        with f.lock:
            state = State([str(self.dir)], f.offsets(), {"lines": sum(self.counted.values())})
            self.saved = Counter(self.counted)
        self.store.commit(state)

    def tick(self, scan: bool = True) -> None:
        """A reading pass (with a listing of the directory, as an inotify event brings)."""
        if self.follower is None:
            return
        try:
            if scan:
                self.follower.request_scan()
            while self.follower.check_now():
                pass
        except Killed:
            self.kill()
            return
        if scan:
            self.at_risk.clear()  # the follower saw them gone: committed (or a bug: lost)
        if self.rng.random() < 0.2:
            self.commit()  # the periodic commit

    def kill(self) -> None:
        """kill -9: no final save; the OS closes its files."""
        self.kills += 1
        self.follower.stop()
        self.follower = None
        self.kill_after = -1
        for i in self.at_risk:
            self.excused.setdefault(i, "kill_window")
        self.at_risk.clear()
        self.uncommitted = {i for i, n in self.counted.items() if n > self.saved[i]}
        self.counted = Counter(self.saved)

    # -- the files, and what the model knows of them ----------------------------------------
    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, n: int) -> None:
        site = name.split(".log", 1)[0]
        ids = list(range(len(self.site_of), len(self.site_of) + n))
        self.site_of += [site] * n
        pad = self.rng.randrange(0, 60)
        with open(self.path(name), "ab") as h:
            h.write(b"".join(b"%s %d %s\n" % (site.encode(), i, b"x" * ((i * 7 + pad) % 90))
                             for i in ids))
        self.files.setdefault(name, []).extend(ids)

    def destroy(self, ids: list[int]) -> None:
        """These lines left some file: those with no copy left are gone for good."""
        left = {i for lines in self.files.values() for i in lines}
        for i in ids:
            if i in left or self.saved[i]:
                continue
            if self.follower is None:
                self.excused.setdefault(i, "while_down" if i in self.uncommitted else "unread")
            elif self.counted[i]:
                self.at_risk.add(i)
            else:
                self.excused.setdefault(i, "unread")

    def remove(self, name: str) -> None:
        os.unlink(self.path(name))
        self.destroy(self.files.pop(name))

    def rotations(self, site: str) -> list[tuple[int, str]]:
        out = []
        for name in self.files:
            rest = name[len(site) + len(".log."):]
            if name.startswith(site + ".log.") and rest.split(".")[0].isdigit():
                out.append((int(rest.split(".")[0]), name))
        return sorted(out)

    def shift(self, site: str) -> None:
        """logrotate's shift: .N -> .N+1 (archives too), the oldest deleted."""
        for n, name in reversed(self.rotations(site)):
            if n >= KEEP:
                self.remove(name)
                continue
            new = name.replace(f".log.{n}", f".log.{n + 1}", 1)
            os.rename(self.path(name), self.path(new))
            self.files[new] = self.files.pop(name)

    # -- the operations ---------------------------------------------------------------------
    def op_append(self, site: str) -> None:
        self.write(f"{site}.log", self.rng.randrange(1, 30))

    def op_rename(self, site: str) -> None:
        live = f"{site}.log"
        if live not in self.files:
            return
        self.shift(site)
        first = f"{live}.1"
        if self.savelog:  # savelog: .0 is the newest rotation, kept plain; the one before it
            # (shifted to .1) compressed now
            if first in self.files:
                if self.rng.random() < 0.3:
                    self.tick()  # seen as .1 before it is compressed
                self.compress(first)
            first = f"{live}.0"
        os.rename(self.path(live), self.path(first))
        self.files[first] = self.files.pop(live)
        if self.rng.random() < 0.5:
            self.write(first, self.rng.randrange(1, 5))  # the server's last lines there
        if self.rng.random() < 0.7:
            self.write(live, self.rng.randrange(1, 10))

    def op_copytruncate(self, site: str) -> None:
        live = f"{site}.log"
        if live not in self.files:
            return
        self.shift(site)
        first = f"{live}.1"
        if self.savelog:
            if first in self.files:
                self.compress(first)
            first = f"{live}.0"
        shutil.copyfile(self.path(live), self.path(first))
        self.files[first] = list(self.files[live])
        if self.rng.random() < 0.3:
            self.tick()  # the copy seen before the original is truncated
        if self.rng.random() < 0.3:
            self.write(live, self.rng.randrange(1, 5))  # written between copy and truncation
            if self.rng.random() < 0.5:
                self.tick()
        os.truncate(self.path(live), 0)
        gone, self.files[live] = self.files[live], []
        self.destroy(gone)

    def op_compress(self, site: str) -> None:
        plain = [name for n, name in self.rotations(site)
                 if not name.endswith(".gz") and not (self.savelog and n == 0)]
        if not plain:
            return
        self.compress(self.rng.choice(plain))

    def compress(self, name: str) -> None:
        """gzip NAME: the archive written, maybe a pass, then the plain copy removed."""
        with open(self.path(name), "rb") as src, gzip.open(self.path(name + ".gz"), "wb") as gz:
            gz.write(src.read())
        self.files[name + ".gz"] = list(self.files[name])
        if self.rng.random() < 0.4:
            self.tick()  # the archive seen while the plain copy is still there
        self.remove(name)

    def op_recreate(self, site: str) -> None:
        live = f"{site}.log"
        if live in self.files:
            self.remove(live)
        if self.rng.random() < 0.3:
            self.tick()
        self.write(live, self.rng.randrange(1, 20))

    def op_truncate(self, site: str) -> None:
        live = f"{site}.log"
        if live in self.files:
            os.truncate(self.path(live), 0)
            gone, self.files[live] = self.files[live], []
            self.destroy(gone)

    def op_drop_old(self, site: str) -> None:
        old = self.rotations(site)
        if old:
            self.remove(old[-1][1])

    def op_keep_copy(self, site: str) -> None:
        """`cp site.log site.log.bak` by hand: a copy kept beside the log (over the last one)."""
        live, bak = f"{site}.log", f"{site}.log.bak"
        if live not in self.files:
            return
        old = self.files.get(bak, [])
        shutil.copyfile(self.path(live), self.path(bak))  # in place: the same inode, rewritten
        self.files[bak] = list(self.files[live])
        self.destroy(old)

    def op_kill(self, site: str) -> None:
        if self.follower is None:
            return
        if self.rng.random() < 0.5:
            self.kill_after = self.rng.randrange(0, 40)  # during the next pass
        else:
            self.kill()

    def op_restart(self, site: str) -> None:
        if self.follower is None:
            self.start()

    OPS = (("append", 30), ("tick", 25), ("lazy", 6), ("rename", 6), ("copytruncate", 6),
           ("compress", 6), ("recreate", 3), ("truncate", 2), ("drop_old", 2), ("kill", 6),
           ("restart", 8), ("keep_copy", 3))

    def run(self, steps: int) -> Result:
        names, weights = zip(*self.OPS)
        for _ in range(steps):
            op = self.rng.choices(names, weights)[0]
            site = self.rng.choice(SITES)
            self.log.append(f"{op} {site}")
            if op == "tick":
                self.tick()
            elif op == "lazy":
                self.tick(scan=False)
            else:
                getattr(self, f"op_{op}")(site)
        if self.follower is None:
            self.start()
        for _ in range(3):
            self.kill_after = -1
            self.tick()
        self.commit()
        self.follower.stop()
        return self.judge()

    def judge(self) -> Result:
        r = Result(sequences=1, written=len(self.site_of), counted=sum(self.saved.values()),
                   kills=self.kills, garbled=self.garbled)
        for i in range(len(self.site_of)):
            n = self.saved[i]
            r.doubled += max(0, n - 1)
            r.misattributed += self.wrong_site[i] and n > 0
            if n == 0:
                why = self.excused.get(i)
                if why is None:
                    r.lost += 1
                else:
                    setattr(r, why, getattr(r, why) + 1)
        if not r.ok:
            r.failures.append(f"seed {self.seed}: lost {r.lost}, doubled {r.doubled}, "
                              f"misattributed {r.misattributed}, garbled {r.garbled}; "
                              f"ops: {' | '.join(self.log)}")
        return r


def run(sequences: int, seed: int = 0, steps: int = 40, savelog: bool = False) -> Result:
    """`sequences` seeded random sequences of `steps` operations each; what they found.
    `savelog`: rotations named .0 (plain), .1.gz, .2.gz ..., as savelog names them."""
    total = Result()
    for k in range(sequences):
        with tempfile.TemporaryDirectory(prefix="tw-chaos-") as tmp:
            total.add(Sequence(Path(tmp), seed * 1_000_003 + k, savelog).run(steps))
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sequences", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--savelog", action="store_true",
                    help="rotate as Debian's savelog does: the newest rotation .0, kept plain")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    r = run(args.sequences, args.seed, args.steps, args.savelog)
    print(f"{r.sequences} sequences ({args.steps} steps, seed {args.seed}) in "
          f"{time.perf_counter() - t0:.1f} s: {r.written} lines written, {r.counted} counted, "
          f"{r.kills} kills; lost {r.lost}, doubled {r.doubled}, misattributed "
          f"{r.misattributed}, garbled {r.garbled}; excused: destroyed unread {r.unread}, in a kill window "
          f"{r.kill_window}, while down {r.while_down}")
    for line in r.failures[:10]:
        print(line[:2000])
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
