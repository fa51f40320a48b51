"""wrk, driven from Python: install check, the request file, a run, its parsed summary."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fixture import Delivery
from bench.procs import Spawned

SCRIPT = Path(__file__).resolve().parent / "post.lua"
INSTALL_HINT = "install it: sudo apt-get install -y wrk (Debian/Ubuntu), brew install wrk (macOS)"


def ensure_wrk() -> str:
    """The path of wrk; installs the Debian package when we are root, else exits with a hint."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk is missing; installing it with apt-get ...", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        ok = subprocess.run(["apt-get", "install", "-y", "wrk"], env=env).returncode == 0
        if not ok:
            subprocess.run(["apt-get", "update"], env=env)
            subprocess.run(["apt-get", "install", "-y", "wrk"], env=env)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(f"bench: wrk is needed and was not found; {INSTALL_HINT}")


def _lua_string(data: bytes) -> str:
    """A Lua string literal for any bytes: decimal escapes, exact whatever the bytes."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /-_.:,+=")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in data) + '"'


def write_request(delivery: Delivery, folder: Path) -> Path:
    """The Lua data file post.lua loads: path, headers and the exact signed body."""
    headers = ", ".join(
        f"[{_lua_string(k.encode())}] = {_lua_string(v.encode())}"
        for k, v in delivery.headers.items()
    )
    path = folder / f"request-{delivery.name}.lua"
    path.write_text(
        f"return {{path = {_lua_string(delivery.path.encode())}, headers = {{{headers}}}, "
        f"body = {_lua_string(delivery.body)}}}\n"
    )
    return path


@dataclass(slots=True)
class WrkResult:
    seconds: float
    requests: int  # completed responses
    non_2xx: int  # wrk counts status > 399 (the receiver never answers 1xx/3xx)
    socket_errors: int  # connect + read + write errors
    timeouts: int
    req_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float

    @property
    def acked(self) -> int:
        return self.requests - self.non_2xx

    def to_json(self) -> dict[str, float | int]:
        return {**asdict(self), "acked": self.acked}


def parse(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            d = json.loads(line.removeprefix("BENCH_JSON "))
            seconds = d["duration_us"] / 1e6
            return WrkResult(
                seconds=seconds,
                requests=d["requests"],
                non_2xx=d["status"],
                socket_errors=d["connect"] + d["read"] + d["write"],
                timeouts=d["timeout"],
                req_per_s=d["requests"] / seconds if seconds else 0.0,
                p50_ms=d["p50_us"] / 1000,
                p90_ms=d["p90_us"] / 1000,
                p99_ms=d["p99_us"] / 1000,
                p999_ms=d["p999_us"] / 1000,
                max_ms=d["lat_max_us"] / 1000,
                mean_ms=d["lat_mean_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")


@dataclass(slots=True)
class Load:
    """How to load a target: the same for every target in one comparison."""

    wrk: str
    request: Path
    connections: int = 16
    threads: int = 1
    vary: bool = False  # distinct query per request (so list rows differ on screen)
    delay_ms: int | None = None  # paced load: mean delay per connection between requests

    def argv(self, port: int, seconds: int) -> list[str]:
        return [
            self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{max(seconds, 1)}s",
            "--timeout", "10s", "-s", str(SCRIPT), f"http://127.0.0.1:{port}",
        ]

    def env(self) -> dict[str, str]:
        env = {**os.environ, "BENCH_REQUEST": str(self.request)}
        if self.vary:
            env["BENCH_VARY"] = "1"
        if self.delay_ms is not None:
            env["BENCH_DELAY_MS"] = str(self.delay_ms)
        return env

    def run(self, port: int, seconds: int) -> WrkResult:
        """Run wrk to completion in a second process."""
        proc = Spawned(self.argv(port, seconds), env=self.env(), capture=True)
        try:
            out, _ = proc.proc.communicate(timeout=seconds + 60)
        finally:
            proc.stop()
        return parse(out.decode("utf-8", "replace"))

    def start(self, port: int, seconds: int = 600) -> Spawned:
        """Start wrk in the background; `finish` stops it and reads its summary."""
        return Spawned(self.argv(port, seconds), env=self.env(), capture=True)


def finish(proc: Spawned) -> WrkResult:
    """Stop a background wrk (SIGINT makes it print its summary) and parse it."""
    if proc.alive():
        proc.proc.send_signal(signal.SIGINT)
    out, _ = proc.proc.communicate(timeout=30)
    proc.stop()
    return parse(out.decode("utf-8", "replace"))
