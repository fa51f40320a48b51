"""Comparing two events: the diff itself, and the side-by-side screen driven by Pilot."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Static
from textual.worker import WorkerState

from inspector.core.analysis.diff import (
    CHANGED,
    EQUAL,
    LEFT_ONLY,
    RIGHT_ONLY,
    Pair,
    Span,
    compare,
)
from inspector.core.model import Event, new_id
from inspector.faces.tui.screens.diff import NEW_SPAN, OLD_SPAN, DiffScreen, DiffView
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from tests.conftest import connectly_event, running_app, wait_for
from tests.test_injection import terminal_output


def fixture(name: str, **changes: Any) -> Event:
    case = connectly_event(name)
    event = Event(id=new_id(), received_at=1_795_867_200.0, method="POST", path=case["path"],
                  query="", headers=list(case["headers"].items()), body=case["body"].encode())
    for key, value in changes.items():
        setattr(event, key, value)
    return event


def test_tampered_body_is_the_one_changed_line() -> None:
    result = compare(fixture("text"), fixture("text-tampered"))
    assert result.headers.changes == 0  # same signature header: the body was changed
    changed = [p for p in result.body.pairs if p.tag != EQUAL]
    assert len(changed) == 1
    pair = changed[0]
    assert pair.tag == CHANGED
    assert pair.left == '    "text": "TEST 11"' and pair.right == '    "text": "TEST 12"'
    assert pair.left_spans == (Span(19, 20),) and pair.right_spans == (Span(19, 20),)
    assert result.body.pairs[0] == type(pair)(EQUAL, "{", "{")  # pretty-printed JSON
    assert not result.same


def test_headers_changed_added_and_removed() -> None:
    left = fixture("text", headers=[("content-type", "application/json"), ("x-a", "1"),
                                    ("x-sig", "abc")])
    right = fixture("text", headers=[("content-type", "application/json"), ("x-sig", "abd"),
                                     ("x-new", "\x1b[31mred")])
    pairs = compare(left, right).headers.pairs
    assert [p.tag for p in pairs] == [EQUAL, LEFT_ONLY, CHANGED, RIGHT_ONLY]
    assert (pairs[2].left, pairs[2].right) == ("x-sig: abc", "x-sig: abd")
    assert pairs[1].right is None and pairs[3].left is None
    assert any(p.right == "x-new: \\x1b[31mred" for p in pairs)  # escapes made visible
    assert compare(left, left).same


def test_binary_bodies_compare_as_hex() -> None:
    left = fixture("text", headers=[], body=b"\x00\x01\x02" * 20)
    right = fixture("text", headers=[], body=b"\x00\x01\x02" * 10 + b"\xff" + b"\x01\x02"
                    + b"\x00\x01\x02" * 9)
    body = compare(left, right).body
    assert body.pairs[0].left is not None and body.pairs[0].left.startswith("00000000  00 01 02")
    assert body.changes >= 1


class DiffApp(App[None]):
    def __init__(self, left: Event, right: Event) -> None:
        super().__init__()
        self.comparison = compare(left, right)

    def compose(self) -> ComposeResult:
        yield Static("below")

    def on_mount(self) -> None:
        self.push_screen(DiffScreen(self.comparison))


def styled(strip: Strip, style: Any) -> str:
    """The text of a rendered line drawn with `style`'s background."""
    return "".join(s.text for s in strip if s.style and s.style.bgcolor == style.bgcolor)


async def test_screen_highlights_test_11_against_test_12() -> None:
    app = DiffApp(fixture("text"), fixture("text-tampered"))
    async with app.run_test(size=(140, 45)) as pilot:
        screen: DiffScreen = await wait_for(
            lambda: isinstance(app.screen, DiffScreen) and app.screen, what="diff screen")
        view = screen.query_one(DiffView)
        assert app.focused is view  # arrows and PgDn scroll it
        pairs = [(i, v) for i, (_, v) in enumerate(view.rows) if isinstance(v, Pair)]
        row, pair = next((i, p) for i, p in pairs if "TEST 11" in (p.left or ""))
        assert pair.right == '    "text": "TEST 12"' and pair.tag == CHANGED
        (strip,) = view._render_row(row)
        assert styled(strip, OLD_SPAN) == "1" and styled(strip, NEW_SPAN) == "2"
        assert "≠" in strip.text
        assert [p.tag for _, p in pairs].count(CHANGED) == 1  # the only highlighted line
        screen_text = terminal_output(app)[1]
        line = next(t for t in screen_text.splitlines() if "TEST 11" in t)
        assert "TEST 12" in line and "≠" in line
        assert "1 of" in screen_text and "lines differ" in screen_text
        assert "identical" in screen_text

        await pilot.press("c")  # changes only: equal lines far from the change collapse
        kinds = [kind for kind, _ in view.rows]
        assert "skip" in kinds and len(kinds) < len(pairs)
        assert any("TEST 11" in (p.left or "") for _, p in view.rows if isinstance(p, Pair))
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, DiffScreen), what="closed")


