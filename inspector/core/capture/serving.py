"""Run uvicorn inside someone else's event loop (Textual's, or the headless runner's), with
the guard of `server` on each connection, for either HTTP parser.

Imported when the receiver starts, not before the first paint: uvicorn and its parsers are
a good part of the start-up's imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import typing
from collections.abc import Generator
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from inspector.core.capture.server import (
    BAD_BODY,
    BODY_CUT,
    CONNECTION,
    DEFAULT_LIMITS,
    MALFORMED,
    Limits,
    Pruner,
    Watch,
    check_parser,
)

log = logging.getLogger("inspector")


class EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signals to its host (Textual or our headless runner)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield



def _close_if_ambiguous(cycle: Any) -> None:
    """A request with both Transfer-Encoding and Content-Length may be an attempt at request
    smuggling: answer it (by Transfer-Encoding, as h11 reads it), then close the connection,
    as RFC 9112 §6.3 requires. (httptools refuses such a request outright.)"""
    headers = dict(cycle.scope["headers"])
    if b"transfer-encoding" in headers and b"content-length" in headers:
        cycle.keep_alive = False


class _Guarded:
    """The guard's plumbing, shared by both parsers' protocols (listed first in the bases,
    so these wrap uvicorn's methods). The parser-specific part is in each subclass."""

    limits = DEFAULT_LIMITS
    pruner: Pruner  # the server's (see protocol_class)
    watch: Watch
    loop: asyncio.AbstractEventLoop
    connections: set[Any]

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.watch = Watch(self, self.limits, self.loop)  # type: ignore[arg-type]
        self.pruner(self, self.connections, self.loop.time())  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        watch = self.watch
        if watch.before(data):
            super().data_received(data)  # type: ignore[misc]
            cycle: Any = self.current()
            if cycle is not watch.cycle and cycle is not None:  # a new request
                _close_if_ambiguous(cycle)
                self.tag(cycle.scope)
            watch.after()

    def connection_lost(self, exc: Exception | None) -> None:
        self.watch.close()
        super().connection_lost(exc)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        self.watch.idle_since = self.loop.time()
        super().on_response_complete()  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        cycle: Any = self.current()
        if cycle is not None and cycle.more_body and not cycle.response_complete:
            # The head was good and went to the receiver, which records the request as
            # refused 400: what the sender is answered.
            self.watch.cut(BAD_BODY, 400, "Bad Request")
        else:
            self.watch.refuse(400, "Bad Request", MALFORMED)

    def tag(self, scope: Scope) -> None:
        """Give the request its connection (`connection_of`)."""
        scope.setdefault("extensions", {})[CONNECTION] = self.watch

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

    def cut_body(self, status: int, reason: str) -> None:
        """Tell the receiver, if it is still reading a body, why the body ends here."""
        cycle: Any = self.current()
        if cycle is not None and cycle.more_body and not cycle.response_started:
            cycle.scope.setdefault("extensions", {})[BODY_CUT] = (status, reason)


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
        """uvicorn's httptools protocol with the guard (httptools sets no head limit).

        llhttp refuses some requests h11 reads: a method it does not know (`post`, `BREW`),
        CONNECT, a target that is not a path, a control character in a header value, both
        Content-Length and Transfer-Encoding. Such a request is still a request the
        inspector records: h11 takes the connection over from its first byte (see
        `send_400_response`)."""

        phase = idle
        fallback: type[asyncio.Protocol] | None = None  # h11, with the same limits
        pieces: list[bytes] = []  # this request's reads, while its head is read
        alone = True  # the pieces hold this request only (nothing answered before it)

        def data_received(self, data: bytes) -> None:
            if self.phase == idle:  # a new request starts with this read
                self.pieces = [data]
                self.alone = True
            elif self.phase == head:
                self.pieces.append(data)
            super().data_received(data)

        def send_400_response(self, msg: str) -> None:
            if (self.phase != body and self.alone and self.fallback is not None
                    and not self.pipeline and not self.watch.refused
                    and (self.cycle is None or self.cycle.response_complete)):
                self._to_h11(b"".join(self.pieces))
            else:
                super().send_400_response(msg)

        def _to_h11(self, data: bytes) -> None:
            """Let h11 read this connection from the start of the refused request on."""
            assert self.fallback is not None
            self.connections.discard(self)
            self._unset_keepalive_if_required()
            self.watch.close()
            self.pieces = []
            h11_protocol: Any = self.fallback(  # type: ignore[call-arg]
                config=self.config, server_state=self.server_state,
                app_state=self.app_state, _loop=self.loop)
            h11_protocol.connection_made(self.transport)
            self.transport.set_protocol(h11_protocol)
            h11_protocol.data_received(data)

        # Parser callbacks: where the current request is.
        def on_message_begin(self) -> None:
            self.phase = head
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            super().on_headers_complete()  # may refuse the target (CONNECT's host:port)
            self.phase = body
            self.tag(typing.cast(Scope, self.scope))  # each pipelined request has its own
            if self.url[:1] != b"/":  # as h11 does: the receiver sees the target's form
                self.scope["raw_path"] = self.url.partition(b"?")[0]

        def on_message_complete(self) -> None:
            self.phase = idle
            self.alone = False  # a request after it in the same read is not alone
            super().on_message_complete()

        def head_pending(self) -> bool:
            return self.phase != body

        def in_body(self) -> bool:
            return self.phase == body

    return GuardedHttpTools


GuardedHttpTools = _httptools_class()


def protocol_class(http: str, limits: Limits = DEFAULT_LIMITS) -> type[asyncio.Protocol]:
    """The guarded uvicorn protocol for `--http` (auto: httptools when installed), for one
    server."""
    check_parser(http)
    shared = {"limits": limits, "pruner": Pruner(limits)}
    h11_class = type(GuardedH11.__name__, (GuardedH11,), shared)
    if http == "httptools" or (http == "auto" and GuardedHttpTools is not None):
        assert GuardedHttpTools is not None  # check_parser said so
        return type(GuardedHttpTools.__name__, (GuardedHttpTools,),
                    {**shared, "fallback": h11_class})
    return h11_class


class Gate:
    """Past `limit` connections, a 503 with a JSON reason (uvicorn's own limit also counted
    requests that pruning had just cut while the receiver recorded them, and answered in
    plain text)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.connections: set[Any] = set()  # the server's, once it exists
        self.answer = json.dumps({"ok": False, "error": (
            f"webhook-inspector is at its limit of {limit:,} connections: not recorded, "
            "retry later")}, separators=(",", ":")).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if len(self.connections) < self.limit:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.answer)).encode("ascii")),
            (b"retry-after", b"1"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": self.answer})


def make_server(
    app: ASGIApp, *, http: str = "auto", limits: Limits = DEFAULT_LIMITS,
) -> EmbeddedServer:
    """uvicorn for a receiver that may face the internet (see `Limits`)."""
    gate = Gate(app, limits.concurrency)
    config = uvicorn.Config(
        gate,
        log_config=None,
        access_log=False,
        lifespan="off",
        http=protocol_class(http, limits),
        ws="none",  # no websockets here: an Upgrade request is recorded like any other
        proxy_headers=False,  # keep the real client address; forwarded headers stay as headers
        server_header=False,
        timeout_keep_alive=limits.keep_alive,
        timeout_graceful_shutdown=3,
        limit_concurrency=None,  # the gate's
        # h11's own limit, a backstop behind the guard's (h11 checks heads in pieces only).
        h11_max_incomplete_event_size=limits.head_bytes + 64 * 1024,
    )
    server = EmbeddedServer(config)
    gate.connections = server.server_state.connections
    return server


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
