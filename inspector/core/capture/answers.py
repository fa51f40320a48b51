"""What the receiver answers: the default `200 {"ok": true, "id": ...}`, or a custom response.

A `ResponsePolicy` comes from the flags (`--status`, `--response-body`, `--response-header`,
`--delay`, `--reject-invalid`, `--respond-with-downstream`); a config route may override
parts of it for its paths (`status`, `response_body`, `response_headers`, `delay`,
`reject_invalid`), the first matching route deciding as for signatures. The global policy can
be changed live (`Session.set_policy`); route overrides stay as the file says.

Every answer carries `X-Inspector-Event-Id`. A custom body replaces our JSON, so the id is
then only in that header.

The status, and the whole answer when it is not the default one, are decided in the store's
writer thread before the insert (`Responder.decide`), so the stored event records what the
sender got (a default answer is rebuilt from the event: `default_answer`); the reply itself
is sent after the commit (`Responder.respond`), after the delay if any (asyncio.sleep: the
loop is never blocked). A mirrored downstream answer is stored once sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import Send

from inspector.core.capture.receiver import EVENT_ID_HEADER, USUAL_METHODS
from inspector.core.display import count
from inspector.core.headers import HeaderLineError, parse_header_line
from inspector.core.model import Answer, Attempt, Event, HeaderList, Verdict
from inspector.core.sanitize import visible_line

if TYPE_CHECKING:
    from inspector.core.store import EventStore

REJECT_STATUS = 401
REJECTED_NOTE = "answered 401: the signature is invalid (--reject-invalid)"
MAX_DELAY = 600.0  # seconds; longer and every sender gives up first
MAX_BODY_FILE = 10 * 1024 * 1024  # bytes of a response body read from a file
# Set by the server for each response; a user's value would be wrong or duplicated.
RESERVED = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive",
                      "upgrade", "te", "trailer", "date"})
# Not passed back from the downstream app (hop-by-hop, or set again by our server).
MIRROR_DROP = frozenset({*RESERVED, "proxy-authenticate", "proxy-connection"})


class PolicyError(ValueError):
    """A response setting that cannot be used; one line saying why. `option` names the flag
    it came from, when known."""

    def __init__(self, message: str, option: str = "") -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True, slots=True)
class ResponsePolicy:
    status: int = 200
    body: bytes | None = None  # None: our JSON {"ok":true,"id":...}
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds, after the commit
    reject_invalid: bool = False  # answer 401 to an invalid signature
    respond_with_downstream: bool = False  # mirror the forward's answer (needs --forward-to)

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_POLICY

    def merged(self, override: ResponseOverride | None) -> ResponsePolicy:
        if override is None:
            return self
        changes: dict[str, Any] = {k: v for k, v in (
            ("status", override.status), ("body", override.body),
            ("headers", override.headers), ("delay", override.delay),
            ("reject_invalid", override.reject_invalid)) if v is not None}
        return replace(self, **changes)

    def describe(self) -> str:
        """One line for the status bar or a notification."""
        if self.is_default:
            return 'default: 200 {"ok": true, "id": …}'
        parts = ["mirror the forward target" if self.respond_with_downstream
                 else str(self.status)]
        if self.body is not None:
            parts.append(f"custom body ({count(len(self.body), 'byte')})")
        if self.headers:
            parts.append(count(len(self.headers), "header"))
        if self.delay:
            parts.append(f"after {self.delay:g} s")
        if self.reject_invalid:
            parts.append("401 to invalid signatures")
        return ", ".join(parts)


DEFAULT_POLICY = ResponsePolicy()


@dataclass(frozen=True, slots=True)
class ResponseOverride:
    """A config route's response settings; None leaves the global one."""

    status: int | None = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] | None = None
    delay: float | None = None
    reject_invalid: bool | None = None


# -- parsing (flags and the config file share these) ----------------------------------------


def check_status(status: int) -> int:
    if not 200 <= status <= 599:
        raise PolicyError(f"status {status} is not a final HTTP status (200 to 599)")
    return status


