"""How the UI looks: pytest-textual-snapshot against a deterministic database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from inspector.core.capture.server import bind
from inspector.core.session import Session
from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.widgets.detail import DetailPane
from tests.conftest import make_settings, wait_for
from tests.snapshot_data import build_db

SIZE = (150, 42)


class ShownAt(Session):
    """The real session, listening on port 0 (so runs at the same time never collide), that
    gives the address the snapshots were drawn with wherever the app shows its own URL."""

    @property
    def url(self) -> str:
        return "http://127.0.0.1:48765/"


@pytest.fixture
def snapshot_app(tmp_path: Path) -> Any:
    build_db(tmp_path / "events.db")
    settings = make_settings(tmp_path, replay_to="http://localhost:3000/")
    session = ShownAt(settings, bind(settings.host, settings.port))
    yield InspectorApp(session)
    session.close()


async def detail_loaded(pilot: Pilot[Any]) -> None:
    pane = pilot.app.query_one(DetailPane)
    await wait_for(lambda: pane.detail is not None, what="detail")
    await pilot.pause()


def test_list_with_detail(snap_compare: Any, snapshot_app: InspectorApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        await pilot.press("k", "k", "k", "k")  # the delivery_failed event
        await wait_for(lambda: pilot.app.query_one(DetailPane).detail.event.kind
                       == "delivery_status", what="moved detail")
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_signature_of_tampered_event(snap_compare: Any, snapshot_app: InspectorApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        await pilot.press("k", "k", "k")  # text-tampered
        await wait_for(lambda: "TEST 12" in pilot.app.query_one(DetailPane).detail.event.summary,
                       what="tampered detail")
        await pilot.press("5")
        await pilot.pause()

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_replay_result(snap_compare: Any, snapshot_app: InspectorApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        await pilot.press("6")
        await pilot.pause()

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any, snapshot_app: InspectorApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)
