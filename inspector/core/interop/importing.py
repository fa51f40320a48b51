"""Import JSON lines (our lossless export) or HAR (ours, or a browser's) into the store.

An import file is untrusted input, as a request is. Every field is checked as strictly as
the receiver checks a live request: the method is a token, the path and query are latin-1
text without controls or spaces (and the path starts with /, or is *), header names are
tokens and values hold no NUL, CR or LF, the request line and headers fit the receiver's
head limit, the body fits --max-body, times are finite and between 1970 and 9999, ids look
like ours. What the inspector derives from
the bytes (provider, verdict, reason, kind, summary, the analysis notes) is never read from
the file: the same analysis as for live events computes it again, with the secrets given to
`inspector import`, so a file cannot make an event look more genuine than its bytes are.
What the receiver decided when the event arrived (the status answered, the answer, why it
was refused, the answer rule and how it answered, the other notes) is kept.

An entry that fails a check is skipped and reported by its line (or HAR entry); the others
are imported. A file that is neither JSON lines nor HAR is one error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import IO, Any
from urllib.parse import quote, urlsplit

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.answers import MAX_BODY_FILE
from inspector.core.capture.receiver import DEFAULT_MAX_BODY
from inspector.core.capture.server import DEFAULT_LIMITS
from inspector.core.delivery.replay import RESPONSE_BODY_LIMIT
from inspector.core.headers import TOKEN
from inspector.core.interop.export import HAR_KEY, RECORD_VERSION, line
from inspector.core.model import Answer, Attempt, Event, HeaderList, id_of
from inspector.core.store import EventStore

IMPORT_BATCH = 500
MAX_TIME = 253_402_300_799.999  # 9999-12-31T23:59:59.999Z: later dates break every formatter
MAX_ATTEMPTS = 10_000  # replays and forwards of one event
MAX_TEXT = 4096  # characters of a note, an error, a refusal
MAX_NOTES = 100
MAX_URL = 64 * 1024
MAX_SHOWN_PROBLEMS = 10  # skipped entries the command lists one by one
HAR_NOTE = "imported from a HAR file written by another tool"
_ANSWER_LIMIT = max(RESPONSE_BODY_LIMIT, MAX_BODY_FILE)  # a mirrored or a custom answer

_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # model.new_id's alphabet
_TARGET = re.compile(r"[\x21-\x7e\x80-\xff]*")  # latin-1 text, no control, no space
_FIELD_VALUE = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\xff]*")  # no NUL, CR or LF
_CLIENT = re.compile(r"[0-9A-Za-z.:\[\]%_-]{0,300}")  # "203.0.113.7:40000", "::1:5000"
_URL = re.compile(r"https?://[\x21-\x7e\x80-\xff]+", re.IGNORECASE)
_RECORD_LINE = re.compile(rb"\n\{")  # a line that starts an object: JSON lines, not a HAR
_HTTP_VERSIONS = ("1.0", "1.1", "2", "3")
_SCHEMES = ("http", "https")
_ATTEMPT_KINDS = ("replay", "forward")


class ImportFailed(ValueError):
    """A file that cannot be imported at all; the message says why."""


class Bad(ValueError):
    """One entry that fails a check: the message names the field and the fault."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a live request may be; an imported one may not be more."""

    max_body: int = DEFAULT_MAX_BODY
    head_bytes: int = DEFAULT_LIMITS.head_bytes

    @property
    def max_line(self) -> int:
        """Bytes of one JSON line: its body and a few answers, in base64, with room."""
        return 2 * _b64_length(self.max_body) + 4 * _b64_length(_ANSWER_LIMIT) + (1 << 20)


