"""The event model: what arrived, exactly, plus what we derived from it."""

from __future__ import annotations

import base64
import os
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from inspector.core.headers import HeaderList as HeaderList
from inspector.core.headers import header_value

# Standard base32 letters mapped onto Crockford's alphabet (no I, L, O, U).
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                             b"0123456789ABCDEFGHJKMNPQRSTVWXYZ")


class _Random:
    """os.urandom in blocks: each call releases the GIL for a system call, and on the loop
    the writer thread then holds it for up to a switch interval (5 ms) before the loop gets it
    back. One call per 256 ids instead of one per id (a delivery makes one)."""

    BLOCK = 10 * 256

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        self._lock = threading.Lock()  # ids are made on the loop and in worker threads
        os.register_at_fork(after_in_child=self._forget)  # a child must not repeat ours

    def take(self) -> bytes:
        with self._lock:
            at = self._at
            if at + 10 > len(self._pool):
                self._pool, at = os.urandom(self.BLOCK), 0
            self._at = at + 10
            return self._pool[at : at + 10]

    def _forget(self) -> None:
        self._pool, self._at = b"", 0
        self._lock = threading.Lock()


_random = _Random()


def new_id(now: float | None = None) -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds, then 80 random bits.

    Sortable by time and unique across databases (so imports never collide).
    """
    return id_of(int((time.time() if now is None else now) * 1000), _random.take())


def id_of(millis: int, tail: bytes) -> str:
    """An id from 48 bits of milliseconds and 80 bits of `tail` (random, or a digest)."""
    raw = millis.to_bytes(6, "big") + tail[:10]
    return base64.b32encode(raw)[:26].translate(_CROCKFORD).decode("ascii")


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNSIGNED = "unsigned"
    NO_SECRET = "no_secret"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the sender was answered, when it was not the default answer (which is rebuilt
    from the event: see responses.default_answer). The status is the event's."""

    headers: HeaderList  # as sent: content-length and the event id included
    body: bytes


@dataclass(slots=True)
class Plan:
    """How one delivery is answered, decided with its status before it is stored (by the
    answer policy and the first matching answer rule); not stored itself."""

    delay: float = 0.0  # seconds before answering
    hold: float = 0.0  # seconds held at a breakpoint, then the default answer (0: no hold)
    fault: str = ""  # "close", "reset" or "timeout": no answer at all
    timeout: float = 0.0  # the "timeout" fault's cap: closed after this long
    mirror: bool = False  # answer with what the forward target answered
    forward: bool = True  # forward it, when there is a forward target
    retries: int | None = None  # forward retries (None: --forward-retries)
    hold_forward: float = 0.0  # seconds its forward waits at a breakpoint (0: none)


@dataclass(slots=True)
class Event:
    """One HTTP request as received, and the facts derived from it."""

    id: str
    received_at: float
    method: str
    path: str  # raw path, percent-encoding kept
    query: str  # raw query string, without "?"
    headers: HeaderList
    body: bytes
    client: str = ""
    http_version: str = "1.1"
    scheme: str = "http"
    status: int = 200  # what we answered
    refused: str = ""  # why the delivery was refused (413, 429, ...), else ""
    body_size: int = -1  # bytes received, or declared for a refused body
    notes: list[str] = field(default_factory=list)  # odd things about the request
    seq: int = 0  # position in the store, 0 until stored
    # Derived by analysis.analyze (cached in the store; recomputed when secrets change).
    provider: str = ""
    kind: str = ""
    summary: str = ""
    verdict: str = ""
    reason: str = ""
    answer: Answer | None = None  # a custom answer (stored with the event); None: default
    rule: str = ""  # the answer rule that decided the answer ("" none)
    answer_note: str = ""  # how it was answered, when that needs saying (a sequence's step,
    #   a fault, a hold), else ""
    plan: Plan | None = None  # how to answer it (decided with the status; not stored)
    # What the event is about and which delivery it is (analysis.correlate); None: unknown.
    related: str | None = None  # the object's id: events with the same one tell its story
    delivery: str | None = None  # the provider's delivery id (or a body hash): retries share it
    # Set by the store when it stores the event: an earlier event had the same delivery.
    retry_of: str | None = None  # the id of the first delivery
    retry: int = 0  # 1 for the first retry, 2 for the second, ...; 0: a first delivery
    since_first: float = 0.0  # seconds after the first delivery

    def __post_init__(self) -> None:
        if self.body_size < 0:
            self.body_size = len(self.body)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def content_type(self) -> str:
        return self.header("content-type") or ""

    @property
    def target(self) -> str:
        """Path plus query, as on the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def url(self) -> str:
        host = self.header("host") or "localhost"
        return f"{self.scheme}://{host}{self.target}"


@dataclass(slots=True, frozen=True)
class Row:
    """What one line of the event list needs; no body, no headers."""

    seq: int
    id: str
    received_at: float
    method: str
    path: str
    query: str
    kind: str
    summary: str
    size: int
    verdict: str
    status: int
    refused: str
    provider: str = ""
    result: int | None = None  # latest forward/replay status, 0 for a failure
    result_ms: float | None = None
    rule: str = ""  # the answer rule that decided the answer
    answer_note: str = ""
    related: str | None = None
    retry_of: str | None = None
    retry: int = 0
    since_first: float = 0.0

    @classmethod
    def of(cls, event: Event) -> Row:
        return cls(
            seq=event.seq,
            id=event.id,
            received_at=event.received_at,
            method=event.method,
            path=event.path,
            query=event.query,
            kind=event.kind,
            summary=event.summary,
            size=event.body_size,
            verdict=event.verdict,
            status=event.status,
            refused=event.refused,
            provider=event.provider,
            rule=event.rule,
            answer_note=event.answer_note,
            related=event.related,
            retry_of=event.retry_of,
            retry=event.retry,
            since_first=event.since_first,
        )


@dataclass(slots=True)
class Attempt:
    """One replay or forward of an event, and what the target answered."""

    event_seq: int
    kind: str  # "replay" or "forward"
    at: float
    method: str
    url: str
    status: int | None = None  # None when no response came
    elapsed_ms: float = 0.0
    error: str = ""
    response_headers: HeaderList = field(default_factory=list)
    response_body: bytes = b""
    resigned: bool = False
    edited: bool = False
    # Re-signed on a person's explicit say-so although the event did not arrive valid.
    forced: bool = False
    note: str = ""  # how it was sent, when that needs saying ("not re-signed: ...")
    id: int = 0
