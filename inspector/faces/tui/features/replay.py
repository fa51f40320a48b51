"""r, s and "Replay all events in view": send events again and say how it went."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from inspector.core.delivery.replay import ReplayError, check_target
from inspector.core.delivery.resign import Signer
from inspector.core.display import count, duration, status_text
from inspector.core.model import Attempt, Event
from inspector.core.sanitize import clip, visible_line
from inspector.faces.tui.features import selected_event
from inspector.faces.tui.screens.prompt import Confirm, URLPrompt
from inspector.faces.tui.widgets.detail import how_sent

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def replay_selected(app: BaseApp) -> None:
    """r: the marked events when there are any, else the selected one."""
    seqs = app.event_list.marked_or_selected()
    if not seqs:
        app.notify("No event selected: nothing to replay.", severity="warning")
        return
    with_target(app, lambda base: replay(app, seqs, base))


def replay_view(app: BaseApp) -> None:
    """Every event the list shows (the filtered view), oldest first, after asking."""
    seqs = list(app.event_list.seqs)
    if not seqs:
        app.notify("The list is empty: nothing to replay.", severity="warning")
        return

    def confirmed(answer: str | None) -> None:
        if answer:
            with_target(app, lambda base: replay(app, seqs, base))

    # Name the filter: "in view" is only as clear as what the list is filtered by.
    query = app.listing.query
    view = (f"the filter {visible_line(clip(query.source, 80))}" if query is not None
            else "no filter")
    app.push_screen(Confirm(f"Replay all {count(len(seqs), 'event')} in view ({view}), "
                            "in the order they arrived?", "Replay"), confirmed)


def resign_replay(app: BaseApp) -> None:
    """s: replay with a fresh signature (and timestamp) when the event arrived valid;
    otherwise say why not, and where a person may force it."""
    event = selected_event(app)
    if event is None:
        app.notify("No event selected: nothing to replay.", severity="warning")
        return
    signer = app.replayer.signer(event)
    if signer.doubt or not signer.ok:
        why = (f"{signer.doubt}. R opens the editor, where you may force a re-sign after "
               "confirming." if signer.doubt else signer.problem)
        app.notify(why, title="Not re-signed", severity="warning", markup=False)
        return
    with_target(app, lambda base: app.run_worker(
        _resigned(app, event, base, signer), group="replay", exit_on_error=False))


def with_target(app: BaseApp, then: Callable[[str], object]) -> None:
    """Run `then(base_url)` with --replay-to, or with the URL the user types."""
    if app.replayer.fixed:
        then(app.replayer.fixed)
        return

    def chosen(url: str | None) -> None:
        if url:
            then(url)

    app.push_screen(URLPrompt("Replay to which URL? (a URL ending in / gets the event's path)",
                              app.replayer.offer(), check=target_problem), chosen)


def target_problem(url: str) -> str | None:
    try:
        check_target(url)
    except ReplayError as exc:
        return str(exc)
    return None


def replay(app: BaseApp, seqs: list[int], base: str) -> None:
    """Send events again, one at a time in arrival order, storing each attempt."""
    app.run_worker(_replay(app, seqs, base), group="replay", exclusive=True,
                   exit_on_error=False)


async def _replay(app: BaseApp, seqs: list[int], base: str) -> None:
    status = app.status_bar

    def progress(done: int, total: int) -> None:
        status.progress = "replaying…" if total == 1 else f"replaying {done:,}/{total:,}"

    try:
        run = await app.replayer.many(seqs, base, progress)
    except ReplayError as exc:
        app.notify(str(exc), title="Cannot replay", severity="error", markup=False)
        return
    finally:
        status.progress = ""
    if run is None:
        app.notify("Those events were deleted.", severity="warning")
        return
    if len(run.attempts) == 1:
        tell(app, run.attempts[0])
    else:
        app.notify(run.summary.text(), title=f"Replayed to {base}", markup=False,
                   severity="warning" if run.summary.failures else "information", timeout=8)
    app.detail_pane.reload(seqs, "replay")


async def _resigned(app: BaseApp, event: Event, base: str, signer: Signer) -> None:
    try:
        attempt = await app.replayer.resigned(event, base, signer)
    except ReplayError as exc:
        app.notify(str(exc), title="Cannot replay", severity="error", markup=False)
        return
    finished(app, attempt)


def finished(app: BaseApp, attempt: Attempt) -> None:
    """A single replay was stored: say how it went and show it in the Replay tab."""
    tell(app, attempt)
    app.detail_pane.reload({attempt.event_seq}, "replay")


def tell(app: BaseApp, attempt: Attempt) -> None:
    if attempt.error:
        app.notify(attempt.error, title="Replay failed", severity="error", markup=False)
        return
    how = attempt.note if attempt.note and not attempt.forced else how_sent(attempt)
    app.notify(f"{status_text(attempt.status)} in {duration(attempt.elapsed_ms)} ({how})",
               title=f"Replayed to {attempt.url}", markup=False,
               severity="warning" if attempt.note else "information")