@dataclass(slots=True)
class Imported:
    format: str  # "jsonl", "har" or "fixtures"
    read: int = 0  # entries that passed every check
    added: int = 0  # new in the database (the others were there already)
    skipped: list[str] = field(default_factory=list)  # "line 3: time ...", one per entry


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a file: an event with its attempts, or why it was skipped."""

    where: str  # "line 3", "HAR entry 2"
    item: tuple[Event, list[Attempt]] | None = None
    problem: str = ""


# -- reading a file ------------------------------------------------------------------------------


def read_file(data: IO[bytes], limits: Limits = Limits()) -> tuple[str, Iterator[Entry]]:
    """Detect the format and iterate the entries: ("jsonl" | "har", entries)."""
    first = data.readline(limits.max_line + 1)
    stripped = first.strip()
    if not stripped:
        rest = data.read()
        if not rest.strip():
            raise ImportFailed("the file is empty")
        return _har(first + rest, limits)
    try:
        head = loads(stripped)
    except Bad:
        head = None  # a pretty-printed HAR starts with "{" alone
    if isinstance(head, dict) and "log" not in head:
        return "jsonl", _jsonl(first, data, limits)
    blob = first + data.read()
    if head is None and _RECORD_LINE.search(blob):
        # Not one JSON document, but lines that look like records: JSON lines whose first
        # line is damaged. That line is skipped like any other bad one.
        with suppress(Bad):
            loads(blob)
            return _har(blob, limits)
        stream = io.BytesIO(blob)
        return "jsonl", _jsonl(stream.readline(limits.max_line + 1), stream, limits)
    return _har(blob, limits)


def loads(raw: bytes | str) -> Any:
    """JSON, as Bad when it is not (deep nesting included)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise Bad("not JSON: nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise Bad(f"not JSON ({exc})") from None


def _har(blob: bytes, limits: Limits) -> tuple[str, Iterator[Entry]]:
    try:
        doc = loads(blob)
    except Bad as exc:
        raise ImportFailed(f"neither JSON lines nor HAR: {exc}") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("log"), dict)
            and isinstance(doc["log"].get("entries"), list)):
        raise ImportFailed("neither JSON lines (one event per line) nor HAR (no log.entries)")
    return "har", _har_entries(doc["log"]["entries"], limits)


def _jsonl(first: bytes, rest: IO[bytes], limits: Limits) -> Iterator[Entry]:
    number = 1
    raw = first
    while raw:
        where = f"line {number}"
        if len(raw) > limits.max_line and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                raw = rest.readline(1 << 20)
            yield Entry(where, problem=f"longer than {limits.max_line:,} bytes")
        elif raw.strip():
            yield entry(where, partial(_from_line, raw, limits))
        raw = rest.readline(limits.max_line + 1)
        number += 1


def _har_entries(entries: list[Any], limits: Limits) -> Iterator[Entry]:
    for number, item in enumerate(entries, 1):
        yield entry(f"HAR entry {number}", partial(_from_har_entry, item, limits))


def _from_line(raw: bytes, limits: Limits) -> tuple[Event, list[Attempt]]:
    return from_record(loads(raw), limits)


def _from_har_entry(entry: Any, limits: Limits) -> tuple[Event, list[Attempt]]:
    """Ours carries the lossless record; another tool's gives a request and a response."""
    if isinstance(entry, dict) and HAR_KEY in entry:
        return from_record(entry[HAR_KEY], limits)
    return from_har(entry, limits), []


def entry(where: str, parse: Callable[[], tuple[Event, list[Attempt]]]) -> Entry:
    """The entry `parse()` makes, or the reason it could not (its Bad)."""
    try:
        return Entry(where, parse())
    except Bad as exc:
        return Entry(where, problem=str(exc))


# -- our own records -----------------------------------------------------------------------------


