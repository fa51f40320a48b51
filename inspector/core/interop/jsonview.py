"""The JSON that scripts and agents read: `inspector events … --json`, `inspector wait --json`
and the MCP server's results. The README documents every field.

Version 1. Every object carries `"v": 1`; a later version may add fields, and only a new
`v` renames or removes one. Text a stranger sent (path, query, headers, body, kind, summary,
notes, the reason that quotes them, what a replay target answered) is only ever a JSON string
value; `line` writes ASCII JSON, so escapes stay escapes on any terminal.

Two shapes: `summary` (a list row: no headers, no body) and `detail` (everything one event
holds, the body decoded). `Caps` bound a detail's size (the MCP server keeps an agent's
context small); the command line shows everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inspector.core import display
from inspector.core.analysis import decoding
from inspector.core.interop.export import b64, content, header_text, line
from inspector.core.model import Attempt, Event, HeaderList, Row
from inspector.core.sanitize import clip

VERSION = 1

__all__ = ["FULL", "VERSION", "Caps", "attempt", "detail", "line", "summary"]


@dataclass(frozen=True, slots=True)
class Caps:
    """How much of an event a detail shows (None: all of it)."""

    body: int | None = None  # characters of body text (bytes of a binary body), per body
    header: int | None = None  # characters of one header value
    headers: int | None = None  # headers listed


FULL = Caps()


def summary(row: Row) -> dict[str, Any]:
    """One event as the list shows it."""
    return {
        "v": VERSION,
        "id": row.id,
        "seq": row.seq,
        "time": row.received_at,
        "time_utc": display.utc_iso(row.received_at),
        "method": row.method,
        "path": row.path,
        "query": row.query,
        "provider": row.provider,
        "kind": row.kind,
        "summary": row.summary,
        "verdict": row.verdict,
        "answered": row.status,
        "refused": row.refused,
        "size": row.size,
        "result": _result(row.result, row.result_ms),
        "rule": row.rule,
        "answer_note": row.answer_note,
        "related": row.related,
        "retry_of": row.retry_of,
    }


def _result(status: int | None, ms: float | None) -> dict[str, Any] | None:
    """The latest replay or forward: None when never sent; status None when it failed."""
    if status is None:
        return None
    return {"status": status or None, "ms": ms}


def detail(event: Event, attempts: list[Attempt], caps: Caps = FULL) -> dict[str, Any]:
    """Everything about one event: the summary's fields, then the request, the body
    decoded, the signature's reason and every replay or forward."""
    out = summary(Row.of(event))
    latest = attempts[-1] if attempts else None
    out["result"] = None if latest is None else {"status": latest.status,
                                                 "ms": latest.elapsed_ms}
    headers, omitted = _headers(event.headers, caps)
    out.update({
        "reason": event.reason,
        "client": event.client,
        "http_version": event.http_version,
        "scheme": event.scheme,
        "notes": list(event.notes),
        "headers": headers,
        "headers_omitted": omitted,
        "body": body(event, caps),
        "attempts": [attempt(a, caps) for a in attempts],
    })
    return out


def _headers(headers: HeaderList, caps: Caps) -> tuple[list[list[str]], int]:
    """[[name, value], ...] in arrival order, duplicates kept; and how many were left out."""
    shown = headers if caps.headers is None else headers[: caps.headers]
    pairs = [[header_text(k), _clipped(header_text(v), caps.header)] for k, v in shown]
    return pairs, len(headers) - len(shown)


def _clipped(text: str, limit: int | None) -> str:
    return text if limit is None else clip(text, limit)


def body(event: Event, caps: Caps = FULL) -> dict[str, Any]:
    """The body decoded as the Body tab shows it: content-encoding undone, then JSON (also
    parsed, as `json`), a form (also as `form` pairs), XML or text; a binary body as base64.
    The exact bytes are `inspector events body ID`."""
    decoded = decoding.decode(event.body, event.headers, parse_limit=decoding.PRETTY_LIMIT)
    out: dict[str, Any] = {
        "size": event.body_size,
        "content_type": header_text(event.content_type),
        "kind": decoded.kind,
        "notes": list(decoded.notes),
    }
    limit = caps.body
    cut = False
    if decoded.kind == "binary":
        cut = limit is not None and len(decoded.data) > limit
        out["base64"] = b64(decoded.data[:limit] if cut else decoded.data)
    elif decoded.kind != "empty":
        cut = limit is not None and len(decoded.text) > limit
        out["text"] = decoded.text[:limit] if cut else decoded.text
        if decoded.kind == "json" and not cut and _plain_json(decoded.value):
            out["json"] = decoded.value
        if decoded.kind == "form" and not cut:
            out["form"] = [[k, v] for k, v in decoded.form]
    out["truncated"] = cut
    return out


def _plain_json(value: Any) -> bool:
    """Whether `value` writes back as strict JSON (Python reads NaN and Infinity, and depth
    that json.dumps cannot write)."""
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, RecursionError):
        return False
    return True


def attempt(item: Attempt, caps: Caps = FULL) -> dict[str, Any]:
    """One replay or forward and what the target answered (status null: no answer, and
    `error` says why)."""
    data = item.response_body
    cut = caps.body is not None and len(data) > caps.body
    headers, omitted = _headers(item.response_headers, caps)
    return {
        "v": VERSION,
        "kind": item.kind,
        "time": item.at,
        "time_utc": display.utc_iso(item.at),
        "method": item.method,
        "url": item.url,
        "status": item.status,
        "ms": item.elapsed_ms,
        "error": item.error,
        "resigned": item.resigned,
        "forced": item.forced,
        "edited": item.edited,
        "note": item.note,
        "response": {
            "headers": headers,
            "headers_omitted": omitted,
            "size": len(data),
            **content(data[: caps.body] if cut else data),
            "truncated": cut,
        },
    }
