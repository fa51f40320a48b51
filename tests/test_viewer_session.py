"""A receiver and a viewer of one database, as sessions: what one process stores, replays,
re-verifies or deletes, the other hears of through the change feed; a receiver hears of its
own events once (when committed), and of another process's imports through the feed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from inspector.core.capture.answers import ResponsePolicy
from inspector.core.model import Attempt, Event, new_id
from inspector.core.session import Session
from inspector.core.store import Changes, VerdictChange, open_store
from tests.conftest import Heard, connectly_event, make_runtime, make_settings, wait_for


@dataclass
class Followed(Heard):
    """Heard, plus what the change feed reported."""

    changes: list[Changes] = field(default_factory=list)

    def changed(self, changes: Changes) -> None:
        self.changes.append(changes)

    def seen(self, what: str) -> list[int]:
        return [s for c in self.changes for s in getattr(c, what)]


def attempt(seq: int) -> Attempt:
    return Attempt(event_seq=seq, kind="replay", at=time.time(), method="POST",
                   url="http://127.0.0.1:9/", status=204, elapsed_ms=1.0)


async def test_each_process_hears_what_the_other_changed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    receiver = make_runtime(settings)
    viewer = Session(settings, None, view=True)
    theirs, ours = Followed(), Followed()
    receiver.subscribe(theirs)
    viewer.subscribe(ours)
    await receiver.start()
    await viewer.start()
    try:
        case = connectly_event("text")
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                answer = await client.post(receiver.url.rstrip("/") + case["path"],
                                           content=case["body"].encode(),
                                           headers=case["headers"])
                assert answer.status_code == 200
        seqs = [e.seq for e in theirs.events]
        # The viewer hears of them through the feed; the receiver once, when committed.
        await wait_for(lambda: ours.seen("inserted") == seqs, what="inserts in the viewer")
        await receiver.follower.poll()  # type: ignore[union-attr]
        assert theirs.seen("inserted") == []

        # A replay stored by the viewer: the receiver refreshes that row.
        await viewer.record(attempt(seqs[0]))
        await wait_for(lambda: seqs[0] in theirs.seen("updated"), what="the replay result")
        # A verdict changed by the receiver (a secret set there): the viewer refreshes.
        await receiver.store.set_verdicts(
            [VerdictChange(seqs[1], "connectly", "invalid", "re-checked")])
        await wait_for(lambda: seqs[1] in ours.seen("updated"), what="the new verdict")
        # A delete by either is seen by the other.
        await viewer.store.delete([seqs[2]])
        await wait_for(lambda: theirs.seen("deleted") == [seqs[2]], what="the delete")
        await wait_for(lambda: ours.seen("deleted") == [seqs[2]], what="the viewer's own")

        # Another process imports into the receiver's database: the receiver lists those.
        other = open_store(settings.db, index=False)
        try:
            imported = other.import_events_sync([(Event(
                id=new_id(), received_at=time.time(), method="POST", path="/imported",
                query="", headers=[], body=b"{}"), [])])
        finally:
            other.close()
        await wait_for(lambda: theirs.seen("inserted") == [imported[0].seq],
                       what="the import, in the receiver")
        await wait_for(lambda: imported[0].seq in ours.seen("inserted"),
                       what="the import, in the viewer")
        assert len(theirs.events) == 3  # its own, once each
    finally:
        await viewer.stop()
        await receiver.stop()


async def test_a_viewer_runs_no_receiver_indexer_or_tunnel(tmp_path: Path) -> None:
    # The receiver flags a TUI was given when it opened as a viewer are left to the receiver.
    settings = make_settings(tmp_path, forward_to="http://127.0.0.1:9/", rate_limit=5,
                             policy=ResponsePolicy(respond_with_downstream=True))
    make_runtime(settings, listen=False).close()  # the database exists
    viewer = Session(settings, None, view=True)
    await viewer.start()
    try:
        assert viewer.forwarder is None and viewer.limiter is None and viewer.tunnel is None
        assert viewer.claim is None and viewer._running is None
        assert viewer.store._indexer is None  # type: ignore[attr-defined]
    finally:
        await viewer.stop()