def from_record(data: Any, limits: Limits = Limits()) -> tuple[Event, list[Attempt]]:
    """An event and its attempts from `export.record`'s output, every field checked (Bad)."""
    if not isinstance(data, dict):
        raise Bad(f"expected an object with an event, got {_kind(data)}")
    version = _int(data.get("v", RECORD_VERSION), "v", 1, 1 << 31)
    if version > RECORD_VERSION:
        raise Bad(f"written by a newer webhook-inspector (record version {version}): upgrade")
    refused = _text(data.get("refused", ""), "refused")
    body = _base64(data.get("body_base64", ""), "body_base64", limits.max_body,
                   "--max-body")
    body_size = _int(data.get("body_size", len(body)), "body_size", 0, (1 << 63) - 1)
    if body_size != len(body) and not (refused and not body):
        raise Bad(f"body_size is {body_size:,} but the body has {len(body):,} bytes")
    event = Event(
        id=_match(_required(data, "id"), "id", _ID, 26, "26 letters and digits, as ours"),
        received_at=_time(_required(data, "time"), "time"),
        method=_method(_required(data, "method"), "method"),
        path=_path(_required(data, "path"), "path"),
        query=_match(data.get("query", ""), "query", _TARGET, limits.head_bytes,
                     "latin-1 text without spaces or control characters"),
        http_version=_choice(data.get("http_version", "1.1"), "http_version", _HTTP_VERSIONS),
        scheme=_choice(data.get("scheme", "http"), "scheme", _SCHEMES),
        client=_match(data.get("client", ""), "client", _CLIENT, 300, "an address:port"),
        headers=_headers(data.get("headers", []), "headers"),
        body=body,
        body_size=body_size,
        status=_status(data.get("status", 200), "status"),
        refused=refused,
        notes=_notes(data.get("notes", [])),
        answer=_answer(data.get("answer"), "answer"),
        # What happened to it here, kept as a record (never used to decide anything).
        rule=_text(data.get("rule", ""), "rule"),
        answer_note=_text(data.get("answer_note", ""), "answer_note"),
    )
    _check_head(event, limits)
    attempts = data.get("attempts", [])
    if not isinstance(attempts, list) or len(attempts) > MAX_ATTEMPTS:
        raise Bad(f"attempts must be a list of at most {MAX_ATTEMPTS:,} replays and forwards")
    return event, [_attempt(a, f"attempts[{i}]") for i, a in enumerate(attempts)]


def _attempt(data: Any, what: str) -> Attempt:
    if not isinstance(data, dict):
        raise Bad(f"{what}: expected an object, got {_kind(data)}")
    status = data.get("status")
    return Attempt(
        event_seq=0,
        kind=_choice(_required(data, "kind", what), f"{what}.kind", _ATTEMPT_KINDS),
        at=_time(_required(data, "at", what), f"{what}.at"),
        method=_method(_required(data, "method", what), f"{what}.method"),
        url=_match(_required(data, "url", what), f"{what}.url", _URL, MAX_URL,
                   "an http(s) URL"),
        status=None if status is None else _int(status, f"{what}.status", 100, 999),
        elapsed_ms=_number(data.get("elapsed_ms", 0.0), f"{what}.elapsed_ms", 0, 1e9),
        error=_text(data.get("error", ""), f"{what}.error"),
        response_headers=_headers(data.get("response_headers", []),
                                  f"{what}.response_headers"),
        response_body=_base64(data.get("response_body_base64", ""),
                              f"{what}.response_body_base64", _ANSWER_LIMIT),
        resigned=_bool(data.get("resigned", False), f"{what}.resigned"),
        edited=_bool(data.get("edited", False), f"{what}.edited"),
        forced=_bool(data.get("forced", False), f"{what}.forced"),
        note=_text(data.get("note", ""), f"{what}.note"),
    )


def _answer(data: Any, what: str) -> Answer | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise Bad(f"{what}: expected an object or null, got {_kind(data)}")
    return Answer(_headers(data.get("headers", []), f"{what}.headers"),
                  _base64(data.get("body_base64", ""), f"{what}.body_base64", _ANSWER_LIMIT))


def _check_head(event: Event, limits: Limits) -> None:
    """The request line and headers fit what the receiver's parser accepts (431 past it)."""
    size = len(event.method) + len(event.target) + 12  # "POST /x HTTP/1.1\r\n"
    size += sum(len(k) + len(v) + 4 for k, v in event.headers)
    if size > limits.head_bytes:
        raise Bad(f"request line and headers take {size:,} bytes; a live request may take "
                  f"{limits.head_bytes:,} (it would be answered 431)")


