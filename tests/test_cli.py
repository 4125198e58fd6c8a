"""The command line: counts output, golden counts of the sample logs, loud failures, --help."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from trafficwatch.cli.main import COMMANDS, main
from trafficwatch.resources import sample_logs_dir

SAMPLE = str(sample_logs_dir())


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trafficwatch", *args], capture_output=True,
                          input=stdin, timeout=120, check=False)


def rows(out: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(out.decode())))


@pytest.fixture(scope="module")
def sample_counts() -> list[dict]:
    p = run("counts", SAMPLE)
    # sample_logs/README.md is not named like a log: not read, by design, as an error log is
    # (one line says so), and not a reason for exit code 1
    assert p.returncode == 0, p.stderr
    assert b"not read (not named like a log: *log*, *access*, or as AWS names its " in p.stderr
    assert b"README.md" in p.stderr and b"skipped" not in p.stderr
    return rows(p.stdout)


def test_golden_hourly_counts_of_the_sample_logs(sample_counts):
    by_site: dict[str, int] = {}
    for r in sample_counts:
        by_site[r["site"]] = by_site.get(r["site"], 0) + int(r["count"] or 0)
    assert by_site == {"blog.example.org": 69394, "shop.example.com": 161320}
    shop = {r["hour"]: int(r["count"]) for r in sample_counts if r["site"] == "shop.example.com"}
    assert len(shop) == 1177
    assert shop["2026-11-03T13:00:00+01:00"] == 326 and shop["2026-11-03T14:00:00+01:00"] == 202
    # Hours are written in the offset the lines had: +02:00 before the DST change, +01:00 after.
    assert "2026-10-02T11:00:00+02:00" in {r["hour"] for r in sample_counts}


def test_metric_and_filters(tmp_path):
    p = run("counts", SAMPLE, "--metric", "pages", "--no-bots")
    assert sum(int(r["count"] or 0) for r in rows(p.stdout)) == 98867
    p = run("counts", SAMPLE, "--site", "blog.example.org", "--metric", "visitors")
    got = rows(p.stdout)
    assert got[0] == {"hour": "2026-10-02T11:00:00+02:00", "site": "blog.example.org",
                      "metric": "visitors", "count": "13", "partial": ""}


def test_json_output_and_tz(tmp_path):
    log = tmp_path / "access.log"
    log.write_text('1.2.3.4 - - [10/Oct/2026:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua"\n'
                   '1.2.3.4 - - [10/Oct/2026:16:05:00 -0700] "GET / HTTP/1.1" 200 1 "-" "ua"\n')
    p = run("counts", str(log), "--format", "json", "--tz", "UTC")
    data = json.loads(p.stdout)
    assert [d["hour"] for d in data] == ["2026-10-10T20:00:00+00:00", "2026-10-10T21:00:00+00:00",
                                         "2026-10-10T22:00:00+00:00", "2026-10-10T23:00:00+00:00"]
    assert [d["count"] for d in data] == [1, 0, 0, 1]
    # the log ends at 16:05 and nobody writes it any more: its last hour holds 5 minutes of
    # traffic, and is marked partial as the hour in progress of a live log is; so is its first,
    # begun at 13:55 (5 minutes of it, a gap to forecast, eval and train)
    assert [d["partial"] for d in data] == [True, False, False, True]
    assert p.returncode == 0


def test_a_log_dated_ahead_of_the_clock_has_its_own_last_hour_partial(tmp_path):
    import time

    for _ in range(2):  # once more should the hour turn while counts runs (it reads the clock)
        now = time.time()
        hour = now - now % 3600
        stamps = [now - 2 * 3600, hour + 3 * 3600 + 60]  # the server's clock runs 3 h ahead
        log = tmp_path / "access.log"
        log.write_text("".join(
            f'1.2.3.4 - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))}] '
            '"GET / HTTP/1.1" 200 1 "-" "ua"\n' for t in stamps))
        p = run("counts", str(log), "--format", "json", "--tz", "UTC")
        data = json.loads(p.stdout)
        if time.time() - hour < 3600:
            break
    # its first hour: partial when begun inside, by the line's whole second (the float clock
    # said 300.5 > 300 where the line's 300 is not: a clean-clone run at 01:05:00 failed)
    began_inside = int(now - 2 * 3600) % 3600 > 300
    # the clock's hour is in progress here (partial), and the hours after it are not over yet
    # here: the log's last hour, one line in it, was written as whole (a trial: `forecast`
    # from that CSV took 11:00's 7 lines for the hour), and nothing said why
    assert [d["partial"] for d in data] == \
        [began_inside] + [False] * (len(data) - 5) + [True, True, True, True]
    assert b"1 line dated ahead of this machine's clock" in p.stderr
    assert b"counted in their hours, marked partial" in p.stderr
    assert data[-1]["hour"] == pd.Timestamp(hour + 3 * 3600, unit="s", tz="UTC").isoformat()
    # the hours between the clock's and that line's have not happened here: unknown, not 0
    assert [d["count"] for d in data[-3:]] == [None, None, 1]
    assert data[-4]["count"] == 0  # the clock's own hour, quiet so far


def test_a_stray_line_dated_ahead_leaves_the_hour_in_progress_partial_and_unforecast(tmp_path):
    # a trial: 72 h at 100 an hour up to 15:01, and one line dated 16:31: counts marked 15:00
    # (3 requests so far) whole, and forecast read it as a collapse: 64 for 16:00 instead of 100
    import json
    import time

    for _ in range(2):  # once more should the hour turn while they run (both read the clock)
        now = time.time()
        hour = now - now % 3600
        stamps = [*range(int(now) - 72 * 3600, int(now), 36), int(now) + 5400]
        log = tmp_path / "access.log"
        log.write_text("".join(
            f'10.0.0.{i % 200} - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))}]'
            ' "GET / HTTP/1.1" 200 1 "-" "ua"\n' for i, t in enumerate(stamps)))
        data = json.loads(run("counts", str(log), "--format", "json", "--tz", "UTC").stdout)
        fc = run("forecast", str(log), "--horizon", "2", "--tz", "UTC")
        if time.time() - hour < 3600:
            break
    clock = pd.Timestamp(hour, unit="s", tz="UTC").isoformat()
    assert next(d for d in data if d["hour"] == clock)["partial"] is True
    assert data[-1]["partial"] is True  # the stray line's own hour
    first = rows(fc.stdout)[0]
    assert first["hour"] == clock, fc.stderr
    assert 80 < float(first["p50"]) < 125, (first, fc.stderr)


def test_stdin_is_read(tmp_path):
    line = b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"\n'
    p = run("counts", "-", stdin=line * 3)
    assert rows(p.stdout)[0]["count"] == "3" and p.returncode == 0


def test_a_wrong_format_is_loud_not_zero_records(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("this is not\nan access log\n")
    p = run("counts", str(log))
    assert p.returncode == 2
    assert p.stdout == b""  # nothing read: no CSV header either (it had one)
    err = p.stderr.decode()
    assert "no known log format matches" in err and "COMBINED" in err and "this is not" in err
    assert "--log-format" in err


def test_bad_files_are_named_and_the_others_still_counted(tmp_path):
    good = tmp_path / "a.access.log"
    good.write_text('1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"\n')
    (tmp_path / "b.access.log").write_bytes(b"\x00\x01\x02binary\x00" * 10)
    (tmp_path / "c.access.log").write_text("")
    (tmp_path / "d.access.log.2.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    p = run("counts", str(tmp_path))
    err = p.stderr.decode()
    assert p.returncode == 1 and rows(p.stdout)[0]["count"] == "1"
    assert "b.access.log looks binary" in err and "c.access.log is empty" in err
    assert "d.access.log.2.gz" in err


def test_a_log_just_rotated_and_still_empty_is_said_but_no_fault(tmp_path):
    # logrotate has just made a new, empty access.log: the week's counts are all there, and a
    # cron job reading them must not see exit 1 ("some file was skipped")
    (tmp_path / "a.access.log.1").write_text(
        '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"\n')
    (tmp_path / "a.access.log").write_text("")
    p = run("counts", str(tmp_path))
    assert p.returncode == 0 and rows(p.stdout)[0]["count"] == "1"
    assert "a.access.log is empty; nothing to count" in p.stderr.decode()


def test_malformed_lines_are_counted_with_an_example_made_safe(tmp_path):
    log = tmp_path / "access.log"
    ok = '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"\n'
    log.write_text(ok * 5 + 'x - - [99/Foo/2026:13:55:36 +0000] "GET /\x1b[2J HTTP/1.1" 200 1 "-" "ua"\n')
    p = run("counts", str(log))
    err = p.stderr.decode()
    assert "1 malformed" in err and "bad time" in err
    assert "\x1b" not in err and "\\x1b[2J" in err


def test_every_command_has_help_and_is_documented():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for cmd in COMMANDS:
        p = run(cmd, "--help")
        assert p.returncode == 0 and b"usage: trafficwatch" in p.stdout, cmd
        assert f"trafficwatch {cmd}" in readme or cmd == "watch", cmd


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["counts"])
    assert exc.value.code == 2
    assert main(["counts", SAMPLE, "--status", "6xx"]) == 2


def test_core_imports_without_textual_or_torch():
    code = ("import sys, trafficwatch.cli.main, trafficwatch.engine.engine, "
            "trafficwatch.counting.ingest, trafficwatch.engine.live, trafficwatch.counting.series, "
            "trafficwatch.engine.predict, trafficwatch.logs.parse;"
            "trafficwatch.cli.main.build_parser();"
            "bad = [m for m in ('textual', 'torch') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False)
    assert p.returncode == 0, p.stdout + p.stderr


def test_serve_binds_loopback_unless_an_address_is_given():
    from trafficwatch.cli.main import build_parser
    from trafficwatch.cli.watch import serve_address, without_serve

    args = build_parser().parse_args(["watch", "--serve", "/var/log/nginx"])
    assert args.paths == ["/var/log/nginx"] and serve_address(args.serve_addr) == ("127.0.0.1",
                                                                                   8000)
    assert serve_address("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert serve_address(":9001") == ("127.0.0.1", 9001)
    assert serve_address("[::1]:9002") == ("::1", 9002)
    with pytest.raises(ValueError):
        serve_address("host:http")
    assert without_serve(["/var/log/nginx", "--serve", "--serve-addr", "0.0.0.0:9000",
                          "--band", "0.9"]) == ["/var/log/nginx", "--band", "0.9"]
    assert without_serve(["--serve-addr=:9000", "--serve", "x"]) == ["x"]


def test_a_console_script_installed_before_cli_was_a_package_still_runs():
    """pip wrote `from trafficwatch.cli import main` into environments installed before the
    layering; they must not fail with "'module' object is not callable" until reinstalled."""
    stale = "import sys\nfrom trafficwatch.cli import main\nsys.exit(main(['--version']))\n"
    p = subprocess.run([sys.executable, "-c", stale], capture_output=True, timeout=60, check=False)
    assert p.returncode == 0 and p.stdout.startswith(b"trafficwatch "), p.stderr


@pytest.mark.parametrize("argv, says", [
    (["--band", "1.5"], "--band 1.5: a central probability"),
    (["--anomaly-band", "0"], "--anomaly-band 0: a central probability"),
    (["--band", "0.9", "--anomaly-band", "0.85"], "narrower than --band 0.9"),
    (["--speed", "-5"], "--speed -5: log seconds per real second"),
    (["--replay", "--speed", "inf"], "--speed inf: log seconds per real second"),  # hung
    (["--replay", "--speed", "nan"], "--speed nan: log seconds per real second"),
])
def test_bad_band_or_speed_is_one_line_and_exit_2(argv, says, capsys):
    assert main([*argv, SAMPLE]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


@pytest.mark.parametrize("argv, says", [
    ([SAMPLE, "--speed", "100"], "--speed applies to a replay"),
    ([SAMPLE, "--serve-addr", "127.0.0.1:29817"], "--serve-addr applies with --serve"),
    (["train", SAMPLE, "--horizon", "24", "--out", "m.pt"], "--horizon applies with --scratch"),
])
def test_an_option_that_would_do_nothing_is_one_line_and_exit_2(argv, says, capsys, tmp_path,
                                                                monkeypatch):
    # a trial of the docs: the logs opened whole, nothing listened on the port, and an
    # 8-epoch fine-tune ran, each option left out without a word
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "m.pt").exists()


def test_an_option_of_another_command_points_at_this_command_s_help(capsys):
    """`counts --speed` is watch's option: the hint names `counts --help`, the list that
    holds what counts takes; the top-level help says where the app's options are."""
    with pytest.raises(SystemExit) as exc:
        main(["counts", "--speed", "3", SAMPLE])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("trafficwatch counts: unrecognized arguments: --speed "
                    "(see trafficwatch counts --help)")], err
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert "trafficwatch watch --help" in top and "--replay" in top


