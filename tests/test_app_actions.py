"""The TUI's actions on what the list shows: the answered/result filters, Escape in the filter
bar and "in view", copy as curl without a replay target, delete and undo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from inspector.core.store import open_store
from inspector.core.store.filter import parse
from inspector.faces.tui.features import export, replay
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import CONNECTLY, Recorder, running_app, wait_for
from tests.reliability.conftest import request, send_raw


async def post(base: str, case: dict[str, Any], client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(base + case["path"], content=case["body"].encode(),
                             headers=case["headers"])


def status_text(app: Any) -> str:
    return str(app.query_one(StatusBar).render())


async def filtered(app: Any, text: str) -> list[int]:
    """Type `text` into the filter bar as a person would, then read the list."""
    events = app.query_one(EventList)
    app.action_run("filter")
    bar = app.query_one("#filter-input")
    bar.value = text
    terms = parse(text).terms
    await wait_for(lambda: app.query_one("FilterBar").applied.terms == terms,
                   what=f"filter {text!r} applied")
    await wait_for(lambda: (app.listing.query.terms if app.listing.query else ()) == terms,
                   what=f"list filtered by {text!r}")
    return list(events.seqs)


async def test_answered_is_what_the_sender_got_and_result_the_replay(
        tmp_path: Path, recorder: Recorder) -> None:
    recorder.status = 413
    async with running_app(tmp_path, max_body=1000,
                           replay_to=recorder.url + "/") as (app, _pilot, base), \
            httpx.AsyncClient() as client:
        refused = await client.post(base + "/big", content=b"x" * 1001)
        assert refused.status_code == 413
        await post(base, CONNECTLY["events"][0], client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 2, what="rows")
        big, text = events.seqs
        replay.replay(app, [text], recorder.url + "/")  # the app answers this replay 413
        await wait_for(lambda: app.store.rows([text])[text].result == 413, what="result")

        assert await filtered(app, "answered:413") == [big]
        assert await filtered(app, "answered:4xx") == [big]
        assert await filtered(app, "-answered:4xx") == [text]
        assert await filtered(app, "result:413") == [text]
        assert await filtered(app, "status:413") == [text]  # the old name of result:
        assert await filtered(app, "answered:200") == [text]


async def test_escape_in_the_filter_bar_returns_to_the_list_and_in_view_follows_it(
        tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 10, what="rows")
        box = app.query_one("#filter-input")

        await pilot.press("slash", *"kind:delivery_status")
        await wait_for(lambda: len(events.seqs) == 2, what="filtered list")
        await pilot.press("enter")  # keeps the filter, back to the list
        assert events.has_focus
        app.action_run("replay-view")
        await wait_for(lambda: app.screen.query("Confirm #ok"), what="confirm")
        asked = app.screen.question
        assert "Replay all 2 events in view (the filter kind:delivery_status)" in asked
        await pilot.press("escape")
        await wait_for(lambda: not app.screen.query("Confirm"), what="dialog closed")

        await pilot.press("slash", "escape")  # clears the filter, back to the list
        await wait_for(lambda: len(events.seqs) == 10, what="unfiltered")
        assert events.has_focus and not box.has_focus and box.value == ""
        assert not app.query_one("FilterBar").has_class("-open")
        cursor = events.cursor
        await pilot.press("k")  # a key for the list now moves the list, not into the box
        assert events.cursor == cursor - 1 and box.value == ""
        app.action_run("replay-view")
        await wait_for(lambda: app.screen.query("Confirm #ok"), what="confirm")
        asked = app.screen.question
        assert "Replay all 10 events in view (no filter)" in asked


async def test_copy_as_curl_without_a_target_aims_at_this_inspector(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        case = CONNECTLY["events"][0]
        headers = {**case["headers"], "Host": "169.254.169.254"}  # chosen by the sender
        await client.post(base + case["path"], content=case["body"].encode(), headers=headers)
        events = app.query_one(EventList)
        await wait_for(lambda: events.seqs, what="row")
        assert not app.session.live.replay_target
        await pilot.press("c")
        assert f"'{base}/webhooks/connectly'" in app.clipboard
        assert "169.254.169.254" not in app.clipboard
        out = tmp_path / "all.sh"
        export.export_events(app, list(events.seqs), str(out))
        await wait_for(out.exists, what="export")
        script = out.read_text()
        assert f"'{base}/webhooks/connectly'" in script and "169.254.169.254" not in script


async def test_delete_then_undo_brings_the_event_back_intact(
        tmp_path: Path, recorder: Recorder) -> None:
    async with running_app(tmp_path, replay_to=recorder.url + "/") as (app, pilot, base), \
            httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:3]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 3, what="rows")
        first, middle, last = events.seqs
        replay.replay(app, [middle], recorder.url + "/")
        await wait_for(lambda: app.store.attempts(middle), what="an attempt")
        before = (app.store.event(middle), app.store.attempts(middle))

        await pilot.press("k", "d")  # the middle one
        await wait_for(lambda: list(events.seqs) == [first, last], what="deleted")
        await wait_for(lambda: "2 events" in status_text(app), what="count")
        assert app.store.seqs() == [first, last]  # from the store at once: every viewer
        await pilot.press("u")
        await wait_for(lambda: list(events.seqs) == [first, middle, last], what="restored")
        assert events.selected == middle and "3 events" in status_text(app)
        assert (app.store.event(middle), app.store.attempts(middle)) == before
        assert app.store.rows([middle])[middle].result == 200

        await pilot.press("u")  # nothing left to undo: says so, changes nothing
        assert list(events.seqs) == [first, middle, last]
        await pilot.press("d")
        await wait_for(lambda: list(events.seqs) == [first, last], what="deleted again")
        await app.action_quit()  # quitting ends the undo window: it stays deleted
    store = open_store(tmp_path / "events.db", index=False)
    assert store.seqs() == [first, last]
    store.close()


async def test_an_undo_window_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inspector.faces.tui.features.delete.UNDO_SECONDS", 0.3)
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        await post(base, CONNECTLY["events"][0], client)
        events = app.query_one(EventList)
        await wait_for(lambda: events.seqs, what="row")
        past = time.monotonic() + 0.3
        await pilot.press("d")
        await wait_for(lambda: app.store.count() == 0, what="gone from the store")
        await wait_for(lambda: time.monotonic() > past, what="the undo window to pass")
        await pilot.press("u")
        assert not events.seqs and app.store.count() == 0


async def test_a_request_target_that_is_not_a_path_never_picks_the_host(
        tmp_path: Path, recorder: Recorder) -> None:
    """`POST @host:port/x` is recorded as it came; appended to a replay or forward target it
    would have named the host. Copy as curl and the forward keep it a path. (h11 reads such
    a request line; httptools, the default, refuses it: test_request_line.py.)"""
    evil = Recorder().start()
    try:
        async with running_app(tmp_path, forward_to=recorder.url + "/", http="h11") as (
                app, pilot, base):
            port = int(base.rsplit(":", 1)[1])
            target = "@" + evil.url.removeprefix("http://") + "/stolen"
            answer = await send_raw(port, request(target=target, body=b'{"x": 1}'))
            assert answer.status == 200
            await wait_for(lambda: recorder.requests, what="the forward")
            assert recorder.requests[0].path == "/" + target and not evil.requests
            events = app.query_one(EventList)
            await wait_for(lambda: events.seqs, what="row")
            await pilot.press("c")
            assert f"'{base}/{target}'" in app.clipboard
    finally:
        evil.stop()
