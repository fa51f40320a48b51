"""Helpers for the reliability suite: raw HTTP, the terminal check, real processes, a pty."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import SECRET, connectly_event

ROOT = Path(__file__).resolve().parents[2]
LOADGEN = Path(__file__).with_name("loadgen.py")


# -- raw HTTP --------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(method: str = "POST", target: bytes | str = "/hook",
            headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"") -> bytes:
    """A raw HTTP/1.1 request, byte for byte (httpx refuses to send most of what we test)."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"host: localhost"]
    lines += [k + b": " + v for k, v in headers or []]
    lines.append(b"content-length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


async def send_raw(port: int, data: bytes, *, timeout: float = 20.0) -> Answer:
    """Send raw bytes on a new connection and read one answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(read_answer(reader), timeout)
    finally:
        writer.close()


def port_of(base: str) -> int:
    return int(base.rstrip("/").rsplit(":", 1)[1])


# -- what a terminal would receive -----------------------------------------------------------------

# What Textual itself emits: SGR colours and cursor moves. Anything else is a leak.
_OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;]*[mHK]")


def assert_terminal_safe(output: str) -> None:
    """No control or format character from the payload reaches the terminal, and every
    character can be written to a UTF-8 terminal (no lone surrogate)."""
    rest = _OWN_SEQUENCES.sub("", output)
    for char in set(rest):
        category = unicodedata.category(char)
        assert char in "\n\r" or category not in ("Cc", "Cf", "Cs", "Zl", "Zp"), \
            f"{char!r} ({category}) reached the terminal"
    output.encode("utf-8")  # raises on a lone surrogate


# -- real processes --------------------------------------------------------------------------------


def inspector_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "inspector", *args]


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "xterm-256color", **extra}
    env.pop("TEXTUAL", None)
    return env


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll (synchronously) until `predicate()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    out: Path
    err: Path

    @property
    def port(self) -> int:
        return port_of(self.base)


@contextlib.contextmanager
def serve(tmp_path: Path, db: Path | str, *args: str, name: str = "serve"
          ) -> Iterator[Served]:
    """`inspector serve` as a real process on port 0; stdout and stderr go to files (a pipe
    would fill up under load and stall it)."""
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out.open("wb") as out_file, err.open("wb") as err_file:
        proc = subprocess.Popen(
            inspector_argv("serve", "--port", "0", "--db", str(db), "--secret", SECRET, *args),
            stdout=out_file, stderr=err_file, stdin=subprocess.DEVNULL, env=child_env(),
            cwd=ROOT)
    try:
        def listening() -> str | None:
            found = re.search(r"listening on (http://\S+)", err.read_text("utf-8", "replace"))
            assert proc.poll() is None, err.read_text()
            return found.group(1).rstrip("/") if found else None

        base = wait_until(listening, 30, "inspector serve to listen")
        yield Served(proc, base, out, err)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_CSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]"  # CSI: colours, cursor, modes
                  r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: title, clipboard
                  r"|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


class Pty:
    """A process on a pseudo-terminal (the TUI needs one; tmux may not exist in CI)."""

    def __init__(self, argv: list[str], *, cols: int = 160, rows: int = 45,
                 cwd: Path = ROOT) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=child_env(), cwd=cwd, start_new_session=True)
        os.close(slave)
        self.master = master
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the process is gone
                return
            if not chunk:
                return
            with self._lock:
                self._raw += chunk

    def raw(self) -> bytes:
        """Everything written so far, byte for byte."""
        with self._lock:
            return bytes(self._raw)

    def text(self) -> str:
        """Everything written so far, escape sequences removed."""
        return _CSI.sub("", self.raw().decode("utf-8", "replace"))

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        def seen() -> re.Match[str] | None:
            found = re.search(pattern, self.text())
            if found is None:  # not yet: fail now if it never will
                code = self.proc.poll()
                assert code is None, f"exited with {code}: {self.text()[-2000:]}"
            return found

        found: re.Match[str] = wait_until(seen, timeout, f"{pattern!r} on the terminal")
        return found

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # our own child, by its id
            self.proc.wait()
        self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self.master)


@contextlib.contextmanager
def tui(db: Path, *args: str) -> Iterator[tuple[Pty, int]]:
    """The real TUI (`inspector`) under a pty on port 0; yields it and its port."""
    term = Pty(inspector_argv("--port", "0", "--db", str(db), "--secret", SECRET, *args))
    try:
        match = term.wait_for(r"●\s*http://127\.0\.0\.1:(\d+)/", timeout=30)
        yield term, int(match.group(1))
    finally:
        term.close()


# -- load ------------------------------------------------------------------------------------------


def connectly_request(tmp_path: Path) -> Path:
    """The request the load generator sends: a signed Connectly delivery."""
    case = connectly_event("text")
    spec = tmp_path / "request.json"
    spec.write_text(json.dumps({"path": case["path"], "headers": case["headers"],
                                "body": case["body"]}))
    return spec


def start_load(tmp_path: Path, port: int, requests: int, connections: int,
               *extra: str) -> tuple[subprocess.Popen[str], Path]:
    acks = tmp_path / "acks.txt"
    acks.write_text("")
    proc = subprocess.Popen(
        [sys.executable, str(LOADGEN), "--port", str(port), "--requests", str(requests),
         "--connections", str(connections), "--request", str(connectly_request(tmp_path)),
         "--acks", str(acks), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    return proc, acks


def finish_load(proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return summary


def acked_ids(acks: Path) -> list[str]:
    return [line for line in acks.read_text().splitlines() if len(line) == 26]


def stored_ids(db: Path) -> list[str]:
    """Every event id in a database, read with plain sqlite3 (as a restart would find it)."""
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM events")]
    finally:
        conn.close()


def lines_of(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0
