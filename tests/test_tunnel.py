"""Tunnels: real subprocesses of stand-in tools on PATH that print each tool's real output.

This machine has no internet, so ngrok, cloudflared, npx localtunnel and ssh are stand-ins
(tests/bin/tunnel_standin.py); everything else (processes, groups, signals, restarts,
ngrok's local API over HTTP) is real.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector.core.capture.tunnel import (
    DOWN,
    STARTING,
    UP,
    Tunnel,
    TunnelError,
    TunnelState,
    parse_spec,
    read_line,
)
from tests.conftest import wait_for

STANDIN = Path(__file__).parent / "bin" / "tunnel_standin.py"
FAST = (0.05, 0.2)  # backoff for tests: 0.05 s, 0.1 s, 0.2 s ...


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (read from /proc, no psutil)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


@pytest.fixture
def tools(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """(env whose PATH holds only the stand-ins, their state folder)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    for name in ("ngrok", "cloudflared", "npx", "ssh"):
        script = folder / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" {name} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": str(folder), "STANDIN_STATE": str(state), "HOME": str(tmp_path)}
    yield env, state


def recorded(tunnel: Tunnel) -> list[TunnelState]:
    states: list[TunnelState] = []
    tunnel.listeners.append(states.append)
    return states


@pytest.mark.parametrize(
    ("spec", "url", "argv"),
    [
        ("cloudflared", "https://quiet-river-1.trycloudflare.com",
         ["tunnel", "--url", "http://127.0.0.1:{port}"]),
        ("ngrok", "https://ab12-203-0-113-1.ngrok-free.app",
         ["http", "127.0.0.1:{port}", "--log", "stdout", "--log-format", "json"]),
        ("localtunnel", "https://wise-goats-dance-1.loca.lt",
         ["--yes", "localtunnel", "--port", "{port}", "--local-host", "127.0.0.1"]),
        ("ssh", "https://1f2e3d4c5b6a01.lhr.life",
         ["-R", "80:127.0.0.1:{port}", "-o", "StrictHostKeyChecking=accept-new", "-o",
          "ServerAliveInterval=30", "-o", "ExitOnForwardFailure=yes", "localhost.run"]),
        ("ssh:serveo.example", "https://f00d1.serveo.net",
         ["-R", "80:127.0.0.1:{port}", "-o", "StrictHostKeyChecking=accept-new", "-o",
          "ServerAliveInterval=30", "-o", "ExitOnForwardFailure=yes", "serveo.example"]),
    ],
)
async def test_public_url_is_read_from_each_tool(
    tools: tuple[dict[str, str], Path], spec: str, url: str, argv: list[str]
) -> None:
    env, state = tools
    tunnel = Tunnel(parse_spec(spec), 8765, env=env, backoff=FAST)
    states = recorded(tunnel)
    await tunnel.start()
    try:
        up = await tunnel.wait_for(lambda s: s.phase != STARTING, 10)
        assert up is not None and up.phase == UP, tunnel.state
        assert up.url == url
        assert up.restarts == 0 and "tunnel (" in up.describe() and url in up.describe()
        tool = parse_spec(spec).tool.replace("localtunnel", "npx")
        sent = json.loads((state / f"{tool}.argv.1").read_text())
        assert sent == [a.format(port=8765) for a in argv]
        assert [s.phase for s in states] == [STARTING, UP]
    finally:
        await tunnel.stop()
    assert tunnel.state.phase == DOWN and tunnel.state.reason == "stopped"


