"""The TUI's sink (inspector.core.sink.Sink): what the session reports becomes messages to
the app.

Called on the loop, once per committed batch: the work here stays O(batch). Arrivals
coalesce: events, attempts and what the change feed reports (other processes' inserts,
updates, deletes) wait in the sink, and one `EventsArrived` is posted until the app takes
them all, when it draws the next frame: while a frame waits (a flood paces them at ~4.5 a
second), commits post nothing. Repeated storage errors are said once (again
after 10 s, or when the wording changes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from textual.message_pump import MessagePump

from inspector.core.capture.tunnel import TunnelState
from inspector.core.control.protocol import ReceiverState
from inspector.core.model import Attempt, Event
from inspector.core.store import Changes
from inspector.faces.tui.messages import (
    EventsArrived,
    HeldChanged,
    Notice,
    ReceiverChanged,
    StoreFailed,
    TunnelChanged,
)
from inspector.faces.tui.pacing import Pacer

REPEAT_ERROR = 10.0  # seconds before the same storage error is said again


@dataclass(slots=True)
class Feed:
    """What other processes did to the store since the last frame."""

    inserted: list[int] = field(default_factory=list)  # seqs, oldest first
    deleted: list[int] = field(default_factory=list)
    deleted_upto: int = 0  # every event up to this seq is gone (retention)
    restored: list[int] = field(default_factory=list)  # deleted, then put back (an undo)
    reload: bool = False  # a clear, or the feed lost track: read everything again


class TuiSink:
    def __init__(self, target: MessagePump, pacer: Pacer) -> None:
        self._target = target
        self._pacer = pacer
        self._events: list[Event] = []
        self._updated: set[int] = set()  # seqs whose rows changed: a result, a verdict,
        #   what the sender got (after a hold, a fault)
        self._feed = Feed()
        self._posted = False
        self._held_posted = False
        self._last_error = ("", 0.0)

    def committed(self, events: list[Event]) -> None:
        self._events.extend(events)
        self._pacer.arrived(len(events), time.monotonic())
        self._wake()

    def attempted(self, attempt: Attempt) -> None:
        self._updated.add(attempt.event_seq)
        self._wake()

    def changed(self, changes: Changes) -> None:
        feed = self._feed
        feed.reload = feed.reload or changes.reload or changes.cleared
        feed.inserted.extend(changes.inserted)
        feed.deleted.extend(changes.deleted)
        feed.deleted_upto = max(feed.deleted_upto, changes.deleted_upto)
        feed.restored.extend(changes.restored)
        self._updated.update(changes.updated)
        if changes.inserted:
            self._pacer.arrived(len(changes.inserted), time.monotonic())
        self._wake()

    def receiver(self, state: ReceiverState | None) -> None:
        self._target.post_message(ReceiverChanged(state))

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
        self._updated.add(event.seq)
        self._wake()

    def take(self) -> tuple[list[Event], set[int]]:
        """Everything that arrived since the last frame: events, and seqs whose rows changed
        (new attempts, and updates the feed reported). The next arrival posts a message."""
        self._posted = False
        events, self._events = self._events, []
        updated, self._updated = self._updated, set()
        return events, updated

    def take_feed(self) -> Feed:
        """What other processes inserted and deleted since the last frame."""
        feed, self._feed = self._feed, Feed()
        return feed

    def _wake(self) -> None:
        if not self._posted:
            self._posted = True
            self._target.post_message(EventsArrived())
