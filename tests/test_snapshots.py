"""How the UI looks: pytest-textual-snapshot against a deterministic database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.widgets.detail import DetailPane
from tests.conftest import make_runtime, make_settings, wait_for
from tests.snapshot_data import build_db

SNAPSHOT_PORT = 48765  # fixed, so the header is the same on every run
SIZE = (150, 42)


@pytest.fixture
def snapshot_app(tmp_path: Path) -> Any:
    build_db(tmp_path / "events.db")
    runtime = make_runtime(make_settings(tmp_path, port=SNAPSHOT_PORT,
                                         replay_to="http://localhost:3000/"))
    yield InspectorApp(runtime)
    runtime.close()


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


def test_timeline_of_a_retried_reply(snap_compare: Any, tmp_path: Path) -> None:
    """A message's story (sent, delivered, read, a reply) and the reply's retries, with what
    each try was answered."""
    build_db(tmp_path / "events.db", story=True)
    runtime = make_runtime(make_settings(tmp_path, port=SNAPSHOT_PORT,
                                         replay_to="http://localhost:3000/"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        await pilot.press("7")
        await wait_for(lambda: len(pilot.app.query_one("#timeline").rows) == 6,
                       what="the story")
        await pilot.pause()

    try:
        assert snap_compare(InspectorApp(runtime), terminal_size=SIZE, run_before=run_before)
    finally:
        runtime.close()
