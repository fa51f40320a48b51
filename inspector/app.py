"""The Textual app: a face on a Runtime. Receiver and UI share this one event loop."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import deque
from collections.abc import Iterable

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, TabbedContent
from textual.worker import get_current_worker

from inspector import replay, store
from inspector.model import Event, Row
from inspector.runtime import Runtime
from inspector.screens.help import HelpScreen
from inspector.screens.prompt import Confirm, URLPrompt
from inspector.screens.secret import SecretPrompt
from inspector.signatures import PROVIDERS, mask
from inspector.widgets.detail import Detail, DetailPane, build, status_text
from inspector.widgets.event_list import EventList
from inspector.widgets.status_bar import StatusBar

# Adaptive frame rate: redraw the list on the next frame when events trickle in, but at most
# FLOOD_FPS times a second during a flood, so the loop's time goes to the receiver.
CALM_INTERVAL = 1 / 30
FLOOD_INTERVAL = 0.22  # ~4.5 redraws a second: the floor the UI promises, with margin
FLOOD_RATE = 50.0  # events per second above which we count as flooded
# Above this rate follow mode stops reloading the detail pane (a reload costs a few frames);
# it catches up with the newest event once traffic slows down.
BUSY_RATE = 10.0

TABS = ["overview", "headers", "body", "raw", "signature", "replay"]


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


class InspectorApp(App[int]):
    CSS_PATH = "inspector.tcss"
    TITLE = "webhook-inspector"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit-ctrl"),
        Binding("r", "replay", "Replay", id="replay"),
        Binding("f", "toggle_follow", "Follow", id="follow"),
        Binding("d", "delete", "Delete", id="delete"),
        Binding("D", "clear", "Clear all", id="clear"),
        Binding("question_mark", "help", "Help", id="help"),
        *[
            Binding(str(i + 1), f"tab('{name}')", name.title(), show=False, id=f"tab-{name}")
            for i, name in enumerate(TABS)
        ],
    ]

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime
        self.store = runtime.store
        self._inbox: list[Event] = []
        self._posted = False
        self._rate = Rate()
        self._last_flush = 0.0
        self._flush_timer: Timer | None = None
        self._detail_timer: Timer | None = None
        self._detail_seq: int | None = None
        self._detail_stale = False
        self._stopping = False
        self._last_error = ("", 0.0)
        self.replay_target = runtime.settings.replay_to
        self.http = replay.new_client()

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.runtime.url, id="status")
        yield EventList(self.store.rows, follow=self.runtime.settings.follow, id="events")
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
        status.replay_to = self.replay_target
        status.follow = self.event_list.follow
        if not self.replay_target:
            self.replay_target = self.store.meta("replay_target")
        self.event_list.load(self.store.seqs())
        status.total = len(self.event_list.seqs)
        status.redraw()
        self.event_list.focus()
        self.runtime.on_commit(self._on_commit)
        self.set_interval(0.5, self._catch_up)
        self.runtime.errors.append(self._on_store_error)
        await self.runtime.start()
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
        self.event_list.append(events)
        status = self.status_bar
        status.total = len(self.event_list.seqs)
        status.rate = self._rate.per_second(self._last_flush)
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
        if rate != self.status_bar.rate:
            self.status_bar.rate = rate
            self.status_bar.redraw()
        if self._detail_stale and not self._busy():
            self._detail_stale = False
            self._load_selected()

    def on_event_list_marks_changed(self, message: EventList.MarksChanged) -> None:
        self.status_bar.marked = message.count
        self.status_bar.redraw()

    def on_event_list_follow_changed(self, message: EventList.FollowChanged) -> None:
        self.status_bar.follow = message.follow
        self.status_bar.redraw()

    def on_event_list_opened(self, message: EventList.Opened) -> None:
        self.query_one(TabbedContent).focus()

    def _load_selected(self) -> None:
        self._detail_timer = None
        self._detail_stale = False
        if self._detail_seq is not None:
            self.load_detail(self._detail_seq)

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, seq: int, tab: str | None = None) -> None:
        """Read and decode off the loop: a 10 MB body must not freeze the UI."""
        event = self.store.event(seq)
        if event is None:
            return
        check = self.runtime.analyzer.verify(event)
        secret = self.runtime.analyzer.secrets.for_provider(check.provider or "connectly")
        detail = build(event, check, self.store.attempts(seq), mask(secret))
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
        seq = self.event_list.selected
        if seq is None:
            self.notify("No event selected: nothing to replay.", severity="warning")
            return
        if self.runtime.settings.replay_to:
            self.replay(seq, self.runtime.settings.replay_to)
            return

        def chosen(url: str | None) -> None:
            if url:
                self.replay(seq, url)

        self.push_screen(
            URLPrompt("Replay to which URL? (a URL ending in / gets the event's path)",
                      self.replay_target or "http://localhost:3000/", check=_target_problem),
            chosen,
        )

    def action_set_secret(self) -> None:
        row = self.event_list.row(self.event_list.selected) if self.event_list.selected else None
        provider = (row.provider if row else "") or "connectly"
        secrets = self.runtime.analyzer.secrets
        choices = [(p.title, p.name) for p in PROVIDERS.values()]

        def chosen(result: tuple[str, str] | None) -> None:
            if result:
                name, secret = result
                secrets.by_provider[name] = secret
                self.notify(f"{PROVIDERS[name].title} secret set ({mask(secret)}); "
                            "re-verifying…", markup=False)
                self.reverify()

        self.push_screen(SecretPrompt(choices, provider, mask(secrets.for_provider(provider))),
                         chosen)

    @work(thread=True, exclusive=True, group="reverify")
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
                result = self.runtime.analyzer.verify(event)
                if (result.provider, result.verdict.value, result.reason) != (
                        event.provider, event.verdict, event.reason):
                    changes.append((seq, result.provider, result.verdict.value, result.reason))
            if changes:
                self.store.write_sync(store.update_verdicts, changes)
                changed_total += len(changes)
                rows = self.store.rows([c[0] for c in changes])
                self.call_from_thread(self._rows_changed, list(rows.values()))
        self.call_from_thread(self.notify, f"Re-verified: {changed_total:,} verdicts changed.")

    def _rows_changed(self, rows: list[Row]) -> None:
        for row in rows:
            self.event_list.update_row(row)
        if self._detail_seq is not None and any(r.seq == self._detail_seq for r in rows):
            self.load_detail(self._detail_seq)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "replay":
            self.action_replay()

    @work(group="replay")
    async def replay(self, seq: int, base: str) -> None:
        event = self.store.event(seq)
        if event is None:
            self.notify("That event was deleted.", severity="warning")
            return
        try:
            url = replay.target_url(base, event)
        except replay.ReplayError as exc:
            self.notify(str(exc), title="Cannot replay", severity="error", markup=False)
            return
        if base != self.replay_target:
            self.replay_target = base
            self.status_bar.replay_to = base
            self.status_bar.redraw()
            await self.store.write(store.set_meta, "replay_target", base)
        attempt = await replay.send(self.http, event, url)
        await self.store.write(store.insert_attempt, attempt)
        row = self.store.rows([seq]).get(seq)
        if row is not None:
            self.event_list.update_row(row)
        if self._detail_seq == seq:
            self.load_detail(seq, "replay")
        if attempt.error:
            self.notify(attempt.error, title="Replay failed", severity="error", markup=False)
        else:
            self.notify(f"{status_text(attempt.status)} in {attempt.elapsed_ms:.0f} ms",
                        title=f"Replayed to {url}", markup=False)

    async def action_delete(self) -> None:
        seq = self.event_list.selected
        if seq is None:
            return
        await self.store.write(store.delete_events, [seq])
        self.event_list.remove({seq})
        self._after_bulk_change()

    def action_clear(self) -> None:
        total = len(self.event_list.seqs)
        if not total:
            return

        async def confirmed(answer: str | None) -> None:
            if answer:
                await self.store.write(store.clear_events)
                self.event_list.clear_marks()
                self.event_list.load(self.store.seqs())
                self._after_bulk_change()
                self.notify(f"Deleted {total:,} events.")

        self.push_screen(Confirm(f"Delete all {total:,} events? This cannot be undone.",
                                 "Delete all"), confirmed)

    def _after_bulk_change(self) -> None:
        self.status_bar.total = len(self.event_list.seqs)
        self.status_bar.redraw()

    async def action_quit(self) -> None:
        """Stop the receiver gracefully (in-flight requests finish), flush, free the port."""
        if self._stopping:
            return
        self._stopping = True
        try:
            await self.runtime.stop()
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
        yield SystemCommand("Delete selected event", "Remove it from the database (d)",
                            self.action_delete)
        yield SystemCommand("Clear all events", "Delete every event, after asking (D)",
                            self.action_clear)
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
