"""What other processes do to the capture: the change feed (their inserts, deletes, clears)
and, in a viewer, the receiver it views (its URL and pid, its answer; when it stops, and
when one starts again)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.core.control.protocol import ReceiverState
from inspector.faces.tui.features.filtering import apply_filter
from inspector.faces.tui.sink import Feed

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp

NO_RECEIVER = "· no receiver runs on this database: showing what is stored"
LOOKING = "· looking for the receiver…"


def apply_feed(app: BaseApp, feed: Feed) -> None:
    """Reload, drop deleted rows, list restored and new events (before this frame's own
    arrivals)."""
    if feed.reload:
        seqs = app.listing.everything()
        query = app.listing.query
        if query is None:
            app.event_list.load(seqs)
        else:  # the filter decides again what shows
            apply_filter(app, query)
        return
    if feed.deleted_upto:  # retention: a cut at the front of the list, however long
        app.event_list.discard_upto(feed.deleted_upto)
    if feed.deleted:
        app.event_list.discard(set(feed.deleted))
    if feed.deleted or feed.deleted_upto:
        app.listing.recount()
    if feed.restored:  # an undone delete, here or in another process: in its place again
        app.event_list.add(app.listing.restored(feed.restored))
    app.event_list.add(app.listing.admit(feed.inserted))


def viewing(state: ReceiverState | None, shared: str = "") -> str:
    """The header's words for a viewer. `shared`: the database, when several receivers on
    other hosts may write to it (PostgreSQL): none of them is this viewer's to know."""
    if state is not None:
        return f"of {state.describe()}"
    return f"of {shared} (shared by its receivers)" if shared else NO_RECEIVER


def looking(shared: str, receiver: str) -> str:
    """A viewer's header before its receiver is heard from; on a shared database with no
    receiver of its own (`inspector web` names one), there is none to look for."""
    return viewing(None, shared) if shared and not receiver else LOOKING


def receiver_changed(app: BaseApp, state: ReceiverState | None) -> None:
    status = app.status_bar
    status.policy = "" if state is None or state.policy.is_default else state.policy.describe()
    if not app.session.view:
        return
    before = status.viewer
    status.viewer = viewing(state, app.session.shared)
    status.forward_to = state.forward_to if state is not None else ""
    if state is None:
        status.tunnel = ""
        if before != NO_RECEIVER and before != LOOKING:
            app.notify("Still showing what is stored; a receiver started on this database "
                       "is picked up.", title="The receiver stopped", severity="warning",
                       timeout=10)
    elif before == NO_RECEIVER:
        app.notify(f"Following {state.describe()}.", title="A receiver started",
                   markup=False)
