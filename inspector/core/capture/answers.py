"""What the receiver answers: the default `200 {"ok": true, "id": ...}`, or a custom response.

A `ResponsePolicy` comes from the flags (`--status`, `--response-body`, `--response-header`,
`--delay`, `--reject-invalid`, `--respond-with-downstream`); a config route may override
parts of it for its paths (`status`, `response_body`, `response_headers`, `delay`,
`reject_invalid`), the first matching route deciding as for signatures. The global policy can
be changed live (`Session.set_policy`); route overrides stay as the file says.

Every answer carries `X-Inspector-Event-Id`. A custom body replaces our JSON, so the id is
then only in that header.

A provider's handshake (an endpoint check at registration: handshakes.py) comes first: it
gets its computed answer, whatever the policy, the routes, the breakpoints and the rules
say, unless a rule names its kind. Then answer rules (inspector.core.rules): the first
matching rule decides the status, the answer, the delay, a fault (close, reset, timeout: no
answer at all), a hold at a breakpoint and what is forwarded; a request no rule answers
gets the policy's answer.

The status, and the whole answer when it is not the default one, are decided in the store's
writer thread before the insert (`Responder.decide`), with how to give it (the event's
`Plan`), so the stored event records what the sender got (a default answer is rebuilt from
the event: `default_answer`); the reply itself is sent after the commit
(`Responder.respond`), after the delay if any (asyncio.sleep: the loop is never blocked).
What is known only later (a mirrored downstream answer, a held request's, a timeout fault's
outcome) is stored once sent, and `on_answered` hears of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import Receive, Scope, Send

from inspector.core.analysis.decoding import Decoded
from inspector.core.capture.holds import REQUEST, Holds, ended
from inspector.core.capture.receiver import EVENT_ID_HEADER, USUAL_METHODS
from inspector.core.capture.server import connection_of
from inspector.core.display import count
from inspector.core.headers import HeaderLineError, parse_header_line
from inspector.core.model import Answer, Attempt, Event, HeaderList, Plan, Verdict
from inspector.core.sanitize import visible_line

if TYPE_CHECKING:
    from inspector.core.signatures import Check
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


def parse_status(text: str) -> int:
    """A status as a person typed it."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise PolicyError(f"status {text!r} is not a number such as 200")
    return check_status(int(text))


def parse_delay(text: str) -> float:
    """A delay in seconds as a person typed it."""
    try:
        seconds = float(text)
    except ValueError:
        raise PolicyError(f"delay {text.strip()!r} is not a number of seconds such as 1.5"
                          ) from None
    return check_delay(seconds)


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


class Rules(Protocol):
    """The answer rules (rules.book.RuleBook, which imports this module)."""

    @property
    def active(self) -> bool: ...

    def apply(self, event: Event, plan: Plan, decoded: Decoded | None, *,
              handshake: bool = False) -> bool: ...