def check_delay(delay: float) -> float:
    if not 0 <= delay <= MAX_DELAY:
        raise PolicyError(f"delay {delay:g} s is out of range (0 to {MAX_DELAY:g} seconds)")
    return float(delay)


def answer_header(text: str) -> tuple[str, str]:
    """'Name: value' for an answer (headers.parse_header_line), but not a header the server
    sets itself."""
    try:
        name, value = parse_header_line(text)
    except HeaderLineError as exc:
        raise PolicyError(str(exc)) from exc
    if name.lower() in RESERVED:
        raise PolicyError(f"{name} is set by the server; leave it out")
    return name, value


def read_body(text: str, base: Path | None = None, *, confined: bool = False) -> bytes:
    """`TEXT` as UTF-8, or `@path` for a file's bytes (relative to `base` when given).

    `confined`: the file must be inside `base` once symlinks and `..` are resolved (a config
    file nobody named on the command line must not serve, say, ~/.ssh/id_rsa to senders)."""
    if not text.startswith("@"):
        return text.encode("utf-8")
    path = Path(text[1:]).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    try:
        if confined and base is not None:
            real, folder = path.resolve(strict=True), base.resolve(strict=True)
            if not real.is_relative_to(folder):
                raise PolicyError(
                    f"{visible_line(text)} is outside {visible_line(str(folder))}, the folder "
                    "of this config file, which was found in the working directory rather "
                    "than named: keep response files next to it, or name the file with "
                    "--config to allow files elsewhere")
            path = real
        # A FIFO or a device would block or never end: only a regular file, of a sane size
        # (opened without blocking, then checked: a FIFO's open would wait for a writer).
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise PolicyError(f"the response body file {visible_line(str(path))} is not "
                                  "a regular file")
            if info.st_size > MAX_BODY_FILE:
                raise PolicyError(f"the response body file {visible_line(str(path))} is "
                                  f"{info.st_size:,} bytes; the limit is {MAX_BODY_FILE:,}")
            return file.read(MAX_BODY_FILE + 1)[:MAX_BODY_FILE]
    except OSError as exc:
        raise PolicyError(f"cannot read the response body file {path}: "
                          f"{exc.strerror or exc}") from exc


def build_policy(
    *,
    status: int | None = None,
    body: str | None = None,
    headers: Sequence[str] = (),
    delay: float | None = None,
    reject_invalid: bool = False,
    respond_with_downstream: bool = False,
) -> ResponsePolicy:
    """A policy from raw option values; PolicyError names the bad one (`option`)."""
    option = ""
    try:
        option = "--status"
        code = DEFAULT_POLICY.status if status is None else check_status(status)
        option = "--response-body"
        content = None if body is None else read_body(body)
        option = "--response-header"
        pairs = tuple(answer_header(h) for h in headers)
        option = "--delay"
        seconds = 0.0 if delay is None else check_delay(delay)
    except PolicyError as exc:
        raise PolicyError(str(exc), option) from exc
    return ResponsePolicy(code, content, pairs, seconds, reject_invalid, respond_with_downstream)


# -- deciding and answering -------------------------------------------------------------------


class Overrides(Protocol):
    """A config route, as far as answers go (config.Route; the config imports this module)."""

    @property
    def response(self) -> ResponseOverride | None: ...

    def matches(self, path: str) -> bool: ...


class Downstream(Protocol):
    """Where a mirrored answer comes from: the forwarder (delivery.forward.Forwarder)."""

    def claim(self, event_id: str) -> asyncio.Future[Attempt] | None: ...


