"""What the app's actions do, by feature: small functions of the app, named in the actions
table (inspector.faces.tui.actions). Each says what went wrong in words a person can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.core.model import Event

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def selected_event(app: BaseApp) -> Event | None:
    """The event under the list's cursor, read from the store (None: no event selected)."""
    seq = app.event_list.selected
    return app.store.event(seq) if seq is not None else None
