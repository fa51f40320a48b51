"""The Textual app: a face on a Session. Receiver and UI share this one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import rich
from rich.console import Console
from rich.text import Text
from rich.traceback import Traceback
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.filter import LineFilter
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, TabbedContent
from textual.worker import Worker, WorkerState, get_current_worker

from inspector.core.analysis import diff
from inspector.core.capture.answers import (
    DEFAULT_POLICY,
    PolicyError,
    ResponsePolicy,
    answer_header,
    check_delay,
    check_status,
    read_body,
)
from inspector.core.capture.server import exposure_warning
from inspector.core.capture.tunnel import TunnelState
from inspector.core.delivery import curl, replay
from inspector.core.delivery.resign import Signer, expired, signer_for
from inspector.core.display import count, duration, status_text
from inspector.core.interop import export
from inspector.core.model import Attempt, Event, Row
from inspector.core.providers.connectly import api as connectly_api
from inspector.core.providers.connectly import samples
from inspector.core.redact import redact
from inspector.core.sanitize import clip, visible, visible_line
from inspector.core.session import Session
from inspector.core.signatures import PROVIDERS, mask
from inspector.core.sink import BaseSink
from inspector.core.store import StoreError, VerdictChange
from inspector.core.store.filter import FilterError, Query
from inspector.faces.tui.screens.diff import DiffScreen
from inspector.faces.tui.screens.help import HelpScreen
from inspector.faces.tui.screens.prompt import Confirm, TextPrompt, URLPrompt
from inspector.faces.tui.screens.replay_editor import ReplayEditor
from inspector.faces.tui.screens.secret import SecretPrompt
from inspector.faces.tui.widgets.detail import (
    Detail,
    DetailPane,
    build,
    how_sent,
    replay_advice,
)
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.filter_bar import FilterBar
from inspector.faces.tui.widgets.inert import InertFilter
from inspector.faces.tui.widgets.status_bar import StatusBar

# Adaptive frame rate: redraw the list on the next frame when events trickle in, but at most
# FLOOD_FPS times a second during a flood, so the loop's time goes to the receiver.
CALM_INTERVAL = 1 / 30
FLOOD_INTERVAL = 0.22  # ~4.5 redraws a second: the floor the UI promises, with margin
FLOOD_RATE = 50.0  # events per second above which we count as flooded
# Above this rate follow mode stops reloading the detail pane (a reload costs a few frames);
# it catches up with the newest event once traffic slows down.
BUSY_RATE = 10.0
# `d` deletes at once from the list; the store forgets the event this many seconds later,
# and until then `u` brings it back as it was (bytes, attempts, place in the list).
UNDO_SECONDS = 10.0

TABS = ["overview", "headers", "body", "raw", "signature", "replay"]
WORKER_TITLES = {
    "detail": "Could not show this event",
    "compare": "Could not compare the events",
    "filter": "Could not filter",
    "export": "Export failed",
    "reverify": "Re-verifying failed",
    "replay": "Replay failed",
    "register": "Registering with Connectly failed",
    "sample": "Could not send the sample",
    "delete": "Deleting failed",
}


class EventsArrived(Message):
    """Committed events are waiting in the app's inbox (one message per batch, coalesced)."""


class Rate:
    """Events per second over the last second, O(1) per call."""

    def __init__(self) -> None:
        self._marks: deque[tuple[float, int]] = deque()
        self._count = 0

    def add(self, n: int, now: float) -> None:
        self._marks.append((now, n))
        self._count += n
        self._trim(now)

    def per_second(self, now: float) -> float:
        self._trim(now)
        return float(self._count)

    def _trim(self, now: float) -> None:
        while self._marks and self._marks[0][0] < now - 1.0:
            self._count -= self._marks.popleft()[1]


class TuiSink(BaseSink):
    """What the session reports, handed to the app's handlers (on the loop)."""

    def __init__(self, app: InspectorApp) -> None:
        self.app = app

    def committed(self, events: list[Event]) -> None:
        self.app._on_commit(events)

    def attempted(self, attempt: Attempt) -> None:
        self.app._on_attempt(attempt)

    def failed(self, message: str | None) -> None:
        if message is None:
            self.app._store_recovered()
        else:
            self.app._on_store_error(message)

    def tunnel(self, state: TunnelState) -> None:
        self.app._on_tunnel(state)

    def notice(self, text: str) -> None:
        self.app.notify(text, timeout=20, markup=False)


