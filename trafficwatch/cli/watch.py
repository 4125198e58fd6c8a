"""`trafficwatch [watch] PATH...`: the terminal app (default command)."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from trafficwatch.cli.options import (
    UsageError,
    add_device_option,
    add_filter_options,
    add_fleet_options,
    add_follow_options,
    add_input_options,
    add_model_option,
    add_tz_option,
    ingest_options,
    parse_tz,
    prometheus_config,
    state_path,
)
from trafficwatch.counting.plan import first_read
from trafficwatch.filters import ViewFilter, parse_status_classes
from trafficwatch.resources import sample_logs_dir
from trafficwatch.safe import safe_text

if TYPE_CHECKING:
    from trafficwatch.engine.engine import EngineConfig

# The engine (pandas, the model side) and the app (Textual) are imported in the functions that
# run them: every command builds this parser, and `counts` or `--help` must not load them.


REPLAY_SPEED = 3600.0  # --speed's default: an hour of the logs a second
SERVE_ADDR = "127.0.0.1:8000"  # --serve-addr's


def configure(p: argparse.ArgumentParser) -> None:
    """Arguments of the app."""
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="log files or directories to follow (default: the bundled demo logs, "
                        f"{str(sample_logs_dir()).replace('%', '%%')})")
    p.add_argument("--replay", action="store_true",
                   help="feed existing logs by their timestamps instead of opening them whole")
    p.add_argument("--speed", type=float, default=None,
                   help="with --replay (and the demo without PATHs): log seconds per real "
                        "second (default: 3600, an hour a second)")
    add_model_option(p)
    p.add_argument("--no-fine-tune", action="store_true",
                   help="never fine-tune the model on this site (it otherwise runs once per site "
                        "with 14 days of history, in a child process at low priority, and is "
                        "kept only if it backtests at least 2 %% better)")
    add_device_option(p, "per-site fine-tuning", "; forecasts run on the CPU, where one small "
                                                 "LSTM step is fastest")
    p.add_argument("--band", type=float, default=0.8,
                   help="width of the forecast band as a central probability (default 0.8: p10-p90)")
    p.add_argument("--anomaly-band", type=float, default=0.98, metavar="P",  # ANOMALY_BAND
                   help="an hour is an anomaly (and runs --alert-cmd) when it falls outside this "
                        "central probability of its day-ahead forecast (default 0.98: about p1-p99; "
                        "the 0.8 band drawn holds only four hours in five by design)")
    p.add_argument("--alert-cmd", metavar="CMD",
                   help="run CMD (through the shell) when a new anomaly fires; details in env vars")
    p.add_argument("--metrics-addr", metavar="HOST:PORT",
                   help="serve Prometheus metrics here, e.g. 127.0.0.1:9877; an IPv6 address "
                        "in brackets: [::1]:9877, or [::]:9877 for every interface")
    p.add_argument("--serve", action="store_true",
                   help="serve the app to a browser (needs the 'serve' extra) on --serve-addr")
    p.add_argument("--serve-addr", metavar="HOST:PORT", default=None,
                   help="where --serve listens (default 127.0.0.1:8000: this machine only; "
                        "any other address is your explicit choice)")
    add_tz_option(p, "times")
    add_follow_options(p, "live logs: ", "app")
    add_input_options(p)
    add_filter_options(p, "the site shown first (default: all sites; one not read yet: all "
                          "until its first line)")
    add_fleet_options(p)
    p.set_defaults(func=run)


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """EngineConfig from the watch command's arguments (plain `trafficwatch` = the sample logs)."""
    from trafficwatch.engine.engine import EngineConfig

    fleet = prometheus_config(args)  # the fleet's series instead of logs (--prometheus URL)
    paths = [] if fleet else args.paths or [str(sample_logs_dir())]
    replay = fleet is None and (args.replay or not args.paths)
    return EngineConfig(
        paths=paths, ingest=ingest_options(args), replay=replay,
        speed=args.speed or REPLAY_SPEED, poll=args.poll, prometheus=fleet,
        state_path=None if replay else fleet_state(args, fleet) if fleet else state_path(
            args, paths, "app"),
        model_path=args.model, device=args.device, band=args.band, alert_cmd=args.alert_cmd,
        anomaly_band=args.anomaly_band,
        metric=args.metric, site=args.site, fine_tune=not args.no_fine_tune, tz=parse_tz(args.tz),
        filter=ViewFilter(status_classes=parse_status_classes(args.status), bots=args.bots))


def fleet_state(args: argparse.Namespace, fleet) -> str | None:
    """The app's state on a fleet: --state, else its own default; None with --no-state. It keeps
    what the fleet's counts do not: the alerts sent, the fine-tunes kept."""
    from trafficwatch.counting.state import fleet_state_path

    if args.no_state:
        return None
    return args.state or str(fleet_state_path(fleet.url, fleet.site_label, fleet.matchers))


def serve_address(value: str | None) -> tuple[str, int]:
    """HOST:PORT (or HOST, or :PORT) for --serve; 127.0.0.1:8000 for what is left out."""
    value = value or SERVE_ADDR
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


def run(args: argparse.Namespace) -> int:
    """Start the app (imports Textual only now, so headless commands never load it)."""
    try:
        from trafficwatch.app.run import AppConfig, StartError, run_app, serve_app
    except ImportError as exc:
        print(f"trafficwatch: the app cannot start ({exc}); headless commands still work: "
              f"trafficwatch counts PATH", file=sys.stderr)
        return 2
    if args.model:  # refused here, as forecast and eval refuse it: the app ran on seasonal
        # naive, exiting 0, with the reason one line of its Now pane (a new user's trial)
        from trafficwatch.model.checkpoint import CheckpointError, load_model

        try:
            load_model(args.model)  # numpy only for a model `train` wrote (its .npz twin)
        except CheckpointError as exc:
            print(f"trafficwatch: {safe_text(str(exc))}", file=sys.stderr)
            return 2
    if args.serve:
        try:
            host, port = serve_address(args.serve_addr)
        except ValueError as exc:
            print(f"trafficwatch: --serve-addr {exc}", file=sys.stderr)
            return 2
        return serve_app(host, port, without_serve(sys.argv[1:]))
    if args.paths and first_read(args.paths, args.vhost_from_filename).uses_workers:
        from trafficwatch.logs.read import start_worker_server

        start_worker_server()  # before the app captures stderr (see its docstring)
    try:
        code = run_app(AppConfig(engine=engine_config(args), metrics_addr=args.metrics_addr))
    except StartError as exc:
        if sys.stderr is not None and not _isatty(sys.stderr) and _isatty(sys.stdout):  # the
            # app's stderr to a file (`2>errors.log`): said on the terminal too, where it is
            # read (a closed stderr: print() writes it to stdout anyway)
            print(f"trafficwatch: {exc}", file=sys.stdout)
        raise UsageError(str(exc)) from exc
    from trafficwatch.engine.lifecycle import exit_now

    exit_now(code)  # state saved, terminal restored, said: as a signal ends it (a daemon
    # thread still in torch's native import made the interpreter's exit abort after `q`)


def _isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):  # closed
        return False
