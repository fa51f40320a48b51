"""=: the two marked events side by side."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def compare(app: BaseApp) -> None:
    pair = app.event_list.pair()
    if pair is None:
        app.notify("Mark two events with space, then press = to compare them.",
                   severity="warning")
        return
    app.run_worker(partial(_compare, app, *pair), thread=True, exclusive=True,
                   group="compare", exit_on_error=False)


def _compare(app: BaseApp, older: int, newer: int) -> None:
    """Read and diff in a thread (the diff's work is bounded, but bodies can be large)."""
    from inspector.core.analysis import diff  # both load on use, not at start-up
    from inspector.faces.tui.screens.diff import DiffScreen

    left, right = app.store.event(older), app.store.event(newer)
    if left is None or right is None:
        app.call_from_thread(app.notify, "One of those events was deleted.",
                             severity="warning")
        return
    comparison = diff.compare(left, right)
    app.call_from_thread(app.push_screen, DiffScreen(comparison))
