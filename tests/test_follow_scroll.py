"""Follow mode keeps the newest event in view, also when the list first overflows."""

from __future__ import annotations

from pathlib import Path

import httpx

from inspector.faces.tui.widgets.event_list import EventList
from tests.conftest import running_app, wait_for


async def test_the_event_that_makes_the_list_overflow_is_scrolled_into_view(
        tmp_path: Path) -> None:
    async with running_app(tmp_path, size=(200, 50)) as (app, _pilot, base):
        events = app.query_one(EventList)
        async with httpx.AsyncClient() as client:
            for i in range(events.page + 1):  # one more than the list shows
                await client.post(f"{base}/e{i}", content=b'{"type": "t"}',
                                  headers={"content-type": "application/json"})
        await wait_for(lambda: events.cursor == events.page, what="the newest selected")
        # It showed rows 0..19 with row 20 selected, until another event came.
        await wait_for(lambda: events.max_scroll_y == 1 and events.scroll_y == 1,
                       what="the newest row scrolled into view")
