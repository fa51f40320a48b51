"""The receiver: a Starlette app that records every request exactly as it arrived.

It never waits on the UI: it hands the event to the store and answers once the store has
committed it. The faces hear about committed events from the session (core/sink.py), later
and in batches. The endpoint speaks raw ASGI (no Request/Response objects): this is the hot path,
and every microsecond here is taken from the UI sharing the loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

from inspector.core.capture.server import BODY_CUT
from inspector.core.model import Event, new_id
from inspector.core.sanitize import clip, visible_line
from inspector.core.store import EventStore, StoreError

DEFAULT_MAX_BODY = 10 * 1024 * 1024
# Every method is recorded (PROPFIND, `post`, …: recording is the point); those outside this
# list get a note, and two are refused (405), because answering them would be wrong.
USUAL_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NOT_ANSWERED = {
    "CONNECT": "CONNECT asks for a tunnel: webhook-inspector is not a proxy",
    "TRACE": "TRACE asks for the request to be echoed back: webhook-inspector does not do that",
}
_ALLOW = (b"allow", ", ".join(sorted(USUAL_METHODS)).encode("ascii"))
_JSON = [(b"content-type", b"application/json")]
EVENT_ID_HEADER = b"x-inspector-event-id"  # on every answer to a stored event

# Answers an accepted, committed event when the response is not the default one (answers.py:
# a custom answer, an answer rule, a breakpoint).
Respond = Callable[[Event, Scope, Receive, Send], Awaitable[None]]


class Receiver:
    """The ASGI endpoint behind every path."""

    def __init__(
        self, store: EventStore, max_body: int, on_error: Callable[[str], None] | None
    ) -> None:
        self.store = store
        self.max_body = max_body
        self.on_error = on_error
        # None: the default answer, inline (the hot path). The session sets it when a
        # custom response, --reject-invalid, --respond-with-downstream, an answer rule or a
        # breakpoint is on.
        self.respond: Respond | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = request_event(scope)
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
                         ident, [_ALLOW] if event.status == 405 else [])
            return
        respond = self.respond
        if respond is not None:
            await respond(event, scope, receive, send)
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
    store: EventStore,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    on_error: Callable[[str], None] | None = None,
) -> Receiver:
    """Build the receiver app. `on_error` hears storage failures (the UI shows them)."""
    return Receiver(store, max_body, on_error)


def request_event(scope: Scope) -> Event:
    """The event for a request whose head just arrived (no body yet)."""
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
    if raw_path[:1] != b"/" or event.method not in USUAL_METHODS:
        _odd_request(event)
    return event


def _odd_request(event: Event) -> None:
    """Note a request line that is not `METHOD /path`, and refuse the methods we must not
    answer as a delivery."""
    method, target = event.method, event.path
    if method not in USUAL_METHODS:
        refusal = NOT_ANSWERED.get(method)
        if refusal is not None:
            event.status, event.refused = 405, refusal
        elif method.upper() in USUAL_METHODS or method.upper() in NOT_ANSWERED:
            event.notes.append(f"method {method} is not {method.upper()}: methods are "
                               "case-sensitive, so most servers would answer 405 or 501")
        else:
            event.notes.append(f"unusual method {method} (most servers would answer 405 or "
                               "501)")
    if target.startswith("/"):
        return
    shown = visible_line(clip(event.target, 200))
    scheme, sep, rest = target.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        # Absolute form, as sent to a proxy (RFC 9112 §3.2.2): record the path it names.
        event.path = "/" + rest.partition("/")[2]
        event.notes.append(f"absolute-form request target {shown} (as sent to a proxy); "
                           f"recorded with its path")
    elif target == "*":
        event.notes.append("request target * (OPTIONS *): a question about the server, not "
                           "about a path")
    else:
        event.notes.append(f"request target {shown} is not a path")


async def _send(send: Send, status: int, body: bytes, ident: bytes = b"",
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode("ascii"))]
    if ident:
        headers.append((EVENT_ID_HEADER, ident))
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _reply(send: Send, status: int, payload: dict[str, object], ident: bytes = b"",
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send(send, status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), ident,
                extra)


def _refuse_size(event: Event, size: int, limit: int, at_least: bool = False) -> None:
    more = "at least " if at_least else ""
    event.status = 413
    event.body_size = size
    event.refused = (
        f"body is {more}{size:,} bytes; the limit is {limit:,} (raise it with --max-body)"
    )
