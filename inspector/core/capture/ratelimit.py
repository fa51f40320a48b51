"""`--rate-limit N`: a token bucket in front of the receiver, answering 429 past N a second.

Pure ASGI, wrapped around the receiver app. One bucket for everyone: behind a tunnel every
request comes from the tunnel's address, so a per-client limit would limit nobody (or
everybody at once). A request within the rate costs a clock read and a few float operations.

What a user under attack wants is to keep using the inspector, to see that requests are being
refused and who sends them, and not to have the list and the database buried under copies.
So refused requests are not all recorded: at most one a second becomes an event (headers and
path as received, body not read or kept, marked refused 429), whose note says how many more
were refused since the previous one; `refused` counts them all. Senders that honour
Retry-After (webhook providers do) deliver again later.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inspector.core.capture.receiver import request_event
from inspector.core.model import Answer, Event

Record = Callable[[Event], Awaitable[object]]
SAMPLE_EVERY = 1.0  # seconds between two recorded samples of refused requests


class RateLimit:
    """At most `rate` requests a second on average, `burst` at once (default: one second's)."""

    def __init__(self, app: ASGIApp, rate: float, *, burst: float | None = None,
                 record: Record | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("--rate-limit must be a positive number of requests a second")
        self.app = app
        self.rate = float(rate)
        self.burst = float(burst) if burst else max(self.rate, 1.0)
        self.record = record
        self.clock = clock
        self.tokens = self.burst
        self.last = clock()
        self.refused = 0  # every 429 answered
        self._skipped = 0  # 429s not recorded since the last sample
        self._next_sample = 0.0
        self._answers: dict[int, tuple[Message, Message]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        now = self.clock()
        tokens = self.tokens + (now - self.last) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.last = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            await self.app(scope, receive, send)
            return
        self.tokens = tokens
        self.refused += 1
        retry = max(1, math.ceil((1.0 - tokens) / self.rate))
        start, body = self._answer(retry, _has_body(scope))
        if self.record is not None and now >= self._next_sample:
            self._next_sample = now + SAMPLE_EVERY
            skipped, self._skipped = self._skipped, 0
            answer = Answer([(k.decode("latin-1"), v.decode("latin-1"))
                             for k, v in start["headers"]], body["body"])
            try:
                await self.record(refused_event(scope, self.rate, skipped, answer))
            except Exception:  # a store failure must not turn a 429 into a 500
                pass
        else:
            self._skipped += 1
        await send(start)
        await send(body)

    def _answer(self, retry: int, close: bool) -> tuple[Message, Message]:
        """The 429 messages, built once per Retry-After value."""
        key = retry * 2 + close
        answer = self._answers.get(key)
        if answer is None:
            payload = (f'{{"ok":false,"error":"rate limited: more than {self.rate:g} requests '
                       f'a second (--rate-limit); retry after {retry} s"}}').encode()
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(payload)).encode()),
                       (b"retry-after", str(retry).encode())]
            if close:  # do not read a body we refuse: let the sender reconnect later
                headers.append((b"connection", b"close"))
            answer = ({"type": "http.response.start", "status": 429, "headers": headers},
                      {"type": "http.response.body", "body": payload})
            if len(self._answers) < 64:
                self._answers[key] = answer
        return answer


def _has_body(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"transfer-encoding" or (key == b"content-length" and value != b"0"):
            return True
    return False


def refused_event(scope: Scope, rate: float, skipped: int, answer: Answer | None = None
                  ) -> Event:
    """A request refused by the rate limit, as an event: no body, marked refused 429."""
    event = request_event(scope)
    declared = event.header("content-length") or ""
    more = f"; {skipped:,} more refused since the previous one listed" if skipped else ""
    event.status = 429
    event.refused = (f"rate limited: over {rate:g} requests a second (--rate-limit){more}; "
                     "body not kept")
    event.body_size = int(declared) if declared.isdigit() else 0
    event.answer = answer
    return event