# -- HAR from other tools (browser devtools, proxies) -------------------------------------------


def from_har(entry: Any, limits: Limits = Limits()) -> Event:
    """An event from a HAR entry written by another tool: its request, and its response as
    what the sender was answered. URLs and header text are turned into the bytes a request
    carries (UTF-8, percent-encoded in the URL), then checked like ours (Bad)."""
    if not isinstance(entry, dict):
        raise Bad(f"expected an object, got {_kind(entry)}")
    request = _required(entry, "request")
    if not isinstance(request, dict):
        raise Bad(f"request: expected an object, got {_kind(request)}")
    url = _text(_required(request, "url", "request"), "request.url", MAX_URL)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise Bad(f"request.url is not a URL ({exc})") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise Bad("request.url is not an http(s) URL")
    headers, authority = _har_headers(request.get("headers", []), "request.headers")
    if not any(k.lower() == "host" for k, _ in headers):
        host = authority or parts.netloc.rpartition("@")[2]
        if host:
            headers.insert(0, ("host", _header_value(_wire_text(host), "request.url host")))
    post = request.get("postData") or {}
    if not isinstance(post, dict):
        raise Bad(f"request.postData: expected an object, got {_kind(post)}")
    event = Event(
        id="", received_at=_har_time(_required(entry, "startedDateTime")),
        method=_method(_required(request, "method", "request"), "request.method"),
        path=_path(_wire(parts.path or "/"), "request.url path"),
        query=_match(_wire(parts.query), "request.url query", _TARGET, limits.head_bytes,
                     "text"),
        headers=headers,
        body=_har_content(post, "request.postData", limits.max_body),
        http_version=_har_version(request.get("httpVersion", "")),
        scheme=parts.scheme.lower(),
        notes=[HAR_NOTE],
    )
    event.status, event.answer = _har_response(entry.get("response"))
    _check_head(event, limits)
    # The same entry always gets the same id, so importing it twice adds it once.
    try:
        digest = hashlib.sha256(line(entry).encode("ascii")).digest()[:10]
    except (RecursionError, ValueError):
        raise Bad("nested too deeply") from None
    event.id = id_of(int(event.received_at * 1000), digest)
    return event


def _har_headers(value: Any, what: str) -> tuple[HeaderList, str]:
    """HAR headers as stored ones; HTTP/2 pseudo-headers are left out (":authority" is
    returned, for the host)."""
    if not isinstance(value, list):
        raise Bad(f"{what} must be a list of {{name, value}} objects")
    out: HeaderList = []
    authority = ""
    for i, pair in enumerate(value):
        if not (isinstance(pair, dict) and isinstance(pair.get("name"), str)
                and isinstance(pair.get("value"), str)):
            raise Bad(f"{what}[{i}] is not a {{name, value}} object")
        name, text = pair["name"], pair["value"]
        if name.startswith(":"):
            if name == ":authority":
                authority = text
            continue
        out.append((_match(name, f"{what}[{i}].name", TOKEN, 256, "a header name"),
                    _header_value(_wire_text(text), f"{what}[{i}].value")))
    return out, authority


def _har_content(content: dict[str, Any], what: str, limit: int) -> bytes:
    text = content.get("text", "")
    if content.get("encoding") == "base64":
        return _base64(text, f"{what}.text", limit)
    body = _text(text, f"{what}.text", limit).encode("utf-8")
    if len(body) > limit:
        raise Bad(f"{what}.text is {len(body):,} bytes; the limit is {limit:,}")
    return body


def _har_response(response: Any) -> tuple[int, Answer | None]:
    """A HAR response as (status answered, answer); 0 and none when it has no response."""
    if not isinstance(response, dict):
        return 0, None
    status = _int(response.get("status", 0), "response.status", 0, 599)
    if status == 0:  # the tool's way of saying no response came
        return 0, None
    if status < 100:
        raise Bad(f"response.status {status} is not an HTTP status")
    headers, _ = _har_headers(response.get("headers", []), "response.headers")
    content = response.get("content") or {}
    if not isinstance(content, dict):
        raise Bad(f"response.content: expected an object, got {_kind(content)}")
    return status, Answer(headers, _har_content(content, "response.content", _ANSWER_LIMIT))


