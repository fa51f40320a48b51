"""Export events as JSON lines (lossless), HAR 1.2 or curl commands; import JSON lines or HAR.

Exports stream: events are read from the store a chunk at a time and written as they come.
Only what the store holds is written, and the store never holds a secret.

JSON lines: one event per line, keys in a fixed order, bytes as base64, so that
export → import → export gives the same file byte for byte. HAR: what browser devtools
open (the request with its postData, and the latest replay/forward response as the
response); each entry also carries the lossless record under `_webhookInspector`, so a HAR
written here imports without loss. A HAR from elsewhere imports too (request only).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from inspector import __version__
from inspector.config import DEFAULT_HOST, DEFAULT_PORT
from inspector.curl import curl_command
from inspector.model import Attempt, Event, HeaderList, header_value
from inspector.sanitize import clip, visible_line
from inspector.store import Store, insert_imported

FORMATS = ("jsonl", "har", "curl")
RECORD_VERSION = 1
HAR_KEY = "_webhookInspector"
# Where curl commands go without --target: where an inspector listens by default. Never the
# event's Host header, which the sender chose.
DEFAULT_CURL_TARGET = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/"
IMPORT_BATCH = 500


class ImportFailed(ValueError):
    """A file that cannot be imported; the message says which line/entry and why."""


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
        "body_base64": _b64(event.body),
        "body_size": event.body_size,
        "status": event.status,
        "refused": event.refused,
        "notes": list(event.notes),
        "provider": event.provider,
        "kind": event.kind,
        "summary": event.summary,
        "verdict": event.verdict,
        "reason": event.reason,
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
                "response_body_base64": _b64(a.response_body),
                "resigned": a.resigned,
                "edited": a.edited,
                "forced": a.forced,
                "note": a.note,
            }
            for a in attempts
        ],
    }


def from_record(data: Any, where: str) -> tuple[Event, list[Attempt]]:
    """Rebuild an event from `record`'s output; ImportFailed naming `where` if malformed."""
    if not isinstance(data, dict):
        raise ImportFailed(f"{where}: expected an object with an event, got {type(data).__name__}")
    try:
        event = Event(
            id=_str(data["id"]),
            received_at=float(data["time"]),
            method=_str(data["method"]),
            path=_str(data["path"]),
            query=_str(data.get("query", "")),
            http_version=_str(data.get("http_version", "1.1")),
            scheme=_str(data.get("scheme", "http")),
            client=_str(data.get("client", "")),
            headers=_header_list(data.get("headers", [])),
            body=_unb64(data.get("body_base64", "")),
            body_size=int(data.get("body_size", -1)),
            status=int(data.get("status", 200)),
            refused=_str(data.get("refused", "")),
            notes=[_str(n) for n in data.get("notes", [])],
            provider=_str(data.get("provider", "")),
            kind=_str(data.get("kind", "")),
            summary=_str(data.get("summary", "")),
            verdict=_str(data.get("verdict", "")),
            reason=_str(data.get("reason", "")),
        )
        attempts = [
            Attempt(
                event_seq=0,
                kind=_str(a["kind"]),
                at=float(a["at"]),
                method=_str(a["method"]),
                url=_str(a["url"]),
                status=None if a.get("status") is None else int(a["status"]),
                elapsed_ms=float(a.get("elapsed_ms", 0.0)),
                error=_str(a.get("error", "")),
                response_headers=_header_list(a.get("response_headers", [])),
                response_body=_unb64(a.get("response_body_base64", "")),
                resigned=bool(a.get("resigned", False)),
                edited=bool(a.get("edited", False)),
                forced=bool(a.get("forced", False)),
                note=_str(a.get("note", "")),
            )
            for a in data.get("attempts", [])
        ]
    except KeyError as exc:
        raise ImportFailed(f"{where}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ImportFailed(f"{where}: {exc}") from None
    if not event.id or not event.method:
        raise ImportFailed(f"{where}: the event has no id or no method")
    return event, attempts


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(_str(text), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64 ({exc})") from None


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {json.dumps(value)[:40]}")
    return value


def _header_list(value: Any) -> HeaderList:
    if not isinstance(value, list):
        raise ValueError("headers must be a list of [name, value] pairs")
    out: HeaderList = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError("headers must be a list of [name, value] pairs")
        out.append((_str(pair[0]), _str(pair[1])))
    return out


def _line(obj: Any) -> str:
    # ASCII only: control characters and odd bytes stay escaped in the file.
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


# -- exporting ---------------------------------------------------------------------------------


def events_with_attempts(store: Store, seqs: list[int], chunk: int = 200
                         ) -> Iterator[tuple[Event, list[Attempt]]]:
    """(event, attempts) for these seqs, read a chunk at a time."""
    for start in range(0, len(seqs), chunk):
        part = seqs[start : start + chunk]
        attempts = store.attempts_for(part)
        for event in store.iter_events(part, chunk):
            yield event, attempts.get(event.seq, [])


def write_jsonl(items: Iterable[tuple[Event, list[Attempt]]], out: IO[str]) -> int:
    count = 0
    for event, attempts in items:
        out.write(_line(record(event, attempts)) + "\n")
        count += 1
    return count


def write_curl(items: Iterable[tuple[Event, list[Attempt]]], out: IO[str],
               target: str = DEFAULT_CURL_TARGET) -> int:
    count = 0
    for event, _ in items:
        when = datetime.fromtimestamp(event.received_at, UTC).isoformat(
            timespec="milliseconds")
        title = visible_line(clip(f"{event.method} {event.target}", 200))
        out.write(f"# {event.id}  {when}  {title}  {event.verdict or '-'}\n")
        out.write(curl_command(event, target) + "\n\n")
        count += 1
    return count


def write_har(items: Iterable[tuple[Event, list[Attempt]]], out: IO[str]) -> int:
    creator = {"name": "webhook-inspector", "version": __version__}
    out.write('{"log":{"version":"1.2","creator":' + _line(creator) + ',"entries":[\n')
    count = 0
    for event, attempts in items:
        if count:
            out.write(",\n")
        out.write(_line(har_entry(event, attempts)))
        count += 1
    out.write("\n]}}\n")
    return count


def export_to_file(store: Store, seqs: list[int], fmt: str, path: Path,
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


def export(store: Store, seqs: list[int], fmt: str, out: IO[str],
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


def _text(value: str) -> str:
    """A stored header value (bytes as latin-1) as the text it most likely was."""
    raw = value.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _har_headers(headers: HeaderList) -> list[dict[str, str]]:
    return [{"name": _text(k), "value": _text(v)} for k, v in headers]


def _content(body: bytes) -> dict[str, Any]:
    """HAR text for a body: UTF-8 text as it is, anything else as base64."""
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"text": _b64(body), "encoding": "base64"}


def har_entry(event: Event, attempts: list[Attempt]) -> dict[str, Any]:
    started = datetime.fromtimestamp(event.received_at, UTC)
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
        content = _content(event.body)
        post: dict[str, Any] = {"mimeType": _text(event.content_type), "text": content["text"]}
        if "encoding" in content:
            post["comment"] = "not UTF-8: text is base64 (exact bytes in _webhookInspector)"
        request["postData"] = post
    latest = attempts[-1] if attempts else None
    elapsed = latest.elapsed_ms if latest else 0.0
    entry: dict[str, Any] = {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": elapsed,
        "request": request,
        "response": _har_response(event, latest),
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0,
                    "wait": elapsed, "receive": 0},
        "comment": f"{event.provider or 'unknown provider'}: {event.verdict or 'no verdict'}"
                   + (f" ({event.reason})" if event.reason else ""),
        HAR_KEY: record(event, attempts),
    }
    return entry


def _har_response(event: Event, attempt: Attempt | None) -> dict[str, Any]:
    if attempt is None:
        return {
            "status": event.status, "statusText": _phrase(event.status),
            "httpVersion": f"HTTP/{event.http_version}", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "application/json", "text": ""},
            "redirectURL": "", "headersSize": -1, "bodySize": 0,
            "comment": "what the inspector answered; the event was not replayed or forwarded",
        }
    if attempt.status is None:
        return {
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
            "headersSize": -1, "bodySize": -1, "_error": attempt.error,
            "comment": f"{attempt.kind} to {attempt.url} failed: {attempt.error}",
        }
    content_type = header_value(attempt.response_headers, "content-type") or ""
    return {
        "status": attempt.status, "statusText": _phrase(attempt.status),
        "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": _har_headers(attempt.response_headers),
        "content": {"size": len(attempt.response_body), "mimeType": _text(content_type),
                    **_content(attempt.response_body)},
        "redirectURL": _text(header_value(attempt.response_headers, "location") or ""),
        "headersSize": -1, "bodySize": len(attempt.response_body),
        "comment": f"latest {attempt.kind} to {attempt.url}",
    }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# -- importing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Imported:
    format: str  # "jsonl" or "har"
    read: int = 0  # events in the file
    added: int = 0  # new in the database (the others were there already)


def read_file(data: IO[bytes]) -> tuple[str, Iterator[tuple[Event, list[Attempt]]]]:
    """Detect the format and iterate the events: ("jsonl" | "har", events)."""
    first = data.readline()
    stripped = first.strip()
    if not stripped:
        rest = data.read()
        if not rest.strip():
            raise ImportFailed("the file is empty")
        return _detect(first + rest)
    try:
        head = json.loads(stripped)
    except ValueError:
        head = None  # a pretty-printed HAR starts with "{" alone
    if isinstance(head, dict) and "log" not in head:
        return "jsonl", _jsonl(first, data)
    return _detect(first + data.read())


def _detect(blob: bytes) -> tuple[str, Iterator[tuple[Event, list[Attempt]]]]:
    try:
        doc = json.loads(blob)
    except ValueError as exc:
        raise ImportFailed(f"neither JSON lines nor HAR: {exc}") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("log"), dict)
            and isinstance(doc["log"].get("entries"), list)):
        raise ImportFailed("neither JSON lines (one event per line) nor HAR (no log.entries)")
    return "har", _har_events(doc["log"]["entries"])


