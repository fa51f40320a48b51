"""What a frame of the event list repaints: a flood must not stall the loop the receiver
shares for work that changes nothing on screen (issue 17, steady-load p99)."""

from __future__ import annotations

from pathlib import Path

import httpx
from rich.console import RenderableType

from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.thumb_bar import ThumbBar
from tests.conftest import connectly_event, running_app, wait_for


async def test_scrollbar_repaints_only_when_its_thumb_moves(tmp_path: Path) -> None:
    case = connectly_event("text")
    async with running_app(tmp_path, size=(120, 20)) as (app, pilot, base), \
            httpx.AsyncClient() as client:

        async def post(n: int) -> None:
            for i in range(n):
                reply = await client.post(f"{base}{case['path']}?n={i}",
                                          content=case["body"].encode(),
                                          headers=case["headers"])
                assert reply.status_code == 200

        events = app.query_one(EventList)
        await post(60)
        await wait_for(lambda: len(events.seqs) == 60, what="60 rows")
        bar = events.vertical_scrollbar
        assert isinstance(bar, ThumbBar)
        await wait_for(lambda: bar._shown == bar.look(), what="the bar painted")
        painted = bar.look()
        renders: list[RenderableType] = []
        render = bar.render

        def counted() -> RenderableType:
            renders.append(render())
            return renders[-1]

        bar.render = counted  # type: ignore[method-assign]  # count the bar's repaints

        # Three more rows: the list scrolls, the thumb (one cell, at the bottom) stays.
        await post(3)
        await wait_for(lambda: len(events.seqs) == 63, what="63 rows")
        await pilot.pause()
        await wait_for(lambda: events.cursor == 62 and not bar._settling, what="settled")
        assert bar.look() == painted
        assert renders == []

        # Home: the thumb moves to the top, and the bar is painted again.
        await pilot.press("home")
        await wait_for(lambda: events.cursor == 0, what="first row")
        await wait_for(lambda: bar._shown == bar.look(), what="the bar repainted")
        assert renders
        thumb = bar.look()[2]
        assert isinstance(thumb, tuple) and thumb[0] == 0


async def test_a_wide_screen_shows_stripe_and_github_kinds_whole(tmp_path: Path) -> None:
    """KIND was 15 cells at any width: `payment_intent.succeeded` was always cut. At 150
    columns (the snapshots' size) it still is, and the other columns keep their widths."""
    assert "payment_intent.succeeded" in await _list_at(tmp_path / "wide", (200, 40))
    assert "payment_intent.succeeded" not in await _list_at(tmp_path / "usual", (150, 40))


async def _list_at(tmp_path: Path, size: tuple[int, int]) -> str:
    """The screen with one Stripe-like event listed, at this terminal size."""
    from tests.test_injection import terminal_output

    async with running_app(tmp_path, size=size) as (app, _pilot, base):
        async with httpx.AsyncClient() as client:
            reply = await client.post(base + "/stripe", headers={
                "content-type": "application/json"},
                content=b'{"type": "payment_intent.succeeded", "data": {}}')
            assert reply.status_code == 200
        await wait_for(lambda: "payment_intent" in terminal_output(app)[1],
                       what="the row drawn")
        return terminal_output(app)[1]