def deliver(base: str, until: Callable[[], bool], at_least: int) -> None:
    """From another thread (a sender outside the app): small deliveries one after another
    until `until()` and `at_least` of them, each acknowledged."""
    sent = 0
    with httpx.Client(timeout=120) as client:
        while not until() or sent < at_least:
            answer = client.post(base + "/probe", content=b'{"type": "probe"}')
            assert answer.status_code == 200
            sent += 1


async def timed(pilot: Pilot[Any], key: str, done: Callable[[], bool], what: str) -> float:
    """The CPU time the process spends from `key` until `done()`, drawn: what the work
    costs (on a loaded machine, the wall clock also counts other processes)."""
    start = time.process_time()
    await pilot.press(key)
    await wait_for(done, timeout=120, what=what)
    await pilot.pause()  # and drawn
    return time.process_time() - start


async def computed_off_the_loop(app: Any) -> bool:
    """Whether the loop (this coroutine runs on it) saw the comparison's worker at work
    before the comparison was shown: computed on the loop, it never would."""
    seen = False
    while not isinstance(app.screen, DiffScreen):
        seen = seen or any(worker.group == "compare" and worker.state is WorkerState.RUNNING
                           for worker in app.workers)
        await asyncio.sleep(0.005)
    return seen


async def test_comparing_two_large_events_keeps_the_app_responsive(tmp_path: Path) -> None:
    """Two 1.6 MB bodies with thousands of differing lines took 18 s to open and 35 s per key,
    and a delivery meanwhile waited 36.5 s for its ack. The baselines, in the same run: a key
    in the list, and showing one of those events in the detail pane while deliveries stream
    in (as they do while the comparison opens). The comparison is computed off the loop, so
    deliveries keep being acknowledged: the loop is seen running while it computes. (Ack
    times against calm ones said nothing: the bounded diff takes 0.1 s, so even computed on
    the loop it passed, and under load the worker's hold on the GIL alone failed it.)"""
    items = 15_000
    left = [{"id": i, "name": f"item {i}", "value": "x" * 60} for i in range(items)]
    right = [{**item, "name": f"item {i}!"} if i % 3 == 0 else item for i, item in enumerate(left)]
    async with running_app(tmp_path) as (app, pilot, base), \
            httpx.AsyncClient(timeout=120) as client:
        app.animation_level = "none"
        for body in (left, right):
            await client.post(base + "/big", content=json.dumps(body).encode(),
                              headers={"content-type": "application/json"})
        events = app.query_one(EventList)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: len(events.seqs) == 2, what="both events listed")
        app.action_run("focus-list")
        await pilot.press("end")
        await wait_for(lambda: pane.detail is not None and pane.detail.event.seq == 2,
                       what="the newest shown")
        list_key = await timed(pilot, "up", lambda: pane.detail is not None
                               and pane.detail.event.seq == 1, "the cursor moved")
        # Baselines under the same stream of deliveries: showing one of the events.
        await pilot.press("down")
        await wait_for(lambda: pane.detail is not None and pane.detail.event.seq == 2,
                       what="the newest shown")
        showing = asyncio.create_task(timed(pilot, "up", lambda: pane.detail is not None
                                            and pane.detail.event.seq == 1, "one shown"))
        await asyncio.to_thread(deliver, base, showing.done, 3)

        await pilot.press("space", "space")
        watched = asyncio.create_task(computed_off_the_loop(app))
        opening = asyncio.create_task(timed(pilot, "equals_sign", lambda: isinstance(
            app.screen, DiffScreen), "the comparison open"))
        await asyncio.to_thread(deliver, base, opening.done, 3)  # acknowledged meanwhile
        assert await watched, "the comparison was computed on the loop"
        assert await opening <= 10 * await showing

        view = app.screen.query_one(DiffView)
        assert await timed(pilot, "pagedown", lambda: view.scroll_y > 0,
                           "page down") <= 10 * list_key
        assert await timed(pilot, "end", lambda: view.scroll_y == view.max_scroll_y > 0,
                           "end") <= 10 * list_key
        assert "not compared" in terminal_output(app)[1]  # the summary past the budget
        rows = len(view.rows)
        assert await timed(pilot, "c", lambda: len(view.rows) < rows,
                           "changes only") <= 10 * list_key
        heading = next(str(v) for kind, v in view.rows if kind == "heading"
                       and str(v).startswith("Body"))
        assert "lines differ" in heading
        assert await timed(pilot, "escape", lambda: not isinstance(app.screen, DiffScreen),
                           "closed") <= 10 * list_key
