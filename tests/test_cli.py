"""The command line: clear one-line errors before any UI is drawn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.faces.cli.commands.options import parse_size


def run(*args: str, cwd: Path | None = None, prefix: tuple[str, ...] = ()
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TERM": "dumb"}
    return subprocess.run([*prefix, sys.executable, "-m", "inspector", *args],
                          capture_output=True, text=True, timeout=60, env=env, cwd=cwd)


def test_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--port", str(port), "--db", str(tmp_path / "e.db"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use (another inspector?): stop that "
        "process, or pick another port with --port (0 picks a free one)"
    ]
    assert "Traceback" not in result.stderr + result.stdout
    assert "\x1b[" not in result.stdout  # no half-drawn screen


def test_privileged_port_is_one_clear_line() -> None:
    # Root may bind port 80: then the inspector runs without that capability (util-linux's
    # setpriv), as a user's would.
    unable = ("setpriv", "--bounding-set", "-net_bind_service") if os.geteuid() == 0 else ()
    result = run("--port", "80", "--db", ":memory:", prefix=unable)
    assert result.returncode == 1
    assert "needs administrator privileges" in result.stderr


def test_corrupt_database_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    result = run("--port", "0", "--db", str(bad))
    assert result.returncode == 1
    assert "corrupt or not an inspector database" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_replay_target_is_a_usage_error(tmp_path: Path) -> None:
    result = run("--replay-to", "ftp://x", "--db", str(tmp_path / "e.db"))
    assert result.returncode == 2
    assert "not an http(s) URL" in result.stderr


@pytest.mark.parametrize("command", [[], ["serve"]], ids=["tui", "serve"])
@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path, command: list[str],
                                              port: str) -> None:
    """99999 used to listen on another port (99999 - 65536), and -1 said "unknown host"."""
    result = run(*command, "--port", port, "--db", str(tmp_path / "e.db"))
    assert result.returncode == 2, result
    assert f"Invalid value for '--port' / '-p': {port} is not in the range 0<=x<=65535." \
        in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "e.db").exists()  # stopped before opening anything


def test_help_lists_the_options() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in ("--secret", "--replay-to", "--max-body", "--db", "--port"):
        assert option in result.stdout


@pytest.mark.parametrize(("text", "size"), [("1048576", 1048576), ("512k", 524288),
                                            ("10MiB", 10485760), ("1g", 1073741824)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_malformed_target_url_is_a_usage_error_not_a_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "inspector", "serve", "--port", "0",
                           "--db", ":memory:", "--forward-to", "http://["],
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr
    assert b"not a valid URL" in proc.stderr


def test_an_option_before_a_command_is_a_usage_error_not_ignored(tmp_path: Path) -> None:
    """`inspector --db X events list` used to read the default database, without a word."""
    db = tmp_path / "e.db"
    listed = run("--db", str(db), "events", "list")
    assert listed.returncode == 2, listed
    assert "--db before `events` would be ignored: put it after the command" in listed.stderr
    served = run("--port", "0", "--secret", "s", "serve", "--db", str(db))
    assert served.returncode == 2, served
    assert "--port, --secret before `serve` would be ignored: put them after" in served.stderr
    assert not db.exists()  # stopped before opening anything
