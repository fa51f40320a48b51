"""What the session tells the app, as Textual messages (posted by inspector.faces.tui.sink)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from inspector.core.capture.tunnel import TunnelState
from inspector.core.control.protocol import ReceiverState


@dataclass
class EventsArrived(Message):
    """Committed events or stored attempts wait in the sink (one pending at a time)."""


@dataclass
class StoreFailed(Message):
    """Events are not being stored, and why; None: they are again."""

    message: str | None


@dataclass
class TunnelChanged(Message):
    state: TunnelState


@dataclass
class Notice(Message):
    """Something a person should read (config loaded, exposure warnings)."""

    text: str


@dataclass
class HeldChanged(Message):
    """The requests and forwards held at a breakpoint changed (one pending at a time; the
    app reads the session's holds)."""


@dataclass
class ReceiverChanged(Message):
    """The receiver's live state (answer, forward target, tunnel); None: none runs."""

    state: ReceiverState | None
