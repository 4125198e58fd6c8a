"""Command line: watch (the app, default) | counts | forecast | eval | train | agent."""
from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from trafficwatch import __version__
from trafficwatch.cli import agent, counts, model, top, watch
from trafficwatch.cli.model import EXIT_OUTPUT
from trafficwatch.cli.options import UsageError, check_usage, require_input
from trafficwatch.engine.lifecycle import die_with_children
from trafficwatch.files import sweep_orphans
from trafficwatch.safe import safe_name

COMMANDS = ("watch", "counts", "top", "forecast", "eval", "train", "agent")

_CODES = """exit codes:
  0  every file was read (an empty log too: it holds nothing)
  1  some file was skipped or had lines and none parsable (the others were still counted),
     a CSV's series was left out whole, or the LSTM could not forecast (forecast prints
     seasonal naive; eval scored it nowhere)
  2  bad usage, or nothing at all could be read (a mistyped path, no log in a known format)
  74 the output could not be written (a full disk, standard output closed): said on stderr
"""
EXIT_CODES = _CODES + """  70 the app stopped on an error it did not handle (its traceback shown)
  2  also: the app has no terminal to draw on (stdin or stdout not one, TERM=dumb)
  130  interrupted (Ctrl-C); state was saved
SIGTERM and SIGHUP (the terminal closed) save state and exit 0 within 2 s; anything that
hangs on the way out is cut short by a watchdog (status 128 + the signal's number).
top, counts without --follow, train, eval and forecast keep no state: those signals stop them
at once (143, 129), and train then writes no model (once it has said "saved", they change
nothing: 0, model written)
"""
# top and counts: their help said "state was saved" too, though top keeps none and counts only
# with --follow
TOP_EXIT_CODES = _CODES + """  130  interrupted (Ctrl-C)
This command keeps no state: SIGTERM and SIGHUP (the terminal closed) stop it at once (143,
129)
"""
COUNTS_EXIT_CODES = _CODES + """  130  interrupted (Ctrl-C); with --follow, state was saved
With --follow, SIGTERM and SIGHUP (the terminal closed) save state and exit 0 within 2 s;
anything that hangs on the way out is cut short by a watchdog (status 128 + the signal's
number). Without --follow it keeps no state: those signals stop it at once (143, 129)
"""
# train, eval and forecast: their own help said "state was saved" of commands that keep none
MODEL_EXIT_CODES = _CODES + """  130  interrupted (Ctrl-C)
This command keeps no state: SIGTERM and SIGHUP (the terminal closed) stop it at once (143,
129)
"""
TRAIN_EXIT_CODES = _CODES + """  130  interrupted (Ctrl-C)
This command keeps no state: SIGTERM and SIGHUP (the terminal closed) stop it at once (143,
129), and no model is written then (once it has said "saved", they change nothing: 0, model
written)
"""


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def _print_message(self, message: str, file=None) -> None:
        """argparse's, but --help or --version that cannot be written is an OutputError:
        argparse drops the error, and they ended 0 with nothing said into a full disk, where
        every command says so and ends 74 (a trial of the docs)."""
        if not message:
            return
        file = file or sys.stderr
        try:
            file.write(message)
            file.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            if file is not sys.stderr:
                raise OutputError(exc) from exc


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every sub-command."""
    parser = Parser(
        prog="trafficwatch",
        description="Follow web-server access logs, count visits per hour and forecast the coming "
                    "hours with an LSTM you can look into. With no command, opens the app on PATHs "
                    "(default: the bundled sample logs). Each command's options: trafficwatch "
                    "COMMAND --help (the app's, --replay and --speed among them: trafficwatch "
                    "watch --help).",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"trafficwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(commands=sub.choices)  # each command's parser, for its own errors
    w = sub.add_parser("watch", help="open the terminal app (the default command)",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    watch.configure(w)
    c = sub.add_parser("counts", help="print hourly counts as CSV or JSON",
                       epilog=COUNTS_EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    counts.configure(c)
    t = sub.add_parser("top", help="what the last hours were made of: status classes, the "
                                   "busiest paths and clients (a table or JSON)",
                       epilog=TOP_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.configure(t)
    model.add_commands(sub, MODEL_EXIT_CODES, TRAIN_EXIT_CODES)
    a = sub.add_parser("agent", help="follow logs headless and serve /metrics for every site "
                                     "(for Prometheus)",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    agent.configure(a)
    return parser


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest characters to insert, delete or change from a to b."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


# words other tools use for what a command here does: `trafficwatch follow /var/log/nginx`
# opened the app with "skipped follow: no such file" at the foot of a pane (a trial)
OTHER_WORDS = {"follow": "counts --follow", "tail": "counts --follow",
               "predict": "forecast", "backtest": "eval", "fit": "train", "finetune": "train",
               "fine-tune": "train", "exporter": "agent", "metrics": "agent", "report": "top",
               "serve": "trafficwatch --serve DIR"}


def mistyped_command(word: str) -> str | None:
    """The command `word` is a typo of (within 2 edits) or another tool's word for, unless it
    names a file or directory (or is a glob or an option): `trafficwatch forecst daily.csv`
    opened the app on both."""
    if word.startswith("-") or any(c in word for c in "*?[") or os.path.lexists(word):
        return None
    if word.lower() in OTHER_WORDS:
        return OTHER_WORDS[word.lower()]
    near = min(COMMANDS, key=lambda c: edit_distance(word.lower(), c))
    return near if edit_distance(word.lower(), near) <= 2 else None


class OutputError(Exception):
    """Writing the command's output failed (not a reader that left: that ends it quietly)."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))


