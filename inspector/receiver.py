"""The receiver: a Starlette app that records every request exactly as it arrived.

It never waits on the UI: it hands the event to the store and answers once the store has
committed it. The UI hears about committed events from the store's listeners, later and in
batches.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from inspector.model import Event, new_id
from inspector.store import Store, StoreError

DEFAULT_MAX_BODY = 10 * 1024 * 1024
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def _json(status: int, payload: dict[str, object]) -> Response:
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, status, media_type="application/json")


def create_receiver(
    store: Store,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    on_error: Callable[[str], None] | None = None,
) -> Starlette:
    """Build the receiver app. `on_error` hears storage failures (the UI shows them)."""

    async def receive(request: Request) -> Response:
        scope = request.scope
        received_at = time.time()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        client = scope.get("client")
        event = Event(
            id=new_id(received_at),
            received_at=received_at,
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=b"",
            client=f"{client[0]}:{client[1]}" if client else "",
            http_version=scope.get("http_version", "1.1"),
            scheme=scope.get("scheme", "http"),
        )
        await _read_body(request, event, max_body)
        try:
            await store.add(event)
        except StoreError as exc:
            if on_error is not None:
                on_error(str(exc))
            # Not stored, so not acknowledged: the sender will retry.
            return _json(503, {"ok": False, "error": f"not stored: {exc}"})
        if event.refused:
            return _json(event.status, {"ok": False, "id": event.id, "error": event.refused})
        return _json(event.status, {"ok": True, "id": event.id})

    return Starlette(routes=[Route("/{path:path}", receive, methods=METHODS)])


async def _read_body(request: Request, event: Event, max_body: int) -> None:
    """Read the body up to `max_body`; past it, mark the event refused (413)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        _refuse_size(event, int(declared), max_body)
        return
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                _refuse_size(event, size, max_body, at_least=True)
                return
            chunks.append(chunk)
    except ClientDisconnect:
        event.refused = f"client disconnected after {size:,} bytes of the body"
        event.status = 499
    event.body = b"".join(chunks)
    event.body_size = len(event.body)


def _refuse_size(event: Event, size: int, limit: int, at_least: bool = False) -> None:
    more = "more than " if at_least else ""
    event.status = 413
    event.body_size = size
    event.refused = (
        f"body is {more}{size:,} bytes; the limit is {limit:,} (raise it with --max-body)"
    )
