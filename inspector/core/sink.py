"""How a face hears what the running inspector did: one typed protocol, one subscription.

A face implements `Sink` (or subclasses `BaseSink` and overrides what it cares about) and
subscribes it to the session (`Session.subscribe`). Every call happens on the event loop,
after the fact (an event is committed before anyone hears of it), and must return quickly:
the receiver shares the loop. Headless `serve` prints; the TUI posts messages that coalesce.

A receiver's sinks hear of its own events through `committed` and of what other processes
(viewers, an import) changed in the store through `changed`; a viewer's sinks hear of
everything through `changed`, and of the receiver it views through `receiver`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from inspector.core.capture.tunnel import TunnelState
from inspector.core.control.protocol import ReceiverState
from inspector.core.model import Attempt, Event
from inspector.core.store import Changes


class Sink(Protocol):
    def committed(self, events: list[Event]) -> None:
        """A batch of events is stored (one call per committed batch, in seq order)."""

    def attempted(self, attempt: Attempt) -> None:
        """A replay or forward of `attempt.event_seq` is stored (its row's result changed)."""

    def changed(self, changes: Changes) -> None:
        """The store changed under another process's hand (the change feed): events it
        inserted, rows it updated (a replay, a verdict), events it deleted, or a clear."""

    def receiver(self, state: ReceiverState | None) -> None:
        """The receiver's live state changed (its answer, secrets, tunnel; a viewer hears of
        its receiver's); None: no receiver runs on the database (viewers only)."""

    def failed(self, message: str | None) -> None:
        """Events are not being stored (`message` says why, for a person); None: they are
        being stored again."""

    def tunnel(self, state: TunnelState) -> None:
        """The tunnel's state changed (starting, up with its URL, down with the reason)."""

    def notice(self, text: str) -> None:
        """Something a person should read."""

    def held(self, count: int) -> None:
        """The requests and forwards held at a breakpoint changed (one was held, one went
        on): `count` are held now (`Session.holds.waiting` lists them, oldest first)."""

    def answered(self, event: Event) -> None:
        """What the sender got is stored, known only after the event was (a hold ended, a
        timeout fault finished, a mirrored answer): `event.status`, `answer_note`."""


class BaseSink:
    """A sink that ignores everything: subclass it and override what a face shows."""

    def committed(self, events: list[Event]) -> None:
        pass

    def attempted(self, attempt: Attempt) -> None:
        pass

    def changed(self, changes: Changes) -> None:
        pass

    def receiver(self, state: ReceiverState | None) -> None:
        pass

    def failed(self, message: str | None) -> None:
        pass

    def tunnel(self, state: TunnelState) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def held(self, count: int) -> None:
        pass

    def answered(self, event: Event) -> None:
        pass


class Fanout:
    """A sink that tells every subscribed sink, in the order they subscribed."""

    def __init__(self) -> None:
        # A tuple, replaced on each change: a sink may unsubscribe while it is being called.
        self._sinks: tuple[Sink, ...] = ()

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        """Add `sink`; the returned function removes it again."""
        self._sinks = (*self._sinks, sink)

        def unsubscribe() -> None:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

        return unsubscribe

    def committed(self, events: list[Event]) -> None:
        for sink in self._sinks:
            sink.committed(events)

    def attempted(self, attempt: Attempt) -> None:
        for sink in self._sinks:
            sink.attempted(attempt)

    def changed(self, changes: Changes) -> None:
        for sink in self._sinks:
            sink.changed(changes)

    def receiver(self, state: ReceiverState | None) -> None:
        for sink in self._sinks:
            sink.receiver(state)

    def failed(self, message: str | None) -> None:
        for sink in self._sinks:
            sink.failed(message)

    def tunnel(self, state: TunnelState) -> None:
        for sink in self._sinks:
            sink.tunnel(state)

    def notice(self, text: str) -> None:
        for sink in self._sinks:
            sink.notice(text)

    def held(self, count: int) -> None:
        for sink in self._sinks:
            sink.held(count)

    def answered(self, event: Event) -> None:
        for sink in self._sinks:
            sink.answered(event)
