"""Run the app: signals, the metrics server, serving to a browser; from config objects, never
from the command line's arguments (cli/watch.py builds them)."""
from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.drivers.web_driver import WebDriver

from trafficwatch.app.app import CRASHED, INTERRUPTED, NOTHING_READ, EngineLike, TrafficWatchApp
from trafficwatch.counting.state import check_state_path
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.lifecycle import (
    GRACE_S,
    Shutdown,
    check_fd_budget,
    children,
    end_children,
)
from trafficwatch.engine.metrics import MetricsServer
from trafficwatch.engine.metrics_view import samples_for
from trafficwatch.engine.snapshot import Snapshot
from trafficwatch.safe import safe_text

log = logging.getLogger(__name__)


MAX_SAID = 5  # files not read named on the way out (the rest counted)


class StartError(ValueError):
    """The app cannot start as configured (an untrusted state file, too few file descriptors, a
    metrics address that cannot bind): bad usage, exit 2."""


@dataclass(frozen=True)
class AppConfig:
    """What the app runs with: the engine's configuration and the metrics server's address."""

    engine: EngineConfig
    metrics_addr: str | None = None


EngineFactory = Callable[[EngineConfig, Callable[[Snapshot], None]], EngineLike]


def check_paths(paths: list[str]) -> None:
    """ValueError when no path given exists: a mistyped command (`trafficwatch cunts`) is read
    as a path, and the app would open on nothing."""
    from trafficwatch.safe import safe_name

    missing = [p for p in paths if p != "-" and not any(c in p for c in "*?[")
               and not os.path.lexists(p)]
    if paths and len(missing) == len(paths):
        hint = ("" if os.sep in missing[0] else
                " (commands: counts, top, forecast, eval, train, agent; see trafficwatch --help)")
        raise ValueError(f"nothing to read: {safe_name(missing[0])}: no such file or "
                         f"directory{hint}")


def check_terminal() -> None:
    """ValueError unless stdin and stdout are a terminal (or the app is served to a browser):
    with neither, Textual would write its screen into a pipe and wait for keys forever."""
    if os.environ.get("TEXTUAL_DRIVER"):  # textual-serve's web driver: no terminal needed
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ValueError("the app needs a terminal (stdin and stdout); in scripts and cron use "
                         "trafficwatch counts, forecast or agent")
    if sys.stderr is None or not sys.stderr.isatty():  # the screen is drawn on stderr:
        # `2>errors.log` left the terminal blank and wrote the screen into the file, 60 MB an
        # hour (a trial); `2>&-` ended in a traceback no one saw, status 1
        how = "closed here (2>&-?)" if sys.stderr is None else "not a terminal here (2> a file?)"
        raise ValueError(f"the app draws its screen on stderr, which is {how}: run it without "
                         "redirecting stderr; its warnings are shown in the app")
    if os.environ.get("TERM", "") in ("dumb", "unknown"):  # no cursor addressing: the screen
        # came out as a stream of escape codes, mouse tracking turned on (a trial)
        raise ValueError(f"TERM={os.environ['TERM']}: this terminal cannot draw the app (it "
                         "needs cursor addressing); set TERM (e.g. xterm-256color), or use "
                         "trafficwatch counts --follow")


