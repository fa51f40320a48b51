"""Processes the benchmark starts, and a guarantee that every one of them is stopped.

Everything is started in its own session (so a Ctrl-C in the terminal reaches only us) and is
registered here; `cleanup()` runs from `finally`, atexit and SIGTERM, and stops each process
by its own id.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_cleanups: dict[int, Callable[[], None]] = {}
_next = 0


def on_cleanup(fn: Callable[[], None]) -> int:
    """Register `fn` to run at cleanup; returns a key for `forget`."""
    global _next
    _next += 1
    _cleanups[_next] = fn
    return _next


def forget(key: int) -> None:
    _cleanups.pop(key, None)


def cleanup() -> None:
    """Run every pending cleanup, newest first; never raises."""
    while _cleanups:
        key = max(_cleanups)
        fn = _cleanups.pop(key)
        with contextlib.suppress(Exception):
            fn()


def install_handlers() -> None:
    atexit.register(cleanup)

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 5) -> None:
    """Signal one process we started, then kill it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(5)


class Spawned:
    """A process started in its own session, registered for cleanup until stopped."""

    def __init__(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None,
        log: Path | None = None, capture: bool = False,
    ) -> None:
        out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(
                list(argv), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else out, stderr=out,
                start_new_session=True,
            )
        finally:
            if log is not None:
                out.close()  # type: ignore[union-attr]
        self._key = on_cleanup(lambda: stop_process(self.proc, wait=2))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, wait: float = 10) -> int | None:
        """Stop it now (gracefully first); returns its exit code."""
        stop_process(self.proc, sig, wait)
        forget(self._key)
        return self.proc.returncode


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the process behind port {port} exited before listening")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def exited(pid: int) -> bool:
    """True once the process is gone or a zombie (exited, perhaps not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(stat_path: str) -> float:
    try:
        fields = Path(stat_path).read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(whole process, main thread only) CPU seconds used so far."""
    return _cpu(f"/proc/{pid}/stat"), _cpu(f"/proc/{pid}/task/{pid}/stat")


class CpuMeter:
    """CPU use of some processes over a window, as % of one core."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = time.perf_counter()
        self.before = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def percent(self) -> dict[str, float]:
        wall = time.perf_counter() - self.start
        out: dict[str, float] = {}
        for name, pid in self.pids.items():
            total, main = cpu_seconds(pid)
            total0, main0 = self.before[name]
            out[name] = round(100 * (total - total0) / wall, 1)
            if name == "app":
                out["app_main_thread"] = round(100 * (main - main0) / wall, 1)
                out["app_other_threads"] = round(out["app"] - out["app_main_thread"], 1)
        return out


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MB; empty once it is gone."""
    out: dict[str, float] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out
