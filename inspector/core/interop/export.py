"""Export events as JSON lines (lossless), HAR 1.2 or curl commands (importing.py reads the
first two back).

Exports stream: events are read from the store a chunk at a time and written as they come.
Only what the store holds is written, and the store never holds a secret.

JSON lines: one event per line, keys in a fixed order, bytes as base64, so that
export → import → export gives the same file byte for byte. HAR: what browser devtools
open: the request with its postData, and as the response what the sender was answered
(status, headers, body). Each entry also carries the lossless record under
`_webhookInspector`, with every replay and forward and what the target answered, so a HAR
written here imports without loss.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

from inspector import __version__
from inspector.core import display
from inspector.core.capture.answers import default_answer
from inspector.core.delivery.curl import curl_command
from inspector.core.headers import header_value
from inspector.core.model import Answer, Attempt, Event, HeaderList
from inspector.core.sanitize import clip, visible_line
from inspector.core.settings import DEFAULT_HOST, DEFAULT_PORT
from inspector.core.store import EventStore

FORMATS = ("jsonl", "har", "curl")
RECORD_VERSION = 1
HAR_KEY = "_webhookInspector"
# Where curl commands go without --target: where an inspector listens by default. Never the
# event's Host header, which the sender chose.
DEFAULT_CURL_TARGET = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/"

# -- records -----------------------------------------------------------------------------------


def record(event: Event, attempts: list[Attempt]) -> dict[str, Any]:
    """The lossless JSON form of an event and its replay/forward attempts."""
    return {
        "v": RECORD_VERSION,
        "id": event.id,
        "time": event.received_at,
        "method": event.method,
        "path": event.path,
        "query": event.query,
        "http_version": event.http_version,
        "scheme": event.scheme,
        "client": event.client,
        "headers": [[k, v] for k, v in event.headers],
        "body_base64": b64(event.body),
        "body_size": event.body_size,
        "status": event.status,
        "refused": event.refused,
        "notes": list(event.notes),
        "provider": event.provider,
        "kind": event.kind,
        "summary": event.summary,
        "verdict": event.verdict,
        "reason": event.reason,
        "related": event.related,
        "retry_of": event.retry_of,
        "answer": None if event.answer is None else {
            "headers": [[k, v] for k, v in event.answer.headers],
            "body_base64": b64(event.answer.body),
        },
        "rule": event.rule,
        "answer_note": event.answer_note,
        "attempts": [
            {
                "kind": a.kind,
                "at": a.at,
                "method": a.method,
                "url": a.url,
                "status": a.status,
                "elapsed_ms": a.elapsed_ms,
                "error": a.error,
                "response_headers": [[k, v] for k, v in a.response_headers],
                "response_body_base64": b64(a.response_body),
                "resigned": a.resigned,
                "edited": a.edited,
                "forced": a.forced,
                "note": a.note,
            }
            for a in attempts
        ],
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def line(obj: Any) -> str:
    # ASCII only: control characters and odd bytes stay escaped in the file.
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


# -- exporting ---------------------------------------------------------------------------------


def events_with_attempts(store: EventStore, seqs: list[int], chunk: int = 200
                         ) -> Iterator[tuple[Event, list[Attempt]]]:
    """(event, attempts) for these seqs, read a chunk at a time (with custom answers)."""
    for start in range(0, len(seqs), chunk):
        part = seqs[start : start + chunk]
        attempts = store.attempts_for(part)
        answers = store.answers_for(part)
        for event in store.iter_events(part, chunk):
            event.answer = answers.get(event.seq)
            yield event, attempts.get(event.seq, [])


def write_jsonl(items: Iterable[tuple[Event, list[Attempt]]], out: IO[str]) -> int:
    count = 0
    for event, attempts in items:
        out.write(line(record(event, attempts)) + "\n")
        count += 1
    return count


def write_curl(items: Iterable[tuple[Event, list[Attempt]]], out: IO[str],
               target: str = DEFAULT_CURL_TARGET) -> int:
    count = 0
    for event, _ in items:
        when = display.utc_iso(event.received_at)
        title = visible_line(clip(f"{event.method} {event.target}", 200))
        out.write(f"# {event.id}  {when}  {title}  {event.verdict or '-'}\n")
        out.write(curl_command(event, target) + "\n\n")
        count += 1
    return count


def write_har(items: Iterable[tuple[Event, list[Attempt]]], out: IO[str]) -> int:
    creator = {"name": "webhook-inspector", "version": __version__}
    out.write('{"log":{"version":"1.2","creator":' + line(creator) + ',"entries":[\n')
    count = 0
    for event, attempts in items:
        if count:
            out.write(",\n")
        out.write(line(har_entry(event, attempts)))
        count += 1
    out.write("\n]}}\n")
    return count


def export_to_file(store: EventStore, seqs: list[int], fmt: str, path: Path,
                   target: str = DEFAULT_CURL_TARGET) -> int:
    """Write next to the destination, then rename: a failed export leaves no half file.
    OSError when the folder or file cannot be written."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        out: IO[str]
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            count = export(store, seqs, fmt, out, target)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    return count