@dataclass(frozen=True, slots=True)
class Shake:
    """A provider handshake's answer: what the sender gets, and the note saying why."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    note: str


class Handshakes(Protocol):
    """The provider handshakes (handshakes.Handshakes, which imports this module)."""

    @property
    def armed(self) -> bool: ...

    def answer(self, event: Event, decoded: Decoded | None, check: Check | None
               ) -> Shake | None: ...


class Downstream(Protocol):
    """Where a mirrored answer comes from: the forwarder (delivery.forward.Forwarder)."""

    def claim(self, event_id: str) -> asyncio.Future[Attempt] | None: ...


@dataclass(frozen=True, slots=True)
class Given:
    """A held request, answered by a person (status, headers and body as edited)."""

    status: int
    answer: Answer


@dataclass(frozen=True, slots=True)
class Mirrored:
    """A held request, forwarded by a person: answered with what came back."""

    attempt: Attempt


class Responder:
    """Decides each event's answer (writer thread) and sends it (event loop)."""

    def __init__(self, policy: ResponsePolicy, routes: Sequence[Overrides] = (),
                 rules: Rules | None = None, holds: Holds | None = None,
                 handshakes: Handshakes | None = None) -> None:
        self.policy = policy
        self.handshakes = handshakes  # None: --no-handshakes
        self.routes = list(routes)
        self.overrides = any(r.response is not None for r in self.routes)
        self.rules = rules
        self.holds = holds if holds is not None else Holds()
        self.forwarder: Downstream | None = None
        self.store: EventStore | None = None
        self.on_answered: Callable[[Event], None] = lambda event: None  # once stored
        self._stopping = asyncio.Event()  # ends the connections a timeout fault holds

    @property
    def active(self) -> bool:
        """False when every answer is the default one: the receiver's fast path."""
        return (self.overrides or not self.policy.is_default
                or (self.rules is not None and self.rules.active)
                or (self.handshakes is not None and self.handshakes.armed))

    def policy_for(self, path: str) -> ResponsePolicy:
        policy = self.policy  # read once: the loop may swap it meanwhile
        if self.overrides:
            route = next((r for r in self.routes if r.matches(path)), None)
            if route is not None:
                return policy.merged(route.response)
        return policy

    def decide(self, event: Event, decoded: Decoded | None = None,
               check: Check | None = None) -> None:
        """Set the status the sender will get, the answer itself when it is not the default
        one, and how to give it (`event.plan`): a provider's handshake, else the first
        matching rule, else the policy (runs before the insert, in the writer: all of it is
        stored with it). `decoded`: the body as the analysis decoded it, if it did (rules
        and handshakes read it); `check`: its signature check (which secret verified it)."""
        if event.refused:
            return
        rules = self.rules
        handshakes = self.handshakes
        if handshakes is not None and handshakes.armed:
            shake = handshakes.answer(event, decoded, check)
            if shake is not None:
                plan = Plan()
                # Only a rule naming the handshake's kind decides it (no breakpoint holds it).
                if rules is None or not rules.apply(event, plan, decoded, handshake=True):
                    event.status = shake.status
                    event.answer = make_answer(shake.status, shake.body, shake.headers,
                                               event.id)
                    event.answer_note = shake.note
                event.plan = plan
                return
        policy = self.policy_for(event.path)
        plan = Plan(delay=policy.delay)
        if rules is None or not rules.apply(event, plan, decoded):
            self._by_policy(event, policy, plan)
        event.plan = plan

    @staticmethod
    def _by_policy(event: Event, policy: ResponsePolicy, plan: Plan) -> None:
        if policy.reject_invalid and event.verdict == Verdict.INVALID:
            event.status = REJECT_STATUS
            event.notes.append(REJECTED_NOTE)
            payload = {"ok": False, "id": event.id,
                       "error": f"invalid signature: {event.reason}"}
            event.answer = make_answer(event.status, _json(payload), [], event.id)
            return
        event.status = policy.status
        event.answer = custom_answer(event, policy.status, policy.body, policy.headers)
        plan.mirror = policy.respond_with_downstream and plan.forward

    async def respond(self, event: Event, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a committed, accepted event as its plan says: after the delay, held at a
        breakpoint, a fault, the downstream's answer, or what `decide` chose."""
        plan = event.plan or Plan()
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.hold and await self._hold(event, plan, send):
            return
        if plan.fault:
            await self._fault(event, plan, scope, receive)
            return
        if plan.mirror and self.forwarder is not None:
            waiter = self.forwarder.claim(event.id)
            if waiter is not None:
                await self._mirror(event, send, await waiter)
                return
        await send_answer(send, event.status, event.answer or default_answer(event))

    def stop(self) -> None:
        """The inspector is stopping: release every held request (each gets the answer it
        would have had) and close the connections a timeout fault holds."""
        self.holds.release_all()
        self._stopping.set()

    async def _hold(self, event: Event, plan: Plan, send: Send) -> bool:
        """Wait at a breakpoint. True when the decision answered it (else it goes on as
        planned, and its note says how the hold ended)."""
        started = time.monotonic()
        decision, how = await self.holds.hold(event, REQUEST, plan.hold, event.rule)
        note = ended(how, time.monotonic() - started, plan.hold)
        if isinstance(decision, Given):
            await send_answer(send, decision.status, decision.answer)
            self._record(event, decision.status, decision.answer, f"{note}: answered "
                         f"{decision.status} with your edits")
            return True
        if isinstance(decision, Mirrored):
            event.answer_note = f"{note}: forwarded, answered with the response"
            await self._mirror(event, send, decision.attempt)
            return True
        self._record(event, event.status, event.answer,
                     f"{note}; {event.answer_note}" if event.answer_note else note)
        return False

    async def _fault(self, event: Event, plan: Plan, scope: Scope, receive: Receive) -> None:
        """No answer: close the connection, reset it, or hold it until the sender gives up
        (at most `plan.timeout` seconds, then close it)."""
        connection = connection_of(scope)
        if plan.fault == "timeout" and await self._hang(event, plan, receive):
            return  # the sender closed it
        if connection is not None:
            if plan.fault == "reset":
                connection.reset()
            else:
                connection.drop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_disconnected(receive), 5)  # then uvicorn sends nothing

    async def _hang(self, event: Event, plan: Plan, receive: Receive) -> bool:
        """Say nothing until the sender gives up (True), the cap passes or the inspector
        stops (False); the event's note says which."""
        started = time.monotonic()
        gone = asyncio.ensure_future(_disconnected(receive))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({gone, stopping}, timeout=plan.timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            gave_up = gone.done()
            gone.cancel()
        waited = time.monotonic() - started
        if gave_up:
            how = f"the sender gave up after {waited:.1f} s"
        elif self._stopping.is_set():
            how = f"closed when the inspector stopped, after {waited:.1f} s"
        else:
            how = f"closed after {waited:.1f} s (the cap), the sender still waiting"
        self._record(event, 0, None, f"timeout: no answer; {how}")
        return gave_up

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
        self._record(event, status, answer, event.answer_note)

    def _record(self, event: Event, status: int, answer: Answer | None, note: str) -> None:
        """What the sender got, once known after the insert: kept with the event."""
        event.status, event.answer, event.answer_note = status, answer, note
        if self.store is None:
            return
        try:
            write = self.store.set_answer(event.seq, status, answer, note)
        except Exception:  # a closed store at shutdown: the answer is what matters
            return
        write.add_done_callback(lambda done: self._stored(done, event))

    def _stored(self, write: asyncio.Future[None], event: Event) -> None:
        # A failed write is the store's to report (the next commit says so); retrieve it.
        if not write.cancelled() and write.exception() is None:
            self.on_answered(event)


async def _disconnected(receive: Receive) -> None:
    """Until the client's connection is gone."""
    while (await receive())["type"] != "http.disconnect":
        pass


def custom_answer(event: Event, status: int, body: bytes | None,
                  headers: Sequence[tuple[str, str]]) -> Answer | None:
    """The answer for a custom body or headers (None: the default one, rebuilt from the
    event when needed). A body without a content-type gets JSON's when it parses, else
    text's."""
    if body is not None:
        pairs = list(headers)
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("content-type", _guess_type(body)))
        return make_answer(status, body, pairs, event.id)
    if headers:
        return make_answer(status, default_body(event, status), list(headers), event.id)
    return None


def default_body(event: Event, status: int | None = None) -> bytes:
    """Our JSON, as the receiver sends it: {"ok":true,"id":"…"} (false past 2xx), or for a
    refused delivery {"ok":false,"id":"…","error":"why"}. `status`: the event's unless given."""
    if event.refused:
        return _json({"ok": False, "id": event.id, "error": event.refused})
    status = event.status if status is None else status
    ok = b"true" if 200 <= status < 300 else b"false"
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
    what `send_answer` puts on the wire. Names are lowercased: httptools (the default
    parser) writes them so whatever they were given as, and what is stored must be what the
    sender got, with either parser."""
    out = [(k.lower(), v) for k, v in headers]
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