def run_app(cfg: AppConfig, make_engine: EngineFactory = Engine) -> int:
    """Run the Textual app until the user quits (or a signal ends it); the exit status."""
    ecfg = cfg.engine
    try:
        if ecfg.state_path:
            check_state_path(ecfg.state_path)
        if ecfg.prometheus is None:
            check_paths(ecfg.paths)
        if not ecfg.replay and ecfg.prometheus is None:
            check_fd_budget(ecfg.paths, ecfg.ingest.vhost_from_filename)
    except ValueError as exc:  # UntrustedState, not enough file descriptors, no such path
        raise StartError(str(exc)) from exc
    metrics, holder = None, {}
    if cfg.metrics_addr:
        try:
            metrics = MetricsServer(cfg.metrics_addr, lambda: samples_for(holder.get("engine")))
        except ValueError as exc:
            raise StartError(str(exc)) from exc
    try:
        check_terminal()  # last: every other bad usage is named first, as a terminal would
    except ValueError as exc:
        if metrics is not None:
            metrics.stop()
        raise StartError(str(exc)) from exc
    app = TrafficWatchApp(lambda cb: _engine(make_engine, ecfg, cb, holder))
    app.driver_class = _survives_hangup(app.driver_class)
    shutdown = Shutdown()
    shutdown.on_shutdown(lambda: _stop_engine(holder))  # state first: it is what a hang would lose
    shutdown.on_shutdown(end_children)  # fine-tuning, fork server, alert commands
    shutdown.on_shutdown(lambda: _quit_app(app))
    shutdown.install()
    if metrics is not None:
        metrics.start()
    try:
        if not shutdown.requested:  # a signal before the UI started: no UI at all
            app.run()
    finally:
        _stop_engine(holder)  # saves state however the app ended (idempotent)
        end_children()  # a fine-tuning child would otherwise train on for minutes, orphaned
        if metrics is not None:
            metrics.stop()
    engine = holder.get("engine")
    failed = engine.save_failed() if hasattr(engine, "save_failed") else ""
    # (not after a failed save, nor where none is kept or the logs were never opened: a review)
    saved = "; state was saved" if getattr(getattr(engine, "source", None), "store", None) \
        is not None and not failed else ""
    if failed:  # the save on the way out (q, a signal): the app had ended without a word
        print(f"trafficwatch: {safe_text(failed)}", file=sys.stderr)  # (an ops trial)
    if shutdown.signum:
        shutdown.finish()  # state saved, terminal restored: nothing left worth waiting for
    if shutdown.requested:
        return shutdown.exit_code
    if app.return_code == INTERRUPTED:  # Ctrl-C, a key in the app's raw terminal
        return INTERRUPTED
    if app.return_code == NOTHING_READ:  # one line on the terminal, as from every command
        raise StartError(safe_text(app.return_value))
    if app.return_code == CRASHED:  # an engine thread's (Snapshot.crashed): its traceback
        for line in str(app.return_value).splitlines():  # (its messages may quote a log's
            print(safe_text(line), file=sys.stderr)  # text or a server's answer)
        print(f"trafficwatch: the app stopped on an internal error (above){saved}",
              file=sys.stderr)
        return CRASHED
    if app.return_code == 1:  # Textual's own: an exception the app did not handle (its
        # traceback is on the terminal); a trial's crash had ended with status 0
        print(f"trafficwatch: the app stopped on an internal error (above){saved}",
              file=sys.stderr)
        return CRASHED
    engine = holder.get("engine")  # q: 1 when some file was skipped, as for every command,
    lost = engine.files_lost() if engine is not None else []  # and why, on the terminal
    for line in lost[:MAX_SAID]:
        print(f"trafficwatch: {safe_text(line)}", file=sys.stderr)
    if len(lost) > MAX_SAID:
        print(f"trafficwatch: and {len(lost) - MAX_SAID} more files not read", file=sys.stderr)
    return 1 if lost else 0


class _TerminalOutput:
    """The terminal as Textual's writer thread sees it: once the terminal is gone (EIO after a
    hangup), output is dropped instead of killing that thread, whose queue would then fill and
    block the UI thread's next write for ever."""

    def __init__(self, out) -> None:
        self._out = out
        self.gone = False

    def write(self, text: str) -> None:
        if not self.gone:
            try:
                self._out.write(text)
            except OSError:
                self.gone = True

    def flush(self) -> None:
        if not self.gone:
            try:
                self._out.flush()
            except OSError:
                self.gone = True

    def __getattr__(self, name: str):
        return getattr(self._out, name)


def _survives_hangup(driver_class: type) -> type:
    """Terminal driver writing through _TerminalOutput, web driver hung up with its server."""
    if issubclass(driver_class, WebDriver):
        return _hangs_up_with_server(driver_class)
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # Windows
        return driver_class
    if not issubclass(driver_class, LinuxDriver):
        return driver_class

    class Driver(driver_class):  # type: ignore[valid-type, misc]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._file = _TerminalOutput(self._file)

    return Driver


def _hangs_up_with_server(driver_class: type) -> type:
    """Web driver whose input (the server's pipe) closing unasked is a hangup (SIGHUP)."""
    # a server killed outright sends its apps no signal: their input's EOF is all they get
    class Driver(driver_class):  # type: ignore[valid-type, misc]
        def run_input_thread(self) -> None:
            super().run_input_thread()
            if not self.exit_event.is_set():  # not the app's own exit: the server is gone
                os.kill(os.getpid(), signal.SIGHUP)

    return Driver


