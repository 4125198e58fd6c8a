"""One way out: SIGTERM, SIGHUP and SIGINT start the same shutdown, and a watchdog ends the process
within GRACE_S seconds of the signal even when something hangs (a stuck thread, a dead terminal).

The signal only writes a byte to a pipe (the wakeup fd, and the Python handler, which runs in the
main thread between any two bytecodes, where taking a lock, an Event's or a Queue's, can deadlock
with the code it interrupted). A daemon thread reads the pipe and does the work: it arms the
watchdog, sets `event` and runs the stop callbacks (save state, end child processes, quit the
UI) in order.

The watchdog has two stages: a thread that restores the terminal and exits shortly before the
deadline, and the kernel's interval timer (SIGALRM, default action) at the deadline, which needs
no Python at all: a thread holding the GIL in C code (a torch import, a training step) cannot
keep the process alive past it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import ClassVar, NoReturn

from trafficwatch.files import remove_own, writing_now
from trafficwatch.logs.follow import FD_HEADROOM, fd_limit

GRACE_S = 2.0  # from the signal to the end of the process, whatever hangs
SOFT_MARGIN_S = 0.3  # the watchdog thread exits this long before the kernel's timer would
WRITE_GRACE_S = 30.0  # past GRACE_S, a state still being written is waited for this long in
# all: an agent of 450 sites was killed saving its 5 MB state (status 143, the state of the
# exit lost, a half-written temporary left; a trial)
WRITE_STEP_S = 0.5
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
log = logging.getLogger(__name__)


def nohup(sig: int) -> bool:
    """A hangup this process was started to ignore (nohup, a shell's `trap '' HUP`): it was
    asked to outlive the terminal, and it does, as any command started so (a handler put over
    the ignore ended an agent with the SSH session it was started from: a trial)."""
    return sig == signal.SIGHUP and signal.getsignal(sig) is signal.SIG_IGN


class Shutdown:
    """Set once by a signal or `request()`; then callbacks in a thread, and a watchdog."""

    def __init__(self, grace: float | None = GRACE_S) -> None:
        self.event = threading.Event()
        self.signum = 0  # the signal that started it (0: asked for, e.g. q in the app)
        self.grace = grace  # None: no watchdog (a caller that ends the process itself)
        self._callbacks: list[Callable[[], object]] = []
        self._previous: dict[int, object] = {}
        self._old_wakeup = -1
        self._started = 0.0  # (monotonic) when the shutdown began
        self._signals = set(SIGNALS)  # the ones that start a shutdown
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self._thread = threading.Thread(target=self._run, name="trafficwatch-shutdown",
                                        daemon=True)
        self._thread.start()

    @property
    def requested(self) -> bool:
        """Has a shutdown started?"""
        return self.event.is_set()

    @property
    def exit_code(self) -> int:
        """130 after SIGINT (as a Ctrl-C in a shell), 0 after SIGTERM/SIGHUP or a request."""
        return 130 if self.signum == signal.SIGINT else 0

    def on_shutdown(self, callback: Callable[[], object]) -> None:
        """Run `callback` (in the shutdown thread, after those added before) once it starts."""
        self._callbacks.append(callback)

    def install(self, signals: Iterable[int] = SIGNALS) -> None:
        """Route these signals here (main thread only); `uninstall()` puts the old handlers back.

        The pipe is also the wakeup fd: the C-level handler writes the signal's number into it
        at once, whichever thread the kernel picked, so the shutdown starts even while the main
        thread sleeps in a select() that the signal did not interrupt.
        """
        for sig in signals:
            if nohup(sig):
                self._signals.discard(sig)
                continue
            self._previous[sig] = signal.signal(sig, self._handler)
            self._signals.add(sig)
        self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, signal.SIG_DFL)
        self._old_wakeup = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)

    def uninstall(self) -> None:
        """The handlers from before `install()` (for a caller that goes on running)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
        signal.set_wakeup_fd(self._old_wakeup)

    def request(self, signum: int = 0) -> None:
        """Start the shutdown (safe from any thread and from a signal handler)."""
        with contextlib.suppress(BlockingIOError, OSError):  # full or closed pipe: already started
            os.write(self._w, bytes([signum & 0xFF]))

    def finish(self) -> None:
        """End the process now with `exit_code`, after the shutdown steps ran (`exit_now`)."""
        exit_now(self.exit_code)

    def _handler(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            # The terminal is gone: a SIGCONT comes with the hangup, and a UI that resumes its
            # screen on SIGCONT (Textual does) would start writing to a dead terminal.
            for sig in (signal.SIGCONT, signal.SIGTSTP):
                signal.signal(sig, signal.SIG_DFL)
        self.request(signum)

    def _run(self) -> None:
        while True:  # the wakeup fd also gets every other handled signal (SIGWINCH, SIGCONT...)
            data = os.read(self._r, 1)
            if not data or data[0] == 0 or data[0] in self._signals:
                break
        self.signum = data[0] if data else 0
        self._started = time.monotonic()
        if self.grace is not None and self._previous:  # a signal's: the kernel ends it on time
            signal.setitimer(signal.ITIMER_REAL, self.grace)
        self.event.set()
        if self.grace is not None:
            soft = max(self.grace - SOFT_MARGIN_S, self.grace / 2)
            watchdog = threading.Timer(soft, self._force_exit)
            watchdog.daemon = True
            watchdog.name = "trafficwatch-watchdog"
            watchdog.start()
        for cb in self._callbacks:
            try:
                cb()
            except Exception:  # one failing step must not keep the next from running
                log.exception("shutdown step %r failed", cb)

    def _force_exit(self) -> None:
        """Past the grace period: leave the terminal usable and end the process now, unless a
        state is being written (then a moment more, WRITE_STEP_S at a time)."""
        if writing_now() and time.monotonic() - self._started < WRITE_GRACE_S:
            if self._previous:  # (the kernel's timer armed: moved on with it)
                signal.setitimer(signal.ITIMER_REAL, WRITE_STEP_S + SOFT_MARGIN_S)
            again = threading.Timer(WRITE_STEP_S, self._force_exit)
            again.daemon = True
            again.start()
            return
        log.warning("shutdown took over %.1f s: ending the process", self.grace)
        restore_terminal()
        os._exit(128 + self.signum if self.signum else 1)


FD_RESERVE = FD_HEADROOM  # descriptors beside the followed files: imports, pipes, inotify,
# sockets, workers (the follower keeps as many free as files come: follow.FD_HEADROOM)


def check_fd_budget(paths: list[str], vhost_from_filename: str | None = None) -> None:
    """ensure_fd_budget for the plain (followed) files found under `paths`."""
    from trafficwatch.logs.sources import discover

    found = discover(paths, vhost_from_filename).sites.values()
    ensure_fd_budget(sum(not src.compressed for files in found for src in files))


def ensure_fd_budget(files: int) -> None:
    """Room for `files` open files (one per followed file): the soft limit is raised toward the
    hard one when needed (follow.fd_limit, as the follower raises it while files come);
    ValueError with one line saying what to do when even that is short."""
    import resource

    want = files + FD_RESERVE
    limit = fd_limit(want)
    if limit is None or want <= limit:
        return
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    raise ValueError(f"{files:,} files to follow need {want:,} open files, but the limit is "
                     f"{hard:,} (ulimit -n): raise it, or follow fewer files")


def restore_terminal() -> None:
    """Leave the alternate screen and show the cursor, without ever blocking (no terminal: no-op)."""
    try:
        fd = os.open("/dev/tty", os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return
    with contextlib.suppress(OSError):  # a hung-up or stalled terminal: nothing to restore
        os.write(fd, b"\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1003l\x1b[?1006l\x1b[<u")
    os.close(fd)


class _Result:
    """Where a stateless command stands with its result (see `writing_result`)."""

    state: ClassVar[str] = "working"  # "writing": signals wait; "written": signals are ignored
    held: ClassVar[list[int]] = []


@contextlib.contextmanager
def writing_result():
    """Around a command's writing of its result (train's model): a SIGTERM or SIGHUP in it
    waits for the write; once written, they are ignored until the process ends, which it does
    a moment later on its own, with its own status. `train` stopped by TERM just after saying
    "saved" ended 143, documented as "no model written", with the model written (a new
    user's trial). Should the write fail, a signal that came meanwhile acts as it would have.
    Only with `die_with_children`, whose handler reads this."""
    _Result.state, _Result.held = "writing", []
    try:
        yield
    except BaseException:
        _Result.state = "working"
        if _Result.held:
            os.kill(os.getpid(), _Result.held[0])
        raise
    _Result.state = "written"


@contextlib.contextmanager
def die_with_children(signals: Iterable[int] = (signal.SIGTERM, signal.SIGHUP),
                      ignore_after_result: bool = False):
    """Within it, these signals end the process as their default action would (status 128 +
    the signal's number), after they end its child processes: a pool's workers blocked on its
    queue would outlive it for ever otherwise (orphans of `eval` and `forecast`, found by a new
    user's trial). For the commands that keep no state; `Shutdown.install` replaces it. The
    handlers before it come back after it; off the main thread it does nothing. While a
    result is written (`writing_result`) they wait, and once it is written they are ignored;
    with `ignore_after_result` (the process's own command, about to exit) they stay ignored
    after it: restored to their default for the moment before the caller ignored them again,
    they let a TERM right after train's "saved" end the process 143 (CI, once in many runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Result.state = "working"

    def handler(signum: int, frame: object) -> None:
        if _Result.state == "writing":
            _Result.held.append(signum)
            return
        if _Result.state == "written":
            return
        end_children()
        remove_own()  # its copy of stdin: the default action leaves it behind
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    before = {sig: signal.signal(sig, handler) for sig in signals if not nohup(sig)}
    try:
        yield
    finally:
        done = ignore_after_result and _Result.state == "written"
        for sig, old in before.items():
            if signal.getsignal(sig) is handler:  # not one a command installed since
                try:
                    signal.signal(sig, signal.SIG_IGN if done else old)
                except OSError:  # a TERM that came just as it was set to be ignored: CPython
                    # raises "Signal 15 ignored due to race condition" at the next handler
                    # set, and train printed that traceback after "saved" (CI, once in many
                    # runs). Ignored is what it was to be; the handler is set again
                    if not done:
                        raise
                    signal.signal(sig, signal.SIG_IGN)


def end_children(sig: int = signal.SIGTERM) -> list[int]:
    """Send `sig` to every direct child process (fine-tuning, fork server, alert commands...),
    and to the whole process group of a child that leads one of its own: an alert command runs
    in its own session, and its shell's children (`sleep 333` in `--alert-cmd 'do; sleep 333'`)
    outlived the app when the shell alone was signalled.

    Found through /proc (Linux); elsewhere the multiprocessing children only. Returns the pids.
    """
    pids = children()
    ours = os.getpgrp()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            try:
                group = os.getpgid(pid)
            except OSError:
                group = ours
            if group == pid and group != ours:  # it leads a group of its own: all of it
                os.killpg(group, sig)
            else:
                os.kill(pid, sig)
    return pids


def children() -> list[int]:
    """This process's direct children (ended and not yet waited for included), through /proc
    (Linux); elsewhere the multiprocessing children only."""
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        import multiprocessing

        return [p.pid for p in multiprocessing.active_children() if p.pid]
    return [int(name) for name in entries if name.isdigit() and _parent_of(name) == me]


def _parent_of(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return -1
    # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else -1


def exit_now(code: int) -> NoReturn:
    """End the process with `code`, its output flushed, without the interpreter's finalization:
    that waits for daemon threads in C code, such as a torch import, for seconds, and where one
    was inside torch's native code the exit aborted ("terminate called without an active
    exception", status -6 after `q`: a CI run)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)
