"""The app as its features see it: the session, the core services a face drives, and the
widgets. The features (inspector.faces.tui.features) work on this; the App (app.py) adds
the layout, the bindings and the routing of messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.core.delivery import replay
from inspector.core.delivery.replayer import Replayer
from inspector.core.listing import Listing
from inspector.core.session import Session
from inspector.faces.tui.guard import GuardedApp
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.filter_bar import FilterBar
from inspector.faces.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    import httpx


class BaseApp(GuardedApp):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.store = session.store
        self.client: httpx.AsyncClient | None = None  # see `http`
        self.listing = Listing(self.store)
        self.replayer = Replayer(session, lambda: self.http, on_target=self._show_target)

    @property
    def http(self) -> httpx.AsyncClient:
        """The client of replays, samples and Connectly's API, made on first use: httpx
        is a good part of the start-up's imports, and many runs never replay."""
        if self.client is None:
            self.client = replay.new_client()
        return self.client

    @property
    def event_list(self) -> EventList:
        return self.query_one(EventList)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def detail_pane(self) -> DetailPane:
        return self.query_one(DetailPane)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    def show_counts(self) -> None:
        """The header's counts: every stored event, and how many the filter lets through."""
        self.status_bar.total = self.listing.total
        self.status_bar.shown = self.listing.shown(len(self.event_list.seqs))

    def _show_target(self, target: str) -> None:
        self.status_bar.replay_to = target