def _jsonl(first: bytes, rest: IO[bytes]) -> Iterator[tuple[Event, list[Attempt]]]:
    number = 0
    for number, raw in enumerate(_chain(first, rest), 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ImportFailed(f"line {number}: not JSON ({exc})") from None
        yield from_record(data, f"line {number}")


def _chain(first: bytes, rest: IO[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _har_events(entries: list[Any]) -> Iterator[tuple[Event, list[Attempt]]]:
    for number, entry in enumerate(entries, 1):
        where = f"HAR entry {number}"
        if isinstance(entry, dict) and HAR_KEY in entry:
            yield from_record(entry[HAR_KEY], where)
        else:
            yield _from_har_request(entry, where), []


def _from_har_request(entry: Any, where: str) -> Event:
    """An event from a HAR written by another tool: the request only."""
    try:
        request = entry["request"]
        method = _str(request["method"])
        parts = urlsplit(_str(request["url"]))
        headers: HeaderList = [(_bytes_text(_str(h["name"])), _bytes_text(_str(h["value"])))
                               for h in request.get("headers", [])]
        post = request.get("postData") or {}
        text = post.get("text", "")
        body = (base64.b64decode(_str(text)) if post.get("encoding") == "base64"
                else _str(text).encode("utf-8"))
        when = _har_time(_str(entry["startedDateTime"]))
        version = _str(request.get("httpVersion", "HTTP/1.1")).upper().removeprefix("HTTP/")
    except KeyError as exc:
        raise ImportFailed(f"{where}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise ImportFailed(f"{where}: {exc}") from None
    if not any(k.lower() == "host" for k, _ in headers) and parts.netloc:
        headers.insert(0, ("host", parts.netloc))
    # The same entry always gets the same id, so importing it twice adds it once.
    digest = hashlib.sha256(_line(entry).encode("ascii")).digest()[:10]
    return Event(id=_stable_id(when, digest), received_at=when, method=method,
                 path=parts.path or "/", query=parts.query, headers=headers, body=body,
                 http_version=version or "1.1", scheme=parts.scheme or "http",
                 notes=["imported from a HAR file (request only)"])


def _bytes_text(text: str) -> str:
    """Text from a HAR as stored headers are: its UTF-8 bytes, decoded latin-1."""
    return text.encode("utf-8").decode("latin-1")


def _har_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# Standard base32 letters onto Crockford's alphabet, as model.new_id does.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                             b"0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _stable_id(when: float, digest: bytes) -> str:
    """An id like model.new_id's, with a digest of the entry in place of the random bits."""
    raw = int(when * 1000).to_bytes(6, "big") + digest
    return base64.b32encode(raw)[:26].translate(_CROCKFORD).decode("ascii")


def import_file(store: Store, data: IO[bytes], batch: int = IMPORT_BATCH) -> Imported:
    """Insert every event of a JSON lines or HAR file, keeping ids (known ones are skipped).
    ImportFailed stops it; the batches already written stay (importing again is safe)."""
    fmt, items = read_file(data)
    result = Imported(fmt)
    pending: list[tuple[Event, list[Attempt]]] = []
    try:
        for item in items:
            pending.append(item)
            result.read += 1
            if len(pending) == batch:
                result.added += len(store.write_sync(insert_imported, pending))
                pending = []
    except ImportFailed as exc:
        if result.added:
            raise ImportFailed(f"{exc} ({result.added:,} events before it were imported; "
                               "importing again skips them)") from None
        raise
    if pending:
        result.added += len(store.write_sync(insert_imported, pending))
    return result


SUFFIXES = {"jsonl": "jsonl", "har": "har", "curl": "sh"}


def default_name(fmt: str, now: float | None = None) -> str:
    """events-20261127-120000.jsonl: a file name for an export made from the TUI."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"events-{stamp}.{SUFFIXES[fmt]}"
