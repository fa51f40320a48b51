"""The Textual app: a face on a Session. Receiver and UI share this one event loop.

The app composes the widgets, binds the keys of the actions table (actions.py) and routes
messages: the session's, through the sink, and the widgets'. What an action does lives in
features/; the list model, replays and re-verification are core services.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, TextArea
from textual.worker import Worker, WorkerState

from inspector.core.capture.server import exposure_warning
from inspector.core.session import Session
from inspector.faces.tui import actions, failures
from inspector.faces.tui.base import BaseApp
from inspector.faces.tui.features import connectly, delete, filtering, following, rules
from inspector.faces.tui.messages import (
    EventsArrived,
    HeldChanged,
    Notice,
    ReceiverChanged,
    StoreFailed,
    TunnelChanged,
)
from inspector.faces.tui.pacing import Pacer
from inspector.faces.tui.sink import TuiSink
from inspector.faces.tui.widgets.detail import DetailPane, prepare
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.filter_bar import FilterBar
from inspector.faces.tui.widgets.status_bar import StatusBar


class Events(EventList):
    """The event list, with the keys the actions table gives it."""

    BINDINGS = actions.bindings("list")


class InspectorApp(BaseApp):
    CSS_PATH = "inspector.tcss"
    TITLE = "webhook-inspector"
    BINDINGS = actions.bindings("app")

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.pacer = Pacer()
        self.sink = TuiSink(self, self.pacer)
        self._stopping = False

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.session.url, id="status")
        yield FilterBar(this=self._selected_id, id="filter")
        yield Events(self.store.rows, follow=self.session.settings.follow, id="events")
        yield DetailPane(lambda seq: prepare(self.store, self.session.analyzer, seq),
                         hint=self._first_event_hint(), id="detail")
        yield Footer()

    def _first_event_hint(self) -> str:
        """What an empty Overview says: where deliveries go (a viewer's come elsewhere)."""
        if self.session.view:
            return "Select an event to see it here."
        return (f"Send any request to {self.session.url} (any path, any method) and it is "
                "listed above; or ctrl+p → Send sample event posts a signed Connectly one.")

    async def on_mount(self) -> None:
        status, settings = self.status_bar, self.session.settings
        status.replay_to = settings.replay_to
        status.follow = self.event_list.follow
        if self.session.view:  # the receiver's own settings come with its state
            status.viewer = following.looking(self.session.shared, settings.receiver)
        else:
            status.forward_to = settings.forward_to
            status.policy = "" if settings.policy.is_default else settings.policy.describe()
            rules.show(self)
        self.event_list.load(self.listing.everything())
        self.show_counts()
        self.event_list.focus()
        said = list(self.session.notices)  # before the app listened: said here, first
        self.session.subscribe(self.sink)
        self.set_interval(0.5, self._catch_up)
        # The receiver starts once the first frame is on screen: its start (uvicorn's imports,
        # a full garbage collection) would delay it. The socket is bound already, so a
        # delivery arriving meanwhile waits in the backlog; it is never refused.
        self.call_after_refresh(self._start, said)

    async def _start(self, said: list[str]) -> None:
        gc.enable()  # off since the command started (cli/start.py); the session collects now
        if self._stopping:
            return
        settings = self.session.settings
        await self.session.start()
        for notice in said:
            self._say(notice)
        warning = None if self.session.view else exposure_warning(settings.host)
        if warning:
            self.notify(warning.removeprefix("warning: "), title="Reachable from other machines",
                        severity="warning", timeout=20, markup=False)
        try:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, lambda: self.call_later(self.shut_down))
        except (NotImplementedError, RuntimeError):  # not on the main thread (tests)
            pass

    # -- what the session reports (through the sink) -------------------------------------------

    def on_events_arrived(self, _: EventsArrived) -> None:
        # The sink posts no other until this frame takes what arrived (sink.take).
        delay = self.pacer.delay(time.monotonic())
        if delay <= 0:
            self._draw_frame()
        else:
            self.set_timer(delay, self._draw_frame)

    def _draw_frame(self) -> None:
        now = time.monotonic()
        events, updated = self.sink.take()
        following.apply_feed(self, self.sink.take_feed())
        self.event_list.append(self.listing.arrived(events))
        self.detail_pane.arrived(events, busy=self.pacer.busy(now))
        if updated:
            self.detail_pane.changed(self.event_list.reread(updated), busy=self.pacer.busy(now))
        # The header repaints after the list, in a paint of its own: the loop the receiver
        # shares stalls twice briefly rather than once for both.
        self.call_after_refresh(self._show_status, self.pacer.drawn(now))

    def _show_status(self, rate: float) -> None:
        self.show_counts()
        self.status_bar.rate = rate

    def on_store_failed(self, message: StoreFailed) -> None:
        self.status_bar.error = message.message or ""
        if message.message is None:
            self.detail_pane.recovered()
            self.notify("Events are being stored again.", title="Storage recovered", timeout=5)
        else:
            self.notify(message.message, title="Events are not being stored", severity="error",
                        timeout=10, markup=False)

    def on_tunnel_changed(self, message: TunnelChanged) -> None:
        connectly.tunnel_changed(self, message.state)

    def on_receiver_changed(self, message: ReceiverChanged) -> None:
        following.receiver_changed(self, message.state)

    def on_notice(self, message: Notice) -> None:
        self._say(message.text)

    def on_held_changed(self, _: HeldChanged) -> None:
        self.sink.held_shown()
        waiting = self.session.holds.waiting
        self.status_bar.held = len(waiting)
        self.event_list.set_held({held.event.seq for held in waiting})
        from inspector.faces.tui.screens.held import HeldScreen  # loaded on use, as it opens

        if isinstance(self.screen, HeldScreen):
            self.screen.show()

    def _say(self, notice: str) -> None:
        self.notify(notice, timeout=20, markup=False)

    def _catch_up(self) -> None:
        """Twice a second: let the rate fall back to zero, catch the detail pane up, and
        forget the deletes past undo."""
        now = time.monotonic()
        forwarder = self.session.forwarder
        self.status_bar.rate = self.pacer.rate.per_second(now)
        self.status_bar.forward_waiting = forwarder.waiting if forwarder is not None else 0
        if not self.pacer.busy(now):
            self.detail_pane.catch_up()
        delete.expire(self)

    def on_worker_state_changed(self, message: Worker.StateChanged) -> None:
        if message.state is WorkerState.ERROR:
            title, reason = failures.describe(message.worker)
            self.notify(reason, title=title, severity="error", markup=False, timeout=10)

    # -- what the widgets report --------------------------------------------------------------

    def on_event_list_selected(self, message: EventList.Selected) -> None:
        self.detail_pane.select(message.seq, by_user=message.by_user,
                                busy=self.pacer.busy(time.monotonic()))

    def on_event_list_marks_changed(self, message: EventList.MarksChanged) -> None:
        self.status_bar.marked = message.count

    def on_event_list_follow_changed(self, message: EventList.FollowChanged) -> None:
        self.status_bar.follow = message.follow

    def on_event_list_opened(self, _: EventList.Opened) -> None:
        self.detail_pane.focus_content()

    def on_detail_pane_jump(self, message: DetailPane.Jump) -> None:
        filtering.jump(self, message.seq)

    def _selected_id(self) -> str | None:
        """The id of the selected event (what related:this means)."""
        seq = self.event_list.selected
        row = self.event_list.row(seq) if seq is not None else None
        return row.id if row is not None else None

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        filtering.apply_filter(self, message.query)

    def on_filter_bar_accepted(self, _: FilterBar.Accepted) -> None:
        self.event_list.focus()

    def on_filter_bar_closed(self, _: FilterBar.Closed) -> None:
        filtering.close_bar(self)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "replay":
            self.action_run("replay")

    # -- actions (see actions.py) ---------------------------------------------------------------

    def action_run(self, action_id: str) -> object:
        """Any action of the table by its id: the keys the app binds, and the Replay button."""
        run = actions.BY_ID[action_id].run
        return self.event_list.run_action(run) if isinstance(run, str) else run(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `/` is a priority key, so that what is typed right after it reaches the filter
        # (a plain key sent it to the list first: `/e…` ran Export); in a text box it is
        # only a slash (and over a dialog, filtering.open_bar does nothing).
        if action == "run" and parameters == ("filter",):
            return not isinstance(self.focused, (Input, TextArea))
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from actions.commands(self)

    async def action_quit(self) -> None:
        """The quit key: asks first when answer rules would be lost (rules.confirm_quit)."""
        if self._stopping or rules.confirm_quit(self):
            await self.shut_down()

    async def shut_down(self) -> None:
        """Stop the receiver gracefully (in-flight requests finish), flush, free the port."""
        if self._stopping:
            return
        self._stopping = True
        try:
            await self.session.stop()
            if self.client is not None:
                await self.client.aclose()
        finally:
            self.exit(0)
