"""d deletes at once from the list, u brings it back within UNDO_SECONDS (an undo rather
than a question: deleting noise one event after another stays one key each); D clears all,
after asking. The store forgets a deleted event once its undo window has passed."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from inspector.core.display import count
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
    app.listing.hide(seq, time.monotonic() + UNDO_SECONDS)
    app.event_list.discard({seq})
    app.show_counts()
    app.notify(f"Press u within {UNDO_SECONDS:.0f} s to undo.", title="Event deleted",
               timeout=UNDO_SECONDS)


def undo(app: BaseApp) -> None:
    """Bring back the event deleted last, as it was (nothing left the store yet)."""
    undone = app.listing.unhide()
    if undone is None:
        app.notify(f"Nothing to undo: deletes can be undone for {UNDO_SECONDS:.0f} s.",
                   severity="warning")
        return
    seq, same_filter = undone
    if same_filter:
        app.event_list.restore(seq)
    else:  # the filter changed since: let it decide whether the event shows
        apply_filter(app, app.listing.query or Query())
    app.show_counts()
    app.notify("The event is back.", title="Undone")


def expire(app: BaseApp) -> None:
    """Delete from the store the events whose undo window has passed."""
    past = app.listing.expired(time.monotonic())
    if past:
        app.run_worker(_purge(app, past), group="delete", exit_on_error=False)


async def _purge(app: BaseApp, seqs: list[int]) -> None:
    try:
        await app.store.delete(seqs)
    except StoreError as exc:
        app.notify(str(exc), title="Delete failed", severity="error", markup=False)


async def settle(app: BaseApp) -> None:
    """Quitting ends the undo window: delete for good what is waiting."""
    doomed = app.listing.doomed()
    if doomed:
        with contextlib.suppress(StoreError):  # then they stay: the safe side
            await app.store.delete(doomed)


def clear(app: BaseApp) -> None:
    total = len(app.event_list.seqs)
    if not total:
        return

    async def confirmed(answer: str | None) -> None:
        if answer:
            await app.store.clear()
            app.listing.doomed()  # gone with the rest
            app.event_list.clear_marks()
            app.event_list.load(app.listing.everything())
            app.show_counts()
            app.notify(f"Deleted {count(total, 'event')}.")

    app.push_screen(Confirm(f"Delete all {count(total, 'event')}? This cannot be undone.",
                            "Delete all"), confirmed)
