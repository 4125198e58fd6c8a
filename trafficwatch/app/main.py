"""Start the app from parsed command-line arguments."""
from __future__ import annotations

import argparse
import shlex
import sys

from trafficwatch.resources import sample_logs_dir


def engine_config(args: argparse.Namespace):
    """EngineConfig from the watch command's arguments (plain `trafficwatch` = the sample logs)."""
    from trafficwatch.cli import parse_status_classes, state_path
    from trafficwatch.commands.counts_cmd import ingest_options
    from trafficwatch.engine import EngineConfig, ViewFilter

    paths = args.paths or [str(sample_logs_dir())]
    classes = parse_status_classes(args.status)
    replay = args.replay or not args.paths
    return EngineConfig(
        paths=paths, ingest=ingest_options(args), replay=replay,
        speed=args.speed, poll=args.poll,
        state_path=None if replay else state_path(args, paths, "app"),
        model_path=args.model, device=args.device, band=args.band, alert_cmd=args.alert_cmd,
        metric=args.metric, site=args.site,
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
        argv = without_serve(sys.argv[1:])
        Server(shlex.join([sys.executable, "-m", "trafficwatch", *argv]), host=host,
               port=port).serve()
        return 0
    from trafficwatch.app.app import TrafficWatchApp

    cfg = engine_config(args)
    metrics, holder = None, {}
    if args.metrics_addr:
        from trafficwatch.metrics import MetricsServer
        from trafficwatch.metrics_view import samples_for

        metrics = MetricsServer(args.metrics_addr, lambda: samples_for(holder.get("engine")))
    app = TrafficWatchApp(lambda cb: _engine(cfg, cb, holder))
    if metrics is not None:
        metrics.start()
    _quit_on_signals(app)
    try:
        app.run()
    finally:
        if holder.get("engine") is not None:
            holder["engine"].stop()  # saves state however the app ended (idempotent)
        if metrics is not None:
            metrics.stop()
    return 0


def _quit_on_signals(app) -> None:
    """SIGTERM (service stop) and SIGHUP (the SSH session dropped) quit like q: state is saved."""
    import signal
    import threading

    def handler(signum, frame) -> None:
        # call_from_thread may not be called from the app's own thread: hand it to another one
        threading.Thread(target=lambda: app.call_from_thread(app.action_quit), daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _engine(cfg, cb, holder: dict):
    """The app's engine, kept in `holder` for the metrics server and the final save."""
    from trafficwatch.engine import Engine

    e = Engine(cfg, cb)
    holder["engine"] = e
    return e