def format_for(path: str) -> str | None:
    """jsonl, har or curl from a file name's suffix (.jsonl/.json, .har, .sh/.curl)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"jsonl": "jsonl", "json": "jsonl", "ndjson": "jsonl", "har": "har", "sh": "curl",
            "curl": "curl"}.get(suffix)


def export(store: EventStore, seqs: list[int], fmt: str, out: IO[str],
           target: str = DEFAULT_CURL_TARGET) -> int:
    """Write these events in `fmt` (jsonl, har or curl); returns how many were written."""
    items = events_with_attempts(store, seqs)
    if fmt == "jsonl":
        return write_jsonl(items, out)
    if fmt == "har":
        return write_har(items, out)
    if fmt == "curl":
        return write_curl(items, out, target)
    raise ValueError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")


def header_text(value: str) -> str:
    """A stored header value (bytes as latin-1) as the text it most likely was."""
    raw = value.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _har_headers(headers: HeaderList) -> list[dict[str, str]]:
    return [{"name": header_text(k), "value": header_text(v)} for k, v in headers]


def content(body: bytes) -> dict[str, Any]:
    """HAR text for a body: UTF-8 text as it is, anything else as base64."""
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"text": b64(body), "encoding": "base64"}


def har_entry(event: Event, attempts: list[Attempt]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": event.method,
        "url": event.url(),
        "httpVersion": f"HTTP/{event.http_version}",
        "cookies": [],
        "headers": _har_headers(event.headers),
        "queryString": [{"name": k, "value": v}
                        for k, v in parse_qsl(event.query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": len(event.body),
    }
    if event.body:
        text = content(event.body)
        post: dict[str, Any] = {"mimeType": header_text(event.content_type),
                                "text": text["text"]}
        if "encoding" in text:
            post["comment"] = "not UTF-8: text is base64 (exact bytes in _webhookInspector)"
        request["postData"] = post
    entry: dict[str, Any] = {
        "startedDateTime": display.utc_iso(event.received_at),
        "time": 0,
        "request": request,
        "response": _har_response(event),
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0,
                    "wait": 0, "receive": 0},
        "comment": f"{event.provider or 'unknown provider'}: {event.verdict or 'no verdict'}"
                   + (f" ({event.reason})" if event.reason else "")
                   + _attempts_comment(attempts),
        HAR_KEY: record(event, attempts),
    }
    return entry


def _har_response(event: Event) -> dict[str, Any]:
    """What the sender got from the inspector (replays and forwards are in HAR_KEY)."""
    if event.status == 0:  # imported from a HAR that had no response
        return {"status": 0, "statusText": "", "httpVersion": "", "cookies": [],
                "headers": [], "content": {"size": 0, "mimeType": "x-unknown"},
                "redirectURL": "", "headersSize": -1, "bodySize": -1,
                "comment": "no response was recorded"}
    answer: Answer = event.answer or default_answer(event)
    content_type = header_value(answer.headers, "content-type") or ""
    return {
        "status": event.status, "statusText": display.status_phrase(event.status),
        "httpVersion": f"HTTP/{event.http_version}", "cookies": [],
        "headers": _har_headers(answer.headers),
        "content": {"size": len(answer.body), "mimeType": header_text(content_type),
                    **content(answer.body)},
        "redirectURL": header_text(header_value(answer.headers, "location") or ""),
        "headersSize": -1, "bodySize": len(answer.body),
        "comment": "what the inspector answered the sender" + (
            "" if event.answer is not None else
            " (rebuilt from the event; a body cut short by the server's guard got the reason "
            "alone)" if event.refused else " (its default answer)"),
    }


def _attempts_comment(attempts: list[Attempt]) -> str:
    if not attempts:
        return ""
    latest = attempts[-1]
    outcome = latest.error if latest.status is None else f"{latest.status}"
    return (f"; {display.count(len(attempts), 'replay/forward attempt')}, the "
            f"latest {latest.kind} to {latest.url}: {outcome} (all in {HAR_KEY}.attempts)")


SUFFIXES = {"jsonl": "jsonl", "har": "har", "curl": "sh"}


def default_name(fmt: str, now: float | None = None) -> str:
    """events-20261127-120000.jsonl: a file name for an export made from the TUI."""
    return f"events-{display.file_stamp(now)}.{SUFFIXES[fmt]}"
