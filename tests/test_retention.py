"""Retention (--keep, --keep-days) and the seqs a store lists without reading its events.

The store's `prune` deletes the oldest events in short batches and records them in the change
feed; the session runs it in the background; the TUI's list and a viewer drop what went.
Everything here goes through the real store, session and app, over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inspector.core.listing import Whole, whole
from inspector.core.model import Event, id_of, new_id
from inspector.core.retention import DAY
from inspector.core.session import Session
from inspector.core.settings import OptionError, Settings
from inspector.core.store import EventStore, open_store
from inspector.core.store.sqlite import schema
from tests.conftest import connectly_event, make_runtime, make_settings, running_app, wait_for
from tests.test_viewer_session import Followed


def event(at: float, name: str = "e", ident: str | None = None) -> Event:
    return Event(id=ident or new_id(at), received_at=at, method="POST", path=f"/{name}",
                 query="", headers=[("content-type", "application/json")], body=b"{}")


def scanned(path: Path) -> list[int]:
    """The stored seqs, read the slow way: the whole events table."""
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
    finally:
        conn.close()


# -- the seqs, from the ends and the gaps ------------------------------------------------------

OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(1, 6)),
    st.tuples(st.just("delete"), st.lists(st.integers(0, 30), max_size=5)),
    st.tuples(st.just("prune"), st.integers(0, 8)),
    st.tuples(st.just("clear"), st.just(0)),
    st.tuples(st.just("undo"), st.just(0)),
), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
# An undo below the oldest event, with a seq pruned in between that stays gone.
@example([("add", 5), ("delete", [0]), ("prune", 3), ("undo", 0)])
def test_seqs_and_count_match_a_scan_of_the_events_after_any_deletes(ops: list[tuple[str, Any]]
                                                                      ) -> None:
    async def run(path: Path) -> None:
        store = open_store(path, index=False)
        deleted: list[list[Whole]] = []
        try:
            for op, arg in ops:
                stored = scanned(path)
                if op == "add":
                    await store.import_events([(event(1e9), ()) for _ in range(arg)])
                elif op == "delete":
                    picked = sorted({stored[i % len(stored)] for i in arg}) if stored else []
                    deleted.append(whole(store, picked))
                    await store.delete(picked or [10**6])
                elif op == "undo":  # an undo puts a delete back, maybe below the oldest
                    if deleted:
                        await store.restore(deleted.pop())
                elif op == "prune":
                    await store.prune(keep=arg)
                else:
                    await store.clear()
                assert store.seqs() == scanned(path)
                assert store.count() == len(scanned(path))
            # Seqs are never reused: a new event comes after every one ever stored.
            (added,) = await store.import_events([(event(1e9), ())])
            assert store.seqs()[-1] == added.seq and store.seqs() == scanned(path)
        finally:
            store.close()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder) / "e.db"))


def test_a_version_7_database_learns_its_gaps_once(tmp_path: Path) -> None:
    path = tmp_path / "v7.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in range(7):
        schema.MIGRATIONS[step](conn)
    conn.execute("PRAGMA user_version = 7")
    for seq in (3, 4, 7, 8, 9, 12):
        conn.execute("INSERT INTO events (seq, id, received_at, method, path, headers, "
                     "body_size, status) VALUES (?, ?, 1e9, 'POST', '/', '[]', 0, 200)",
                     (seq, new_id()))
    conn.execute("INSERT INTO meta (key, value) VALUES ('top_seq', '14')")  # 13, 14 deleted
    conn.close()
    store = open_store(path, index=False)
    try:
        assert store.seqs() == [3, 4, 7, 8, 9, 12] and store.count() == 6
        (added,) = store.import_events_sync([(event(1e9), ())])
        assert added.seq == 15 and store.seqs() == [3, 4, 7, 8, 9, 12, 15] == scanned(path)
    finally:
        store.close()


# -- prune ------------------------------------------------------------------------------------


def test_prune_keeps_the_newest_n_in_batches_and_the_feed_says_so(location: str) -> None:
    store = open_store(location, index=False)
    try:
        added = store.import_events_sync([(event(1e9 + i), ()) for i in range(25)])
        start = store.cursor()
        assert store.prune_sync(keep=10, limit=4) == 4  # one batch at most
        assert store.seqs() == [e.seq for e in added[4:]]
        while store.prune_sync(keep=10, limit=4):
            pass
        assert store.seqs() == [e.seq for e in added[15:]]
        assert store.prune_sync(keep=10) == 0  # the bound holds: nothing more goes
        changes = store.changes_since(start)
        assert changes.deleted_upto == added[14].seq and changes.deleted == []
        assert not changes.reload and not changes.cleared
    finally:
        store.close()


def test_prune_by_age_never_deletes_an_event_received_after_the_cutoff(location: str) -> None:
    now = 2_000_000_000.0
    cutoff = now - 3 * DAY
    store = open_store(location, index=False)
    try:
        old = [event(cutoff - 100 + i, "old") for i in range(3)]
        just = event(cutoff, "at-the-cutoff")  # not older than the cutoff: it stays
        young = [event(cutoff + 1 + i, "young") for i in range(3)]
        # An id that claims an old time does not make a young event go...
        lying_young = event(now, "lying-young", ident=id_of(int((cutoff - DAY) * 1000),
                                                             bytes(10)))
        # ...and an old event stored after younger ones (an import) still goes.
        late_import = event(cutoff - DAY, "late-import")
        stored = store.import_events_sync([(e, ()) for e in (*old, just, *young, lying_young)])
        start = store.cursor()
        (imported,) = store.import_events_sync([(late_import, ())])
        assert store.prune_sync(older_than=cutoff) == 4
        kept = {e.path for e in store.iter_events(store.seqs())}
        assert kept == {"/at-the-cutoff", "/young", "/lying-young"}
        # The feed: everything below the oldest kept event, and the import above it.
        changes = store.changes_since(start)
        assert changes.deleted_upto == stored[2].seq
        assert imported.seq not in changes.deleted  # the follower never knew of it
        assert changes.inserted == []
    finally:
        store.close()


def test_keep_and_keep_days_are_checked() -> None:
    assert Settings.build(environ={}, db=":memory:", keep=5, keep_days=1.5).keep == 5
    with pytest.raises(OptionError) as failed:
        Settings.build(environ={}, db=":memory:", keep=0)
    assert failed.value.option == "--keep"
    with pytest.raises(OptionError) as failed:
        Settings.build(environ={}, db=":memory:", keep_days=-1)
    assert failed.value.option == "--keep-days"


# -- the session and its faces ----------------------------------------------------------------


async def deliver(url: str, count: int, client: httpx.AsyncClient) -> list[str]:
    """POST `count` signed Connectly deliveries; the ids acknowledged (each a 200)."""
    case = connectly_event("text")
    ids = []
    for _ in range(count):
        answer = await client.post(url.rstrip("/") + case["path"], content=case["body"].encode(),
                                   headers=case["headers"])
        assert answer.status_code == 200
        ids.append(answer.json()["id"])
    return ids


def newest_ids(store: EventStore, count: int) -> list[str]:
    return [e.id for e in store.iter_events(store.seqs()[-count:])]


async def test_the_tui_list_keeps_the_newest_n_while_events_arrive(tmp_path: Path) -> None:
    async with running_app(tmp_path, keep=5) as (app, pilot, base), \
            httpx.AsyncClient() as client:
        store, events = app.session.store, app.event_list
        acked = await deliver(base, 4, client)
        await wait_for(lambda: len(events.seqs) == 4, what="four events listed")
        await pilot.press("home")  # select the oldest event: it goes, the selection moves on
        assert not events.follow and events.selected == events.seqs[0]
        acked += await deliver(base, 8, client)
        await wait_for(lambda: store.count() == 5, what="the store pruned to 5")
        # Exactly the newest five acknowledged events are kept: nothing young went.
        assert newest_ids(store, 5) == acked[-5:]
        await wait_for(lambda: list(events.seqs) == store.seqs(), what="the list follows")
        await wait_for(lambda: app.status_bar.total == 5, what="the count follows")
        assert events.selected == store.seqs()[0]
        # The bound holds as more arrive.
        acked += await deliver(base, 3, client)
        await wait_for(lambda: store.count() == 5 and list(events.seqs) == store.seqs(),
                       what="pruned again")
        assert newest_ids(store, 5) == acked[-5:]


async def test_a_viewer_drops_what_the_receiver_pruned_by_age(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, keep_days=1.0)
    receiver = make_runtime(settings)
    now = time.time()
    old = [event(now - 2 * DAY + i, "old") for i in range(3)]
    receiver.store.import_events_sync([(e, ()) for e in old])
    viewer = Session(settings, None, view=True)  # it has seen the old events (its cursor)
    heard = Followed()
    viewer.subscribe(heard)
    await viewer.start()
    await receiver.start()
    try:
        async with httpx.AsyncClient() as client:
            acked = await deliver(receiver.url, 3, client)
        await wait_for(lambda: receiver.store.count() == 3, what="the old events pruned")
        assert newest_ids(receiver.store, 3) == acked
        upto = receiver.store.seqs()[0] - 1
        await wait_for(lambda: any(c.deleted_upto >= upto for c in heard.changes),
                       what="the viewer heard of the deletion")
    finally:
        await receiver.stop()
        await viewer.stop()


async def test_a_database_in_memory_is_pruned_and_its_faces_told(tmp_path: Path) -> None:
    runtime = make_runtime(make_settings(tmp_path, db=":memory:", keep=3))
    heard = Followed()
    runtime.subscribe(heard)
    await runtime.start()
    try:
        async with httpx.AsyncClient() as client:
            acked = await deliver(runtime.url, 6, client)
        # A database in memory: the faces still hear of what retention deleted.
        await wait_for(lambda: runtime.store.count() == 3, what="pruned")
        assert newest_ids(runtime.store, 3) == acked[-3:]
        oldest = runtime.store.seqs()[0]
        await wait_for(lambda: any(c.deleted_upto == oldest - 1 for c in heard.changes),
                       what="the faces told")
    finally:
        await runtime.stop()
    unbounded = make_runtime(make_settings(tmp_path))
    assert unbounded.retention is None


def test_the_search_index_starts_again_once_pruned_entries_outnumber_the_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inspector.core.store.sqlite.writes.STALE_FLOOR", 5)
    store = open_store(tmp_path / "e.db", index=False)
    try:
        store.import_events_sync([(event(1e9 + i), ()) for i in range(20)])
        store.prune_sync(keep=10)  # 10 stale entries, 10 kept: not yet
        assert store.meta("search_reset", "0") == "0"
        store.prune_sync(keep=9)  # 11 stale > 9 kept: the indexer starts again
        assert store.meta("search_reset", "0") == "1"
        assert store.meta("search_stale") == "0"
    finally:
        store.close()
