"""The TUI's sink and frame pacing: what the session reports reaches the app coalesced, and
frames slow down in a flood (the burst tests measure the whole; these pin the rules)."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.message import Message

from inspector.core.model import Attempt, Event, new_id
from inspector.faces.tui.messages import EventsArrived, StoreFailed
from inspector.faces.tui.pacing import CALM_INTERVAL, FLOOD_INTERVAL, Pacer
from inspector.faces.tui.sink import TuiSink
from tests.conftest import wait_for


class Listener(App[None]):
    """A real app that keeps the messages the sink posts to it."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[Message] = []

    def on_events_arrived(self, message: EventsArrived) -> None:
        self.got.append(message)

    def on_store_failed(self, message: StoreFailed) -> None:
        self.got.append(message)


def event(seq: int) -> Event:
    return Event(id=new_id(), received_at=0.0, method="POST", path="/", query="", headers=[],
                 body=b"", seq=seq)


def kinds(app: Listener) -> list[Any]:
    return [m.message if isinstance(m, StoreFailed) else type(m).__name__ for m in app.got]


async def test_arrivals_coalesce_into_one_pending_message() -> None:
    app = Listener()
    sink = TuiSink(app, Pacer())
    async with app.run_test() as pilot:
        sink.committed([event(1)])
        sink.committed([event(2), event(3)])
        sink.attempted(Attempt(event_seq=1, kind="replay", at=0.0, method="POST", url="x"))
        await pilot.pause()
        assert kinds(app) == ["EventsArrived"]
        events, attempted = sink.take()
        assert [e.seq for e in events] == [1, 2, 3] and attempted == {1}
        assert sink.take() == ([], set())

        # A frame took them: the next arrival posts again, and then nothing more until the
        # next frame takes it (handled or not: a frame waiting in a flood costs no message per
        # commit).
        sink.committed([event(4)])
        await wait_for(lambda: len(app.got) == 2, what="a second message")
        sink.committed([event(5)])
        sink.answered(event(4))
        await pilot.pause()
        assert len(app.got) == 2
        events, updated = sink.take()
        assert [e.seq for e in events] == [4, 5] and updated == {4}


async def test_a_storage_error_is_said_once_and_its_end_too() -> None:
    app = Listener()
    sink = TuiSink(app, Pacer())
    async with app.run_test() as pilot:
        sink.failed("disk full")
        sink.failed("disk full")  # repeated at every failed write: said once
        sink.failed("database is locked")
        await pilot.pause()
        assert kinds(app) == ["disk full", "database is locked"]
        sink.failed(None)  # the session: a commit went through, storing again
        sink.failed("database is locked")  # failing again: said again at once
        await pilot.pause()
        assert kinds(app)[2:] == [None, "database is locked"]


def test_frames_slow_down_in_a_flood_and_the_detail_waits() -> None:
    pacer = Pacer()
    assert pacer.drawn(100.0) == 0.0
    pacer.arrived(1, 100.01)
    assert abs(pacer.delay(100.01) - (CALM_INTERVAL - 0.01)) < 1e-9
    assert not pacer.busy(100.01)
    pacer.arrived(200, 100.02)
    assert abs(pacer.delay(100.02) - (FLOOD_INTERVAL - 0.02)) < 1e-9
    assert pacer.busy(100.02) and pacer.drawn(100.5) == 201
    assert pacer.rate.per_second(101.6) == 0 and not pacer.busy(101.6)  # a second later
