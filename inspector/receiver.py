"""The receiver: a Starlette app that records every request exactly as it arrived.

It never waits on the UI: it hands the event to the store and answers once the store has
committed it. The UI hears about committed events from the store's listeners, later and in
batches. The endpoint speaks raw ASGI (no Request/Response objects): this is the hot path,
and every microsecond here is taken from the UI sharing the loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from inspector.model import Event, new_id
from inspector.server import BODY_CUT
from inspector.store import Store, StoreError

DEFAULT_MAX_BODY = 10 * 1024 * 1024
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
_JSON = [(b"content-type", b"application/json")]
EVENT_ID_HEADER = b"x-inspector-event-id"  # on every answer to a stored event

# Answers an accepted, committed event when the response is not the default one.
Respond = Callable[[Event, Send], Awaitable[None]]


class Receiver:
    """The ASGI endpoint behind every path."""

    def __init__(
        self, store: Store, max_body: int, on_error: Callable[[str], None] | None
    ) -> None:
        self.store = store
        self.max_body = max_body
        self.on_error = on_error
        # None: the default answer, inline (the hot path). The runtime sets it when a
        # custom response, --reject-invalid or --respond-with-downstream is on.
        self.respond: Respond | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        received_at = time.time()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        client = scope.get("client")
        event = Event(
            id=new_id(received_at),
            received_at=received_at,
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            query=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=b"",
            client=f"{client[0]}:{client[1]}" if client else "",
            http_version=scope.get("http_version", "1.1"),
            scheme=scope.get("scheme", "http"),
        )
        await self._read_body(event, scope, receive)
        try:
            await self.store.add(event)
        except Exception as exc:  # StoreError, or anything else: never a false ack
            message = str(exc) if isinstance(exc, StoreError) else (
                f"storage failed: {type(exc).__name__}: {exc}")
            if self.on_error is not None:
                self.on_error(message)
            # Not stored, so not acknowledged: the sender will retry.
            await _reply(send, 503, {"ok": False, "error": f"not stored: {message}"})
            return
        ident = event.id.encode("ascii")
        if event.refused:
            await _reply(send, event.status, {"ok": False, "id": event.id, "error": event.refused},
                         ident)
            return
        respond = self.respond
        if respond is not None:
            await respond(event, send)
            return
        await _send(send, event.status, b'{"ok":true,"id":"' + ident + b'"}', ident)

    async def _read_body(self, event: Event, scope: Scope, receive: Receive) -> None:
        """Read the body up to `max_body`; past it, mark the event refused (413)."""
        limit = self.max_body
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > limit:
                _refuse_size(event, int(value), limit)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                cut = (scope.get("extensions") or {}).get(BODY_CUT)
                if cut is None:
                    event.status = 499
                    event.refused = f"client disconnected after {size:,} bytes of the body"
                else:  # the server answered and closed (a stalled or malformed body)
                    event.status, reason = cut
                    event.refused = f"{reason}; cut off after {size:,} bytes of the body"
                break
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    _refuse_size(event, size, limit, at_least=True)
                    return
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        event.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        event.body_size = len(event.body)


def create_receiver(
    store: Store,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    on_error: Callable[[str], None] | None = None,
) -> Starlette:
    """Build the receiver app. `on_error` hears storage failures (the UI shows them)."""
    return receiver_app(Receiver(store, max_body, on_error))


def receiver_app(endpoint: Receiver) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)])


async def _send(send: Send, status: int, body: bytes, ident: bytes = b"") -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode("ascii"))]
    if ident:
        headers.append((EVENT_ID_HEADER, ident))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _reply(send: Send, status: int, payload: dict[str, object], ident: bytes = b"") -> None:
    await _send(send, status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), ident)


def _refuse_size(event: Event, size: int, limit: int, at_least: bool = False) -> None:
    more = "at least " if at_least else ""
    event.status = 413
    event.body_size = size
    event.refused = (
        f"body is {more}{size:,} bytes; the limit is {limit:,} (raise it with --max-body)"
    )