class ReaderMayLeave:
    """stdout for the headless commands: a reader that stops early (`| head -1`) ends the
    output, not the command. The first write to a closed pipe points stdout at /dev/null and
    the command goes on: its warnings reach stderr and its status stays its own (a skipped
    file's 1 read 0, its "skipped" line lost, once BrokenPipeError ended the command)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.reader_left = False

    def _left(self) -> None:
        self.reader_left = True
        _drop_unwritten(self._stream)

    def write(self, text: str) -> int:
        if not self.reader_left:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._left()
            except OSError as exc:  # a full disk: a traceback and status 1, "a file skipped"
                raise OutputError(exc) from exc  # (a trial's cron job kept its partial CSV)
        return len(text)

    def writelines(self, lines) -> None:
        if not self.reader_left:
            try:
                self._stream.writelines(lines)
            except BrokenPipeError:
                self._left()
            except OSError as exc:
                raise OutputError(exc) from exc

    def flush(self) -> None:
        if not self.reader_left:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._left()
            except OSError as exc:
                raise OutputError(exc) from exc

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _drop_unwritten(stream) -> None:
    """`stream` pointed at /dev/null, and what its buffer still holds goes there: a reader that
    left, or an output that cannot be written (Python's own flush at exit would fail on it
    again, and say so in a second message). Not a file (a test's capture): left as it is."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


_WEST = re.compile(r"-\d\d?(?::?\d\d)?\Z")  # -07:00, -0700, -7: a zone west of UTC


def joined_offsets(args: list[str]) -> list[str]:
    """`--tz -07:00` as `--tz=-07:00`: argparse takes a value that begins with '-' for an
    option ("expected one argument", though --help gives +02:00 as an example: a trial)."""
    out: list[str] = []
    it = iter(range(len(args)))
    for i in it:
        if args[i] == "--tz" and i + 1 < len(args) and _WEST.match(args[i + 1]) \
                and "--" not in args[:i]:
            out.append(f"--tz={args[i + 1]}")
            next(it)
        else:
            out.append(args[i])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `trafficwatch` console script."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] not in (*COMMANDS, "-h", "--help", "--version"):
        near = mistyped_command(args_in[0]) if args_in else None
        if near is not None:  # one line, before any app starts on the words after it
            print(f"trafficwatch: unknown command '{safe_name(args_in[0])}' (did you mean "
                  f"{near}?; commands: {', '.join(COMMANDS)}; "
                  "see trafficwatch --help)", file=sys.stderr)
            return 2
        args_in = ["watch", *args_in]
    args_in = joined_offsets(args_in)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(args_in)
    except BrokenPipeError:  # `trafficwatch --help | head -1`
        _drop_unwritten(sys.stdout)
        return 0
    except OutputError as exc:  # --help or --version into a full disk
        _drop_unwritten(sys.stdout)
        print(f"trafficwatch: cannot write the output: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    if extra:  # said by the command's parser, so the hint names its --help
        (args.commands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    require_input(args)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # standard streams closed at the start (`<&-`, `>&-`) are None in Python: tracebacks and
    # status 1 (a trial); stdin reads as empty (the app then says it needs a terminal, as with
    # </dev/null), stdout is refused for the commands that write to it
    if sys.stdin is None:
        if "-" in (getattr(args, "paths", None) or ()):  # read as empty, it was "<stdin> is
            # empty", status 0: a cron job could not tell it from an empty input (a review)
            print("trafficwatch: standard input is closed: nothing to read from -",
                  file=sys.stderr)
            return 2
        sys.stdin = open(os.devnull)  # noqa: SIM115 (for the process's life)
    if sys.stdout is None:
        if args.command not in ("watch", "agent"):
            print("trafficwatch: standard output is closed: nothing to write the output to",
                  file=sys.stderr)
            return EXIT_OUTPUT
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the agent writes nothing there)
    sweep_orphans(("stdin",))  # copies of stdin that processes killed with -9 left behind
    out = sys.stdout
    if args.command not in ("watch", "agent"):  # (the app draws on the terminal itself)
        sys.stdout = ReaderMayLeave(out)
    try:
        check_usage(args)
        # until a command that saves state installs its shutdown; the console script exits
        # after it (torch's teardown takes a while): with train's model written, a signal then
        # changes nothing
        with die_with_children(ignore_after_result=argv is None):
            code = int(args.func(args) or 0)
            sys.stdout.flush()
        return code
    except UsageError as exc:
        print(f"trafficwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `trafficwatch counts ... | head` (see ReaderMayLeave), and stderr
        return 0
    except OutputError as exc:
        _drop_unwritten(out)
        print(f"trafficwatch: cannot write the output: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    finally:
        sys.stdout = out
