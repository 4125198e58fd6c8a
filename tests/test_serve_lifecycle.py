"""`trafficwatch --serve`: a browser session's app ends with its tab, and every app ends with the
server, even one killed outright (issue 11: they outlived both)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("textual_serve")
aiohttp = pytest.importorskip("aiohttp")

GONE_WITHIN_S = 3.0
LINE = '203.0.113.{i} - - [{d}] "GET /p HTTP/1.1" 200 5 "-" "ua"\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stat_of(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) from /proc, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[2])


def alive(pid: int) -> bool:
    st = stat_of(pid)
    return st is not None and st[0] != "Z"


def descendants(root: int) -> set[int]:
    """Every live process under `root`, found through /proc."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := stat_of(int(name))) and st[0] != "Z":
            parents[int(name)] = st[1]
    found, todo = set(), [root]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        todo.extend(kids - found)
        found |= kids
    return found


def in_group(pgid: int) -> set[int]:
    """Live processes in process group `pgid`."""
    return {int(n) for n in os.listdir("/proc")
            if n.isdigit() and (st := stat_of(int(n))) and st[0] != "Z" and st[2] == pgid}


async def until(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return cond()


async def wait_for_port(port: int, server: asyncio.subprocess.Process, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.returncode is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    pytest.fail(f"the server did not listen on {port} (exit status {server.returncode})")


async def open_session(http, port: int, server_pid: int):
    """A browser tab: the page's websocket (which starts an app), up to the app's first screen."""
    before = descendants(server_pid)
    ws = await http.ws_connect(f"ws://127.0.0.1:{port}/ws?width=100&height=30")
    await ws.send_json(["resize", {"width": 100, "height": 30}])
    first = await ws.receive(timeout=20)
    assert first.type == aiohttp.WSMsgType.BINARY, f"no screen from the app: {first}"
    reader = asyncio.create_task(drain(ws))  # the page reads the screen (and answers a close)
    return ws, reader, descendants(server_pid) - before


async def drain(ws) -> None:
    async for _ in ws:
        pass


async def start_server(logs: Path) -> tuple[asyncio.subprocess.Process, int]:
    """`trafficwatch --serve` on a free loopback port, in a session (process group) of its own."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trafficwatch", "--serve", "--serve-addr", f"127.0.0.1:{port}",
        "--no-state", str(logs), start_new_session=True)
    await wait_for_port(port, server)
    return server, port


async def test_serve_sessions_end_with_the_tab_and_with_the_server(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    (logs / "access.log").write_text("".join(
        LINE.format(i=i, d=time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now - i * 600)))
        for i in range(50)))
    servers: list[asyncio.subprocess.Process] = []
    seen: set[int] = set()
    try:
        async with aiohttp.ClientSession() as http:
            server, port = await start_server(logs)
            servers.append(server)
            ws, reader, apps = await open_session(http, port, server.pid)
            seen |= apps
            await ws.close()  # the tab closes
            await reader
            assert await until(lambda: not any(map(alive, apps)), GONE_WITHIN_S), \
                f"the closed tab's app still runs: {sorted(filter(alive, apps))}"

            ws, reader, apps = await open_session(http, port, server.pid)
            seen |= apps
            t0 = time.monotonic()
            server.send_signal(signal.SIGTERM)
            gone = await until(lambda: server.returncode is not None and not in_group(server.pid)
                               and not any(map(alive, seen)), GONE_WITHIN_S)
            left = sorted(in_group(server.pid) | set(filter(alive, seen)))
            assert gone, f"after SIGTERM: server exit {server.returncode}, still running {left}"
            print(f"server and apps gone {time.monotonic() - t0:.2f} s after SIGTERM")
            await ws.close()
            await reader

            # a server killed outright sends no signal on: its apps' input closes
            server, port = await start_server(logs)
            servers.append(server)
            ws, reader, apps = await open_session(http, port, server.pid)
            seen |= apps
            server.kill()
            assert await until(lambda: not any(map(alive, apps)), GONE_WITHIN_S), \
                f"after SIGKILL of the server, its app still runs: {sorted(filter(alive, apps))}"
            await ws.close()
            await reader
    finally:
        for server in servers:
            for pid in in_group(server.pid) | seen:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            if server.returncode is None:
                server.kill()
            await server.wait()


async def test_the_servers_log_is_safe_one_line_a_request_and_sessions_are_capped(
        tmp_path, monkeypatch):
    """A security trial: a client's User-Agent (a C1 CSI, a bidi override) went to the
    terminal as sent, a malformed request printed a 100-line traceback with its locals, and
    each websocket started an app of ~150 MB, without limit."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text(LINE.format(i=1, d="20/Nov/2026:10:00:00 +0000"))
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trafficwatch", "--serve", "--serve-addr", f"127.0.0.1:{port}",
        "--no-state", str(logs), start_new_session=True, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        await wait_for_port(port, server)
        for request in ((b"GET /nowhere HTTP/1.1\r\nHost: x\r\nUser-Agent: C1\xc2\x9b2J "
                         b"\xe2\x80\xaeRTL\r\nReferer: http://\xe2\x80\xaeevil\r\n\r\n"),
                        b"GET /?a=\xc2\x9b1;31m HTTP/1.1\r\nHost: x\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            await reader.read(1 << 16)
            writer.close()
        await asyncio.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(server.communicate(), 10)
    said = out + err
    assert b"\xc2\x9b" not in said and b"\xe2\x80\xae" not in said and b"\x1b" not in said, said
    assert b"Traceback" not in said and b"/nowhere 404" in said, said

    # the sessions: one at most here (each its own app); the next is told so, 503
    from aiohttp.test_utils import TestServer
    from textual_serve.server import Server

    from trafficwatch.app import run

    monkeypatch.setattr(run, "MAX_SESSIONS", 1)
    app = await run._session_server(Server)("exec cat > /dev/null", host="127.0.0.1",
                                            port=0)._make_app()
    async with TestServer(app) as ts, aiohttp.ClientSession() as http:
        first = await http.ws_connect(ts.make_url("/ws?width=80&height=24"))
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(ts.make_url("/ws?width=80&height=24"))
        assert refused.value.status == 503
        await first.close()
