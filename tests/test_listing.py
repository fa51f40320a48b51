"""The filtered list model (inspector.core.listing), without any UI: a real store."""

from __future__ import annotations

from pathlib import Path

from inspector.core.listing import Deleted, Listing, whole
from inspector.core.model import Event, new_id
from inspector.core.store import EventStore, open_store
from inspector.core.store.filter import Query, parse
from inspector.core.store.sqlite import SqliteStore


class CountingStore(SqliteStore):
    """The real store, counting the searches it runs."""

    searches = 0

    def search(self, query: Query | str, *, after: int = 0, now: float | None = None
               ) -> list[int]:
        self.searches += 1
        return super().search(query, after=after, now=now)


def event(path: str, n: int = 0) -> Event:
    return Event(id=new_id(), received_at=1_700_000_000.0 + n, method="POST", path=path,
                 query="", headers=[("content-type", "application/json")], body=b"{}")


async def add(store: EventStore, *paths: str) -> list[Event]:
    return [await store.add(event(path, n)) for n, path in enumerate(paths)]


async def test_new_events_are_counted_and_filtered_with_one_query_per_batch(
        tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "e.db")
    try:
        first = await add(store, "/a", "/b", "/a")
        listing = Listing(store)
        assert listing.everything() == [e.seq for e in first] and listing.total == 3
        assert listing.shown(3) is None  # no filter: the header gives the total only

        found = listing.search(parse("path:/a"))
        assert listing.show(found) == [first[0].seq, first[2].seq]
        assert listing.shown(2) == 2

        batch = await add(store, "/b", "/a", "/b", "/a")
        before = store.searches
        passed = listing.arrived(batch)
        assert [e.seq for e in passed] == [batch[1].seq, batch[3].seq]
        assert store.searches == before + 1  # one indexed query for the whole batch
        assert listing.total == 7
        # Events the search already saw (committed during it) are not listed twice...
        during = await add(store, "/a")
        listing.show(listing.search(parse("path:/a")))
        before = store.searches
        assert listing.arrived(during) == [] and store.searches == before
        assert listing.total == 8  # ...but counted: the caller hands each batch once
        # Events loaded at the start are not counted twice either (a follower reports the
        # ones committed while they were read).
        assert listing.arrived(first) == [] and listing.total == 8

        listing.show(listing.search(Query()))  # an empty filter shows every event
        assert listing.query is None and listing.arrived(batch[:1]) == batch[:1]
    finally:
        store.close()


async def test_deletes_are_kept_whole_for_their_undo_window_and_come_back_filtered(
        tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db")
    try:
        a, b, c = await add(store, "/a", "/b", "/a")
        listing = Listing(store)
        listing.everything()
        for seq, deadline in ((b.seq, 100.0), (c.seq, 200.0)):
            items = whole(store, [seq])
            await store.delete([seq])
            listing.kept(Deleted(items, deadline, listing.query))
        listing.recount()
        assert listing.total == 1 and listing.everything() == [a.seq]

        last = listing.take_back(now=150.0)  # the last delete, still in its window
        assert last is not None and [e.seq for e, _ in last.items] == [c.seq]
        assert last.items[0][0].body == b"{}" and last.query is None
        assert listing.take_back(now=150.0) is None  # b's window has passed: forgotten
        await store.restore(last.items)
        listing.show(listing.search(parse("path:/b")))
        assert listing.restored([c.seq]) == [] and listing.total == 2  # the filter decides
        listing.show(listing.search(parse("path:/a")))
        assert listing.restored([c.seq]) == [c.seq]

        listing.kept(Deleted(whole(store, [a.seq]), 300.0, listing.query))
        listing.forget()  # a clear: nothing to take back
        assert listing.take_back(now=0.0) is None
    finally:
        store.close()
