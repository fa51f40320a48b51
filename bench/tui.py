"""A private tmux server per run: a real terminal for the TUI, read back with capture-pane."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.procs import children, exited, forget, on_cleanup

WIDTH, HEIGHT = 200, 50
# One event row of the list: "22:02:03 POST    /webhooks/connectly?n=1 ..."
ROW = re.compile(r"\d\d:\d\d:\d\d\s+(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s")
MARK = re.compile(r"\?n=([\d.]+)")
_ids = itertools.count(1)

Screen = list[str]


def is_header(line: str) -> bool:
    return "TIME" in line and "METHOD" in line


def list_rows(screen: Screen) -> list[str]:
    """The event rows visible in the list (below its header, above the detail pane)."""
    rows: list[str] = []
    seen_header = False
    for line in screen:
        if not seen_header:
            seen_header = is_header(line)
            continue
        if line.lstrip().startswith("─"):
            break
        if ROW.search(line):
            rows.append(line)
    return rows


def marks(rows: Sequence[str]) -> list[str]:
    """The ?n=... markers the benchmark put in the rows' paths."""
    return [m.group(1) for row in rows if (m := MARK.search(row))]


class Tmux:
    """One tmux server (its own socket), one session, one pane running `argv`."""

    def __init__(self, folder: Path) -> None:
        if not shutil.which("tmux"):
            raise SystemExit("bench: tmux is needed (apt-get install -y tmux)")
        self.socket = f"webhook-bench-{os.getpid()}-{next(_ids)}"
        self.conf = folder / "tmux.conf"
        # remain-on-exit: keep a dead pane, so we can read its exit status and last screen.
        self.conf.write_text(
            "set -g status off\nset -g remain-on-exit on\nset -g history-limit 0\n"
            'set -g default-terminal "tmux-256color"\n'
        )
        # PYTHONDONTWRITEBYTECODE (set in some sandboxes) would compile every module at every
        # launch: the app starts as an installed one does, from cached bytecode.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE")}
        self._key: int | None = None
        self.started_at = 0.0

    def _run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.conf), *args],
            env=self.env, capture_output=True, text=True,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def launch(self, argv: Sequence[str]) -> float:
        """Start the session; returns the perf_counter() just before launch."""
        self._key = on_cleanup(self.kill)
        self.started_at = time.perf_counter()
        self._run(
            "new-session", "-d", "-s", "bench", "-x", str(WIDTH), "-y", str(HEIGHT),
            "-e", "COLORTERM=truecolor", shlex.join(argv),
        )
        return self.started_at

    def capture(self, top_line_only: bool = False) -> Screen:
        extra = ["-S", "0", "-E", "0"] if top_line_only else []
        return self._run("capture-pane", "-p", "-t", "bench", *extra, check=False).splitlines()

    def send(self, *keys: str) -> None:
        self._run("send-keys", "-t", "bench", *keys)

    def _pane(self, fmt: str) -> str:
        return self._run("list-panes", "-t", "bench", "-F", fmt, check=False).strip()

    def server_pid(self) -> int:
        return int(self._run("display-message", "-p", "#{pid}").strip())

    def pane_pid(self) -> int:
        return int(self._pane("#{pane_pid}"))

    def app_pid(self) -> int:
        """The inspector's pid: the pane's process, or its child when a shell sits between."""
        pid = self.pane_pid()
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return pid
        if b"inspector" in cmdline:
            return pid
        kids = children(pid)
        return kids[0] if kids else pid

    def dead(self) -> tuple[bool, int | None]:
        out = self._pane("#{pane_dead} #{pane_dead_status}").split()
        if not out:
            return True, None
        status = int(out[1]) if len(out) > 1 and out[1].lstrip("-").isdigit() else None
        return out[0] == "1", status

    def wait(
        self, ready: Callable[[Screen], bool], timeout: float, interval: float = 0.01,
        top_line_only: bool = False,
    ) -> tuple[float | None, Screen]:
        """Poll the screen until `ready`; returns (seconds waited or None, last screen)."""
        start = time.perf_counter()
        screen: Screen = []
        while True:
            screen = self.capture(top_line_only)
            now = time.perf_counter()
            if ready(screen):
                return now - start, screen
            if now - start > timeout:
                return None, screen
            if self.dead()[0]:
                return None, self.capture()
            time.sleep(interval)

    def quit(
        self, pid: int, key: str = "q", timeout: float = 30
    ) -> tuple[float | None, int | None]:
        """Press the quit key and wait until process `pid` has exited: (seconds, exit status).

        The status is None when tmux did not report it (it sometimes leaves the child unreaped).
        """
        start = time.perf_counter()
        self.send(key)
        while time.perf_counter() - start < timeout:
            if exited(pid):
                took = time.perf_counter() - start
                for _ in range(20):
                    dead, status = self.dead()
                    if dead and status is not None:
                        return took, status
                    time.sleep(0.025)
                return took, None
            time.sleep(0.02)
        return None, None

    def kill(self) -> None:
        self._run("kill-server", check=False)
        if self._key is not None:
            forget(self._key)
            self._key = None
