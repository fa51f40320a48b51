"""Rows already in a database that no live request could have made (an older import let
them in): opening, listing, showing and exporting them must never crash."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from inspector.core.model import Event, new_id
from inspector.core.store import open_store
from tests.conftest import connectly_event
from tests.reliability.conftest import ROOT, child_env, inspector_argv, tui


def test_a_bad_row_already_in_a_database_does_not_stop_the_tui(tmp_path: Path) -> None:
    """A row an older import let in: a time of 1e308 (the TUI died on every start)."""
    db = tmp_path / "events.db"
    store = open_store(db, index=False)
    fixture = connectly_event("text")
    events = [Event(id=new_id(), received_at=1_700_000_000.0 + i, method="POST",
                    path=fixture["path"], query="", headers=list(fixture["headers"].items()),
                    body=fixture["body"].encode(), kind="message") for i in range(3)]
    store.import_events_sync([(e, []) for e in events])
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET received_at = 1e308 WHERE seq = 2")
    conn.commit()
    conn.close()
    with tui(db) as (term, _port):
        term.wait_for("3 events")
        term.wait_for(r"\?\?:\?\?:\?\?")  # the time no clock can show
        term.press("k")  # select the bad row: the detail pane opens it
        term.wait_for(r"\?\?\?\?-\?\?-\?\? \?\?:\?\?:\?\?\.\?\?\?")
    for command in (["export", "--format", "har"], ["export", "--format", "curl"]):
        result = subprocess.run(inspector_argv(*command, "--db", str(db)), capture_output=True,
                                text=True, timeout=60, env=child_env(), cwd=ROOT)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert "????-??-??T??:??:??.???Z" in result.stdout

