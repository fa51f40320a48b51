"""The TUI's sink (inspector.core.sink.Sink): what the session reports becomes messages to
the app.

Called on the loop, once per committed batch: the work here stays O(batch). Arrivals
coalesce: events and attempts wait in the sink, and one `EventsArrived` is pending at a time;
the app takes them all when it draws the next frame. Repeated storage errors are said once
(again after 10 s, or when the wording changes).
"""

from __future__ import annotations

import time

from textual.message_pump import MessagePump

from inspector.core.capture.tunnel import TunnelState
from inspector.core.model import Attempt, Event
from inspector.faces.tui.messages import (
    EventsArrived,
    HeldChanged,
    Notice,
    StoreFailed,
    TunnelChanged,
)
from inspector.faces.tui.pacing import Pacer

REPEAT_ERROR = 10.0  # seconds before the same storage error is said again


class TuiSink:
    def __init__(self, target: MessagePump, pacer: Pacer) -> None:
        self._target = target
        self._pacer = pacer
        self._events: list[Event] = []
        self._attempted: set[int] = set()  # seqs whose row changed: a replay/forward result
        #   landed, or what the sender got (after a hold, a fault)
        self._posted = False
        self._held_posted = False
        self._last_error = ("", 0.0)

    def committed(self, events: list[Event]) -> None:
        self._events.extend(events)
        self._pacer.arrived(len(events), time.monotonic())
        self._wake()

    def attempted(self, attempt: Attempt) -> None:
        self._attempted.add(attempt.event_seq)
        self._wake()

    def failed(self, message: str | None) -> None:
        if message is None:
            self._last_error = ("", 0.0)
            self._target.post_message(StoreFailed(None))
            return
        last, when = self._last_error
        now = time.monotonic()
        if message != last or now - when > REPEAT_ERROR:
            self._last_error = (message, now)
            self._target.post_message(StoreFailed(message))

    def tunnel(self, state: TunnelState) -> None:
        self._target.post_message(TunnelChanged(state))

    def notice(self, text: str) -> None:
        self._target.post_message(Notice(text))

    def held(self, count: int) -> None:
        # One message pending at a time: a flood of held requests is one redraw.
        if not self._held_posted:
            self._held_posted = True
            self._target.post_message(HeldChanged())

    def held_shown(self) -> None:
        """The pending HeldChanged was handled: the next change posts another."""
        self._held_posted = False

    def answered(self, event: Event) -> None:
        self._attempted.add(event.seq)
        self._wake()

    def woken(self) -> None:
        """The pending EventsArrived was handled: the next arrival posts another."""
        self._posted = False

    def take(self) -> tuple[list[Event], set[int]]:
        """Everything that arrived since the last frame: events, and seqs with new attempts."""
        events, self._events = self._events, []
        attempted, self._attempted = self._attempted, set()
        return events, attempted

    def _wake(self) -> None:
        if not self._posted:
            self._posted = True
            self._target.post_message(EventsArrived())
