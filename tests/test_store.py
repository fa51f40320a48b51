"""The SQLite store: group commit, persistence, schema versions, clear errors."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from inspector.core.model import Attempt, Event, new_id
from inspector.core.store import StoreError, open_store
from inspector.core.store.sqlite.schema import SCHEMA_VERSION


def event(n: int = 0, body: bytes = b"{}") -> Event:
    return Event(id=new_id(), received_at=1_700_000_000.0 + n, method="POST", path=f"/e/{n}",
                 query="", headers=[("content-type", "application/json")], body=body)


async def test_concurrent_adds_all_commit_in_order(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db")
    committed: list[int] = []
    store.listeners.append(lambda events: committed.extend(e.seq for e in events))
    events = [event(i) for i in range(500)]
    results = await asyncio.gather(*(store.add(e) for e in events))
    assert [e.seq for e in results] == sorted(e.seq for e in results)
    assert store.count() == 500
    assert committed == [e.seq for e in results]
    store.close()


async def test_events_and_attempts_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    first = open_store(path)
    stored = await first.add(event(1, b"\x00raw\xff"))
    await first.record_attempt(Attempt(
        event_seq=stored.seq, kind="replay", at=1.0, method="POST", url="http://x/",
        status=201, elapsed_ms=3.5, response_headers=[("a", "b")], response_body=b"ok"))
    await first.set_meta("replay_target", "http://x/")
    first.close()

    again = open_store(path)
    loaded = again.event(stored.seq)
    assert loaded is not None and loaded.body == b"\x00raw\xff" and loaded.id == stored.id
    attempts = again.attempts(stored.seq)
    assert [(a.status, a.response_body) for a in attempts] == [(201, b"ok")]
    row = again.rows([stored.seq])[stored.seq]
    assert row.result == 201
    assert again.meta("replay_target") == "http://x/"
    again.close()


async def test_delete_and_clear(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db")
    added = [await store.add(event(i)) for i in range(3)]
    assert await store.delete([added[1].seq]) == 1
    assert store.seqs() == [added[0].seq, added[2].seq]
    assert store.event(added[1].seq) is None
    assert await store.clear() == 2
    assert store.count() == 0
    store.close()


def test_memory_db_keeps_nothing() -> None:
    store = open_store(":memory:")
    stored = store.import_events_sync([(event(1), [])])
    assert store.count() == 1 and stored[0].seq
    path = Path(store.path)
    store.close()
    assert not path.exists()


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    open_store(tmp_path / "e.db").close()
    conn = sqlite3.connect(tmp_path / "e.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer webhook-inspector"):
        open_store(path)


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    path.write_bytes(b"this is not sqlite" * 500)
    with pytest.raises(StoreError, match="corrupt or not an inspector database"):
        open_store(path)


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"cannot open|check that its folder"):
        open_store(blocker / "sub" / "e.db")


async def test_failing_op_fails_alone(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db")
    good = event(1)
    dup = event(2)
    dup.id = good.id  # UNIQUE violation
    results = await asyncio.gather(store.add(good), store.add(dup), return_exceptions=True)
    assert isinstance(results[0], Event)
    assert isinstance(results[1], Exception)
    assert store.count() == 1
    store.close()


async def test_the_change_feed_costs_ingest_nothing_and_stays_bounded(tmp_path: Path) -> None:
    """Adds write no change record (followers find them by seq); each update is one record,
    and old records are trimmed so that the table keeps about `keep_changes` of them."""
    path = tmp_path / "e.db"
    store = open_store(path, keep_changes=10)
    added = await asyncio.gather(*(store.add(event(i)) for i in range(100)))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM changes").fetchone()[0] == 0
    for n in range(200):
        await store.record_attempt(Attempt(event_seq=added[n % 100].seq, kind="replay",
                                           at=1.0, method="POST", url="http://x/", status=200))
    store.close()
    count, first, last = conn.execute("SELECT count(*), min(id), max(id) FROM changes").fetchone()
    trimmed = conn.execute("SELECT value FROM meta WHERE key = 'changes_trimmed'").fetchone()
    conn.close()
    assert last == 200 and 10 <= count <= 11 and int(trimmed[0]) == first - 1
