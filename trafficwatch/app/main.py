"""Start the app from parsed command-line arguments."""
from __future__ import annotations

import argparse
import logging
import shlex
import sys

from trafficwatch.resources import sample_logs_dir

log = logging.getLogger(__name__)


def engine_config(args: argparse.Namespace):
    """EngineConfig from the watch command's arguments (plain `trafficwatch` = the sample logs)."""
    from trafficwatch.cli import parse_status_classes, state_path
    from trafficwatch.commands.counts_cmd import ingest_options
    from trafficwatch.engine import EngineConfig, ViewFilter
    from trafficwatch.fleet.options import prometheus_config

    fleet = prometheus_config(args)  # the fleet's series instead of logs (--prometheus URL)
    paths = [] if fleet else args.paths or [str(sample_logs_dir())]
    classes = parse_status_classes(args.status)
    replay = not fleet and (args.replay or not args.paths)
    return EngineConfig(prometheus=fleet,
        paths=paths, ingest=ingest_options(args), replay=replay,
        speed=args.speed, poll=args.poll,
        state_path=None if replay or fleet else state_path(args, paths, "app"),
        model_path=args.model, device=args.device, band=args.band, alert_cmd=args.alert_cmd,
        metric=args.metric, site=args.site, fine_tune=not args.no_fine_tune,
        filter=ViewFilter(status_classes=frozenset(classes) if classes else None, bots=args.bots))


def serve_address(value: str) -> tuple[str, int]:
    """HOST:PORT (or HOST, or :PORT) for --serve; 127.0.0.1:8000 for what is left out."""
    host, _, port = value.rpartition(":") if ":" in value.strip("[]") else (value, "", "")
    host = host.strip("[]") or "127.0.0.1"
    if not port:
        return host, 8000
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"wants HOST:PORT with a port from 1 to 65535, not {value!r}")
    return host, int(port)


def without_serve(argv: list[str]) -> list[str]:
    """The command line minus --serve and --serve-addr: what the served app runs."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--serve-addr":
            skip = True
        elif a != "--serve" and not a.startswith("--serve-addr="):
            out.append(a)
    return out


def run_app(args: argparse.Namespace) -> int:
    """Run the Textual app (or serve it to a browser with --serve) until the user quits."""
    if args.serve:
        return _serve(args)
    from trafficwatch.app.app import TrafficWatchApp
    from trafficwatch.cli import UsageError
    from trafficwatch.lifecycle import Shutdown, check_fd_budget, end_children
    from trafficwatch.state import check_state_path

    cfg = engine_config(args)
    try:
        if cfg.state_path:
            check_state_path(cfg.state_path)
        if not cfg.replay and cfg.prometheus is None:
            check_fd_budget(cfg.paths, cfg.ingest.vhost_from_filename)
    except ValueError as exc:  # UntrustedState, or not enough file descriptors
        raise UsageError(str(exc)) from exc
    metrics, holder = None, {}
    if args.metrics_addr:
        from trafficwatch.metrics import MetricsServer
        from trafficwatch.metrics_view import samples_for

        try:
            metrics = MetricsServer(args.metrics_addr, lambda: samples_for(holder.get("engine")))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    app = TrafficWatchApp(lambda cb: _engine(cfg, cb, holder))
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
    if shutdown.signum:
        shutdown.finish()  # state saved, terminal restored: nothing left worth waiting for
    return shutdown.exit_code if shutdown.requested else 0


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
    from textual.drivers.web_driver import WebDriver

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
    import os
    import signal

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


def _serve(args: argparse.Namespace) -> int:
    """Serve the app to browsers; each session is a child process, ended with the server."""
    try:
        from textual_serve.server import Server
    except ImportError:
        print("trafficwatch: --serve needs the serve extra: pip install 'trafficwatch[serve]'",
              file=sys.stderr)
        return 2
    try:
        host, port = serve_address(args.serve_addr)
    except ValueError as exc:
        print(f"trafficwatch: --serve-addr {exc}", file=sys.stderr)
        return 2
    from trafficwatch.lifecycle import end_children

    argv = without_serve(sys.argv[1:])
    # exec: each session's app is the server's own child (not a shell's), so end_children reaches it
    command = "exec " + shlex.join([sys.executable, "-m", "trafficwatch", *argv])
    try:
        _session_server(Server)(command, host=host, port=port).serve()
    finally:
        end_children()  # the sessions' apps do not outlive the server
    return 0


def _session_server(server_class: type) -> type:
    """textual-serve's Server, ending its sessions' apps when it is signalled to stop."""
    import asyncio
    import signal

    from aiohttp import web

    from trafficwatch.lifecycle import GRACE_S, end_children

    class SessionServer(server_class):  # type: ignore[valid-type, misc]
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
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False,
                        loop=loop, shutdown_timeout=GRACE_S / 2, print=lambda *args: None)

    return SessionServer


def _engine(cfg, cb, holder: dict):
    """The app's engine, kept in `holder` for the metrics server and the final save."""
    from trafficwatch.engine import Engine

    e = Engine(cfg, cb)
    holder["engine"] = e
    return e