class Responder:
    """Decides each event's status (writer thread) and sends the answer (event loop)."""

    def __init__(self, policy: ResponsePolicy, routes: Sequence[Overrides] = ()) -> None:
        self.policy = policy
        self.routes = list(routes)
        self.overrides = any(r.response is not None for r in self.routes)
        self.forwarder: Downstream | None = None
        self.store: EventStore | None = None

    @property
    def active(self) -> bool:
        """False when every answer is the default one: the receiver's fast path."""
        return self.overrides or not self.policy.is_default

    def policy_for(self, path: str) -> ResponsePolicy:
        policy = self.policy  # read once: the loop may swap it meanwhile
        if self.overrides:
            route = next((r for r in self.routes if r.matches(path)), None)
            if route is not None:
                return policy.merged(route.response)
        return policy

    def decide(self, event: Event) -> None:
        """Set the status the sender will get, and the answer itself when it is not the
        default one (runs before the insert, in the writer: both are stored with it)."""
        if event.refused:
            return
        policy = self.policy_for(event.path)
        if policy.reject_invalid and event.verdict == Verdict.INVALID:
            event.status = REJECT_STATUS
            event.notes.append(REJECTED_NOTE)
            payload = {"ok": False, "id": event.id,
                       "error": f"invalid signature: {event.reason}"}
            event.answer = make_answer(event.status, _json(payload), [], event.id)
            return
        event.status = policy.status
        if policy.body is not None:
            headers = list(policy.headers)
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("content-type", _guess_type(policy.body)))
            event.answer = make_answer(event.status, policy.body, headers, event.id)
        elif policy.headers:
            event.answer = make_answer(event.status, default_body(event), list(policy.headers),
                                       event.id)

    async def respond(self, event: Event, send: Send) -> None:
        """Answer a committed, accepted event: what `decide` chose, or the downstream's."""
        policy = self.policy_for(event.path)
        if policy.delay:
            await asyncio.sleep(policy.delay)
        if (policy.respond_with_downstream and self.forwarder is not None
                and REJECTED_NOTE not in event.notes):
            waiter = self.forwarder.claim(event.id)
            if waiter is not None:
                await self._mirror(event, send, await waiter)
                return
        await send_answer(send, event.status, event.answer or default_answer(event))

    async def _mirror(self, event: Event, send: Send, attempt: Attempt) -> None:
        """Answer what the forward target answered, as a proxy would; 502 when it failed.
        The answer is stored with the event once sent."""
        if attempt.status is None:
            status = 502
            payload = {"ok": False, "id": event.id,
                       "error": f"downstream failed: {attempt.error}"}
            answer = make_answer(status, _json(payload), [], event.id)
        else:
            status = attempt.status
            headers = [(k, v) for k, v in attempt.response_headers
                       if k.lower() not in MIRROR_DROP]
            answer = make_answer(status, attempt.response_body, headers, event.id,
                                 default_type=False)
        await send_answer(send, status, answer)
        event.status, event.answer = status, answer
        if self.store is not None:
            try:
                self.store.set_answer(event.seq, status, answer)
            except Exception:  # a closed store at shutdown: the answer is what matters
                pass


def default_body(event: Event) -> bytes:
    """Our JSON, as the receiver sends it: {"ok":true,"id":"…"} (false past 2xx), or for a
    refused delivery {"ok":false,"id":"…","error":"why"}."""
    if event.refused:
        return _json({"ok": False, "id": event.id, "error": event.refused})
    ok = b"true" if 200 <= event.status < 300 else b"false"
    return b'{"ok":' + ok + b',"id":"' + event.id.encode("ascii") + b'"}'


def default_answer(event: Event) -> Answer:
    """The answer an event got when none was stored with it: the receiver's own (a 405
    names the methods it takes, after the id)."""
    answer = make_answer(event.status, default_body(event), [], event.id)
    if event.refused and event.status == 405:
        answer.headers.append(("allow", ", ".join(sorted(USUAL_METHODS))))
    return answer


def make_answer(status: int, body: bytes, headers: HeaderList, event_id: str, *,
                default_type: bool = True) -> Answer:
    """`headers` plus content-type (JSON unless given), length and the event id: exactly
    what `send_answer` puts on the wire."""
    out = list(headers)
    if default_type and not any(k.lower() == "content-type" for k, _ in out):
        out.append(("content-type", "application/json"))
    if status in (204, 304):
        body = b""
    else:
        out.append(("content-length", str(len(body))))
    out.append((EVENT_ID_HEADER.decode("ascii"), event_id))
    return Answer(out, body)


async def send_answer(send: Send, status: int, answer: Answer) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": answer.body})


def _json(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def _guess_type(body: bytes) -> str:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return "text/plain; charset=utf-8"
    return "application/json"