async def test_ngrok_url_from_its_local_api(tools: tuple[dict[str, str], Path]) -> None:
    env, _ = tools
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        api_port = s.getsockname()[1]
    env = {**env, "STANDIN_MODE": "api-only", "INSPECTOR_NGROK_API": f"http://127.0.0.1:{api_port}"}
    tunnel = Tunnel(parse_spec("ngrok"), 8765, env=env, backoff=FAST)
    await tunnel.start()
    try:
        up = await tunnel.wait_for(lambda s: s.phase == UP, 10)
        assert up is not None and up.url == "https://ab12-203-0-113-1.ngrok-free.app"
    finally:
        await tunnel.stop()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cloudflared", "cloudflared is not installed: see https://developers.cloudflare.com/"),
        ("ngrok", "ngrok is not installed: see https://ngrok.com/download"),
        ("localtunnel", "npx (Node.js) is not installed: localtunnel runs with npx"),
        ("ssh", "ssh is not installed: install OpenSSH"),
    ],
)
async def test_missing_tool_says_how_to_install_it(tmp_path: Path, spec: str,
                                                   message: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    tunnel = Tunnel(parse_spec(spec), 8765, env={"PATH": str(empty)}, backoff=FAST)
    await tunnel.start()
    down = await tunnel.wait_for(lambda s: s.phase == DOWN, 5)
    assert down is not None and down.reason.startswith(message)
    assert "brew install" in down.reason or "apt install" in down.reason
    assert down.retry_in is None and down.restarts == 0  # nothing to retry
    await tunnel.stop()


async def test_a_dead_tool_is_restarted_with_backoff(tools: tuple[dict[str, str], Path]) -> None:
    env, state = tools
    tunnel = Tunnel(parse_spec("cloudflared"), 8765, env=env, backoff=FAST)
    states = recorded(tunnel)
    await tunnel.start()
    try:
        await tunnel.wait_for(lambda s: s.url.endswith("-1.trycloudflare.com"), 10)
        (state / "cloudflared.die").touch()
        again = await tunnel.wait_for(lambda s: s.url.endswith("-2.trycloudflare.com"), 10)
        assert again is not None and again.restarts == 1
        assert "no more connections active and exiting" in again.last_exit
        assert "cloudflared exited (status 1)" in again.last_exit
        assert "restarted 1 time" in again.describe()
        (state / "cloudflared.die").touch()
        third = await tunnel.wait_for(lambda s: s.url.endswith("-3.trycloudflare.com"), 10)
        assert third is not None and third.restarts == 2
    finally:
        await tunnel.stop()
    phases = [(s.phase, s.retry_in) for s in states]
    assert phases[:8] == [(STARTING, None), (UP, None), (DOWN, 0.05), (STARTING, None),
                          (UP, None), (DOWN, 0.1), (STARTING, None), (UP, None)]
    down = states[2]
    assert down.url == "" and down.restarts == 1 and down.reason == down.last_exit
    assert "restarting in 0.05 s" in down.describe()


async def test_a_tool_failing_before_its_url_is_down_with_the_reason(
    tools: tuple[dict[str, str], Path]
) -> None:
    env, _ = tools
    tunnel = Tunnel(parse_spec("cloudflared"), 8765, env={**env, "STANDIN_MODE": "fail"},
                    backoff=(5.0, 30.0))
    await tunnel.start()
    try:
        down = await tunnel.wait_for(lambda s: s.phase == DOWN, 10)
        assert down is not None and down.url == ""  # not https://api.trycloudflare.com
        assert "failed to request quick Tunnel" in down.reason
        assert down.retry_in == 5.0 and down.restarts == 1
    finally:
        await tunnel.stop()
    assert tunnel.state.reason == "stopped" and tunnel.state.retry_in is None


async def test_stop_leaves_no_process_behind(tools: tuple[dict[str, str], Path]) -> None:
    """The stand-in ignores SIGTERM and has a child: stop escalates to SIGKILL on the group."""
    env, state = tools
    tunnel = Tunnel(parse_spec("localtunnel"), 8765, env={**env, "STANDIN_MODE": "stubborn"},
                    backoff=FAST, stop_grace=0.3)
    await tunnel.start()
    await tunnel.wait_for(lambda s: s.phase == UP, 10)
    pid = tunnel.pid
    assert pid is not None and alive(pid)
    child = int(await wait_for(lambda: (state / "npx.child.1").exists()
                               and (state / "npx.child.1").read_text(), what="child pid"))
    assert alive(child) and os.getpgid(child) == pid
    await tunnel.stop()
    assert not alive(pid)
    await wait_for(lambda: not alive(child), 5, what="child gone")
    assert tunnel.pid is None


@pytest.mark.parametrize(
    ("tool", "line", "url"),
    [
        ("ngrok", 't=2026-11-27T12:00:01+0000 lvl=info msg="started tunnel" obj=tunnels '
                  "name=command_line addr=http://localhost:8765 url=https://ab12.ngrok-free.app",
         "https://ab12.ngrok-free.app"),
        ("ngrok", '{"lvl":"info","msg":"started tunnel","addr":{"Scheme":"http","Host":'
                  '"127.0.0.1:8765"},"url":"https://94b1.ngrok-free.app"}',
         "https://94b1.ngrok-free.app"),
        ("ngrok", '{"lvl":"info","msg":"started tunnel","addr":"http://127.0.0.1:9999",'
                  '"url":"https://other.ngrok-free.app"}', ""),  # another port's tunnel
        ("cloudflared", '2026-11-27T12:00:00Z ERR failed to request quick Tunnel: Post '
                        '"https://api.trycloudflare.com/tunnel": EOF', ""),
        ("ssh", "https://localhost.run/docs/", ""),
        ("ssh", "To set up and manage custom domains go to https://admin.localhost.run/", ""),
    ],
)
def test_output_lines(tool: str, line: str, url: str) -> None:
    assert read_line(tool, line, 8765).url == url


@pytest.mark.parametrize(
    ("text", "error"),
    [("frp", "unknown tunnel 'frp'"), ("ngrok:host", "ngrok takes no host"),
     ("ssh:-oProxyCommand=x", "is not an ssh host")],
)
def test_bad_tunnel_values(text: str, error: str) -> None:
    with pytest.raises(TunnelError, match=error):
        parse_spec(text)
    assert parse_spec("ssh").host == "localhost.run"
    assert parse_spec("SSH:example.org").host == "example.org"
