"""Durability: `kill -9` during a load loses no acknowledged event.

`inspector serve`, and the TUI on a pseudo-terminal, each take a load from a separate
process; once thousands of deliveries have been acknowledged the process is killed with
SIGKILL. After a restart on the same database, every id returned in a 2xx is there.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import (
    acked_ids,
    finish_load,
    lines_of,
    serve,
    start_load,
    stored_ids,
    tui,
    wait_until,
)

KILL_AFTER = 3000  # acknowledged deliveries before the kill
pytestmark = pytest.mark.slow


def assert_nothing_acknowledged_was_lost(acks: list[str], stored: list[str]) -> None:
    assert len(acks) >= KILL_AFTER and len(set(acks)) == len(acks)
    missing = set(acks) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost"
    # The few extra ones were committed while their answer was in flight.
    assert len(stored) == len(set(stored)) >= len(acks)


def test_kill_9_serve_during_a_load(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    with serve(tmp_path, db) as served:
        load, acks = start_load(tmp_path, served.port, 200_000, 32, "--stop-on-error")
        wait_until(lambda: lines_of(acks) >= KILL_AFTER, 60, f"{KILL_AFTER} acks")
        os.kill(served.proc.pid, signal.SIGKILL)
        assert served.proc.wait(timeout=10) == -signal.SIGKILL
        summary = finish_load(load)
    assert summary["statuses"].keys() == {"200"}, summary  # killed: errors, never a 5xx
    acknowledged = acked_ids(acks)
    # Restart on the same database: it opens, recovers, and keeps receiving.
    with serve(tmp_path, db, name="restart") as again:
        assert httpx.post(again.base + "/after-restart", content=b"{}").status_code == 200
    stored = stored_ids(db)
    assert_nothing_acknowledged_was_lost(acknowledged, stored)
    print(f"\nkill -9 serve: {len(acknowledged):,} acknowledged, {len(stored) - 1:,} stored "
          f"before the restart, 0 lost; load {summary}")


def test_kill_9_tui_during_a_load(tmp_path: Path) -> None:
    db = tmp_path / "tui.db"
    with tui(db) as (term, port):
        load, acks = start_load(tmp_path, port, 200_000, 32, "--stop-on-error")
        wait_until(lambda: lines_of(acks) >= KILL_AFTER, 60, f"{KILL_AFTER} acks")
        os.kill(term.proc.pid, signal.SIGKILL)
        assert term.proc.wait(timeout=10) == -signal.SIGKILL
        summary = finish_load(load)
    assert summary["statuses"].keys() == {"200"}, summary
    acknowledged = acked_ids(acks)
    stored = stored_ids(db)
    assert_nothing_acknowledged_was_lost(acknowledged, stored)
    # Restart the TUI on the same database: it lists every stored event, and quits cleanly.
    with tui(db) as (term, _port):
        term.wait_for(rf"{len(stored):,} events")
        term.press("q")
        assert term.proc.wait(timeout=20) == 0
    print(f"\nkill -9 TUI: {len(acknowledged):,} acknowledged, {len(stored):,} stored, "
          f"0 lost; load {summary}")
