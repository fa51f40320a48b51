"""d deletes at once, u brings it back within UNDO_SECONDS (an undo rather than a question:
deleting noise one event after another stays one key each); D clears all, after asking.

A delete leaves the store at once, so every viewer of the capture drops it within a poll of
the change feed; this face keeps the event whole (body, answer, attempts) for the undo
window, and an undo puts it back with its seq and id (`EventStore.restore`, recorded in the
feed: every viewer lists it again, in its place).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from inspector.core.display import count
from inspector.core.listing import Deleted, whole
from inspector.core.store import StoreError
from inspector.core.store.filter import Query
from inspector.faces.tui.features.filtering import apply_filter
from inspector.faces.tui.screens.prompt import Confirm

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp

UNDO_SECONDS = 10.0


def delete(app: BaseApp) -> None:
    seq = app.event_list.selected
    if seq is None:
        return
    app.event_list.discard({seq})
    app.run_worker(_delete(app, seq), group="delete", exit_on_error=False)


async def _delete(app: BaseApp, seq: int) -> None:
    query = app.listing.query
    try:
        items = await asyncio.to_thread(whole, app.store, [seq])
        await app.store.delete([seq])
    except StoreError as exc:
        app.event_list.add([seq])  # still stored: listed again
        app.notify(str(exc), title="Delete failed", severity="error", markup=False)
        return
    if items:  # else another process deleted it first: nothing of ours to bring back
        app.listing.kept(Deleted(items, time.monotonic() + UNDO_SECONDS, query))
    app.listing.recount()
    app.show_counts()
    app.notify(f"Press u within {UNDO_SECONDS:.0f} s to undo.", title="Event deleted",
               timeout=UNDO_SECONDS)


def undo(app: BaseApp) -> None:
    """Bring back the event deleted last, as it was."""
    deleted = app.listing.take_back(time.monotonic())
    if deleted is None:
        app.notify(f"Nothing to undo: deletes can be undone for {UNDO_SECONDS:.0f} s.",
                   severity="warning")
        return
    app.run_worker(_undo(app, deleted), group="delete", exit_on_error=False)


async def _undo(app: BaseApp, deleted: Deleted) -> None:
    try:
        back = await app.store.restore(deleted.items)
    except StoreError as exc:
        app.listing.kept(deleted)  # still in memory: u may try again within the window
        app.notify(str(exc), title="Undo failed", severity="error", markup=False)
        return
    if deleted.query == app.listing.query:
        for event in back:
            app.event_list.restore(event.seq)
    else:  # the filter changed since: let it decide whether the event shows
        apply_filter(app, app.listing.query or Query())
    app.listing.recount()
    app.show_counts()
    app.notify("The event is back." if back else "It was back already.", title="Undone")


def expire(app: BaseApp) -> None:
    """Forget the deletes whose undo window has passed."""
    app.listing.expire(time.monotonic())


def clear(app: BaseApp) -> None:
    total = len(app.event_list.seqs)
    if not total:
        return

    async def confirmed(answer: str | None) -> None:
        if answer:
            await app.store.clear()
            app.listing.forget()  # a clear cannot be undone, nor what went before it
            app.event_list.clear_marks()
            app.event_list.load(app.listing.everything())
            app.show_counts()
            app.notify(f"Deleted {count(total, 'event')}.")

    app.push_screen(Confirm(f"Delete all {count(total, 'event')}? This cannot be undone.",
                            "Delete all"), confirmed)
