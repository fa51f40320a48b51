"""Breakpoints: requests, and forwards, held until a person decides or a deadline passes.

A held request was stored when it arrived, like every other one: the event is committed
before anything can hold it, so nothing held is ever lost. Only its answer waits: the
receiver's task for that request awaits one future here, and nothing else does, so holding
never delays another delivery, the store or a face. A held forward waits the same way in the
forwarder, before it leaves.

Each hold ends once, whichever comes first: a decision (`decide`: what to answer, or how to
send the forward), a release (`release`: the answer it would have had, or the forward as it
is), its deadline (released, and the reason says so), or the inspector stopping
(`release_all`). Everything here runs on the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inspector.core.model import Event

REQUEST = "request"  # a delivery waiting for its answer
FORWARD = "forward"  # a forward waiting to leave
EXPIRED = "expired"
RELEASED = "released"
STOPPED = "stopped"
DECIDED = "decided"

_ids = itertools.count(1)


@dataclass(eq=False, slots=True)
class Held:
    """One held request or forward. `future` resolves to (decision or None, how it ended)."""

    event: Event
    kind: str  # REQUEST or FORWARD
    seconds: float  # how long it may be held
    rule: str = ""
    since: float = field(default_factory=time.monotonic)
    at: float = field(default_factory=time.time)
    id: int = field(default_factory=lambda: next(_ids))
    future: asyncio.Future[tuple[Any, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    timer: asyncio.TimerHandle | None = None

    @property
    def deadline(self) -> float:
        return self.since + self.seconds

    def left(self, now: float | None = None) -> float:
        """Seconds before it is released."""
        return max(0.0, self.deadline - (time.monotonic() if now is None else now))

    def held_for(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.since


class Holds:
    """The held requests and forwards of a session, oldest first."""

    def __init__(self, on_change: Callable[[int], None] = lambda held: None) -> None:
        # Told how many are held after every change (O(1): a flood of held requests must not
        # cost a list per change; whoever wants the list reads `waiting`).
        self.on_change = on_change
        self._held: dict[int, Held] = {}

    @property
    def waiting(self) -> list[Held]:
        return list(self._held.values())

    def __len__(self) -> int:
        return len(self._held)

    def get(self, ident: int) -> Held | None:
        return self._held.get(ident)

    async def hold(self, event: Event, kind: str, seconds: float, rule: str = ""
                   ) -> tuple[Any, str]:
        """Hold until decided (the decision, DECIDED), released (None, RELEASED), past
        `seconds` (None, EXPIRED) or stopped (None, STOPPED)."""
        held = Held(event, kind, seconds, rule)
        held.timer = asyncio.get_running_loop().call_later(seconds, self._end, held, None,
                                                           EXPIRED)
        self._held[held.id] = held
        self.on_change(len(self._held))
        try:
            return await held.future
        finally:
            # Also when the task is cancelled (the server stopping hard): never left behind.
            if self._held.pop(held.id, None) is not None:
                held.timer.cancel()
                self.on_change(len(self._held))

    def decide(self, held: Held, decision: Any) -> bool:
        """End a hold with a decision; False when it had already ended."""
        return self._end(held, decision, DECIDED)

    def release(self, held: Held) -> bool:
        """End a hold as if it had not been held; False when it had already ended."""
        return self._end(held, None, RELEASED)

    def release_all(self) -> int:
        """End every hold (the inspector is stopping); how many there were."""
        held = self.waiting
        for one in held:
            self._end(one, None, STOPPED)
        return len(held)

    def _end(self, held: Held, decision: Any, how: str) -> bool:
        if held.future.done():
            return False
        if held.timer is not None:
            held.timer.cancel()
        held.future.set_result((decision, how))
        return True


def ended(how: str, held_for: float, seconds: float) -> str:
    """How a hold ended, for the event's answer note."""
    took = f"held {held_for:.1f} s at a breakpoint"
    if how == EXPIRED:
        return f"{took}: the hold expired after {seconds:g} s, so it was released"
    if how == STOPPED:
        return f"{took}: released when the inspector stopped"
    if how == RELEASED:
        return f"{took}: released by you"
    return f"{took}: decided by you"