def _har_time(value: Any) -> float:
    text = _text(value, "startedDateTime", 64)
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:  # HAR requires a zone; without one, take it as UTC
            when = when.replace(tzinfo=UTC)
        stamp = when.timestamp()
    except (ValueError, OverflowError):
        raise Bad(f"startedDateTime {_shown(text)} is not an ISO 8601 date") from None
    return _time(stamp, "startedDateTime")


def _har_version(value: Any) -> str:
    """"HTTP/1.1", "h2", "http/2.0", "" ... as one of ours (1.1 when unknown)."""
    text = value.upper().removeprefix("HTTP/").removeprefix("H") if isinstance(value, str) else ""
    text = text.removesuffix(".0") if text in ("2.0", "3.0") else text
    return text if text in _HTTP_VERSIONS else "1.1"


def _wire(text: str) -> str:
    """URL text as it travels: anything but visible ASCII percent-encoded (UTF-8)."""
    return "".join(c if "\x21" <= c <= "\x7e" else quote(c, safe="") for c in text)


def _wire_text(text: str) -> str:
    """Header text as stored: its UTF-8 bytes, decoded latin-1 (as the receiver keeps them)."""
    try:
        return text.encode("utf-8").decode("latin-1")
    except UnicodeEncodeError:
        raise Bad("a header is not valid text (a lone surrogate)") from None


# -- field checks (each raises Bad naming the field) ---------------------------------------------


def _required(data: dict[str, Any], key: str, within: str = "") -> Any:
    if key not in data:
        raise Bad(f"missing field {(within + '.' if within else '') + key!r}")
    return data[key]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false",
            type(None): "null"}.get(type(value), "a number")


