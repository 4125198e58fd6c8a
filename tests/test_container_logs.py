"""Docker's json-file logs (/var/lib/docker/containers/<id>/<id>-json.log): the server's lines
inside the runtime's JSON are read as the server wrote them, in whatever format, and counted as
the same lines in a plain log are."""
from __future__ import annotations

import json
from pathlib import Path

from trafficwatch.cli.main import main
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.live import LiveFeed

CID = "3f" * 32  # a container's id: 64 hex digits
LINE = ('203.0.113.{i} - - [20/Nov/2026:{h:02d}:{m:02d}:00 +0100] "GET /p{i} HTTP/1.1" 200 5 '
        '"-" "Mozilla/5.0"')
ERROR = "2026/11/20 10:00:00 [error] 29#29: *1 open() \"/usr/share/nginx/html/x\" failed (2: No such file)"


def wrapped(text: str, stream: str = "stdout", end: str = "\n") -> str:
    """A line as Docker's json-file driver writes it (Go's encoding: HTML characters escaped)."""
    entry = {"log": text + end, "stream": stream, "time": "2026-12-06T10:00:00.123456789Z"}
    return json.dumps(entry, separators=(",", ":")).replace("<", "\\u003c") + "\n"


def plain_lines(n: int) -> list[str]:
    return [LINE.format(i=k % 250, h=8 + k // 60, m=k % 60) for k in range(n)]


def container(tmp_path: Path, body: str, name: str | None = "/web") -> Path:
    folder = tmp_path / CID
    folder.mkdir()
    (folder / f"{CID}-json.log").write_text(body)
    if name is not None:
        (folder / "config.v2.json").write_text(json.dumps({"ID": CID, "Name": name}))
    return folder


def counts(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["counts", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_containers_log_counts_as_its_lines_do_plain(tmp_path, capsys):
    lines = plain_lines(150)
    entry = ["/docker-entrypoint.sh: Configuration complete; ready for start up",
             "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6"]
    body = "".join(wrapped(x) for x in entry)
    for k, line in enumerate(lines):
        body += wrapped(line)
        if k % 50 == 0:  # nginx's image: its error log on stderr, beside the access log
            body += wrapped(ERROR, "stderr")
    folder = container(tmp_path, body)
    (tmp_path / "plain.log").write_text("\n".join(lines) + "\n")
    code, out, err = counts(capsys, str(folder))
    assert code == 0, err
    _, plain_out, _ = counts(capsys, str(tmp_path / "plain.log"))
    assert out.replace(",web,", ",plain,") == plain_out  # the same hours, the same counts
    assert ",web,hits,60," in out  # named as `docker ps` names it
    assert "150 counted" in err
    assert "stderr line that is no request" in err and ": 3," in err
    assert "start-up message" in err


def test_a_long_line_in_pieces_a_request_on_stderr_and_a_json_log_inside(tmp_path, capsys):
    long = LINE.format(i=1, h=9, m=0).replace("/p1", "/p" + "x" * 40_000)
    pieces = [long[:16384], long[16384:32768], long[32768:]]
    caddy = json.dumps({"level": "info", "ts": 1795165200.5, "logger": "http.log.access",
                        "request": {"remote_ip": "198.51.100.4", "method": "GET", "uri": "/c",
                                    "host": "shop.example"}, "status": 404})
    body = (wrapped(pieces[0], end="") + wrapped(pieces[1], end="") + wrapped(pieces[2])
            + wrapped(LINE.format(i=2, h=9, m=5), "stderr"))
    folder = container(tmp_path, body, name=None)
    code, out, err = counts(capsys, str(folder))
    assert code == 0, err
    assert f"2026-11-20T09:00:00+01:00,{CID[:12]},hits,2," in out  # the id, without a name
    assert "2 counted, 0 malformed" in err

    other = tmp_path / "caddy"
    other.mkdir()
    (other / f"{CID}-json.log").write_text(wrapped(caddy, "stderr") * 3)
    code, out, err = counts(capsys, str(other))
    assert code == 0, err
    assert "3 counted, 0 malformed" in err


def test_the_tail_shows_the_servers_line_not_the_runtimes(tmp_path):
    container(tmp_path, "".join(wrapped(x) for x in plain_lines(3)))
    e = Engine(EngineConfig(paths=[str(tmp_path / CID)], fine_tune=False), lambda s: None)
    f = LiveFeed(e.sink, None)
    try:
        assert [t.site for t in f.tail] == ["web"] * 3
        assert [t.shown for t in f.tail] == plain_lines(3)
    finally:
        f.close()


def test_a_long_line_whose_pieces_are_read_apart_is_one_request(tmp_path):
    # a trial: followed, the runtime's pieces of a 40 KB request came in three reads, each
    # read as a line: two malformed lines, the request not counted
    line = LINE.format(i=1, h=9, m=0).replace("/p1", "/p" + "x" * 40_000)
    folder = container(tmp_path, wrapped(LINE.format(i=2, h=9, m=1)))
    log = folder / f"{CID}-json.log"
    e = Engine(EngineConfig(paths=[str(folder)], fine_tune=False), lambda s: None)
    f = LiveFeed(e.sink, None)
    try:
        assert e.series.total() == 1
        for piece in (line[:16384], line[16384:32768]):
            with log.open("a") as fh:
                fh.write(wrapped(piece, end=""))
            for _ in range(5):
                f.step(0.1)
            assert e.series.total() == 1
        with log.open("a") as fh:
            fh.write(wrapped(line[32768:]))
        for _ in range(20):
            f.step(0.1)
            if e.series.total() == 2:
                break
        assert e.series.total() == 2
        assert sum(r.malformed.total for r in f.report.files) == 0
    finally:
        f.close()


def cri(when: str, stream: str, tag: str, text: str) -> str:
    return f"2026-11-20T{when}.123456789Z {stream} {tag} {text}\n"


def test_kubernetes_cri_logs_join_long_lines_say_stderr_apart_and_name_the_workload(tmp_path,
                                                                                   capsys):
    # a trial: a request split P, P, F was two malformed lines ("unbalanced quotes") and one
    # "does not match"; nginx's error log on stderr was 113 malformed lines; the site named
    # after the pod and the container's id, a new site at each restart
    lines = plain_lines(30)
    long = LINE.format(i=7, h=8, m=31).replace("/p7", "/p" + "x" * 40_000)
    body = "".join(cri(f"08:{k // 2:02d}:00", "stdout", "F", line) for k, line in
                   enumerate(lines))
    body += cri("08:40:00", "stderr", "F", ERROR)
    body += (cri("08:41:00", "stdout", "P", long[:16384])
             + cri("08:41:00", "stdout", "P", long[16384:32768])
             + cri("08:41:01", "stdout", "F", long[32768:]))
    name = f"web-7d9f8b6c5d-x2x9k_default_nginx-{CID}.log"
    (tmp_path / name).write_text(body)
    code, out, err = counts(capsys, str(tmp_path / name))
    assert code == 0, err
    assert "2026-11-20T08:00:00+01:00,web_default_nginx,hits,31," in out, out
    assert "31 counted, 0 malformed, 1 no request" in err and "stderr line that is no request" in err, err

    # followed, the pieces read apart: one request, as read whole
    log = tmp_path / "live" / name
    log.parent.mkdir()
    log.write_text(cri("08:00:00", "stdout", "F", lines[0]))
    e = Engine(EngineConfig(paths=[str(log.parent)], fine_tune=False), lambda s: None)
    f = LiveFeed(e.sink, None)
    try:
        for part in (cri("08:41:00", "stdout", "P", long[:16384]),
                     cri("08:41:00", "stdout", "P", long[16384:32768]),
                     cri("08:41:01", "stdout", "F", long[32768:])):
            with log.open("a") as fh:
                fh.write(part)
            for _ in range(5):
                f.step(0.1)
        assert e.series.total() == 2
        assert sum(r.malformed.total for r in f.report.files) == 0
    finally:
        f.close()


def test_dockers_containers_folder_or_a_quoted_glob_of_its_folders_is_read(tmp_path, capsys):
    # a trial: `trafficwatch /var/lib/docker/containers/` said "no file in it, only
    # subdirectories"; `'containers/*/'` quoted, "nothing to read: ...: directory"; and each
    # container's config.v2.json, hostname... was a line of "not read"
    root = tmp_path / "containers"
    root.mkdir()
    folder = container(root, "".join(wrapped(x) for x in plain_lines(12)))
    for name in ("hostconfig.json", "hostname", "resolv.conf"):
        (folder / name).write_text("x\n")
    for arg in (str(root), str(root / "*") + "/"):
        code, out, err = counts(capsys, arg)
        assert code == 0 and ",web,hits,12," in out, err
        assert "not read" not in err, err


def test_a_journald_json_export_reads_its_messages_as_the_servers_lines(tmp_path, capsys):
    # a trial: `journalctl -u nginx -o json > x.json` was "no known log format"
    def entry(message, prio="6", ident="nginx") -> str:
        return json.dumps({"__CURSOR": "s=abc;i=1", "__REALTIME_TIMESTAMP": "1795165200000000",
                           "PRIORITY": prio, "SYSLOG_IDENTIFIER": ident, "MESSAGE": message,
                           "_TRANSPORT": "syslog"}) + "\n"

    lines = plain_lines(40)
    body = entry("Started nginx.service - A high performance web server.", ident="systemd")
    body += "".join(entry(x) for x in lines[:39])
    body += entry(ERROR, prio="3")
    body += entry(list(lines[39].replace("/p39", "/p\xff").encode("latin-1")))  # not UTF-8
    (tmp_path / "nginx.json").write_text(body)
    code, out, err = counts(capsys, str(tmp_path / "nginx.json"))
    assert code == 0 and ",hits,40," in out, out
    assert "40 counted, 0 malformed, 2 no request" in err, err
    assert "a system message (no request): 1" in err
    assert "a stderr line that is no request (the server's error log): 1" in err


def test_the_agent_counts_an_error_log_among_a_containers_lines_apart_from_malformed(tmp_path):
    # a trial: nginx's error log on the container's stderr raised
    # trafficwatch_malformed_lines_total with every 404: an alert on it fired on ordinary traffic
    import urllib.request

    from trafficwatch.counting.ingest import IngestOptions
    from trafficwatch.engine.agent import Agent

    body = "".join(wrapped(x) for x in plain_lines(20)) + wrapped(ERROR, "stderr") * 3
    body += wrapped("not a request line")  # malformed, as ever
    folder = container(tmp_path, body)
    agent = Agent([str(folder)], IngestOptions(), "127.0.0.1:0", None)
    agent.start()
    try:
        host, port = agent.address[:2]
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        agent.close()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line and not line.startswith("#")}
    assert values["trafficwatch_malformed_lines_total"] == 1
    assert values["trafficwatch_other_lines_total"] == 3
    assert values["trafficwatch_lines_read_total"] == 24


def test_a_container_config_that_is_no_file_or_an_id_that_reads_as_a_date(tmp_path, capsys):
    # a security trial: a FIFO named config.v2.json held `counts` for ever at its open; 1.9 %
    # of ids hold digits read as a date (…cea070514eb…: 2007-05-14), cut out of the name, the
    # container's log a site of that name; a 10,000-character name filled the site picker
    import os

    cid = "2e1cfa82b035c26cbbbdae632cea070514eb8b773f616aaeaf668e2f0be8f10d"
    folder = tmp_path / cid
    folder.mkdir()
    (folder / f"{cid}-json.log").write_text("".join(wrapped(x) for x in plain_lines(5)))
    (folder / "config.v2.json").write_text(json.dumps({"Name": "/shop"}))
    code, out, err = counts(capsys, str(tmp_path))
    assert code == 0 and ",shop,hits,5," in out, out
    (folder / "config.v2.json").unlink()
    os.mkfifo(folder / "config.v2.json")
    code, out, err = counts(capsys, str(tmp_path))  # (it would hang here; the FIFO said)
    assert code == 1 and f",{cid[:12]},hits,5," in out, out
    assert "config.v2.json: not a regular file (FIFO" in err, err
    (folder / "config.v2.json").unlink()
    (folder / "config.v2.json").write_text(json.dumps({"Name": "/" + "A" * 10_000}))
    code, out, err = counts(capsys, str(tmp_path))
    site = out.splitlines()[1].split(",")[1]
    assert code == 0 and len(site) == 128 and site.endswith("…"), len(site)


def test_a_line_of_garbage_first_costs_itself_and_pieces_without_end_cost_little(tmp_path,
                                                                                 capsys):
    # a security trial: a garbage first line (a crash's) had the 100 JSON lines after it
    # malformed, the file refused; 80,000 empty pieces took 74 s (summed at each piece)
    good = "".join(wrapped(x) for x in plain_lines(100))
    (tmp_path / "garbage.log").write_text("garbage line\n" + good)
    code, _, err = counts(capsys, str(tmp_path / "garbage.log"))
    assert code == 0 and "100 counted, 1 malformed" in err, err
    (tmp_path / "garbage.log").unlink()
    empty = '{"log":"","stream":"stdout","time":"t"}\n' * 80_000
    (tmp_path / "pieces.log").write_text(wrapped(plain_lines(1)[0]) + empty + good)
    code, _, err = counts(capsys, str(tmp_path / "pieces.log"))  # (74 s before, 1 s now)
    assert code == 0 and "101 counted" in err, err
