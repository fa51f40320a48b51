"""The EventStore interface: every named operation, the reads and the change feed.

Written against the interface only, through the `location` fixture: a backend is one more
param there (PostgreSQL, issue 18), and every test here runs against it unchanged. A second
store opened at the same location stands for another process (a viewer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inspector.core.model import Answer, Attempt, Event, Row, new_id
from inspector.core.store import (
    Changes,
    Cursor,
    EventStore,
    StoreError,
    VerdictChange,
    open_store,
)
from inspector.core.store.follow import Follower as FeedFollower
from tests.conftest import wait_for

Opener = Callable[..., EventStore]


@pytest.fixture
def open_at(location: str) -> Iterator[Opener]:
    """Opens stores at `location` (each one as another process would); closes them after."""
    opened: list[EventStore] = []

    def open_(**options: Any) -> EventStore:
        store = open_store(location, **options)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_at: Opener) -> EventStore:
    return open_at()


def event(n: int, body: bytes = b'{"n": 1}', **fields: Any) -> Event:
    return Event(id=new_id(), received_at=1_700_000_000.0 + n, method="POST", path=f"/e/{n}",
                 query=f"q={n}", headers=[("content-type", "application/json"),
                                          ("x-dup", "1"), ("X-Dup", "2")], body=body, **fields)


def attempt(seq: int, status: int | None = 200, **fields: Any) -> Attempt:
    return Attempt(event_seq=seq, kind="replay", at=1_700_000_100.0, method="POST",
                   url="http://localhost:3000/", status=status, **fields)


# -- writes ----------------------------------------------------------------------------------------


async def test_add_assigns_seqs_in_commit_order_and_tells_listeners_per_batch(
        store: EventStore) -> None:
    batches: list[list[Event]] = []
    store.listeners.append(batches.append)
    added = await asyncio.gather(*(store.add(event(i)) for i in range(60)))
    seqs = [e.seq for e in added]
    assert seqs == sorted(seqs) and len(set(seqs)) == 60 and seqs[0] > 0
    assert [e.seq for batch in batches for e in batch] == seqs
    assert len(batches) < 60  # group commit: several events per batch
    assert store.seqs() == seqs and store.count() == 60 and store.last_seq() == seqs[-1]


async def test_every_field_comes_back_by_name(store: EventStore) -> None:
    sent = event(1, b"\x00raw\xff bytes", client="10.0.0.7:5555", http_version="2",
                 scheme="https", status=202, notes=["odd header", "second note"],
                 provider="stripe", kind="charge.succeeded", summary="ch_1 → 20 USD",
                 verdict="invalid", reason="timestamp is 412 s old")
    stored = await store.add(sent)
    assert store.event(stored.seq) == stored
    assert store.event_by_id(stored.id) == stored
    assert store.rows([stored.seq, 999_999]) == {stored.seq: Row.of(stored)}
    assert store.event(999_999) is None and store.event_by_id("nope") is None


async def test_prepare_runs_before_the_insert_and_never_costs_the_event(
        open_at: Opener) -> None:
    def prepare(e: Event) -> None:
        if e.path == "/e/2":
            raise ValueError("boom")
        e.kind = "prepared"

    store = open_at(prepare=prepare)
    good, bad = await asyncio.gather(store.add(event(1)), store.add(event(2)))
    assert (stored := store.event(good.seq)) is not None and stored.kind == "prepared"
    assert (broken := store.event(bad.seq)) is not None
    assert broken.notes == ["analysis failed: ValueError: boom"]
    store.prepare = None  # changed live (the response policy does this)
    plain = await store.add(event(3))
    assert (again := store.event(plain.seq)) is not None and again.kind == ""


async def test_record_attempt_becomes_the_rows_result(store: EventStore) -> None:
    first, second = [await store.add(event(i)) for i in range(2)]
    ok = await store.record_attempt(attempt(first.seq, 201, elapsed_ms=3.5,
                                            response_headers=[("a", "1"), ("a", "2")],
                                            response_body=b"\xffok", resigned=True))
    assert ok.id > 0
    assert store.rows([first.seq])[first.seq].result == 201
    assert store.rows([first.seq])[first.seq].result_ms == 3.5
    failed = await store.record_attempt(attempt(first.seq, None, error="refused",
                                                forced=True, edited=True, note="why"))
    assert store.rows([first.seq])[first.seq].result == 0  # the latest: a failure
    assert store.attempts(first.seq) == [ok, failed]
    assert store.attempts_for([first.seq, second.seq]) == {first.seq: [ok, failed]}
    assert store.attempts(second.seq) == []


async def test_delete_and_clear_take_everything_and_never_reuse_a_seq(
        store: EventStore) -> None:
    added = [await store.add(event(i, answer=Answer([("x", "1")], b"custom")))
             for i in range(3)]
    await store.record_attempt(attempt(added[2].seq))
    assert await store.delete([added[2].seq, 999_999]) == 1
    assert store.seqs() == [added[0].seq, added[1].seq]
    assert store.event(added[2].seq) is None and store.attempts(added[2].seq) == []
    assert store.answers_for([added[2].seq]) == {}
    fresh = await store.add(event(3))
    assert fresh.seq > added[2].seq
    assert await store.clear() == 3
    assert store.count() == 0 and store.seqs() == [] and store.last_seq() == 0
    assert (await store.add(event(4))).seq > fresh.seq


async def test_restore_puts_deleted_events_back_exactly_and_followers_list_them_again(
        open_at: Opener) -> None:
    """An undone delete: the events come back with their seqs, ids, raw bodies, answers and
    attempts, and the change feed says so to a follower whichever side of the delete it
    was on."""
    writer, viewer = open_at(), open_at()
    raw = b"\x00\xff raw \r\n bytes"
    kept = await writer.add(event(0))
    doomed = [await writer.add(event(1, raw, answer=Answer([("x", "1")], b"custom"))),
              await writer.add(event(2))]
    await writer.record_attempt(attempt(doomed[0].seq, 503))
    await writer.record_attempt(attempt(doomed[0].seq, 200))
    seqs = [e.seq for e in doomed]
    whole = [(e, writer.attempts(e.seq)) for e in writer.iter_events(seqs)]
    answers = writer.answers_for(seqs)
    for e, _ in whole:
        e.answer = answers.get(e.seq)
    rows, tried = writer.rows(seqs), writer.attempts(seqs[0])  # read apart from `whole`
    before_delete = Follower(viewer)
    assert await writer.delete(seqs) == 2
    after_delete = Follower(viewer)
    assert sorted(after_delete.rows) == [kept.seq]
    newer = await writer.add(event(3))  # the seqs stay taken: a new event gets a new one

    back = await writer.restore(whole)
    assert [e.seq for e in back] == seqs and newer.seq > seqs[-1]
    assert writer.seqs() == [kept.seq, *seqs, newer.seq]
    assert [e.id for e in writer.iter_events(seqs)] == [e.id for e in doomed]
    assert writer.event(seqs[0]).body == raw  # type: ignore[union-attr]
    assert writer.answers_for(seqs) == {seqs[0]: Answer([("x", "1")], b"custom")}
    assert writer.attempts(seqs[0]) == tried and len(tried) == 2  # their ids kept too
    assert writer.rows(seqs) == rows  # the result (the latest attempt) with them
    assert writer.restore_sync(whole) == []  # back already: skipped, never doubled

    # A follower that saw the delete lists them again; one that did not just refreshes.
    changes = after_delete.follow()
    assert changes.restored == seqs and changes.inserted == [newer.seq]
    assert changes.deleted == []
    changes = before_delete.follow()
    assert changes.restored == [] and changes.deleted == [] and changes.updated == seqs
    assert after_delete.rows == before_delete.rows == writer.rows(writer.seqs())
    # Deleted again after the restore: gone for both.
    await writer.delete(seqs[:1])
    assert after_delete.follow().deleted == seqs[:1]
    assert after_delete.rows == writer.rows(writer.seqs())


async def test_set_verdicts(store: EventStore) -> None:
    a, b = [await store.add(event(i, verdict="no_secret", provider="")) for i in range(2)]
    changed = await store.set_verdicts([VerdictChange(a.seq, "connectly", "valid", "")])
    assert changed == 1
    assert (row := store.rows([a.seq])[a.seq]).verdict == "valid" and row.provider == "connectly"
    assert store.rows([b.seq])[b.seq].verdict == "no_secret"


async def test_answers_stored_with_the_event_or_after_it(store: EventStore) -> None:
    custom = Answer([("content-type", "text/plain"), ("x-a", "1")], b"\x00custom")
    a = await store.add(event(1, answer=custom, status=201))
    b = await store.add(event(2))
    c = await store.add(event(3))
    mirrored = Answer([("x-downstream", "yes")], b"from your app")
    await store.set_answer(b.seq, 502, mirrored)
    assert store.answers_for([a.seq, b.seq, c.seq]) == {a.seq: custom, b.seq: mirrored}
    assert store.rows([b.seq])[b.seq].status == 502


async def test_meta(store: EventStore) -> None:
    assert store.meta("replay_target") == "" and store.meta("replay_target", "d") == "d"
    await store.set_meta("replay_target", "http://x/")
    await store.set_meta("replay_target", "http://y/")
    assert store.meta("replay_target") == "http://y/"


async def test_import_keeps_ids_and_attempts_and_skips_known_events(store: EventStore) -> None:
    known = await store.add(event(0))
    one, two = event(1), event(2)
    twin = event(3)
    twin.id = one.id  # repeated in the same import: the first one wins
    again = event(4)
    again.id = known.id  # already stored: skipped with its attempts
    first, second = attempt(0, 201), attempt(0, None, error="timeout")
    new = await store.import_events([(one, [first, second]), (two, []), (twin, [attempt(0)]),
                                     (again, [attempt(0)])])
    assert [e.id for e in new] == [one.id, two.id]
    assert all(e.seq > known.seq for e in new)
    assert store.attempts(one.seq) == [first, second] and first.event_seq == one.seq
    assert store.attempts(known.seq) == [] and store.count() == 3
    assert store.rows([one.seq])[one.seq].result == 0  # its latest attempt failed


def test_blocking_twins_need_no_loop(store: EventStore) -> None:
    (stored,) = store.import_events_sync([(event(1), [])])
    recorded = store.record_attempt_sync(attempt(stored.seq, 204))
    assert store.attempts(stored.seq) == [recorded]
    assert store.set_verdicts_sync([VerdictChange(stored.seq, "github", "invalid", "no")]) == 1
    assert (found := store.event(stored.seq)) is not None and found.verdict == "invalid"


async def test_a_closed_store_refuses_writes_clearly(open_at: Opener) -> None:
    store = open_at()
    await store.add(event(1))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add(event(2))


# -- reads -----------------------------------------------------------------------------------------


async def test_search_and_iter_events(store: EventStore) -> None:
    added = [await store.add(event(i, verdict="invalid" if i % 2 else "valid",
                                   body=b'{"needle": 1}' if i == 3 else b"{}"))
             for i in range(6)]
    odd = [e.seq for e in added[1::2]]
    assert store.search("verdict:invalid") == odd
    assert store.search("verdict:invalid", after=odd[0]) == odd[1:]
    assert store.search("needle") == [added[3].seq]
    assert store.search("") == [e.seq for e in added]
    wanted = [added[4].seq, 999_999, added[0].seq, added[2].seq]
    assert [e.seq for e in store.iter_events(wanted, chunk=2)] == [
        added[4].seq, added[0].seq, added[2].seq]
    assert store.indexed_upto() >= 0


# -- the change feed -------------------------------------------------------------------------------


class Follower:
    """What a viewer in another process keeps: rows by seq, kept up through the feed."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.cursor = store.cursor()  # before loading: nothing falls in between
        self.rows = store.rows(store.seqs())
        self.seen: list[Changes] = []

    def follow(self) -> Changes:
        changes = self.store.changes_since(self.cursor)
        self.seen.append(changes)
        if changes.reload:
            self.cursor = self.store.cursor()
            self.rows = self.store.rows(self.store.seqs())
            return changes
        for seq in [*changes.deleted, *(s for s in self.rows if s <= changes.deleted_upto)]:
            self.rows.pop(seq, None)
        self.rows.update(self.store.rows([*changes.updated, *changes.restored,
                                          *changes.inserted]))
        self.cursor = changes.cursor
        return changes


