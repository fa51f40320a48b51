"""`--tunnel`: run an installed tunnel tool pointed at our port and read its public URL.

    ngrok        ngrok http 127.0.0.1:PORT --log stdout --log-format json
                 (URL from the "started tunnel" log line, or from ngrok's local API,
                 http://127.0.0.1:4040/api/tunnels; INSPECTOR_NGROK_API points elsewhere)
    cloudflared  cloudflared tunnel --url http://127.0.0.1:PORT   (https://*.trycloudflare.com)
    localtunnel  npx --yes localtunnel --port PORT --local-host 127.0.0.1  ("your url is: ...")
    ssh[:HOST]   ssh -R 80:127.0.0.1:PORT HOST   (default localhost.run; "... tunneled with
                 tls termination, https://...")

The tool runs in its own process group (start_new_session), so stopping kills it and
everything it started: SIGTERM to the group, then SIGKILL after a grace period. When the
tool dies it is restarted after 1, 2, 4 ... up to 30 s (back to 1 s after a healthy run);
the state says so (restarts, last_exit). Listeners hear every state change on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from inspector.core.sanitize import clip, visible_line

if TYPE_CHECKING:
    pass

log = logging.getLogger("inspector")

NGROK_API_ENV = "INSPECTOR_NGROK_API"
NGROK_API_DEFAULT = "http://127.0.0.1:4040"
DEFAULT_SSH_HOST = "localhost.run"
BACKOFF = (1.0, 30.0)  # first delay, longest delay (seconds)
HEALTHY_AFTER = 60.0  # seconds up after which the next restart waits the first delay again
STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL
REASON_LIMIT = 300

STARTING, UP, DOWN = "starting", "up", "down"

_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::\d+)?(?=/?(?:[\s\"'|,]|$))")


class TunnelError(ValueError):
    """A bad --tunnel value."""


@dataclass(frozen=True, slots=True)
class Spec:
    tool: str  # ngrok, cloudflared, localtunnel or ssh
    host: str = ""  # ssh only

    @property
    def label(self) -> str:
        return f"ssh {self.host}" if self.tool == "ssh" else self.tool


def parse_spec(text: str) -> Spec:
    """'ngrok', 'cloudflared', 'localtunnel', 'ssh' or 'ssh:HOST'."""
    name, _, host = text.strip().partition(":")
    name = name.lower()
    if name not in TOOLS:
        raise TunnelError(f"unknown tunnel {text!r}: use ngrok, cloudflared, localtunnel, ssh "
                          "or ssh:HOST")
    if name == "ssh":
        host = host.strip() or DEFAULT_SSH_HOST
        if host.startswith("-") or any(c.isspace() for c in host):
            raise TunnelError(f"{host!r} is not an ssh host (for example ssh:localhost.run)")
        return Spec("ssh", host)
    if host:
        raise TunnelError(f"{name} takes no host (only ssh:HOST does)")
    return Spec(name)


@dataclass(frozen=True, slots=True)
class TunnelState:
    tool: str  # the spec's label, e.g. "cloudflared" or "ssh localhost.run"
    phase: str = STARTING  # starting, up or down
    url: str = ""  # the public URL while up
    reason: str = ""  # why it is down (or what it is waiting for)
    restarts: int = 0  # how many times the tool was restarted after dying
    last_exit: str = ""  # why it last died
    retry_in: float | None = None  # seconds until the next start, while down

    def describe(self) -> str:
        """One terminal-safe line for the header and `inspector serve`."""
        if self.phase == UP:
            text = f"tunnel ({self.tool}): {self.url}"
        elif self.phase == STARTING:
            text = f"tunnel ({self.tool}): starting…"
        else:
            text = f"tunnel ({self.tool}) down: {self.reason}"
            if self.retry_in is not None:
                text += f" (restarting in {self.retry_in:g} s)"
        if self.restarts:
            times = "time" if self.restarts == 1 else "times"
            text += f" [restarted {self.restarts} {times}; last exit: {self.last_exit}]"
        return visible_line(text)


# -- the tools -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    executable: str
    hint: str  # how to install it

    def argv(self, port: int, host: str, ssh_host: str) -> list[str]:
        bracketed = f"[{host}]" if ":" in host else host  # IPv6
        if self.name == "ngrok":
            return ["http", f"{bracketed}:{port}", "--log", "stdout", "--log-format", "json"]
        if self.name == "cloudflared":
            return ["tunnel", "--url", f"http://{bracketed}:{port}"]
        if self.name == "localtunnel":
            return ["--yes", "localtunnel", "--port", str(port), "--local-host", host]
        return ["-R", f"80:{bracketed}:{port}", "-o", "StrictHostKeyChecking=accept-new",
                "-o", "ServerAliveInterval=30", "-o", "ExitOnForwardFailure=yes", ssh_host]


TOOLS: dict[str, Tool] = {
    "ngrok": Tool("ngrok", "ngrok",
                  "see https://ngrok.com/download or `brew install ngrok`, then "
                  "`ngrok config add-authtoken TOKEN`"),
    "cloudflared": Tool("cloudflared", "cloudflared",
                        "see https://developers.cloudflare.com/cloudflare-one/connections/"
                        "connect-networks/downloads/ or `brew install cloudflared`"),
    "localtunnel": Tool("localtunnel", "npx",
                        "localtunnel runs with npx: install Node.js from https://nodejs.org/ "
                        "or `brew install node`"),
    "ssh": Tool("ssh", "ssh",
                "install OpenSSH: `sudo apt install openssh-client` or `brew install openssh`"),
}


def missing_message(tool: Tool) -> str:
    what = "npx (Node.js)" if tool.name == "localtunnel" else tool.name
    return f"{what} is not installed: {tool.hint}"


@dataclass(slots=True)
class Found:
    url: str = ""
    error: str = ""
    api: str = ""  # ngrok: where its local API listens


def read_line(tool: str, line: str, port: int) -> Found:
    """What one line of a tool's output tells: its public URL, an error, ngrok's API."""
    if tool == "ngrok":
        return _ngrok_line(line, port)
    if tool == "cloudflared":
        match = re.search(r"https://(?!api\.)[a-z0-9-]+\.trycloudflare\.com(?![\w.-])", line)
        if match:
            return Found(url=match.group())
        _, sep, rest = line.partition(" ERR ")
        return Found(error=rest.strip() if sep else "")
    if tool == "localtunnel":
        match = re.search(r"your url is:\s*(https://\S+)", line, re.IGNORECASE)
        if match:
            return Found(url=_clean_url(match.group(1)))
        return Found(error=line.strip() if re.search(r"\bError\b", line) else "")
    return _ssh_line(line)


def _ngrok_line(line: str, port: int) -> Found:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        msg = str(entry.get("msg", ""))
        url = str(entry.get("url", ""))
        if msg == "started tunnel" and url.startswith("https://") and _for_port(entry, port):
            return Found(url=_clean_url(url))
        if msg == "starting web service" and entry.get("addr"):
            return Found(api="http://" + str(entry["addr"]))
        if str(entry.get("lvl", "")).lower() in ("eror", "error", "crit"):
            return Found(error=str(entry.get("err") or msg))
        return Found()
    # logfmt (when the user's config overrides the log format) and plain errors
    match = re.search(r'msg="started tunnel".*\burl=(https://\S+)', line)
    if match:
        return Found(url=_clean_url(match.group(1)))
    if line.startswith("ERROR:") or "lvl=eror" in line or "lvl=crit" in line:
        return Found(error=line.removeprefix("ERROR:").strip())
    return Found()


def _for_port(entry: Mapping[str, object], port: int) -> bool:
    addr = entry.get("addr")
    if isinstance(addr, dict):  # some versions log {"Scheme": ..., "Host": "127.0.0.1:8765"}
        addr = addr.get("Host", "")
    return not addr or str(addr).rstrip("/").endswith(f":{port}")


def _ssh_line(line: str) -> Found:
    for pattern in (r"tunneled with tls termination,\s*(https://\S+)",
                    r"Forwarding HTTP traffic from\s+(https://\S+)",
                    r"^\s*(https://[A-Za-z0-9.-]+)/?\s*$"):
        match = re.search(pattern, line)
        if match:
            return Found(url=_clean_url(match.group(1)))
    text = line.strip()
    noise = ("Pseudo-terminal will not be allocated", "Warning: Permanently added")
    if text and not text.startswith(noise) and re.search(
            r"^ssh:|Permission denied|Could not resolve|Connection (refused|closed|timed out)"
            r"|closed by remote host|Broken pipe|Host key verification failed"
            r"|remote port forwarding failed|Network is unreachable",
            text):
        return Found(error=text)
    return Found()


def _clean_url(text: str) -> str:
    match = _HTTPS_URL.match(text.strip())
    return match.group() if match else ""


# -- running one --------------------------------------------------------------------------------

Listener = Callable[[TunnelState], None]


class Tunnel:
    """One tunnel tool, supervised. Create, `await start()`, `await stop()`."""

    def __init__(
        self,
        spec: Spec,
        port: int,
        *,
        host: str = "127.0.0.1",
        env: Mapping[str, str] | None = None,
        backoff: tuple[float, float] = BACKOFF,
        healthy_after: float = HEALTHY_AFTER,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.spec = spec
        self.tool = TOOLS[spec.tool]
        self.port = port
        self.host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self.env = dict(os.environ if env is None else env)
        self.backoff = backoff
        self.healthy_after = healthy_after
        self.stop_grace = stop_grace
        self.listeners: list[Listener] = []
        self.state = TunnelState(spec.label, DOWN, reason="not started")
        self.pid: int | None = None  # the running tool's pid (also its process group)
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._api = self.env.get(NGROK_API_ENV, NGROK_API_DEFAULT).rstrip("/")

    # -- state ---------------------------------------------------------------------------

    def _set(self, **changes: object) -> None:
        new = replace(self.state, **changes)  # type: ignore[arg-type]
        if new == self.state:
            return
        self.state = new
        self._changed.set()
        for listener in list(self.listeners):
            try:
                listener(new)
            except Exception:  # a broken listener must not stop the supervisor
                log.debug("tunnel state listener failed", exc_info=True)

    async def wait_for(self, predicate: Callable[[TunnelState], bool],
                       timeout: float) -> TunnelState | None:
        """Wait until the state satisfies `predicate`; None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.state):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.state

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start supervising (returns at once; watch `state` or the listeners)."""
        if self._task is None:
            self._set(phase=STARTING, reason="")
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        """Stop the tool and everything it started; nothing is left running."""
        self._stopping = True
        self._wake.set()
        proc = self._proc
        if proc is not None:
            await self._terminate(proc)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, self.stop_grace + 2)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        if self.state.phase != DOWN or self.state.retry_in is not None:
            self._set(phase=DOWN, url="", reason="stopped", retry_in=None)

    def kill_now(self) -> None:
        """Last resort when the loop is gone: SIGKILL the tool's process group."""
        if self.pid is not None:
            _killpg(self.pid, signal.SIGKILL)

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            _killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_grace)
            except TimeoutError:
                _killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        # Children that ignored SIGTERM, or outlived a tool that died on its own.
        _killpg(proc.pid, signal.SIGKILL)

    async def _supervise(self) -> None:
        first, longest = self.backoff
        delay = first
        while not self._stopping:
            exe = shutil.which(self.tool.executable, path=self.env.get("PATH", ""))
            if exe is None:
                self._set(phase=DOWN, url="", reason=missing_message(self.tool), retry_in=None)
                return
            self._set(phase=STARTING, url="", reason="", retry_in=None)
            started = time.monotonic()
            try:
                why = await self._run_once(exe)
            except OSError as exc:
                why = f"cannot run {exe}: {exc.strerror or exc}"
            if self._stopping:
                return
            if time.monotonic() - started >= self.healthy_after:
                delay = first
            why = visible_line(clip(why, REASON_LIMIT))
            self._set(phase=DOWN, url="", reason=why, last_exit=why,
                      restarts=self.state.restarts + 1, retry_in=delay)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(delay * 2, longest)

    async def _run_once(self, exe: str) -> str:
        """Run the tool until it exits; returns why it stopped."""
        args = self.tool.argv(self.port, self.host, self.spec.host)
        proc = await asyncio.create_subprocess_exec(
            exe, *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, env=self.env,
            limit=1024 * 1024)
        self._proc = proc
        self.pid = proc.pid
        errors: list[str] = []
        lines: deque[str] = deque(maxlen=5)
        assert proc.stdout is not None and proc.stderr is not None
        readers = [asyncio.create_task(self._read(s, errors, lines))
                   for s in (proc.stdout, proc.stderr)]
        poller = (asyncio.create_task(self._poll_ngrok(proc))
                  if self.tool.name == "ngrok" else None)
        try:
            code = await proc.wait()
        finally:
            await self._terminate(proc)
            if poller is not None:
                poller.cancel()
            _, pending = await asyncio.wait(readers, timeout=2)
            for task in pending:
                task.cancel()
            self._proc = None
            self.pid = None
        detail = errors[-1] if errors else (lines[-1] if lines else "")
        status = f"signal {-code}" if code < 0 else f"status {code}"
        return f"{self.tool.name} exited ({status})" + (f": {detail}" if detail else "")

    async def _read(self, stream: asyncio.StreamReader, errors: list[str],
                    lines: deque[str]) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the limit: skip it
                continue
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.strip():
                lines.append(line.strip())
            found = read_line(self.tool.name, line, self.port)
            if found.api:
                self._api = found.api.rstrip("/")
            if found.error:
                errors.append(found.error)
            if found.url and not self._stopping:
                self._set(phase=UP, url=found.url, reason="", retry_in=None)

    async def _poll_ngrok(self, proc: asyncio.subprocess.Process) -> None:
        """ngrok's local API, for when its log does not name the URL."""
        import httpx  # on first use: its import is a good part of the start-up

        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as client:
            while proc.returncode is None and self.state.phase != UP:
                try:
                    response = await client.get(self._api + "/api/tunnels")
                    for tunnel in response.json().get("tunnels", []):
                        url = _clean_url(str(tunnel.get("public_url", "")))
                        config = tunnel.get("config") or {}
                        if url and _for_port(config, self.port) and not self._stopping:
                            self._set(phase=UP, url=url, reason="", retry_in=None)
                            return
                except (httpx.HTTPError, ValueError, AttributeError):
                    pass
                await asyncio.sleep(0.5)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
