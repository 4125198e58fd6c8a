"""Bad usage is one line on stderr and status 2, for every command, never a traceback."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from trafficwatch.cli.main import main

LINE = '1.2.3.4 - - [20/Nov/2026:10:01:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"\n'


@pytest.fixture
def logs(tmp_path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "access.log").write_text(LINE * 3)
    return d


def one_line_exit_2(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("argv", "says"), [
    (["counts", "--log-format", "NOPE"], "unknown log format 'NOPE'"),
    (["counts", "--follow", "--log-format", "NOPE"], "unknown log format 'NOPE'"),
    (["counts", "--vhost-from-filename", "("], "--vhost-from-filename '(' is not a regex"),
    (["counts", "--follow", "--vhost-from-filename", "("], "is not a regex"),
    (["counts", "--vhost-from-filename", "[a-z]+"], "has no group"),
    (["counts", "--tz", "Nowhere/Else"], "unknown time zone 'Nowhere/Else'"),
    (["watch", "--tz", "Nowhere/Else"], "unknown time zone"),
    (["watch", "--metrics-addr", "127.0.0.1"], "use HOST:PORT"),
    (["watch", "--metrics-addr", "no-such-host.invalid:9877"], "cannot listen there"),
    (["counts", "--tz", "+99:00"], "an offset is -23:59 to +23:59"),
    (["eval", "--horizon", "0"], "--horizon 0: hours ahead, at least 1"),
    (["forecast", "--horizon", "-5"], "--horizon -5: hours ahead, at least 1"),
    (["eval", "--days", "0"], "--days 0: daily origins, at least 1"),
    (["train", "--holdout-days", "-1"], "--holdout-days -1: days held out"),
    (["train", "--epochs", "0"], "--epochs 0: epochs, at least 1"),
    # accepted in silence before, each a filter or a state that did nothing or not what it said
    (["counts", "--exclude-ip", "notanip"], "--exclude-ip 'notanip': not an IP address"),
    (["agent", "--exclude-ip", "10.0.0.0/33"], "not an IP address or range"),
    (["counts", "--ignore-status", "-5"], "--ignore-status -5: an HTTP status, 100 to 599"),
    (["counts", "--status", ""], "--status is empty"),
    (["forecast", "--tz", ""], "--tz is empty"),
    (["counts", "--vhost-from-filename", "(a)(b)"], "has 2 groups"),
    (["counts", "--follow", "--state", "s.json", "--no-state"], "--state and --no-state"),
    (["counts", "--poll"], "--poll only applies with --follow"),
    (["counts", "--state", "s.json"], "--state only applies with --follow"),
    (["counts", "--poll", "--no-state"], "--poll and --no-state only apply with --follow"),
    (["counts", "--follow", "-"], "cannot follow stdin"),
])
def test_bad_options_are_one_line_and_status_2(capsys, logs, argv, says):
    assert says in one_line_exit_2(capsys, [*argv, str(logs)])


def test_a_metrics_port_in_use_is_one_line_and_status_2(capsys, logs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        err = one_line_exit_2(capsys, ["--metrics-addr", f"127.0.0.1:{port}", str(logs)])
    assert f"--metrics-addr 127.0.0.1:{port}: cannot listen there" in err


@pytest.mark.parametrize("command", ["counts", "top"])
def test_argparse_errors_are_one_line_too(capsys, command):
    # `top` with no PATH had read nothing and said "0 file(s), 0 lines", status 2 (a trial)
    with pytest.raises(SystemExit) as exc:
        main([command])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "required: PATH" in err


FOLLOW_UNDER_LIMIT = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))\n"
    "from trafficwatch.cli.main import main\n"
    "sys.exit(main(['counts', '--follow', '--no-state', sys.argv[3]]))\n")


def many_logs(tmp_path: Path, n: int) -> Path:
    d = tmp_path / "many"
    d.mkdir()
    for i in range(n):
        (d / f"site{i}.access.log").write_text(LINE)
    return d


def test_more_logs_than_file_descriptors_is_one_line_and_status_2(tmp_path):
    d = many_logs(tmp_path, 300)
    proc = subprocess.run([sys.executable, "-c", FOLLOW_UNDER_LIMIT, "256", "256", str(d)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr == ("trafficwatch: 300 files to follow need 364 open files, but the limit "
                           "is 256 (ulimit -n): raise it, or follow fewer files\n")


def test_a_low_soft_limit_is_raised_to_the_hard_one_and_every_log_followed(tmp_path):
    d = many_logs(tmp_path, 300)
    proc = subprocess.Popen([sys.executable, "-c", FOLLOW_UNDER_LIMIT, "256", "1024", str(d)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(300)]
        assert all('"count": 1' in ln for ln in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_state_in_no_folder_a_link_or_a_folder_is_refused_and_nothing_made(capsys, logs,
                                                                              tmp_path):
    # `--state /nonexist/dir/s.json` made /nonexist/dir/ at the root of the disk, silently; a
    # state that was a link to /etc/passwd was read through and moved aside as unusable
    missing = tmp_path / "no" / "such" / "s.json"
    err = one_line_exit_2(capsys, ["counts", "--follow", "--state", str(missing), str(logs)])
    assert "no folder" in err and not (tmp_path / "no").exists()
    link = tmp_path / "link.json"
    target = tmp_path / "precious"
    target.write_text("keep me")
    link.symlink_to(target)
    for argv in (["counts", "--follow"], ["agent"], ["watch"]):
        err = one_line_exit_2(capsys, [*argv, "--state", str(link), str(logs)])
        assert "is a symbolic link" in err
    assert link.is_symlink() and target.read_text() == "keep me"
