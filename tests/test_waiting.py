"""core/waiting.py on a real store: where counting starts, and a feed that had to reload."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from inspector.core.model import Event, new_id
from inspector.core.store import VerdictChange, open_store
from inspector.core.store.filter import FilterError, parse
from inspector.core.waiting import Start, UnknownEvent, Watch, start_of


def event(kind: str, when: float | None = None) -> Event:
    stamp = time.time() if when is None else when
    return Event(id=new_id(stamp), received_at=stamp, method="POST", path=f"/{kind}",
                 query="", headers=[], body=b"{}", kind=kind)


async def test_a_match_during_a_reload_is_reported_once(tmp_path: Path) -> None:
    """A follower that fell behind the trimmed feed reloads: the watch then searches
    everything after its start again, and reports each event once."""
    store = open_store(tmp_path / "events.db", keep_changes=10, index=False)
    try:
        first = await store.add(event("ping"))
        watch = Watch(store, parse("path:/hit"), Start(first.seq), interval=0.5)
        waiting = asyncio.create_task(watch.wait(2, timeout=30))
        await asyncio.sleep(0)  # it takes its cursor
        hit = await store.add(event("hit"))
        # Many updates at once: more change records than the feed keeps.
        for _ in range(30):
            await store.set_verdicts([VerdictChange(first.seq, "", "valid", "")])
        second = await store.add(event("hit"))
        assert await waiting == [hit.seq, second.seq]
    finally:
        store.close()


async def test_start_of_an_id_a_time_or_now(tmp_path: Path) -> None:
    store = open_store(tmp_path / "events.db", index=False)
    try:
        old = await store.add(event("a", time.time() - 3600))
        assert start_of(store, old.id.lower()) == Start(old.seq)
        assert start_of(store, "") == Start(old.seq)  # now: after what is stored
        since = start_of(store, "10m", now=1_000_000.0)
        assert since == Start(0, 1_000_000.0 - 600)
        with pytest.raises(UnknownEvent):
            start_of(store, "0" * 26)
        for bad in ("last tuesday", "1000000w"):
            with pytest.raises(FilterError):
                start_of(store, bad)
        # A time reaches back: what is stored already counts, from that time on.
        recent = await store.add(event("a"))
        found = await Watch(store, parse("path:/a"), start_of(store, "5m")).wait(5, 0.2)
        assert found == [recent.seq]
    finally:
        store.close()
