"""How the UI looks: pytest-textual-snapshot against a deterministic database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from inspector.core.capture.server import bind
from inspector.core.config import load_file
from inspector.core.session import Session
from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.screens.held import HeldScreen
from inspector.faces.tui.screens.rules import RulesScreen
from inspector.faces.tui.widgets.detail import DetailPane
from tests.conftest import make_settings, wait_for
from tests.snapshot_data import RULES, START, build_db

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
        await wait_for(lambda: (detail := pilot.app.query_one(DetailPane).detail) is not None
                       and detail.event.kind == "delivery_status", what="moved detail")
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=run_before)


def test_signature_of_tampered_event(snap_compare: Any, snapshot_app: InspectorApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        await pilot.press("k", "k", "k")  # text-tampered
        await wait_for(lambda: (detail := pilot.app.query_one(DetailPane).detail) is not None
                       and "TEST 12" in detail.event.summary, what="tampered detail")
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


def listening(app: InspectorApp) -> str:
    """Where the app really listens (ShownAt draws another address)."""
    assert app.session.sock is not None
    return f"http://127.0.0.1:{app.session.sock.getsockname()[1]}"


@pytest.fixture
def rules_app(tmp_path: Path) -> Any:
    build_db(tmp_path / "events.db")
    config = tmp_path / "inspector.toml"
    config.write_text(RULES)
    settings = make_settings(tmp_path, replay_to="http://localhost:3000/",
                             rules=load_file(config)[1])
    session = ShownAt(settings, bind(settings.host, settings.port))
    yield InspectorApp(session)
    session.close()


async def post_raw(app: InspectorApp, path: str, body: bytes) -> asyncio.StreamWriter:
    """A request whose answer nobody waits for (it may be held)."""
    assert app.session.sock is not None
    _, writer = await asyncio.open_connection("127.0.0.1", app.session.sock.getsockname()[1])
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    return writer


def test_rules_screen(snap_compare: Any, rules_app: InspectorApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        read = b'{"statusUpdate": {"id": "m1", "status": "read"}}'
        async with httpx.AsyncClient(base_url=listening(rules_app)) as client:
            for body in (read, read, b'{"amount": 500}', b'{"amount": "lots"}'):
                await client.post("/webhooks/connectly", content=body)
        await pilot.press("a")
        rules: RulesScreen = await wait_for(
            lambda: isinstance(pilot.app.screen, RulesScreen) and pilot.app.screen, what="rules")
        await pilot.press("down")  # the rule that failed to evaluate once
        rules.show()
        await pilot.pause()

    assert snap_compare(rules_app, terminal_size=SIZE, run_before=run_before)


def test_held_requests(snap_compare: Any, rules_app: InspectorApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        session = rules_app.session
        session.set_breakpoint(True)
        await post_raw(rules_app, "/held/order", b'{"order": 7}')
        await wait_for(lambda: len(session.holds) == 1, what="the first held")
        await post_raw(rules_app, "/webhooks/connectly",
                       b'{"statusUpdate": {"id": "m9", "status": "delivered"}}')
        await wait_for(lambda: len(session.holds) == 2, what="both held")
        for n, held in enumerate(session.holds.waiting):  # fixed times: the same picture
            held.since, held.at = 1000.0 - 4 + n, START + 60 + n
        await pilot.press("h")
        held_view: HeldScreen = await wait_for(
            lambda: isinstance(pilot.app.screen, HeldScreen) and pilot.app.screen,
            what="held view")
        held_view.clock = lambda: 1000.0
        held_view.show()
        await pilot.pause()

    assert snap_compare(rules_app, terminal_size=SIZE, run_before=run_before)


def test_timeline_of_a_retried_reply(snap_compare: Any, tmp_path: Path) -> None:
    """A message's story (sent, delivered, read, a reply) and the reply's retries, with what
    each try was answered."""
    build_db(tmp_path / "events.db", story=True)
    settings = make_settings(tmp_path, replay_to="http://localhost:3000/")
    runtime = ShownAt(settings, bind(settings.host, settings.port))

    async def run_before(pilot: Pilot[Any]) -> None:
        await detail_loaded(pilot)
        await pilot.press("7")
        await wait_for(lambda: len(pilot.app.query_one("#timeline", DataTable).rows) == 6,
                       what="the story")
        await pilot.pause()

    try:
        assert snap_compare(InspectorApp(runtime), terminal_size=SIZE, run_before=run_before)
    finally:
        runtime.close()