def _quit_app(app) -> None:
    """Ask the UI to exit from the shutdown thread (a UI not running yet will not start)."""
    try:
        app.call_from_thread(app.exit)
    except RuntimeError as exc:  # not running (yet or any more): main sees shutdown.requested
        log.info("quit: %s", exc)


def _stop_engine(holder: dict) -> None:
    if holder.get("engine") is not None:
        holder["engine"].stop()


def serve_app(host: str, port: int, argv: list[str]) -> int:
    """Serve the app to browsers on host:port; each session is a child process running
    `python -m trafficwatch ARGV`, ended with the server."""
    try:
        from textual_serve.server import Server  # the optional 'serve' extra
    except ImportError:
        print("trafficwatch: --serve needs the serve extra: pip install 'trafficwatch[serve]'",
              file=sys.stderr)
        return 2
    # exec: each session's app is the server's own child (not a shell's), so end_children reaches it
    command = "exec " + shlex.join([sys.executable, "-m", "trafficwatch", *argv])
    try:
        _session_server(Server)(command, host=host, port=port).serve()
    finally:
        end_children()  # the sessions' apps do not outlive the server
    return 0


MAX_SESSIONS = 8  # browsers served at once: each is an app of its own (~150 MB), and a
# websocket each started one, without limit (a security trial: 4 connects, 4 apps)


class _OneLine(logging.Formatter):
    """The server's log lines made safe and one line each: a request's headers (a client's
    bytes: C1 controls, bidi overrides) had gone to the terminal as they came, and each
    malformed request printed a 100-line traceback with its locals (a security trial)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            text += f": {type(exc).__name__}: {exc}"
        return "trafficwatch serve: " + safe_text(text)


def _session_server(server_class: type) -> type:
    """textual-serve's Server, ending its sessions' apps when it is signalled to stop, serving
    MAX_SESSIONS at once, its log sanitised (a request: its client, method, path and status)."""
    from aiohttp import web  # textual-serve's server, there when Server is
    from aiohttp.abc import AbstractAccessLogger

    class AccessLog(AbstractAccessLogger):
        def log(self, request, response, time: float) -> None:
            self.logger.info("%s %s %s %s", request.remote or "-", request.method,
                             request.path_qs, response.status)

    class SessionServer(server_class):  # type: ignore[valid-type, misc]
        sessions = 0

        def initialize_logging(self) -> None:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(_OneLine())
            logging.basicConfig(level="DEBUG" if self.debug else "INFO", handlers=[handler],
                                force=True)

        async def handle_websocket(self, request):
            if self.sessions >= MAX_SESSIONS:
                return web.Response(status=503, text=f"trafficwatch: {MAX_SESSIONS} sessions "
                                    "are open here already; close one and reload\n")
            self.sessions += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions -= 1

        def request_exit(self) -> None:
            """Hang up every session's app (its shutdown ends it within GRACE_S), then stop."""
            end_children(signal.SIGHUP)
            super().request_exit()

        def serve(self, debug: bool = False) -> None:
            """Server.serve, also stopped by SIGHUP, and within GRACE_S (not 2 x 60 s)."""
            # aiohttp waits shutdown_timeout for the sessions (their websockets), then again for
            # their cancelling; the hung-up apps end themselves within GRACE_S in any case
            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.request_exit)
            async def make_app():
                app = await self._make_app()
                app.on_shutdown.append(_sessions_ended)
                return app

            web.run_app(make_app(), host=self.host, port=self.port, handle_signals=False,
                        loop=loop, shutdown_timeout=GRACE_S / 2, print=lambda *args: None,
                        access_log_class=AccessLog)

    return SessionServer


async def _sessions_ended(_app) -> None:
    """Wait (GRACE_S at most) for the sessions' apps to end while the server's loop runs: an
    app still ending when it closed (its tab closed just before the server was stopped) was
    reaped after, and asyncio printed "Loop ... that handles pid ... is closed" and an
    "Exception ignored ... Event loop is closed" traceback (an install trial, 2 stops in 3)."""
    deadline = time.monotonic() + GRACE_S
    while children() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0)  # the watcher's word that the last one ended, handled here


def _engine(make_engine: EngineFactory, cfg: EngineConfig, cb, holder: dict) -> EngineLike:
    """The app's engine, kept in `holder` for the metrics server and the final save."""
    e = make_engine(cfg, cb)
    holder["engine"] = e
    return e