async def test_a_cursor_sees_nothing_until_something_changes(store: EventStore) -> None:
    await store.add(event(1))
    cursor = store.cursor()
    changes = store.changes_since(cursor)
    assert not changes and changes.cursor == cursor
    await store.set_meta("replay_target", "http://x/")  # not an event: nothing to follow
    assert not store.changes_since(cursor)


async def test_another_store_on_the_same_data_follows_every_change(open_at: Opener) -> None:
    writer, viewer = open_at(), open_at()
    before = [await writer.add(event(i)) for i in range(4)]
    follower = Follower(viewer)
    assert sorted(follower.rows) == [e.seq for e in before]

    def now_polled() -> int:
        return viewer.data_version()

    async def moved(since: int) -> None:
        # PostgreSQL hears of another connection's commit by NOTIFY, a moment later.
        await wait_for(lambda: now_polled() != since, 5, "the data version to move")

    version = now_polled()
    # Inserts.
    new = [await writer.add(event(i)) for i in range(4, 6)]
    await moved(version)
    changes = follower.follow()
    assert changes.inserted == [e.seq for e in new] and not changes.updated
    assert not follower.follow()  # nothing since
    # Updates: an attempt, a verdict, an answer; an event both added and updated since the
    # cursor is only inserted.
    version = now_polled()
    await writer.record_attempt(attempt(before[0].seq, 503))
    await writer.set_verdicts([VerdictChange(before[1].seq, "stripe", "invalid", "bad")])
    await writer.set_answer(before[2].seq, 502, Answer([], b"down"))
    late = await writer.add(event(6))
    await writer.record_attempt(attempt(late.seq, 200))
    await moved(version)
    changes = follower.follow()
    assert changes.updated == [e.seq for e in before[:3]] and changes.inserted == [late.seq]
    assert follower.rows[before[0].seq].result == 503
    assert follower.rows[before[1].seq].verdict == "invalid"
    assert follower.rows[before[2].seq].status == 502
    assert follower.rows[late.seq].result == 200
    # Deletes: one it knows, and one added and deleted since the cursor (never shown).
    gone = await writer.add(event(7))
    await writer.delete([before[3].seq, gone.seq])
    changes = follower.follow()
    assert changes.deleted == [before[3].seq] and changes.inserted == []
    assert follower.rows == writer.rows(writer.seqs())
    # A clear, then new events: both in one follow.
    await writer.clear()
    after = await writer.add(event(8))
    changes = follower.follow()
    assert changes.cleared and changes.deleted_upto >= late.seq
    assert changes.inserted == [after.seq] and not changes.reload
    assert follower.rows == writer.rows(writer.seqs()) == {after.seq: Row.of(after)}


