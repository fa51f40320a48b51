"""PostgreSQL as a team's shared store (issue 18), against a real throwaway cluster.

The behaviour every backend shares runs in test_event_store.py; here is what PostgreSQL
adds: one clear line for each way of not reaching it, NUL in text, several writers whose
commits land out of seq order, and the change feed that still reports every event once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from inspector.core.model import Event, new_id
from inspector.core.settings import DB_ENV, Settings, database
from inspector.core.store import EventStore, StoreError, open_store
from inspector.core.store.base import Cursor
from inspector.core.store.postgres import connect as pg
from inspector.core.store.postgres import search as text_index
from inspector.core.store.postgres.schema import SCHEMA_VERSION
from inspector.core.store.postgres.writes import SEQS
from tests.conftest import wait_for
from tests.postgres import PEERED, SECURED, SECURED_PASSWORD, Cluster
from tests.reliability.conftest import ROOT, child_env


def event(n: int, body: bytes = b'{"n": 1}', **fields: Any) -> Event:
    return Event(id=new_id(), received_at=1_700_000_000.0 + n, method="POST", path=f"/e/{n}",
                 query="", headers=[("content-type", "application/json")], body=body, **fields)


@pytest.fixture
def stores(pg_url: str) -> Iterator[list[EventStore]]:
    opened: list[EventStore] = []
    yield opened
    for store in opened:
        store.close()


def opened(stores: list[EventStore], url: str, **options: Any) -> EventStore:
    store = open_store(url, **options)
    stores.append(store)
    return store


# -- reaching it -----------------------------------------------------------------------------------


def test_a_missing_database_a_wrong_password_and_a_bad_url_are_one_line_each(
        pg_cluster: Cluster, pg_url: str) -> None:
    cases = {
        pg_cluster.url("no_such_db"): "the database 'no_such_db' does not exist",
        pg_cluster.url(user=SECURED, password="wrong"): "wrong user or password",
        pg_cluster.url(user="nobody_here"): "the user 'nobody_here' does not exist",
        pg_cluster.url(user=PEERED): "connect over TCP with a password",
        "postgresql://nobody@/x?host=/nonexistent/dir": "database unreachable",
        "postgresql://u@/db?host=/nonexistent&sslmode=bogus": "not a PostgreSQL URL",
        "postgresql://u@/db?host=/nonexistent&bogus=1": "not a PostgreSQL URL",
    }
    for url, expected in cases.items():
        with pytest.raises(StoreError) as caught:
            open_store(url)
        message = str(caught.value)
        assert expected in message and "\n" not in message, message
        assert "wrong" not in message.replace("wrong user", ""), message  # no password
    name = urlsplit(pg_url).path.lstrip("/")
    right = open_store(pg_cluster.url(name, user=SECURED, password=SECURED_PASSWORD))
    assert SECURED_PASSWORD not in right.path and "***" in right.path
    right.close()


def test_the_cli_says_so_in_one_line_and_names_the_extra_when_psycopg_is_missing(
        pg_cluster: Cluster, pg_url: str) -> None:
    missing = pg_cluster.url("absent")
    done = subprocess.run([sys.executable, "-m", "inspector", "serve", "--port", "0",
                           "--db", missing], capture_output=True, text=True, timeout=60,
                          env=child_env(), cwd=ROOT)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: {pg.display(missing)}: the database 'absent' does not exist: create it "
        "(createdb absent) or use --db with another one"], done.stderr
    # Without the extra: psycopg made unimportable in the child.
    script = ("import sys; sys.modules['psycopg'] = None; "
              "from inspector.faces.cli.main import main; sys.argv[0] = 'inspector'; main()")
    done = subprocess.run([sys.executable, "-c", script, "events", "list"], capture_output=True,
                          text=True, timeout=60, env=child_env(**{DB_ENV: pg_url}), cwd=ROOT)
    assert done.returncode == 3, done.stderr
    assert "pip install 'webhook-inspector[postgres]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_database_comes_from_db_or_the_environment() -> None:
    url = "postgresql://team@db.internal/inspector"
    assert database(None, {DB_ENV: url}) == url
    assert database("other.db", {DB_ENV: url}) == "other.db"
    assert Settings.build(environ={DB_ENV: url}).db == url


async def test_the_schema_is_created_once_and_versioned(pg_url: str,
                                                        stores: list[EventStore]) -> None:
    first, second = opened(stores, pg_url), opened(stores, pg_url)  # the second migrates nothing
    stored = await first.add(event(1))
    assert second.event(stored.seq) == stored
    assert first.meta("schema_version") == str(SCHEMA_VERSION)
    reader = opened(stores, pg_url, read_only=True)
    assert reader.count() == 1
    with pytest.raises(StoreError, match="read-only"):
        reader.add(event(2))


# -- what PostgreSQL's text refuses ----------------------------------------------------------------


async def test_a_nul_in_any_text_field_is_stored_and_the_body_stays_exact(
        pg_url: str, stores: list[EventStore]) -> None:
    store = opened(stores, pg_url)
    body = b'{"text": "a\\u0000b", "raw": "\x00\xff"}'
    sent = event(1, body, summary="+1 → \"a\x00b\"", reason="nul\x00here", kind="mes\x00sage",
                 notes=["n\x00ote"])
    sent.headers.append(("x-nul", "v\x00alue"))
    stored = await store.add(sent)
    back = store.event(stored.seq)
    assert back is not None
    assert back.body == body  # raw bytes exact
    assert back.headers[-1] == ("x-nul", "v\x00alue")  # JSON text keeps it escaped
    assert back.notes == ["n\x00ote"]
    assert back.summary == "+1 → \"a\ufffdb\"" and back.reason == "nul\ufffdhere"
    assert store.search("a\\u0000b") == [stored.seq]  # found in the body as sent
    assert store.search("kind:mes\x00sage") == [stored.seq]


# -- several writers -------------------------------------------------------------------------------


async def test_two_writers_never_collide_and_a_follower_sees_every_event_once(
        pg_url: str, stores: list[EventStore]) -> None:
    one, two, viewer = (opened(stores, pg_url) for _ in range(3))
    cursor = viewer.cursor()
    heard: list[int] = []

    async def follow_until(total: int) -> None:
        nonlocal cursor
        while len(heard) < total:
            changes = await asyncio.to_thread(viewer.changes_since, cursor)
            assert not changes.reload
            heard.extend(changes.inserted)
            cursor = changes.cursor
            await asyncio.sleep(0.002)

    async def write(store: EventStore, base: int) -> list[int]:
        seqs: list[int] = []
        for start in range(0, 400, 40):
            added = await asyncio.gather(*(store.add(event(base + start + i))
                                           for i in range(40)))
            seqs += [e.seq for e in added]
        return seqs

    follower = asyncio.create_task(follow_until(800))
    a, b = await asyncio.gather(write(one, 0), write(two, 1000))
    await asyncio.wait_for(follower, 20)
    assert len(set(a) | set(b)) == 800  # no seq given twice
    assert sorted(heard) == sorted(a + b)  # every event once: none missed, none twice
    assert one.foreign(b, 0) == b and one.foreign(a, 0) == []  # each knows its own


async def test_an_event_that_commits_after_a_later_one_is_still_reported(
        pg_url: str, stores: list[EventStore]) -> None:
    store, viewer = opened(stores, pg_url), opened(stores, pg_url)
    first = await store.add(event(1))
    cursor = viewer.cursor()
    # A writer that took its seq and has not committed yet.
    slow = pg.connect(pg_url)
    try:
        ((_, held),) = slow.execute(SEQS, (1,)).fetchall()
        later = await store.add(event(2))
        assert later.seq > held > first.seq
        changes = viewer.changes_since(cursor)
        assert changes.inserted == [later.seq]
        assert changes.cursor.seq < held  # the gap stays open while the writer runs
        cursor = changes.cursor
        assert not viewer.changes_since(cursor).inserted  # nothing twice
        slow.execute("INSERT INTO events (seq, id, received_at, method, path, headers, "
                     "body_size, status) VALUES (%s, 'LATE', 0, 'POST', '/late', '[]', 0, 200)",
                     (held,))
        slow.commit()
    finally:
        slow.close()
    changes = viewer.changes_since(cursor)
    assert changes.inserted == [held]
    assert changes.cursor == Cursor(later.seq, changes.cursor.change)  # all settled
    assert not viewer.changes_since(changes.cursor)


async def test_a_rolled_back_seq_closes_once_its_transaction_ends(
        pg_url: str, stores: list[EventStore]) -> None:
    store, viewer = opened(stores, pg_url), opened(stores, pg_url)
    cursor = viewer.cursor()
    slow = pg.connect(pg_url)
    try:
        slow.execute(SEQS, (3,))
        later = await store.add(event(1))
        changes = viewer.changes_since(cursor)
        assert changes.inserted == [later.seq] and changes.cursor.seen == {later.seq}
        slow.rollback()
    finally:
        slow.close()
    settled = viewer.changes_since(changes.cursor)
    assert not settled and settled.cursor.seq == later.seq and not settled.cursor.seen


# -- search ------------------------------------------------------------------------------------


async def test_free_text_through_the_trigram_index_finds_what_a_scan_finds(
        pg_url: str, stores: list[EventStore], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_index, "START_DELAY", 0.0)
    monkeypatch.setattr(text_index, "INTERVAL", 0.02)
    monkeypatch.setattr(text_index, "INDEX_BODY_LIMIT", 64)
    store = opened(stores, pg_url)
    scan = opened(stores, pg_url, index=False)
    scan._indexed = False  # type: ignore[attr-defined]  # the same store, scanning
    bodies = [b'{"name": "Zo\xc3\xab"}', b"plain needle text", b"\x00\xff binary needle",
              b"x" * 100 + b" needle beyond the indexed size", b'C:\\path\\file 100%_done']
    added = [await store.add(event(i, body)) for i, body in enumerate(bodies)]
    await wait_for(lambda: store.indexed_upto() >= added[-1].seq, 10, "the index to catch up")
    late = await store.add(event(9, b"a needle after the index"))  # past search_upto
    queries = ["needle", "NEEDLE", "zo\u00eb", "Zoë", "/e/3", "content-type", "100%_",
               "\\path", "-needle", "needle -binary", "nothing like it"]
    for text in queries:
        assert store.search(text) == scan.search(text), text
    assert store.search("needle") == [added[1].seq, added[2].seq, added[3].seq, late.seq]
    assert store.search("Zoë") == [added[0].seq]
    conn = pg.connect(pg_url)
    try:
        docs = dict(conn.execute("SELECT seq, whole FROM search_docs").fetchall())
        (definition,) = conn.execute("SELECT indexdef FROM pg_indexes "
                                     "WHERE indexname = 'search_docs_trgm'").fetchone()
        assert "gin_trgm_ops" in definition
    finally:
        conn.close()
    assert set(docs) >= {e.seq for e in added} and docs[added[3].seq] is False
