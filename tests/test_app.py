"""End to end: the real app on port 0, real HTTP over loopback, driven by Pilot."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import CONNECTLY, Recorder, connectly_event, running_app, wait_for


def list_text(app: InspectorApp) -> list[str]:
    """What the event list shows, line by line (header first)."""
    events = app.query_one(EventList)
    return [events.render_line(y).text for y in range(events.size.height)]


async def post(base: str, case: dict[str, Any], client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(base + case["path"], content=case["body"].encode(),
                             headers=case["headers"])


async def test_fixtures_arrive_with_verdicts_kinds_and_summaries(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"]:
            response = await post(base, case, client)
            assert response.status_code == 200
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == len(CONNECTLY["events"]), what="all rows")
        await pilot.pause()
        rows = [events.row(seq) for seq in events.seqs]
        assert [r.verdict for r in rows if r] == [c["expected"] for c in CONNECTLY["events"]]
        kinds = [r.kind for r in rows if r][:6]
        assert kinds == ["message", "referral", "media", "button", "delivery_status",
                         "delivery_status"]
        lines = "\n".join(list_text(app))
        assert '+16315555500 → "TEST 11"' in lines
        assert "delivery_failed: Message template inputs invalid" in lines
        assert "✓ valid" in lines and "✗ invalid" in lines and "– unsigned" in lines
        assert "TIME" in lines.splitlines()[0] and "SIGNATURE" in lines.splitlines()[0]
        # Follow mode selected the newest event, and the detail pane shows it.
        assert events.selected == events.seqs[-1]
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail and pane.detail.event.seq == events.seqs[-1],
                       what="detail of newest")
        status = app.query_one(StatusBar)
        await wait_for(lambda: status.total == len(CONNECTLY["events"]), what="status count")


async def test_empty_overview_says_where_to_send_a_first_event(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        def overview() -> str:
            return str(app.query_one("#overview").render())

        await wait_for(lambda: f"Send any request to {base}/" in overview(), what="the hint")
        assert "Send sample event" in overview()
        await post(base, connectly_event("text-tampered"), client)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None, what="the event shown")
        assert "Send any request" not in overview()
        await pilot.press("d")  # the only event gone, nothing selected: the hint is back
        await wait_for(lambda: "Send any request" in overview(), what="the hint again")


async def test_detail_pane_shows_headers_body_raw_and_signature(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        await post(base, connectly_event("text-tampered"), client)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None, what="detail")
        detail = pane.detail
        assert detail is not None
        assert detail.check.verdict.value == "invalid"
        assert detail.check.received == "MXTwSBGrZmuI4GDrnjovSWvGKRBHuhhcvyROzoaj8sQ="
        assert detail.check.expected and detail.check.expected != detail.check.received
        assert detail.body_json and '    "text": "TEST 12"' in detail.body_lines
        assert detail.raw_lines[0] == "POST /webhooks/connectly HTTP/1.1"
        headers = app.query_one("#headers")
        assert headers.row_count >= 4
        await pilot.press("3")
        assert app.query_one("#tabs").active == "tab-body"
        await pilot.press("5")
        assert app.query_one("#tabs").active == "tab-signature"


async def test_replay_key_sends_byte_exact_copy(tmp_path: Path, recorder: Recorder) -> None:
    target = recorder.url + "/"
    async with running_app(tmp_path, replay_to=target) as (app, pilot, base), \
            httpx.AsyncClient() as client:
        case = connectly_event("delivery_failed")
        await post(base, case, client)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None, what="detail")
        await pilot.press("r")
        await wait_for(lambda: recorder.requests, what="replayed request")
        got = recorder.requests[-1]
        assert got.path == case["path"]
        assert got.body == case["body"].encode()
        assert got.header("x-connectly-hmac-sha256") == case["headers"]["x-connectly-hmac-sha256"]
        # The result is stored and shown.
        await wait_for(lambda: pane.detail and pane.detail.attempts, what="attempt shown")
        assert pane.detail is not None
        assert pane.detail.attempts[-1].status == 200
        assert app.query_one("#tabs").active == "tab-replay"
        events = app.query_one(EventList)
        await wait_for(lambda: "200" in list_text(app)[1], what="result column")
        assert events.row(events.seqs[-1]).result == 200


async def test_replay_without_target_asks_and_remembers(tmp_path: Path, recorder: Recorder) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        await post(base, connectly_event("text"), client)
        await wait_for(lambda: app.query_one(DetailPane).detail, what="detail")
        await pilot.click("#replay")
        await wait_for(lambda: app.screen.query("URLPrompt #url"), what="prompt")
        field = app.screen.query_one("#url")
        field.value = "ftp://nope"
        await pilot.press("enter")
        assert "not an http(s) URL" in str(app.screen.query_one("#error").render())
        field.value = recorder.url + "/hooks/in"
        await pilot.press("enter")
        await wait_for(lambda: recorder.requests, what="replay")
        assert recorder.requests[-1].path == "/hooks/in"
        assert app.session.live.replay_target == recorder.url + "/hooks/in"
        assert app.store.meta("replay_target") == recorder.url + "/hooks/in"


async def test_unreachable_replay_target_is_a_clear_message(tmp_path: Path) -> None:
    async with running_app(tmp_path, replay_to="http://127.0.0.1:9/") as (app, pilot, base), \
            httpx.AsyncClient() as client:
        await post(base, connectly_event("text"), client)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail, what="detail")
        await pilot.press("r")
        await wait_for(lambda: pane.detail and pane.detail.attempts, what="failed attempt")
        assert pane.detail is not None
        assert "connection refused" in pane.detail.attempts[-1].error
        assert "✗ failed" in "\n".join(list_text(app))


async def test_events_persist_across_two_runs(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_app, _pilot, base), httpx.AsyncClient() as client:
        ids = [(await post(base, c, client)).json()["id"] for c in CONNECTLY["events"][:4]]
    async with running_app(tmp_path) as (app, _pilot, base):
        events = app.query_one(EventList)
        assert len(events.seqs) == 4
        assert [events.row(s).id for s in events.seqs] == ids
        assert "+16315555555 → video" in "\n".join(list_text(app))


async def test_follow_toggle_and_navigation(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:5]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 5, what="rows")
        await pilot.press("k")
        assert events.cursor == 3 and not events.follow  # moving up leaves follow mode
        await post(base, CONNECTLY["events"][5], client)
        await wait_for(lambda: len(events.seqs) == 6, what="6th row")
        assert events.cursor == 3  # not followed
        await pilot.press("g")
        assert events.cursor == 0
        await pilot.press("G")
        assert events.cursor == 5 and events.follow
        await pilot.press("f")
        assert not events.follow
        assert "follow off" in str(app.query_one(StatusBar).render())
        await pilot.press("f")
        assert events.follow


async def test_delete_and_clear_with_confirmation(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Past undo at once.
    monkeypatch.setattr("inspector.faces.tui.features.delete.UNDO_SECONDS", 0.2)
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:3]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 3, what="rows")
        await pilot.press("d")
        await wait_for(lambda: len(events.seqs) == 2, what="deleted")
        await wait_for(lambda: app.store.count() == 2, what="gone from the store")
        await pilot.press("D")
        await wait_for(lambda: app.screen.query("Confirm #ok"), what="confirm")
        await pilot.press("escape")
        assert app.store.count() == 2
        await pilot.press("D")
        await wait_for(lambda: app.screen.query("Confirm #ok"), what="confirm")
        await pilot.click("#ok")
        await wait_for(lambda: not events.seqs, what="cleared")
        assert app.store.count() == 0


async def test_refused_body_is_listed_as_refused(tmp_path: Path) -> None:
    async with running_app(tmp_path, max_body=100) as (app, _pilot, base), \
            httpx.AsyncClient() as client:
        response = await client.post(base + "/big", content=b"x" * 101)
        assert response.status_code == 413
        await wait_for(lambda: "refused 413" in "\n".join(list_text(app)), what="refused row")


async def test_2000_concurrent_posts_all_stored_and_listed(tmp_path: Path) -> None:
    """50 keep-alive connections x 40 posts each, all at once."""
    body = connectly_event("text")
    async with running_app(tmp_path) as (app, _pilot, base):

        async def worker(w: int) -> list[str]:
            ids = []
            async with httpx.AsyncClient(timeout=30) as client:
                for i in range(40):
                    r = await client.post(f"{base}/load/{w}/{i}", content=body["body"].encode(),
                                          headers=body["headers"])
                    assert r.status_code == 200
                    ids.append(str(r.json()["id"]))
            return ids

        batches = await asyncio.gather(*(worker(w) for w in range(50)))
        ids = [i for batch in batches for i in batch]
        assert len(set(ids)) == 2000
        assert app.store.count() == 2000
        for ident in ids[::97]:
            assert app.store.event_by_id(ident) is not None
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 2000, what="2000 rows")
        assert events.selected == events.seqs[-1]


async def test_set_secret_reverifies_events(tmp_path: Path) -> None:
    from inspector.core.signatures import Secrets

    async with running_app(tmp_path, secrets=Secrets()) as (app, pilot, base), \
            httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:3]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 3, what="rows")
        assert {events.row(s).verdict for s in events.seqs} == {"no_secret"}
        app.action_run("set-secret")
        await wait_for(lambda: app.screen.query("#secret"), what="secret prompt")
        app.screen.query_one("#secret").value = CONNECTLY["secret"]
        await pilot.press("enter")
        await wait_for(lambda: {events.row(s).verdict for s in events.seqs} == {"valid"},
                       what="re-verified rows")
        assert {r.verdict for r in app.store.rows(events.seqs).values()} == {"valid"}
        # The secret itself is never stored.
        raw = Path(app.store.path).read_bytes() + Path(app.store.path + "-wal").read_bytes()
        assert CONNECTLY["secret"].encode() not in raw


async def test_marks_with_space(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:4]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 4, what="rows")
        await pilot.press("g", "space", "space")
        assert events.marked_in_order() == list(events.seqs[:2])
        assert events.cursor == 2
        assert list_text(app)[1].startswith("●") and list_text(app)[3].startswith(" ")
        assert "2 marked" in str(app.query_one(StatusBar).render())
        await pilot.press("k", "space")  # unmark the second
        assert events.marked_in_order() == [events.seqs[0]]


async def test_enter_focuses_the_content_and_escape_returns(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        await client.post(base + "/t", content=b"first paragraph\n\nsecond paragraph",
                          headers={"content-type": "text/plain"})
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None, what="detail")
        # Blank lines survive in the views (the body is not glued to the headers).
        raw = pane.detail.raw_lines if pane.detail else []
        assert raw[-3:] == ["first paragraph", "", "second paragraph"]
        await pilot.press("4", "enter")
        assert app.focused is not None and app.focused.id == "raw"
        view = app.query_one("#raw")
        assert list(view.lines)[-3:] == ["first paragraph", "", "second paragraph"]
        assert view.virtual_size.height == len(raw)  # the blank line is a line on screen
        await pilot.press("escape")
        assert app.focused is app.query_one(EventList)
        assert app.query_one("#replay").can_focus is False  # `r` is the key for it


async def test_deleting_a_marked_event_updates_the_count(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:3]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 3, what="rows")
        await pilot.press("g", "space", "space", "k", "d")
        await wait_for(lambda: len(events.seqs) == 2, what="deleted")
        assert len(events.marked) == 1
        await wait_for(lambda: "1 marked" in str(app.query_one(StatusBar).render()),
                       what="count")


@pytest.mark.parametrize("size", [100, 3 * 1024 * 1024])
async def test_the_kind_from_a_header_does_not_depend_on_the_body_size(tmp_path: Path,
                                                                      size: int) -> None:
    """X-GitHub-Event names the kind whatever the body's size (it was lost from 2.5 MB)."""
    body = json.dumps({"ref": "refs/heads/main", "pad": "x" * size}).encode()
    async with running_app(tmp_path) as (app, _pilot, base), httpx.AsyncClient() as client:
        answer = await client.post(base + "/gh", content=body, timeout=30, headers={
            "content-type": "application/json", "x-github-event": "push"})
        events = app.query_one(EventList)
        await wait_for(lambda: events.seqs, what="the row")
        row = app.store.rows(events.seqs).popitem()[1]
        assert row.kind == "push"
        assert app.store.event_by_id(answer.json()["id"]).kind == "push"