def _shown(value: Any) -> str:
    """A value for a message: short, and as JSON (escapes stay escapes)."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:39] + "…"


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise Bad(f"{what}: expected text, got {_kind(value)}")
    if len(value) > limit:
        raise Bad(f"{what} is {len(value):,} characters; the limit is {limit:,}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Bad(f"{what} is not valid text (a lone surrogate)") from None
    return value


def _match(value: Any, what: str, pattern: re.Pattern[str], limit: int, meaning: str) -> str:
    if not isinstance(value, str):
        raise Bad(f"{what}: expected text, got {_kind(value)}")
    if len(value) > limit:
        raise Bad(f"{what} is {len(value):,} characters; the limit is {limit:,}")
    if not pattern.fullmatch(value):
        raise Bad(f"{what} {_shown(value)} is not {meaning}")
    return value


def _method(value: Any, what: str) -> str:
    return _match(value, what, TOKEN, 64, "an HTTP method (a token such as POST)")


def _path(value: Any, what: str) -> str:
    path = _match(value, what, _TARGET, DEFAULT_LIMITS.head_bytes,
                  "a request path (latin-1 text without spaces or control characters)")
    # The receiver records other request targets too, but replaying one appends it to the
    # target URL: "@evil.example/x" would aim the replay at another host. Only "*" is inert.
    if not (path.startswith("/") or path == "*"):
        raise Bad(f"{what} {_shown(path)} does not start with / (a replay would send it to "
                  "another host)")
    return path


def _header_value(value: str, what: str) -> str:
    return _match(value, what, _FIELD_VALUE, DEFAULT_LIMITS.head_bytes,
                  "a header value (latin-1 text without NUL, CR or LF)")


def _headers(value: Any, what: str) -> HeaderList:
    if not isinstance(value, list):
        raise Bad(f"{what} must be a list of [name, value] pairs")
    out: HeaderList = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise Bad(f"{what}[{i}] is not a [name, value] pair")
        out.append((_match(pair[0], f"{what}[{i}] name", TOKEN, 256, "a header name"),
                    _header_value(_text(pair[1], f"{what}[{i}] value", 1 << 20),
                                  f"{what}[{i}] value")))
    return out


def _notes(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_NOTES:
        raise Bad(f"notes must be a list of at most {MAX_NOTES} texts")
    return [_text(note, f"notes[{i}]") for i, note in enumerate(value)]


def _int(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Bad(f"{what}: expected a whole number, got {_shown(value)}")
    if not low <= value <= high:
        raise Bad(f"{what} {_shown(value)} is out of range ({low:,} to {high:,})")
    return value


def _number(value: Any, what: str, low: float, high: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Bad(f"{what}: expected a number, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer past float's range
        number = math.inf
    if not (math.isfinite(number) and low <= number <= high):
        raise Bad(f"{what} {_shown(value)} is out of range ({low:g} to {high:g})")
    return number


def _time(value: Any, what: str) -> float:
    try:
        return _number(value, what, 0, MAX_TIME)
    except Bad:
        raise Bad(f"{what} {_shown(value)} is not a Unix time between 1970 and 9999") from None


def _status(value: Any, what: str) -> int:
    status = _int(value, what, 0, 599)
    if 0 < status < 100:
        raise Bad(f"{what} {status} is not an HTTP status")
    return status


def _choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise Bad(f"{what} {_shown(value)} is not one of {', '.join(choices)}")
    return str(value)


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"{what}: expected true or false, got {_shown(value)}")
    return value


def _b64_length(size: int) -> int:
    return 4 * ((size + 2) // 3)


def _base64(value: Any, what: str, limit: int, flag: str = "") -> bytes:
    if not isinstance(value, str):
        raise Bad(f"{what}: expected base64 text, got {_kind(value)}")
    over = f" (raise it with {flag})" if flag else ""
    if len(value) > _b64_length(limit):
        raise Bad(f"{what} holds more than {limit:,} bytes{over}")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Bad(f"{what}: bad base64 ({exc})") from None
    if len(data) > limit:
        raise Bad(f"{what} holds {len(data):,} bytes; the limit is {limit:,}{over}")
    return data


# -- importing -----------------------------------------------------------------------------------


def import_file(store: EventStore, data: IO[bytes], analyzer: Analyzer, *,
                limits: Limits = Limits(), batch: int = IMPORT_BATCH) -> Imported:
    """Insert every good entry of a JSON lines or HAR file, keeping ids (known ones are
    skipped) and analysing each as a live event; bad entries are skipped and listed.
    ImportFailed when the file is neither format."""
    fmt, entries = read_file(data, limits)
    return import_entries(store, fmt, entries, analyzer, batch=batch)


def import_entries(store: EventStore, fmt: str, entries: Iterable[Entry], analyzer: Analyzer,
                   *, batch: int = IMPORT_BATCH) -> Imported:
    """Insert the entries that passed every check (see `import_file`), list the others."""
    result = Imported(fmt)
    pending: list[tuple[Event, list[Attempt]]] = []
    for entry in entries:
        if entry.item is None:
            result.skipped.append(f"{entry.where}: {entry.problem}")
            continue
        _reanalyse(analyzer, entry.item[0])
        pending.append(entry.item)
        result.read += 1
        if len(pending) == batch:
            result.added += len(store.import_events_sync(pending))
            pending = []
    if pending:
        result.added += len(store.import_events_sync(pending))
    return result


def _reanalyse(analyzer: Analyzer, event: Event) -> None:
    """The live analysis for an imported event: derived fields from its bytes, never from
    the file. The file's notes stay (what the receiver saw); analysis notes are added once.

    It runs before the store's write transaction, not in it, so a live receiver on the same
    database never waits for it (events already stored are analysed too, then skipped)."""
    kept, event.notes = event.notes, []
    try:
        analyzer.analyze(event)
    except Exception as exc:  # analysis must never cost us the event
        event.notes.append(f"analysis failed: {type(exc).__name__}: {exc}")
    finally:
        event.notes = kept + [n for n in event.notes if n not in kept]
