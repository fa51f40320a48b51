"""What wrk loads: the bare app, the inspector TUI in tmux, and (later) `inspector serve`.

Each target starts, is ready when `start()` returns, and `finish()` stops it and reports what
it stored and how much memory it used.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.procs import Spawned, free_port, memory_mb, wait_port
from bench.tui import Screen, Tmux, is_header


def inspector_argv() -> list[str]:
    script = Path(sys.executable).parent / "inspector"
    return [str(script)] if script.exists() else [sys.executable, "-m", "inspector"]


def stored_events(db: Path | str) -> int:
    from inspector.core.store import open_store

    store = open_store(db, index=False)
    try:
        return store.count()
    finally:
        store.close()


@dataclass(slots=True)
class Outcome:
    stored: int | None = None  # events in the store after a clean stop (None: no store)
    rss_mb: float | None = None  # resident memory just before stopping
    rss_peak_mb: float | None = None  # VmHWM: the peak over the process's life
    exit_code: int | None = None
    stop_s: float | None = None  # how long a clean stop took
    notes: list[str] = field(default_factory=list)


class Target(Protocol):
    kind: str
    port: int

    def start(self) -> None: ...
    def pid(self) -> int: ...
    def pids(self) -> dict[str, int]: ...
    def finish(self) -> Outcome: ...


class _Spawned:
    """A target that is one child process of ours."""

    proc: Spawned | None = None

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> dict[str, int]:
        return {"app": self.pid()}


class Bare(_Spawned):
    """uvicorn's CLI serving bench.bare_app (it binds its own socket: TCP_NODELAY is set)."""

    def __init__(self, http: str, folder: Path, kind: str = "bare") -> None:
        self.kind = kind
        self.http = http
        self.port = free_port()
        self.log = folder / f"bare-{http}-{self.port}.log"
        self.proc: Spawned | None = None

    def start(self) -> None:
        self.proc = Spawned([
            sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1",
            "--port", str(self.port), "--http", self.http, "--loop", "asyncio",
            "--lifespan", "off", "--log-level", "warning", "--no-access-log",
            "--no-server-header",
        ], log=self.log)
        wait_port(self.port, alive=self.proc.alive)

    def finish(self) -> Outcome:
        assert self.proc is not None
        mem = memory_mb(self.proc.pid)
        code = self.proc.stop(signal.SIGTERM)
        return Outcome(rss_mb=mem.get("VmRSS"), rss_peak_mb=mem.get("VmHWM"), exit_code=code)


def _ready(screen: Screen) -> bool:
    # The top line shows the listening URL ("● http://127.0.0.1:PORT/") once the app is up.
    return bool(screen) and "● http://" in screen[0] and any(is_header(s) for s in screen)


class Tui:
    """The inspector's TUI in a real terminal (tmux), persisting to `db`."""

    kind = "tui"

    def __init__(self, http: str, folder: Path, db: Path, secret: str,
                 config: Path | None = None) -> None:
        """`config`: an inspector.toml to run with (answer rules: the "rules" target)."""
        self.http = http
        self.port = free_port()
        self.db = db
        self.secret = secret
        self.config = config
        if config is not None:
            self.kind = "rules"
        self.tmux = Tmux(folder)
        self.started_at = 0.0
        self._pid = 0

    def argv(self) -> list[str]:
        extra = ["--config", str(self.config)] if self.config is not None else []
        return [*inspector_argv(), "--db", str(self.db), "--port", str(self.port),
                "--secret", self.secret, "--http", self.http, *extra]

    def launch(self) -> float:
        self.started_at = self.tmux.launch(self.argv())
        return self.started_at

    def start(self) -> None:
        self.launch()
        waited, screen = self.tmux.wait(_ready, timeout=30, interval=0.05)
        if waited is None:
            text = "\n".join(screen[-15:])
            self.tmux.kill()
            raise RuntimeError(f"the inspector TUI did not come up:\n{text}")
        wait_port(self.port)
        time.sleep(0.3)  # let the server task start after the first frame

    def pid(self) -> int:
        if not self._pid:
            self._pid = self.tmux.app_pid()
        return self._pid

    def pids(self) -> dict[str, int]:
        return {"app": self.pid(), "tmux": self.tmux.server_pid()}

    def finish(self) -> Outcome:
        mem = memory_mb(self.pid())
        out = Outcome(rss_mb=mem.get("VmRSS"), rss_peak_mb=mem.get("VmHWM"))
        out.stop_s, out.exit_code = self.tmux.quit(self.pid())
        if out.stop_s is None:
            out.notes.append("the TUI did not exit within 30 s of 'q'; killed")
        screen = self.tmux.capture()
        self.tmux.kill()
        if out.exit_code not in (0, None):
            out.notes.append(f"exit status {out.exit_code}: " + " | ".join(screen[-5:]))
        out.stored = stored_events(self.db)
        return out


class Serve(_Spawned):
    """The headless receiver (`inspector serve`): the hook for when it exists."""

    kind = "serve"

    def __init__(self, http: str, folder: Path, db: Path | str, secret: str) -> None:
        self.http = http
        self.port = free_port()
        self.db = db
        self.secret = secret
        self.log = folder / f"serve-{http}-{self.port}.log"
        self.proc: Spawned | None = None

    @staticmethod
    def available() -> bool:
        done = subprocess.run([*inspector_argv(), "serve", "--help"], capture_output=True)
        return done.returncode == 0

    def start(self) -> None:
        self.proc = Spawned([*inspector_argv(), "serve", "--db", str(self.db), "--port",
                             str(self.port), "--secret", self.secret, "--http", self.http],
                            log=self.log)
        wait_port(self.port, alive=self.proc.alive)
        time.sleep(0.3)

    def finish(self) -> Outcome:
        assert self.proc is not None
        mem = memory_mb(self.proc.pid)
        out = Outcome(rss_mb=mem.get("VmRSS"), rss_peak_mb=mem.get("VmHWM"))
        start = time.perf_counter()
        out.exit_code = self.proc.stop(signal.SIGINT, wait=30)  # as Ctrl-C would
        out.stop_s = time.perf_counter() - start
        out.stored = stored_events(self.db)
        return out
