"""Bursts: 20,000 requests over 64 connections, from a load generator in its own process.

Every 2xx-acknowledged event is stored exactly once (checked by the ids in the acks), and
nothing is answered 5xx: once into the real TUI app, once into `inspector serve`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import running_app, wait_for
from tests.reliability.conftest import (
    acked_ids,
    finish_load,
    lines_of,
    port_of,
    serve,
    start_load,
    stored_ids,
    wait_until,
)

REQUESTS = 20_000
CONNECTIONS = 64

pytestmark = pytest.mark.slow


def assert_exactly_once(summary: dict[str, object], acks: list[str], stored: list[str]) -> None:
    assert summary["statuses"] == {"200": REQUESTS}, summary  # no 5xx, nothing refused
    assert summary["errors"] == {}, summary
    assert len(acks) == REQUESTS and len(set(acks)) == REQUESTS
    assert len(stored) == len(set(stored)) == REQUESTS  # nothing stored twice, or extra
    assert set(stored) == set(acks)  # every acknowledged event is there


async def test_20000_requests_over_64_connections_into_the_tui(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _pilot, base):
        proc, acks = start_load(tmp_path, port_of(base), REQUESTS, CONNECTIONS)
        # The app runs on this loop: wait for the load generator without blocking it.
        summary = await asyncio.to_thread(finish_load, proc)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == REQUESTS, timeout=30, what="every row")
        status = app.query_one(StatusBar)
        await wait_for(lambda: status.total == REQUESTS, what="the status bar count")
        assert events.selected == events.seqs[-1]  # follow mode kept up
        assert app.is_running
    assert_exactly_once(summary, acked_ids(acks), stored_ids(tmp_path / "events.db"))
    print(f"\nTUI burst: {summary}")


def test_20000_requests_over_64_connections_into_serve(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    with serve(tmp_path, db, "--http", "h11") as served:
        proc, acks = start_load(tmp_path, served.port, REQUESTS, CONNECTIONS)
        summary = finish_load(proc)
        # serve prints one line per committed event.
        wait_until(lambda: lines_of(served.out) >= REQUESTS, 30, "one line per event")
    assert served.proc.returncode == 0
    assert lines_of(served.out) == REQUESTS
    assert "Traceback" not in served.err.read_text()
    assert_exactly_once(summary, acked_ids(acks), stored_ids(db))
    print(f"\nserve burst: {summary}")