async def test_a_cursor_older_than_the_kept_feed_asks_for_a_reload(open_at: Opener) -> None:
    writer = open_at(keep_changes=5)
    stored = await writer.add(event(1))
    follower = Follower(open_at())
    old = follower.cursor
    for n in range(30):
        await writer.set_verdicts([VerdictChange(stored.seq, "", "unsigned", f"try {n}")])
    recent = Cursor(stored.seq, writer.cursor().change - 2)
    assert writer.changes_since(recent).updated == [stored.seq]  # still within the feed
    changes = follower.follow()
    assert changes.reload and follower.cursor != old
    assert follower.rows == writer.rows(writer.seqs())
    assert not follower.follow()  # the new cursor follows normally


async def test_a_cursor_from_another_database_asks_for_a_reload(store: EventStore) -> None:
    await store.add(event(1))
    assert store.changes_since(Cursor(seq=10**9, change=0)).reload
    assert store.changes_since(Cursor(seq=0, change=10**9)).reload
    assert not store.changes_since(Cursor()).reload  # its whole feed is still kept


# -- following another process's writes ------------------------------------------------------------


async def test_a_follower_hears_inserts_updates_and_deletes_made_elsewhere(
        open_at: Opener) -> None:
    writer, viewer = open_at(), open_at()
    first = await writer.add(event(1))
    heard: list[Changes] = []
    follower = FeedFollower(viewer, heard.append, interval=0.02)
    follower.start()
    try:
        assert await follower.poll() is None  # nothing new since it started
        second = await writer.add(event(2))
        await wait_for(lambda: any(second.seq in c.inserted for c in heard), 5, "the insert")
        await writer.record_attempt(attempt(first.seq))
        await wait_for(lambda: any(first.seq in c.updated for c in heard), 5, "the update")
        await writer.delete([second.seq])
        await wait_for(lambda: any(second.seq in c.deleted for c in heard), 5, "the delete")
        assert all(first.seq not in c.inserted for c in heard)  # older than its cursor
    finally:
        await follower.stop()


async def test_two_polls_at_once_tell_each_change_once(open_at: Opener) -> None:
    """A poll while another waits for its read (the follower's loop and a caller) read the
    same cursor, so both told the same inserts: a receiver then took its own events for
    another process's (test_viewer_session failed so under load)."""
    writer, viewer = open_at(), open_at()
    heard: list[Changes] = []
    follower = FeedFollower(viewer, heard.append)
    added = [(await writer.add(event(n))).seq for n in range(3)]
    await asyncio.gather(follower.poll(), follower.poll())
    assert [s for c in heard for s in c.inserted] == added
