"""Run uvicorn inside someone else's event loop (Textual's, or the headless runner's)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import re
import socket
import typing
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("inspector")


class BindError(Exception):
    """The port could not be taken; the message says what to do."""


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen before any UI starts, so a taken port is a clear error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from exc
    family, _, _, _, address = infos[0]
    # IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets whose proto is TCP.
    # Without it every response waits on Nagle + delayed ACK (measured: 360 vs 6,600 req/s).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise BindError(_bind_message(host, port, exc)) from exc
    return sock


def _bind_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another inspector?): "
            "stop that process, or pick another port with --port (0 picks a free one)"
        )
    if exc.errno == errno.EACCES:
        return (
            f"port {port} needs administrator privileges: use a port above 1023 "
            "with --port, for example --port 8765"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: this machine has no such address (check --host)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def url_of(sock: socket.socket, host: str) -> str:
    """The local URL of a bound socket."""
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


class EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signals to its host (Textual or our headless runner)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


# -- limits for a receiver on the public internet --------------------------------------------
#
# uvicorn 0.54 times out idle keep-alive connections, and nothing else: a client that opens a
# connection and sends nothing, trickles its headers a byte at a time (slowloris) or stops
# half-way through a body holds its connection for ever; and h11 limits only a request head
# that arrives in pieces (httptools none at all). The guard below adds, for both parsers:
#   - a size limit on the request head (request line + headers): over it, 431 and close;
#   - a deadline for a whole head, counted from the connection's opening or from the head's
#     first byte: 408 and close (a connection that sent nothing is just closed);
#   - an idle limit inside a body: nothing for `body_timeout` seconds, 408 and close (the
#     receiver records the event as refused: client disconnected);
#   - under pressure (connections near `concurrency`), idle keep-alive connections are closed
#     early, so that new deliveries are not answered 503.
# Requests refused here never reach the receiver: they are not recorded as events.


@dataclass(frozen=True, slots=True)
class Limits:
    head_bytes: int = 128 * 1024  # request line + headers; a 64 KiB header value fits
    head_timeout: float = 10.0  # seconds for a whole request head
    body_timeout: float = 30.0  # seconds without a byte inside a body
    keep_alive: int = 30  # seconds an idle keep-alive connection stays open
    concurrency: int = 1000  # connections (or requests in flight) past which uvicorn sends 503
    prune_at: float = 0.8  # fraction of `concurrency` from which idle connections are closed
    prune_idle: float = 1.0  # seconds a connection must have been idle to be closed early


DEFAULT_LIMITS = Limits()
MALFORMED = ("malformed HTTP request (a control character or a non-ASCII byte in the request "
             "line or a header name, or bad framing): not recorded by webhook-inspector")
_HEAD_END = re.compile(rb"\n\r?\n")


def _answer(status: int, phrase: str, error: str) -> bytes:
    body = json.dumps({"ok": False, "error": error}, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class _Parser(typing.Protocol):
    """What the guard needs from a uvicorn HTTP protocol."""

    @property
    def transport(self) -> asyncio.Transport: ...

    def head_pending(self) -> bool: ...  # the next bytes belong to a request head

    def in_body(self) -> bool: ...  # a request body is being received

    def answered(self) -> bool: ...  # the current request already has a response

    def reading_paused(self) -> bool: ...  # uvicorn stopped reading (flow control)

    def current(self) -> object: ...  # the request/response cycle (a new one per head)

    def busy(self) -> bool: ...  # a request is being answered


class Watch:
    """One connection's guard: head size, head deadline, body idle time."""

    __slots__ = ("body_timer", "conn", "cycle", "head_bytes", "head_timer", "idle_since",
                 "limits", "loop", "mark", "received", "refused")

    def __init__(self, conn: _Parser, limits: Limits, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.limits = limits
        self.loop = loop
        self.head_bytes = 0  # bytes of the pending head seen so far
        self.received = 0  # every byte, for the body idle check
        self.mark = 0
        self.refused = False
        self.cycle: object = None  # the parser's cycle before a read: a new one = a new head
        self.idle_since = loop.time()
        self.body_timer: asyncio.TimerHandle | None = None
        # A new connection must deliver a whole head in time, like any other head.
        self.head_timer: asyncio.TimerHandle | None = loop.call_later(
            limits.head_timeout, self._head_expired)

    def before(self, data: bytes) -> bool:
        """Called with each read before the parser; False: refused, do not parse it."""
        if self.refused:
            return False
        self.received += len(data)
        self.cycle = self.conn.current()
        if self.conn.head_pending():
            budget = self.limits.head_bytes - self.head_bytes
            if len(data) > budget and not _ends_head(data, budget):
                self.refuse(431, "Request Header Fields Too Large",
                            f"the request line and headers are over {self.limits.head_bytes:,} "
                            "bytes, the limit of this webhook-inspector")
                return False
            self.head_bytes += len(data)
        return True

    def after(self) -> None:
        """Called after the parser took a read: start or stop the deadlines."""
        conn = self.conn
        # A whole head arrived in this read (maybe a whole request, and the parser is
        # already waiting for the next one): the count starts again.
        if conn.current() is not self.cycle or not conn.head_pending():
            self.head_bytes = 0
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None
        if conn.head_pending():
            if self.head_bytes and self.head_timer is None:
                self.head_timer = self.loop.call_later(self.limits.head_timeout,
                                                       self._head_expired)
            return
        if self.body_timer is None and conn.in_body():
            self.mark = self.received
            self.body_timer = self.loop.call_later(self.limits.body_timeout, self._body_check)

    def idle(self, now: float) -> bool:
        """Between requests (or never used) for a while: safe to close under pressure."""
        conn = self.conn
        return (not self.refused and self.head_bytes == 0 and self.body_timer is None
                and conn.head_pending() and not conn.busy()
                and now - self.idle_since >= self.limits.prune_idle)

    def _head_expired(self) -> None:
        self.head_timer = None
        if self.refused or self.conn.transport.is_closing() or not self.conn.head_pending():
            return
        if self.head_bytes == 0:
            self.refuse(0, "", "")  # connected and said nothing: just close
            return
        self.refuse(408, "Request Timeout",
                    "the request line and headers did not arrive within "
                    f"{self.limits.head_timeout:g} s")

    def _body_check(self) -> None:
        self.body_timer = None
        conn = self.conn
        if self.refused or conn.transport.is_closing() or not conn.in_body():
            return
        if self.received != self.mark or conn.reading_paused():
            self.mark = self.received
            self.body_timer = self.loop.call_later(self.limits.body_timeout, self._body_check)
            return
        status = 0 if conn.answered() else 408
        self.refuse(status, "Request Timeout",
                    f"the request body stalled: nothing arrived for {self.limits.body_timeout:g} s")

    def refuse(self, status: int, phrase: str, error: str) -> None:
        """Answer `status` (0: say nothing) and close the connection."""
        self.refused = True
        self.close()
        transport = self.conn.transport
        if status and not transport.is_closing():
            transport.write(_answer(status, phrase, error))
        transport.close()

    def close(self) -> None:
        """Stop the timers (the connection is gone)."""
        if self.head_timer is not None:
            self.head_timer.cancel()
        if self.body_timer is not None:
            self.body_timer.cancel()
        self.head_timer = self.body_timer = None


def _ends_head(data: bytes, budget: int) -> bool:
    """Does the pending head end within the first `budget` bytes of `data`?"""
    if budget < 0:
        return False
    if _HEAD_END.search(data, 0, budget) is not None:
        return True
    # The blank line may have begun at the end of the previous read.
    return data[:2] == b"\r\n" or data[:1] == b"\n"


def _prune(conn: asyncio.Protocol, connections: set[Any], limits: Limits, now: float) -> None:
    """Close idle keep-alive connections when there are nearly `concurrency` of them."""
    if len(connections) < limits.concurrency * limits.prune_at:
        return
    for other in list(connections):
        watch = getattr(other, "watch", None)
        if other is not conn and isinstance(watch, Watch) and watch.idle(now):
            other.timeout_keep_alive_handler()


class _Guarded:
    """The guard's plumbing, shared by both parsers' protocols (listed first in the bases,
    so these wrap uvicorn's methods). The parser-specific part is in each subclass."""

    limits = DEFAULT_LIMITS
    watch: Watch
    loop: asyncio.AbstractEventLoop
    connections: set[Any]

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.watch = Watch(self, self.limits, self.loop)  # type: ignore[arg-type]
        _prune(self, self.connections, self.limits, self.loop.time())  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        watch = self.watch
        if watch.before(data):
            super().data_received(data)  # type: ignore[misc]
            watch.after()

    def connection_lost(self, exc: Exception | None) -> None:
        self.watch.close()
        super().connection_lost(exc)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        self.watch.idle_since = self.loop.time()
        super().on_response_complete()  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        self.watch.refuse(400, "Bad Request", MALFORMED)

    def reading_paused(self) -> bool:
        return bool(self.flow.read_paused)  # type: ignore[attr-defined]

    def current(self) -> object:
        return self.cycle  # type: ignore[attr-defined]

    def answered(self) -> bool:
        cycle = self.current()
        return cycle is not None and bool(cycle.response_started)  # type: ignore[attr-defined]

    def busy(self) -> bool:
        cycle = self.current()
        return cycle is not None and not cycle.response_complete  # type: ignore[attr-defined]


class GuardedH11(_Guarded, H11Protocol):  # type: ignore[misc]
    """uvicorn's h11 protocol with the guard."""

    def head_pending(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def in_body(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY


def _httptools_class() -> type[asyncio.Protocol] | None:
    """The guarded httptools protocol, or None when httptools is not installed."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return None
    idle, head, body = 0, 1, 2

    class GuardedHttpTools(_Guarded, HttpToolsProtocol):  # type: ignore[misc]
        """uvicorn's httptools protocol with the guard (httptools sets no head limit)."""

        phase = idle

        # Parser callbacks: where the current request is.
        def on_message_begin(self) -> None:
            self.phase = head
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self.phase = body
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self.phase = idle
            super().on_message_complete()

        def head_pending(self) -> bool:
            return self.phase != body

        def in_body(self) -> bool:
            return self.phase == body

    return GuardedHttpTools


GuardedHttpTools = _httptools_class()


def protocol_class(http: str, limits: Limits = DEFAULT_LIMITS) -> type[asyncio.Protocol]:
    """The guarded uvicorn protocol for `--http` (auto: httptools when installed)."""
    base: type[asyncio.Protocol] = GuardedH11
    if http == "httptools" or (http == "auto" and GuardedHttpTools is not None):
        if GuardedHttpTools is None:
            raise BindError("--http httptools: httptools is not installed "
                            "(pip install httptools); or use --http h11")
        base = GuardedHttpTools
    if limits == DEFAULT_LIMITS:
        return base
    return type(base.__name__, (base,), {"limits": limits})


def make_server(
    app: ASGIApp, *, http: str = "auto", limit_concurrency: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> EmbeddedServer:
    """uvicorn for a receiver that may face the internet (see `Limits`)."""
    if limit_concurrency is not None:
        limits = replace(limits, concurrency=limit_concurrency)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http=protocol_class(http, limits),
        ws="none",  # no websockets here: an Upgrade request is recorded like any other
        proxy_headers=False,  # keep the real client address; forwarded headers stay as headers
        server_header=False,
        timeout_keep_alive=limits.keep_alive,
        timeout_graceful_shutdown=3,
        limit_concurrency=limits.concurrency,
        # h11's own limit, a backstop behind the guard's (h11 checks heads in pieces only).
        h11_max_incomplete_event_size=limits.head_bytes + 64 * 1024,
    )
    return EmbeddedServer(config)


def exposure_warning(host: str) -> str | None:
    """A one-line warning when `host` makes the receiver reachable from other machines."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to anything
    where = "every network interface" if host in ("", "0.0.0.0", "::") else host
    return (f"warning: listening on {where} (--host {host or '0.0.0.0'}): anyone who can "
            "reach this machine can send it events. Behind a tunnel, keep the default "
            "--host 127.0.0.1; otherwise consider --rate-limit N.")


class Running:
    """A server task on the current loop, with a graceful stop."""

    def __init__(self, server: EmbeddedServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[self.sock]))

    async def stop(self) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        try:
            await asyncio.wait_for(self.task, timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()
        except Exception as exc:  # a failing shutdown must not keep the port or the UI
            log.warning("server stopped with an error: %s", exc)
        finally:
            self.sock.close()
            self.task = None


def quiet_uvicorn(handler: logging.Handler | None = None) -> None:
    """uvicorn logs must never hit the terminal under a TUI: route them to `handler` or drop."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers = [handler or logging.NullHandler()]
        logger.propagate = False