def test_the_anomaly_band_default_is_the_engine_s():
    from trafficwatch.cli.main import build_parser
    from trafficwatch.engine.anomalies import ANOMALY_BAND

    assert build_parser().parse_args(["watch", SAMPLE]).anomaly_band == ANOMALY_BAND


def test_a_mistyped_command_is_one_line_not_an_app_on_nothing():
    p = subprocess.run([sys.executable, "-m", "trafficwatch", "cunts"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert p.returncode == 2 and p.stdout == b""  # no screen written into the pipe
    (line,) = p.stderr.decode().splitlines()
    assert "unknown command 'cunts' (did you mean counts?" in line and "commands: watch, counts" in line


@pytest.mark.parametrize("word, said", [("follow", "counts --follow"), ("predict", "forecast"),
                                        ("backtest", "eval")])
def test_another_tools_word_for_a_command_is_one_line_naming_ours(word, said, capsys):
    # `trafficwatch follow /var/log/nginx` opened the app, "skipped follow: no such file" at
    # the foot of a pane the only word of it (a trial)
    from trafficwatch.cli.main import main

    assert main([word, SAMPLE]) == 2
    out, err = capsys.readouterr()
    assert not out and f"unknown command '{word}' (did you mean {said}?" in err


def test_the_app_without_a_terminal_says_so_instead_of_waiting_for_keys():
    p = subprocess.run([sys.executable, "-m", "trafficwatch", SAMPLE], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert p.returncode == 2 and p.stdout == b""
    (line,) = p.stderr.decode().splitlines()
    assert "needs a terminal" in line and "counts" in line


def _on_a_terminal(argv: list[str], **kw) -> tuple[int, str]:
    """Run `argv` with stdin and stdout a terminal (a pty): its status and what it showed."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        p = subprocess.run(argv, stdin=slave, stdout=slave, timeout=60, check=False,
                           env={**os.environ, "TERM": "xterm-256color"}, **kw)
        os.set_blocking(master, False)
        try:
            shown = os.read(master, 65536).decode()
        except BlockingIOError:
            shown = ""
    finally:
        os.close(master)
        os.close(slave)
    return p.returncode, shown.replace("\r", "")


def test_the_app_with_stderr_to_a_file_says_so_on_the_terminal_instead_of_a_blank_screen(
        tmp_path):
    # `trafficwatch DIR 2>errors.log` left the terminal blank and wrote the screen, which the
    # app draws on stderr, into the file (360 kB in 20 s, a trial)
    err = tmp_path / "errors.log"
    with err.open("wb") as fh:
        code, shown = _on_a_terminal([sys.executable, "-m", "trafficwatch", SAMPLE], stderr=fh)
    assert code == 2
    (line,) = err.read_text().splitlines()  # one line in the file, no screen
    assert "draws its screen on stderr, which is not a terminal" in line
    assert line in shown  # and on the terminal, where it is read
    # stderr closed (`2>&-`): a traceback no one saw, status 1; now the line on the terminal
    code, shown = _on_a_terminal(["bash", "-c", '"$0" -m trafficwatch "$1" 2>&-',
                                  sys.executable, SAMPLE])
    assert code == 2 and "draws its screen on stderr, which is closed here" in shown


@pytest.mark.parametrize("redirect, said", [
    (">/dev/full", "cannot write the output: No space left on device"),
    (">&-", "standard output is closed: nothing to write the output to"),
])
@pytest.mark.parametrize("command", ["counts", "top"])
def test_output_that_cannot_be_written_is_one_line_and_status_74(tmp_path, redirect, said,
                                                                 command):
    # a trial: `counts ... >/dev/full` (a cron job's full disk) ended in a traceback and status
    # 1, "some file was skipped", and the partial CSV was kept
    if redirect == ">/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    (tmp_path / "access.log").write_text("".join(
        f'192.0.2.1 - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET /{m} HTTP/1.1" 200 5 "-" "ua"\n'
        for m in range(60)) * 50)
    p = subprocess.run(["bash", "-c", f'"$0" -m trafficwatch {command} "$1" {redirect}',
                        sys.executable, str(tmp_path)], capture_output=True, timeout=120,
                       check=False, stdin=subprocess.DEVNULL)
    assert p.returncode == 74, p.stderr
    assert p.stderr.decode().splitlines()[-1] == f"trafficwatch: {said}"
    assert b"Traceback" not in p.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["counts", "--help"]])
def test_help_that_cannot_be_written_is_one_line_and_status_74(args):
    # a trial of the docs: argparse dropped the error, status 0 and nothing said
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    p = subprocess.run(["bash", "-c", '"$0" -m trafficwatch "$@" >/dev/full', sys.executable,
                        *args], capture_output=True, timeout=60, check=False)
    assert p.returncode == 74, p.stderr
    assert p.stderr.decode() == "trafficwatch: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("args, said", [
    ([SAMPLE], "the app needs a terminal"),  # as with </dev/null
    (["counts", "-"], "standard input is closed: nothing to read from -"),  # not "empty", 0
])
def test_a_closed_stdin_is_one_line_and_status_2(args, said):
    p = subprocess.run(["bash", "-c", '"$0" -m trafficwatch "$@" <&-', sys.executable, *args],
                       capture_output=True, timeout=60, check=False)
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    assert said in p.stderr.decode()


def test_the_agent_with_stdout_closed_stops_on_term_with_status_0(tmp_path):
    import signal
    import time

    (tmp_path / "access.log").write_text(
        '192.0.2.1 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n')
    script = 'exec "$0" -m trafficwatch agent "$1" --metrics-addr 127.0.0.1:0 --state "$2" >&-'
    proc = subprocess.Popen(["bash", "-c", script, sys.executable, str(tmp_path),
                             str(tmp_path / "state.json")], stderr=subprocess.PIPE)
    said = b""
    deadline = time.monotonic() + 30  # up and serving (it was a fixed 3 s wait), then a few
    while b"; serving http://" not in said and time.monotonic() < deadline:  # turns of its loop
        line = proc.stderr.readline()
        if not line:
            break
        said += line
    time.sleep(0.75)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    err = said + err
    assert b"; serving http://" in said, err
    assert proc.returncode == 0 and b"Traceback" not in err, err


def test_the_app_without_a_terminal_frees_the_metrics_port_it_bound():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.run([sys.executable, "-m", "trafficwatch", "--metrics-addr",
                        f"127.0.0.1:{port}", SAMPLE], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert p.returncode == 2 and b"needs a terminal" in p.stderr


@pytest.mark.parametrize("command", ["counts", "forecast", "eval", "train"])
def test_a_mistyped_path_is_one_line_and_nothing_on_stdout(tmp_path, command):
    # forecast, eval and train said "skipped PATH: no such file", then "no request could be
    # read from PATH"
    p = run(command, str(tmp_path / "nowhere"), *(["--out", str(tmp_path / "m.pt")]
                                                 if command == "train" else []))
    assert p.returncode == 2 and p.stdout == b""
    assert p.stderr.decode().strip().splitlines() == [
        f"trafficwatch: nothing to read: {tmp_path / 'nowhere'}: no such file"]


def test_counts_of_a_site_not_in_the_logs_is_one_line(tmp_path):
    # a trial: the error, then "trafficwatch: 6 file(s), 74,183 lines ... counted", read as success
    log = tmp_path / "shop.access.log"
    log.write_text('10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n')
    p = run("counts", str(tmp_path), "--site", "nope")
    assert p.returncode == 2 and p.stdout == b""
    assert p.stderr.decode().splitlines() == ["trafficwatch: no site nope; found: shop"]


def test_a_site_named_as_trafficwatch_writes_it_is_found(tmp_path):
    """A log named with a line end is the site `new\\x0aline.com` in every output; given back
    to --site as written, it was "no site new\\x0aline.com; found: new\\x0aline.com" (a
    trial). Its raw name still works."""
    # a log no longer written (dated a year back: dated the day before, it failed from the next
    # day on, its one hour then partial as a log's that ended inside it)
    line = '10.0.0.1 - - [05/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n'
    (tmp_path / "new\nline.com.access.log").write_text(line)
    (tmp_path / "shop.access.log").write_text(line * 2)
    for name in ("new\\x0aline.com", "new\nline.com"):
        p = run("counts", str(tmp_path), "--site", name, "--format", "csv")
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().splitlines()[1:] == [
            "2025-12-05T10:00:00+00:00,new\\x0aline.com,hits,1,1"]
    # a site named with a backslash itself is written with it doubled: each name as written
    # picks its own site (the one written for the first had picked this one, a trial)
    (tmp_path / "new\\x0aline.com.access.log").write_text(line * 3)
    for name, want in (("new\\x0aline.com", "new\\x0aline.com,hits,1,1"),
                       ("new\\\\x0aline.com", "new\\\\x0aline.com,hits,3,1")):
        p = run("counts", str(tmp_path), "--site", name, "--format", "csv")
        assert p.stdout.decode().splitlines()[1:] == ["2025-12-05T10:00:00+00:00," + want]


def test_only_empty_logs_are_no_fault_and_a_folder_of_folders_is_said(tmp_path):
    (tmp_path / "a.access.log").write_text("")  # logrotate's fresh file, nothing else yet
    p = run("counts", str(tmp_path))
    assert p.returncode == 0 and "a.access.log is empty" in p.stderr.decode()
    # beside a file that is not there: that one was skipped, the empty one read (1, not 2)
    p = run("counts", str(tmp_path / "a.access.log"), str(tmp_path / "nosuch.log"))
    assert p.returncode == 1 and "skipped" in p.stderr.decode(), p.stderr
    sub = tmp_path / "parent"
    (sub / "nginx").mkdir(parents=True)
    p = run("counts", str(sub))
    assert p.returncode == 2 and "only subdirectories" in p.stderr.decode()


def test_a_reader_that_stops_early_changes_neither_the_warnings_nor_the_status(tmp_path):
    # a trial: `counts /nope LOG | head -1` exited 0 with stderr empty, where without the pipe
    # it says "skipped /nope: no such file" and exits 1 (as forecast's 168 hours did: every
    # headless command writes through the same stdout; counts' rows overflow a pipe for sure)
    import time

    log = tmp_path / "access.log"
    log.write_text("".join(  # 4000 hours: more rows than a pipe holds
        f'1.2.3.4 - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1.7e9 + 3600 * k))}]'
        f' "GET / HTTP/1.1" 200 1 "-" "ua"\n' for k in range(4000)))
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", str(tmp_path / "nope"),
                             str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdout.readline()
        proc.stdout.close()  # as head -1 does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 1, err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"skipped {tmp_path / 'nope'}: no such file" in err
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err


def test_follow_ends_when_its_reader_stops(tmp_path):
    # writes to a closed pipe go to /dev/null so that a command reaches its warnings and status;
    # `counts --follow LOG | head -1` must not follow on for ever into /dev/null
    import time

    log = tmp_path / "access.log"
    log.write_text("".join(  # 4000 hours: more JSON lines than a pipe holds
        f'1.2.3.4 - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1.7e9 + 3600 * k))}]'
        f' "GET / HTTP/1.1" 200 1 "-" "ua"\n' for k in range(4000)))
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow",
                             "--no-state", str(log)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().startswith(b'{"hour": ')
        proc.stdout.close()
        assert proc.wait(timeout=60) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("command", ["watch", "counts", "top", "forecast", "eval", "train",
                                     "agent"])
def test_every_command_s_help_ends_with_the_exit_codes(command, capsys):
    # a trial: counts --help and watch --help listed them, forecast --help did not
    from trafficwatch.cli.main import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "\nexit codes:\n  0  every file was read (an empty log too: it holds nothing)\n" in out
    assert "  130  interrupted (Ctrl-C)" in out
    # a trial: forecast --help said "state was saved" and that SIGTERM "saves state", of a
    # command that keeps none
    keeps_state = command in ("watch", "counts", "agent")  # counts: with --follow (it says so)
    assert ("state was saved" in out) == keeps_state and ("save state" in out) == keeps_state
    assert ("with --follow, state was saved" in out) == (command == "counts")


def test_train_refuses_init_beside_scratch(capsys, tmp_path):
    # a trial: --scratch --init FILE trained from scratch, --init left out without a word
    assert main(["train", SAMPLE, "--scratch", "--init", "m.pt", "--out",
                 str(tmp_path / "x.pt")]) == 2
    assert "--init and --scratch together" in capsys.readouterr().err


def test_a_file_refused_is_not_among_the_files_read(tmp_path, capsys):
    # a trial: "2 file(s), 50 lines" of a folder where one file was no known format
    (tmp_path / "a.access.log").write_text(
        '203.0.113.1 - - [06/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n')
    (tmp_path / "b.access.log").write_text("garbage line one\ngarbage two\n")
    assert main(["counts", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("trafficwatch: 1 file(s) (1 not read, below), 1 lines in "), err
    assert "b.access.log: no known log format matches" in err