class InspectorApp(App[int]):
    CSS_PATH = "inspector.tcss"
    TITLE = "webhook-inspector"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit-ctrl"),
        Binding("r", "replay", "Replay", id="replay"),
        Binding("R", "edit_replay", "Edit & replay", id="edit-replay"),
        Binding("s", "resign_replay", "Re-sign & replay", show=False, id="resign-replay"),
        Binding("f", "toggle_follow", "Follow", id="follow"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("c", "copy_curl", "Copy curl", id="copy-curl"),
        Binding("e", "export", "Export", id="export"),
        Binding("equals_sign", "compare", "Compare", id="compare"),
        Binding("d", "delete", "Delete", id="delete"),
        Binding("u", "undo_delete", "Undo delete", id="undo", show=False),
        Binding("D", "clear", "Clear all", id="clear", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("escape", "focus_list", "Back to the list", show=False, id="focus-list"),
        *[
            Binding(str(i + 1), f"tab('{name}')", name.title(), show=False, id=f"tab-{name}")
            for i, name in enumerate(TABS)
        ],
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        # Printed after the app exits (a crash report): plain text, so the inert stderr of
        # the command line (inspector.faces.terminal) has no colour codes to escape.
        self.error_console = Console(markup=False, highlight=False, stderr=True,
                                     color_system=None)
        self._inert_filter = InertFilter()
        self.session = session
        self.store = session.store
        self._inbox: list[Event] = []
        self._attempted: set[int] = set()  # seqs whose replay/forward result just landed
        self._filter: Query | None = None  # the active filter, if any
        self._filter_after = 0  # seqs up to here were checked against the filter
        self._total = 0  # events in the store (the list may show fewer, filtered)
        self._posted = False
        self._rate = Rate()
        self._last_flush = 0.0
        self._flush_timer: Timer | None = None
        self._detail_timer: Timer | None = None
        self._detail_seq: int | None = None
        self._detail_stale = False
        self._stopping = False
        self._last_error = ("", 0.0)
        # Deleted from the list, not yet from the store: seq -> (deadline, filter then).
        self._doomed: dict[int, tuple[float, Query | None]] = {}
        self.http = replay.new_client()

    # -- what reaches the terminal -----------------------------------------------------------

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then the last guard against escapes in any widget's output."""
        return [*super().get_line_filters(), self._inert_filter]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast: control characters in the text shown as escapes (our callers pass
        markup=False whenever the text holds anything untrusted)."""
        super().notify(visible(message), title=visible_line(title), severity=severity,
                       timeout=timeout, markup=markup)

    def _fatal_error(self) -> None:
        """A crash: Textual's report shows every frame's local variables, secrets included.
        This one shows none, and cuts any known secret from the text (inspector.core.redact)."""
        report = io.StringIO()
        report.write("webhook-inspector stopped on an unexpected error (a bug: please report "
                     "it; known secrets are cut out as [secret]).\n")
        console = Console(width=100, file=report, color_system=None)
        console.print(Traceback(show_locals=False, width=100, suppress=[rich]))
        self.bell()
        self._exit_renderables.append(Text(visible(redact(report.getvalue()))))
        self._close_messages_no_wait()

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.session.url, id="status")
        yield FilterBar(id="filter")
        yield EventList(self.store.rows, follow=self.session.settings.follow, id="events")
        yield DetailPane(id="detail")
        yield Footer()

    @property
    def event_list(self) -> EventList:
        return self.query_one(EventList)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def detail_pane(self) -> DetailPane:
        return self.query_one(DetailPane)

    async def on_mount(self) -> None:
        status = self.status_bar
        status.replay_to = self.session.settings.replay_to
        status.follow = self.event_list.follow
        settings = self.session.settings
        status.forward_to = settings.forward_to
        status.policy = "" if settings.policy.is_default else settings.policy.describe()
        self.event_list.load(self.store.seqs())
        self._total = len(self.event_list.seqs)
        self._show_counts()
        self.event_list.focus()
        self.session.subscribe(TuiSink(self))
        self.set_interval(0.5, self._catch_up)
        await self.session.start()
        for notice in self.session.notices:
            self.notify(notice, timeout=20, markup=False)
        warning = exposure_warning(self.session.settings.host)
        if warning:
            self.notify(warning.removeprefix("warning: "), title="Reachable from other machines",
                        severity="warning", timeout=20, markup=False)
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._on_sigterm)
        except (NotImplementedError, RuntimeError):  # not on the main thread (tests)
            pass

    def _on_sigterm(self) -> None:
        self.call_later(self.action_quit)

    # -- events arriving ----------------------------------------------------------------------

    def _on_commit(self, events: list[Event]) -> None:
        """Called by the store (on this loop) once per committed batch. Must stay O(batch)."""
        self._inbox.extend(events)
        self._rate.add(len(events), time.monotonic())
        if not self._posted:
            self._posted = True
            self.post_message(EventsArrived())

    def on_events_arrived(self, _: EventsArrived) -> None:
        self._posted = False
        if self._flush_timer is not None:
            return  # a frame is already scheduled; it will take these too
        now = time.monotonic()
        interval = FLOOD_INTERVAL if self._rate.per_second(now) > FLOOD_RATE else CALM_INTERVAL
        delay = self._last_flush + interval - now
        if delay <= 0:
            self._flush_inbox()
        else:
            self._flush_timer = self.set_timer(delay, self._flush_inbox)

    def _flush_inbox(self) -> None:
        self._flush_timer = None
        self._last_flush = time.monotonic()
        events, self._inbox = self._inbox, []
        self._total += len(events)
        if self._filter is not None and events:
            events = self._matching(events)
        self.event_list.append(events)
        if self._attempted:
            # Only rows the list holds need a re-read; the rest are read when scrolled to.
            seqs = [s for s in self._attempted if self.event_list.has_row(s)]
            self._attempted.clear()
            for row in self.store.rows(seqs).values():
                self.event_list.update_row(row)
            if self._detail_seq in seqs and not self._busy():
                self._detail_timer = self._detail_timer or self.set_timer(
                    0.05, self._load_selected)
        self._show_counts()
        self.status_bar.rate = self._rate.per_second(self._last_flush)
        self.status_bar.redraw()

    def _show_counts(self) -> None:
        status = self.status_bar
        status.total = self._total
        status.shown = len(self.event_list.seqs) if self._filter is not None else None
        status.redraw()

    def _on_store_error(self, message: str) -> None:
        status = self.status_bar
        status.error = message
        status.redraw()
        last, when = self._last_error
        now = time.monotonic()
        if message != last or now - when > 10:
            self._last_error = (message, now)
            self.notify(message, title="Events are not being stored", severity="error",
                        timeout=10, markup=False)

    def _store_recovered(self) -> None:
        """A commit went through: the disk has room again, the lock is gone."""
        self._last_error = ("", 0.0)
        status = self.status_bar
        status.error = ""
        status.redraw()
        self.notify("Events are being stored again.", title="Storage recovered", timeout=5)

    # -- worker failures ------------------------------------------------------------------------

    def on_worker_state_changed(self, message: Worker.StateChanged) -> None:
        """A worker that failed is an error shown to the user, never an exit: one bad event
        (or a database gone bad) must not take the app down, again at every restart."""
        worker = message.worker
        if message.state is not WorkerState.ERROR:
            return
        error = worker.error
        reason = clip(visible_line(f"{type(error).__name__}: {error}"), 300)
        what = WORKER_TITLES.get(worker.group, f"{worker.name or worker.group} failed")
        if worker.group == "detail" and self._detail_seq is not None:
            self.detail_pane.show_failure(f"{what}: {reason}")
        self.notify(reason, title=what, severity="error", markup=False, timeout=10)

    # -- selection and detail -------------------------------------------------------------------

    def on_event_list_selected(self, message: EventList.Selected) -> None:
        self._detail_seq = message.seq
        if message.seq is None:
            self.detail_pane.clear()
            return
        if message.by_user:
            # Debounce key repeat: load once the cursor rests.
            if self._detail_timer is not None:
                self._detail_timer.stop()
            self._detail_timer = self.set_timer(0.03, self._load_selected)
        elif self._busy():
            self._detail_stale = True  # _catch_up loads it when traffic slows
        elif self._detail_timer is None:
            self._detail_timer = self.set_timer(0.05, self._load_selected)

    def _busy(self) -> bool:
        return self._rate.per_second(time.monotonic()) > BUSY_RATE

    def _catch_up(self) -> None:
        """Twice a second: let the rate fall back to zero, and catch the detail pane up."""
        rate = self._rate.per_second(time.monotonic())
        forwarder = self.session.forwarder
        waiting = forwarder.waiting if forwarder is not None else 0
        if (rate, waiting) != (self.status_bar.rate, self.status_bar.forward_waiting):
            self.status_bar.rate = rate
            self.status_bar.forward_waiting = waiting
            self.status_bar.redraw()
        if self._detail_stale and not self._busy():
            self._detail_stale = False
            self._load_selected()
        now = time.monotonic()
        expired = [seq for seq, (deadline, _) in self._doomed.items() if deadline <= now]
        if expired:
            for seq in expired:
                del self._doomed[seq]  # past undo from here on
            self.purge(expired)

    def on_event_list_marks_changed(self, message: EventList.MarksChanged) -> None:
        self.status_bar.marked = message.count
        self.status_bar.redraw()

    def on_event_list_follow_changed(self, message: EventList.FollowChanged) -> None:
        self.status_bar.follow = message.follow
        self.status_bar.redraw()

    def on_event_list_opened(self, message: EventList.Opened) -> None:
        self.detail_pane.focus_content()

    def action_focus_list(self) -> None:
        self.event_list.focus()

    def _load_selected(self) -> None:
        self._detail_timer = None
        self._detail_stale = False
        if self._detail_seq is not None:
            self.load_detail(self._detail_seq)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def load_detail(self, seq: int, tab: str | None = None) -> None:
        """Read and decode off the loop: a 10 MB body must not freeze the UI."""
        event = self.store.event(seq)
        if event is None:
            return
        analyzer = self.session.analyzer
        check = analyzer.verify(event)
        resolver = analyzer.resolver
        signer = signer_for(analyzer, event)
        advice = replay_advice(signer, expired(signer.provider, resolver.request_of(event)))
        detail = build(event, check, self.store.attempts(seq),
                       resolver.resolve_event(event).secret_note(), advice)
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_detail, detail, tab)

    def _show_detail(self, detail: Detail, tab: str | None) -> None:
        if detail.event.seq != self._detail_seq:
            return
        self.detail_pane.show(detail)
        if tab:
            self.action_tab(tab)

    # -- actions --------------------------------------------------------------------------------

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{name}"

    def action_toggle_follow(self) -> None:
        self.event_list.set_follow(not self.event_list.follow)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_replay(self) -> None:
        """Replay the marked events when there are any, else the selected one."""
        events = self.event_list
        seqs = events.marked_in_order() or ([events.selected] if events.selected else [])
        if not seqs:
            self.notify("No event selected: nothing to replay.", severity="warning")
            return
        self._with_target(lambda base: self.replay(seqs, base))

    def action_replay_view(self) -> None:
        """Replay every event the list shows (the filtered view), oldest first."""
        seqs = list(self.event_list.seqs)
        if not seqs:
            self.notify("The list is empty: nothing to replay.", severity="warning")
            return

        def confirmed(answer: str | None) -> None:
            if answer:
                self._with_target(lambda base: self.replay(seqs, base))

        # Name the filter: "in view" is only as clear as what the list is filtered by.
        view = (f"the filter {visible_line(clip(self._filter.source, 80))}"
                if self._filter is not None else "no filter")
        self.push_screen(Confirm(f"Replay all {count(len(seqs), 'event')} in view ({view}), "
                                 "in the order they arrived?", "Replay"), confirmed)

    def action_edit_replay(self) -> None:
        """R: edit method, URL, headers and body, optionally re-sign, then send."""
        seq = self.event_list.selected
        event = self.store.event(seq) if seq is not None else None
        if event is None:
            self.notify("No event selected: nothing to edit.", severity="warning")
            return
        live = self.session.live
        base = self.session.settings.replay_to or live.replay_target or "http://localhost:3000/"
        try:
            target = replay.target_url(base, event)
        except replay.ReplayError:
            target = base
        signer = signer_for(self.session.analyzer, event)

        def chosen(edit: replay.Edit | None) -> None:
            if edit is not None:
                self.replay_edited(event, edit, signer)

        self.push_screen(ReplayEditor(event, target, signer), chosen)

    def action_resign_replay(self) -> None:
        """s: replay the selected event with a fresh signature (and timestamp), when it
        arrived valid; otherwise say why not, and where a person may force it."""
        seq = self.event_list.selected
        event = self.store.event(seq) if seq is not None else None
        if event is None:
            self.notify("No event selected: nothing to replay.", severity="warning")
            return
        signer = signer_for(self.session.analyzer, event)
        if signer.doubt or not signer.ok:
            why = (f"{signer.doubt}. R opens the editor, where you may force a re-sign after "
                   "confirming." if signer.doubt else signer.problem)
            self.notify(why, title="Not re-signed", severity="warning", markup=False)
            return
        self._with_target(lambda base: self.replay_resigned(event, base, signer))

    @work(group="replay", exit_on_error=False)
    async def replay_resigned(self, event: Event, base: str, signer: Signer) -> None:
        try:
            url = replay.target_url(base, event)
        except replay.ReplayError as exc:
            self.notify(str(exc), title="Cannot replay", severity="error", markup=False)
            return
        await self._remember_target(base)
        attempt = await replay.send_resigned(self.http, event, url, signer)
        await self._finish_replay(event, attempt)

    def _with_target(self, then: Callable[[str], object]) -> None:
        """Run `then(base_url)` with --replay-to, or with the URL the user types."""
        if self.session.settings.replay_to:
            then(self.session.settings.replay_to)
            return

        def chosen(url: str | None) -> None:
            if url:
                then(url)

        self.push_screen(
            URLPrompt("Replay to which URL? (a URL ending in / gets the event's path)",
                      self.session.live.replay_target or "http://localhost:3000/",
                      check=_target_problem),
            chosen,
        )

    def action_set_secret(self) -> None:
        row = self.event_list.row(self.event_list.selected) if self.event_list.selected else None
        provider = (row.provider if row else "") or "connectly"
        secrets = self.session.live.secrets
        choices = [(p.title, p.name) for p in PROVIDERS.values()]

        def chosen(result: tuple[str, str] | None) -> None:
            if result:
                name, secret = result
                self.session.set_secret(name, secret)
                self.notify(f"{PROVIDERS[name].title} secret set ({mask(secret)}); "
                            "re-verifying…", markup=False)
                self.reverify()

        self.push_screen(SecretPrompt(choices, provider, mask(secrets.for_provider(provider))),
                         chosen)

    @work(thread=True, exclusive=True, group="reverify", exit_on_error=False)
    def reverify(self) -> None:
        """Re-check stored events with the current secrets: the visible ones first."""
        worker = get_current_worker()
        events = self.event_list
        top = max(int(events.scroll_y), 0)
        seqs = list(events.seqs)
        visible = seqs[top : top + events.page + 1]
        order = visible + seqs[:top][::-1] + seqs[top + events.page + 1 :]
        changed_total = 0
        for start in range(0, len(order), 500):
            if worker.is_cancelled:
                return
            chunk = order[start : start + 500]
            changes = []
            for seq in chunk:
                event = self.store.event(seq)
                if event is None:
                    continue
                result = self.session.analyzer.verify(event)
                if (result.provider, result.verdict.value, result.reason) != (
                        event.provider, event.verdict, event.reason):
                    changes.append(VerdictChange(seq, result.provider, result.verdict.value,
                                                 result.reason))
            if changes:
                self.store.set_verdicts_sync(changes)
                changed_total += len(changes)
                rows = self.store.rows([c[0] for c in changes])
                self.call_from_thread(self._rows_changed, list(rows.values()))
        self.call_from_thread(self.notify,
                              f"Re-verified: {count(changed_total, 'verdict')} changed.")

    def _rows_changed(self, rows: list[Row]) -> None:
        for row in rows:
            self.event_list.update_row(row)
        if self._detail_seq is not None and any(r.seq == self._detail_seq for r in rows):
            self.load_detail(self._detail_seq)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "replay":
            self.action_replay()

    @work(group="replay", exclusive=True, exit_on_error=False)
    async def replay(self, seqs: list[int], base: str) -> None:
        """Send events again, one at a time in arrival order, and store each attempt."""
        try:
            replay.check_target(base)
        except replay.ReplayError as exc:
            self.notify(str(exc), title="Cannot replay", severity="error", markup=False)
            return
        await self._remember_target(base)
        events = [e for e in map(self.store.event, seqs) if e is not None]
        if not events:
            self.notify("Those events were deleted.", severity="warning")
            return
        resign = self.session.analyzer if self.session.settings.resign else None
        status = self.status_bar

        async def progress(done: int, total: int, attempt: Attempt) -> None:
            await self.session.record(attempt)
            if total > 1:
                status.progress = f"replaying {done:,}/{total:,}"
                status.redraw()

        status.progress = "replaying…" if len(events) == 1 else f"replaying 0/{len(events):,}"
        status.redraw()

        try:
            attempts, summary = await replay.replay_many(self.http, events, base, resign=resign,
                                                         on_attempt=progress)
        finally:
            status.progress = ""
            status.redraw()
        if len(attempts) == 1:
            self._tell(attempts[0])
        else:
            failed = bool(summary.failures)
            self.notify(summary.text(), title=f"Replayed to {base}", markup=False,
                        severity="warning" if failed else "information", timeout=8)
        if self._detail_seq in seqs:
            self.load_detail(self._detail_seq, "replay")

    @work(group="replay", exit_on_error=False)
    async def replay_edited(self, event: Event, edit: replay.Edit, signer: Signer) -> None:
        attempt = await replay.send_edit(self.http, event, edit, signer)
        await self._finish_replay(event, attempt)

    async def _finish_replay(self, event: Event, attempt: Attempt) -> None:
        await self.session.record(attempt)
        self._tell(attempt)
        if self._detail_seq == event.seq:
            self.load_detail(event.seq, "replay")

    def _tell(self, attempt: Attempt) -> None:
        if attempt.error:
            self.notify(attempt.error, title="Replay failed", severity="error", markup=False)
            return
        how = attempt.note if attempt.note and not attempt.forced else how_sent(attempt)
        self.notify(f"{status_text(attempt.status)} in {duration(attempt.elapsed_ms)} ({how})",
                    title=f"Replayed to {attempt.url}", markup=False,
                    severity="warning" if attempt.note else "information")

    async def _remember_target(self, base: str) -> None:
        if await self.session.remember_target(base):
            self.status_bar.replay_to = base
            self.status_bar.redraw()

    def _on_attempt(self, attempt: Attempt) -> None:
        """A replay or forward was stored: refresh its row at the next frame (coalesced)."""
        self._attempted.add(attempt.event_seq)
        if not self._posted:
            self._posted = True
            self.post_message(EventsArrived())

    # -- filter, export, compare, copy as curl -----------------------------------------------

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.add_class("-open")
        bar.focus_input()

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.apply_filter(message.query)

    def on_filter_bar_accepted(self, _: FilterBar.Accepted) -> None:
        self.event_list.focus()

    def on_filter_bar_closed(self, _: FilterBar.Closed) -> None:
        self.query_one(FilterBar).remove_class("-open")
        self.event_list.focus()

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def apply_filter(self, query: Query) -> None:
        """Search off the loop (SQLite indexes and the trigram side file), then show."""
        try:
            top = self.store.last_seq()
            seqs = self.store.search(query) if query.terms else self.store.seqs()
        except (FilterError, StoreError) as exc:
            self.call_from_thread(self.notify, str(exc), title="Filter", severity="error",
                                  markup=False)
            return
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_filtered, query, seqs, top)

    def _show_filtered(self, query: Query, seqs: list[int], top: int) -> None:
        self._filter = query if query.terms else None
        self._filter_after = top
        if self._doomed:
            seqs = [s for s in seqs if s not in self._doomed]
        # Events already waiting in the inbox were committed before or during the search:
        # the next frame checks those past `top` against the filter.
        self.event_list.load(seqs)
        self._show_counts()

    def _matching(self, events: list[Event]) -> list[Event]:
        """New events that pass the active filter (one indexed query per frame)."""
        assert self._filter is not None
        fresh = [e for e in events if e.seq > self._filter_after]
        if not fresh:
            return []
        try:
            keep = set(self.store.search(self._filter, after=self._filter_after))
        except (FilterError, StoreError):
            keep = set()
        self._filter_after = fresh[-1].seq
        return [e for e in fresh if e.seq in keep]

    def _chosen(self) -> list[int]:
        """What an action applies to: the marked events, else the whole (filtered) list."""
        return self.event_list.marked_in_order() or list(self.event_list.seqs)

    def action_export(self) -> None:
        seqs = self._chosen()
        if not seqs:
            self.notify("Nothing to export.", severity="warning")
            return
        what = "marked" if self.event_list.marked else "listed"

        def check(path: str) -> str | None:
            if not path:
                return "give a file name"
            if export.format_for(path) is None:
                return "end the name in .jsonl, .har or .sh (curl commands)"
            return None

        def chosen(path: str | None) -> None:
            if path:
                self.export_events(seqs, path)

        chosen_events = count(len(seqs), f"{what} event")
        self.push_screen(TextPrompt(f"Export the {chosen_events} to which file? "
                                    "(.jsonl lossless, .har for browser devtools, .sh curl)",
                                    export.default_name("jsonl"), check, ok="Export"), chosen)

    @work(thread=True, group="export", exit_on_error=False)
    def export_events(self, seqs: list[int], path: str) -> None:
        fmt = export.format_for(path) or "jsonl"
        target = self._curl_target()
        try:
            written = export.export_to_file(self.store, seqs, fmt, Path(path), target)
        except (OSError, StoreError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.call_from_thread(self.notify, f"cannot write {path}: {reason}",
                                  title="Export failed", severity="error", markup=False)
            return
        self.call_from_thread(self.notify, f"{count(written, 'event')} written to {path} ({fmt}).",
                              title="Exported", markup=False)

    def action_compare(self) -> None:
        marked = self.event_list.marked_in_order()
        selected = self.event_list.selected
        if len(marked) == 1 and selected is not None and selected not in marked:
            marked = sorted([marked[0], selected])
        if len(marked) != 2:
            self.notify("Mark two events with space, then press = to compare them.",
                        severity="warning")
            return
        self.compare(marked[0], marked[1])

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def compare(self, older: int, newer: int) -> None:
        left, right = self.store.event(older), self.store.event(newer)
        if left is None or right is None:
            self.call_from_thread(self.notify, "One of those events was deleted.",
                                  severity="warning")
            return
        comparison = diff.compare(left, right)
        self.call_from_thread(self.push_screen, DiffScreen(comparison))

    def action_copy_curl(self) -> None:
        seq = self.event_list.selected
        event = self.store.event(seq) if seq is not None else None
        if event is None:
            self.notify("No event selected.", severity="warning")
            return
        target = self._curl_target()
        command = curl.curl_command(event, target)
        self.copy_to_clipboard(command)
        self.notify(f"A curl command ({len(command):,} characters) that sends this event "
                    f"byte-exact to {target}, sent to your terminal's clipboard (OSC 52; some "
                    "terminals and tmux need it allowed). Also: inspector export --format "
                    "curl.", title="Copy as curl", markup=False)

    def _curl_target(self) -> str:
        """Where curl commands go: the replay target, else this inspector's own URL. Never
        the event's Host header: the sender chose it."""
        return (self.session.settings.replay_to or self.session.live.replay_target
                or self.session.url
                or export.DEFAULT_CURL_TARGET)

    # -- tunnel and Connectly registration ---------------------------------------------------

    def _on_tunnel(self, state: TunnelState) -> None:
        previous = self.status_bar.tunnel
        self.status_bar.tunnel = state.describe()
        self.status_bar.redraw()
        if state.phase == "up" and state.url and state.url not in previous:
            again = " again: the URL changed" if state.restarts else ""
            self.notify(f"{state.url}\nRegister it with Connectly{again} (command palette: "
                        "Register tunnel with Connectly).", title="Tunnel up", markup=False,
                        timeout=12)
        elif state.phase == "down" and state.reason and "down" not in previous:
            self.notify(state.describe(), title="Tunnel down", severity="warning",
                        markup=False)

    def _tunnel_url(self) -> str | None:
        tunnel = self.session.tunnel
        if tunnel is None or tunnel.state.phase != "up":
            self.notify("No tunnel is up: start the inspector with --tunnel cloudflared (or "
                        "ngrok, localtunnel, ssh).", severity="warning")
            return None
        return tunnel.state.url

    def _with_business_id(self, then: Callable[[str], object]) -> None:
        live = self.session.live
        if live.connectly_business_id:
            then(live.connectly_business_id)
            return

        def chosen(value: str | None) -> None:
            if value:
                live.connectly_business_id = value
                then(value)

        self.push_screen(TextPrompt("Connectly business id (or set CONNECTLY_BUSINESS_ID)", "",
                                    lambda v: None if v else "give the business id"), chosen)

    def action_register_connectly(self) -> None:
        url = self._tunnel_url()
        if url is None:
            return
        live = self.session.live

        def with_key(business: str) -> None:
            if live.connectly_api_key:
                self.register_connectly(business, url)
                return

            def chosen(key: str | None) -> None:
                if key:
                    live.connectly_api_key = key  # memory only, never stored
                    self.register_connectly(business, url)

            self.push_screen(TextPrompt("Connectly API key (or set CONNECTLY_API_KEY); kept in "
                                        "memory only", "", lambda v: None if v else
                                        "give the API key", password=True), chosen)

        self._with_business_id(with_key)

    @work(group="register", exit_on_error=False)
    async def register_connectly(self, business: str, url: str) -> None:
        settings, live = self.session.settings, self.session.live
        try:
            address = connectly_api.address_for(url)
        except connectly_api.RegistrationError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        for topic in connectly_api.TOPICS:
            try:
                done = await connectly_api.register(
                    self.http, business_id=business, topic=topic, address=address,
                    api_key=live.connectly_api_key, api_base=settings.connectly_api_base)
            except connectly_api.RegistrationError as exc:
                self.notify(str(exc), title=f"Registering {topic} failed", severity="error",
                            markup=False, timeout=15)
                return
            self.notify(f"{address} → HTTP {done.status}", title=f"Registered {topic}",
                        markup=False)

    def action_copy_registration(self) -> None:
        url = self._tunnel_url()
        if url is None:
            return

        def copy(business: str) -> None:
            settings = self.session.settings
            address = connectly_api.address_for(url)
            commands = [connectly_api.registration_curl(
                business_id=business, topic=topic, address=address,
                api_base=settings.connectly_api_base) for topic in connectly_api.TOPICS]
            self.copy_to_clipboard("\n\n".join(commands) + "\n")
            self.notify("Two curl commands (messages, delivery_status); they read your key "
                        "from $CONNECTLY_API_KEY.", title="Copied to the clipboard",
                        markup=False)

        self._with_business_id(copy)

    # -- custom responses and samples (command palette) -----------------------------------------

    def _set_policy(self, policy: ResponsePolicy) -> None:
        try:
            self.session.set_policy(policy)
        except PolicyError as exc:
            self.notify(str(exc), title="Cannot change the answer", severity="error",
                        markup=False)
            return
        self.status_bar.policy = "" if policy.is_default else policy.describe()
        self.status_bar.redraw()
        self.notify(f"Deliveries are now answered: {policy.describe()}", markup=False)

    def _ask_policy(self, title: str, value: str, parse: Callable[[str], ResponsePolicy]) -> None:
        def check(text: str) -> str | None:
            try:
                parse(text)
            except (PolicyError, ValueError) as exc:
                return str(exc)
            return None

        def chosen(text: str | None) -> None:
            if text is not None:
                self._set_policy(parse(text))

        self.push_screen(TextPrompt(title, value, check, ok="Apply"), chosen)

    def action_response_status(self) -> None:
        policy = self.session.live.policy
        self._ask_policy("Answer deliveries with which status? (200-599)", str(policy.status),
                         lambda t: replace(policy, status=check_status(int(t))))

    def action_response_body(self) -> None:
        policy = self.session.live.policy
        self._ask_policy("Answer with which body? (text, or @file; empty for our JSON)", "",
                         lambda t: replace(policy, body=read_body(t) if t else None))

    def action_response_header(self) -> None:
        policy = self.session.live.policy
        self._ask_policy("Add which header to the answer? ('Name: value')", "",
                         lambda t: replace(policy,
                                           headers=(*policy.headers, answer_header(t))))

    def action_response_delay(self) -> None:
        policy = self.session.live.policy
        self._ask_policy("Answer after how many seconds?", f"{policy.delay:g}",
                         lambda t: replace(policy, delay=check_delay(float(t))))

    def action_toggle_reject_invalid(self) -> None:
        policy = self.session.live.policy
        self._set_policy(replace(policy, reject_invalid=not policy.reject_invalid))

    def action_toggle_mirror(self) -> None:
        policy = self.session.live.policy
        self._set_policy(replace(policy,
                                 respond_with_downstream=not policy.respond_with_downstream))

    def action_response_default(self) -> None:
        self._set_policy(DEFAULT_POLICY)

    @work(group="sample", exit_on_error=False)
    async def send_sample(self, kind: str) -> None:
        """Post a signed sample Connectly event to ourselves: a first-run demo."""
        if not self.session.url:
            self.notify("The receiver is not running.", severity="error")
            return
        secret = self.session.live.secrets.for_provider("connectly")
        sample = samples.build(kind, secret=secret)
        try:
            await self.http.post(self.session.url.rstrip("/") + sample.path,
                                 content=sample.body, headers=sample.headers)
        except httpx.HTTPError as exc:
            self.notify(f"could not send the sample: {exc}", severity="error", markup=False)
            return
        if not sample.signed:
            self.notify("Sent unsigned: set a secret (--secret or Set secret…) to sign samples.",
                        severity="warning")

    def action_delete(self) -> None:
        """Delete the selected event; `u` brings it back for UNDO_SECONDS (an undo rather
        than a question: deleting noise one event after another stays one key each)."""
        seq = self.event_list.selected
        if seq is None:
            return
        self._doomed[seq] = (time.monotonic() + UNDO_SECONDS, self._filter)
        self.event_list.remove({seq})
        self._total -= 1
        self._show_counts()
        self.notify(f"Press u within {UNDO_SECONDS:.0f} s to undo.", title="Event deleted",
                    timeout=UNDO_SECONDS)

    def action_undo_delete(self) -> None:
        """Bring back the event deleted last, as it was (nothing left the store yet)."""
        if not self._doomed:
            self.notify(f"Nothing to undo: deletes can be undone for {UNDO_SECONDS:.0f} s.",
                        severity="warning")
            return
        seq, (_, query) = self._doomed.popitem()  # the newest entry: the last delete
        self._total += 1
        if query == self._filter:
            self.event_list.restore(seq)
        else:  # the filter changed since: let it decide whether the event shows
            self.apply_filter(self._filter or Query())
        self._show_counts()
        self.notify("The event is back.", title="Undone")

    @work(group="delete", exit_on_error=False)
    async def purge(self, seqs: list[int]) -> None:
        """Delete events from the store once they are past undo."""
        try:
            await self.store.delete(seqs)
        except StoreError as exc:
            self.notify(str(exc), title="Delete failed", severity="error", markup=False)

    def action_clear(self) -> None:
        total = len(self.event_list.seqs)
        if not total:
            return

        async def confirmed(answer: str | None) -> None:
            if answer:
                await self.store.clear()
                self._doomed.clear()
                self.event_list.clear_marks()
                self.event_list.load(self.store.seqs())
                self._after_bulk_change()
                self.notify(f"Deleted {count(total, 'event')}.")

        self.push_screen(Confirm(f"Delete all {count(total, 'event')}? This cannot be undone.",
                                 "Delete all"), confirmed)

    def _after_bulk_change(self) -> None:
        self._total = self.store.count() - len(self._doomed)
        self._show_counts()

    async def action_quit(self) -> None:
        """Stop the receiver gracefully (in-flight requests finish), flush, free the port."""
        if self._stopping:
            return
        self._stopping = True
        try:
            if self._doomed:  # quitting ends the undo window: delete them for good
                doomed, self._doomed = list(self._doomed), {}
                with contextlib.suppress(StoreError):  # then they stay: the safe side
                    await self.store.delete(doomed)
            await self.session.stop()
            await self.http.aclose()
        finally:
            self.exit(0)

    # -- command palette ------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Replay selected event", "Send it again to your app (r)",
                            self.action_replay)
        yield SystemCommand("Toggle follow mode", "Select the newest event as it arrives (f)",
                            self.action_toggle_follow)
        yield SystemCommand("Delete selected event", "Remove it from the database (d; u "
                            f"undoes it for {UNDO_SECONDS:.0f} s)", self.action_delete)
        yield SystemCommand("Undo delete", "Bring back the event deleted last (u)",
                            self.action_undo_delete)
        yield SystemCommand("Clear all events", "Delete every event, after asking (D)",
                            self.action_clear)
        yield SystemCommand("Filter events…", "Search path, headers and body; method:POST "
                            "verdict:invalid kind:… since:10m (/)", self.action_filter)
        yield SystemCommand("Export events…", "The marked events, or the list as shown: "
                            "jsonl, HAR or curl (e)", self.action_export)
        yield SystemCommand("Compare two events", "Side-by-side diff of the two marked events "
                            "(=)", self.action_compare)
        yield SystemCommand("Copy as curl", "A byte-exact curl command for the selected event "
                            "(c)", self.action_copy_curl)
        yield SystemCommand("Register tunnel with Connectly", "Both topics, to the tunnel's "
                            "public URL", self.action_register_connectly)
        yield SystemCommand("Copy registration curl", "The same registration as curl commands",
                            self.action_copy_registration)
        yield SystemCommand("Edit and replay selected event", "Change method, URL, headers or "
                            "body, re-sign, then send (R)", self.action_edit_replay)
        yield SystemCommand("Re-sign and replay selected event", "A fresh signature and "
                            "timestamp, for an event that arrived valid (s)",
                            self.action_resign_replay)
        yield SystemCommand("Replay marked events", "In the order they arrived (r with marks)",
                            self.action_replay)
        yield SystemCommand("Replay all events in view", "Every event the list shows, oldest "
                            "first", self.action_replay_view)
        yield SystemCommand("Clear marks", "Unmark every event", self.event_list.clear_marks)
        yield SystemCommand("Respond with status…", "The status code deliveries get",
                            self.action_response_status)
        yield SystemCommand("Respond with body…", "Text or @file instead of our JSON",
                            self.action_response_body)
        yield SystemCommand("Add response header…", "A header added to every answer",
                            self.action_response_header)
        yield SystemCommand("Set response delay…", "Answer after N seconds",
                            self.action_response_delay)
        yield SystemCommand("Toggle reject invalid signatures", "Answer 401 to invalid "
                            "signatures, to watch the provider retry",
                            self.action_toggle_reject_invalid)
        yield SystemCommand("Toggle answer with your app's response", "Mirror what the "
                            "--forward-to app answered", self.action_toggle_mirror)
        yield SystemCommand("Reset the answer", 'Back to 200 {"ok": true, "id": …}',
                            self.action_response_default)
        for kind in samples.KINDS:
            yield SystemCommand(f"Send sample event: {kind}", "Post a signed sample Connectly "
                                "event to this inspector", lambda k=kind: self.send_sample(k))
        yield SystemCommand("Set secret…", "Set a provider's signing secret and re-verify "
                            "every event", self.action_set_secret)
        yield SystemCommand("Show keys", "The help screen (?)", self.action_help)
        for name in TABS:
            yield SystemCommand(f"Show {name} tab", f"Detail pane: {name}",
                                lambda name=name: self.action_tab(name))


def _target_problem(url: str) -> str | None:
    try:
        replay.check_target(url)
    except replay.ReplayError as exc:
        return str(exc)
    return None
