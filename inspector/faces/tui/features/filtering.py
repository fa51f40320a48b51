"""/: the filter bar. The search runs in a thread (SQLite indexes and the trigram side file);
the list model (inspector.core.listing) keeps the filter for the events that arrive next.
Also: the events about the selected one (related:this), and going to an event of the
Timeline."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.worker import get_current_worker

from inspector.core.listing import Found
from inspector.core.store import StoreError
from inspector.core.store.filter import THIS, FilterError, Query

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def open_bar(app: BaseApp) -> None:
    if app.screen is not app.screen_stack[0]:  # a dialog is open: the bar is behind it
        return
    app.filter_bar.add_class("-open")
    app.filter_bar.focus_input()


def close_bar(app: BaseApp) -> None:
    app.filter_bar.remove_class("-open")
    app.event_list.focus()


def show_related(app: BaseApp) -> None:
    """Filter the list to the events about the same object as the selected one."""
    if app.event_list.selected is None:
        app.notify("No event selected.", severity="warning")
        return
    app.filter_bar.add_class("-open")
    app.filter_bar.set_text(f"related:{THIS}")
    app.event_list.focus()


def jump(app: BaseApp, seq: int) -> None:
    """Select an event of the Timeline in the list (a filter may hide it)."""
    if not app.event_list.select_seq(seq):
        app.notify("That event is not in the list as filtered: filter related:this shows the "
                   "whole timeline, escape in the filter shows every event.",
                   severity="warning", markup=False)


def apply_filter(app: BaseApp, query: Query) -> None:
    app.run_worker(partial(_search, app, query), thread=True, exclusive=True, group="filter",
                   exit_on_error=False)


def _search(app: BaseApp, query: Query) -> None:
    try:
        found = app.listing.search(query)
    except (FilterError, StoreError) as exc:
        app.call_from_thread(app.notify, str(exc), title="Filter", severity="error",
                             markup=False)
        return
    if not get_current_worker().is_cancelled:
        app.call_from_thread(_show, app, found)


def _show(app: BaseApp, found: Found) -> None:
    # Events already waiting in the sink were committed before or during the search: the
    # next frame checks those past `found.top` against the filter.
    app.event_list.load(app.listing.show(found))
    app.show_counts()
