"""Issue 6 in the TUI: filter, export, compare, copy as curl, tunnel and registration."""

from __future__ import annotations

import base64
import json
import stat
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from inspector.core.capture.tunnel import parse_spec
from inspector.faces.tui.screens.prompt import Confirm, TextPrompt
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import CONNECTLY, connectly_event, running_app, wait_for
from tests.test_connectly_register import KEY, ConnectlyStandIn
from tests.test_tunnel import STANDIN


async def post(base: str, case: dict[str, Any], client: httpx.AsyncClient,
               query: str = "") -> httpx.Response:
    return await client.post(base + case["path"] + query, content=case["body"].encode(),
                             headers=case["headers"])


def status_text(app: Any) -> str:
    return str(app.query_one(StatusBar).render())


async def test_filter_as_you_type_and_live_events(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 10, what="rows")
        await pilot.press("slash")
        await pilot.press(*"kind:delivery_status")
        await wait_for(lambda: len(events.seqs) == 2, what="filtered list")
        assert {events.row(s).kind for s in events.seqs} == {"delivery_status"}
        assert "2 of 10 events" in status_text(app)
        await pilot.press("enter")
        assert events.has_focus
        # New deliveries are checked against the filter as they arrive.
        await post(base, connectly_event("text"), client)
        await post(base, connectly_event("delivery_status"), client, "?n=new")
        await wait_for(lambda: len(events.seqs) == 3, what="matching new event")
        await wait_for(lambda: "3 of 12 events" in status_text(app), what="counts")
        assert events.row(events.seqs[-1]).query == "n=new"
        # Free text searches bodies; a bad filter says why and keeps the last good one.
        await pilot.press("slash")
        app.query_one("#filter-input").value = '"TEST 12"'
        await wait_for(lambda: len(events.seqs) == 1, what="free text")
        app.query_one("#filter-input").value = "verdict:maybe"
        await wait_for(lambda: "verdict" in str(app.query_one("#filter-error").render()),
                       what="filter error")
        assert len(events.seqs) == 1
        await pilot.press("escape")  # clears
        await wait_for(lambda: len(events.seqs) == 12, what="unfiltered")
        assert "of" not in status_text(app).split("events")[0]


async def test_export_marked_events_to_jsonl(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:3]:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 3, what="rows")
        await pilot.press("g", "space", "space", "e")
        await wait_for(lambda: app.screen.query("TextPrompt #url"), what="export prompt")
        app.screen.query_one("#url").value = str(tmp_path / "out.txt")
        await pilot.press("enter")
        assert ".jsonl, .har or .sh" in str(app.screen.query_one("#error").render())
        app.screen.query_one("#url").value = str(target)
        await pilot.press("enter")
        await wait_for(target.exists, what="export file")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [base64.b64decode(r["body_base64"]) for r in lines] == [
        c["body"].encode() for c in CONNECTLY["events"][:2]]


async def test_compare_two_marked_events(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        await post(base, connectly_event("text"), client)
        await post(base, connectly_event("text-tampered"), client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 2, what="rows")
        await pilot.press("equals_sign")  # nothing marked: a hint, no screen
        assert app.screen.__class__.__name__ != "DiffScreen"
        await pilot.press("g", "space", "space", "equals_sign")
        await wait_for(lambda: app.screen.__class__.__name__ == "DiffScreen", what="diff")
        comparison = app.screen.comparison
        assert comparison.body.changes == 1 and comparison.headers.changes == 0
        await pilot.press("escape")
        await wait_for(lambda: app.screen.__class__.__name__ != "DiffScreen", what="closed")


async def test_copy_as_curl(tmp_path: Path) -> None:
    async with running_app(tmp_path, replay_to="http://localhost:3000/") as (app, pilot, base), \
            httpx.AsyncClient() as client:
        await post(base, connectly_event("text"), client)
        events = app.query_one(EventList)
        await wait_for(lambda: events.seqs, what="row")
        await pilot.press("c")
        command = app.clipboard
        assert command.startswith("printf") or command.startswith("curl")
        assert "http://localhost:3000/webhooks/connectly" in command
        assert "x-connectly-hmac-sha256" in command


@pytest.fixture
def cloudflared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    script = folder / "cloudflared"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" cloudflared "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.setenv("STANDIN_STATE", str(state))


async def test_tunnel_in_the_header_and_registration(tmp_path: Path, cloudflared: None) -> None:
    api = ConnectlyStandIn().start()
    try:
        async with running_app(tmp_path, tunnel=parse_spec("cloudflared"),
                               connectly_business_id="biz-1", connectly_api_key=KEY,
                               connectly_api_base=api.url) as (app, _pilot, _base):
            public = "https://quiet-river-1.trycloudflare.com"
            await wait_for(lambda: public in status_text(app), what="tunnel URL in the header")
            assert app.session.live.public_url == public
            app.action_run("register-connectly")
            await wait_for(lambda: len(api.received) == 2, what="both topics registered")
            bodies = [json.loads(r["body"]) for r in api.received]
            assert [b["topic"] for b in bodies] == ["messages", "delivery_status"]
            assert {b["address"] for b in bodies} == {public + "/webhooks/connectly"}
            assert all(r["headers"]["x-api-key"] == KEY for r in api.received)
            app.action_run("copy-registration")
            assert app.clipboard.count("curl -X POST") == 2
            assert KEY not in app.clipboard and "$CONNECTLY_API_KEY" in app.clipboard
            tunnel = app.session.tunnel
            assert tunnel is not None and tunnel.pid is not None
            pid = tunnel.pid
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    finally:
        api.stop()


def toasts(app: Any) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


async def answer_yes(app: Any, pilot: Any, what: str) -> str:
    """Wait for a Confirm dialog, press its yes button; returns its question."""
    await wait_for(lambda: app.screen.query("Confirm #ok"), what=what)
    dialog = app.screen
    assert isinstance(dialog, Confirm)
    await pilot.pause()  # laid out: the click lands on the button
    assert await pilot.click("#ok")
    return dialog.question


async def test_connectly_webhooks_from_the_palette(tmp_path: Path, cloudflared: None) -> None:
    """Register (a taken topic is offered for an update), list, point at the tunnel and
    delete, against the stand-in of Connectly's API; each as curl too, never with the key."""
    api = ConnectlyStandIn().start()
    old = api.add("messages", "https://old.example/webhooks/connectly")
    try:
        async with running_app(tmp_path, tunnel=parse_spec("cloudflared"),
                               connectly_business_id="biz-1", connectly_api_key=KEY,
                               connectly_api_base=api.url) as (app, pilot, _base):
            address = "https://quiet-river-1.trycloudflare.com/webhooks/connectly"
            await wait_for(lambda: app.session.live.public_url, what="tunnel up")
            app.action_run("register-connectly")
            question = await answer_yes(app, pilot, "the 409's offer")
            assert old in question and "https://old.example" in question
            await wait_for(lambda: len(api.hooks) == 2 and {h["address"] for h in
                                                            api.hooks.values()} == {address},
                           what="messages updated, delivery_status registered")
            assert [r["method"] for r in api.received] == ["POST", "GET", "PUT", "POST"]

            app.action_run("list-connectly")
            await wait_for(lambda: any(t == "Connectly webhooks (2)" for t, _ in toasts(app)),
                           what="the list")
            listed = next(m for t, m in toasts(app) if t == "Connectly webhooks (2)")
            assert old in listed and f"messages → {address}" in listed

            api.hooks[old]["address"] = "https://elsewhere.example/webhooks/connectly"
            app.action_run("copy-point-connectly")
            await wait_for(lambda: "curl -X PUT" in app.clipboard, what="the update as curl")
            assert f"/update/webhooks/{old}" in app.clipboard and "curl -X POST" not in \
                app.clipboard
            app.action_run("point-connectly")
            await wait_for(lambda: api.hooks[old]["address"] == address, what="pointed")
            await wait_for(lambda: any(t == "Nothing to change" and "delivery_status" in m
                                       for t, m in toasts(app)), what="one already there")

            app.action_run("copy-list-connectly")
            assert app.clipboard.startswith("curl -X GET") and "biz-1/webhooks" in app.clipboard

            app.action_run("delete-connectly")
            await wait_for(lambda: app.screen.query("TextPrompt Input"), what="which one?")
            await pilot.press(*old, "enter")
            question = await answer_yes(app, pilot, "are you sure?")
            assert question.startswith(f"Delete {old} messages")
            await wait_for(lambda: old not in api.hooks, what="deleted")

            app.action_run("copy-delete-connectly")
            await wait_for(lambda: app.screen.query("TextPrompt Input"), what="which one?")
            assert isinstance(app.screen, TextPrompt)
            await pilot.press(*"wh_9", "enter")
            await wait_for(lambda: "curl -X DELETE" in app.clipboard, what="delete as curl")
            assert "/v1/businesses/biz-1/delete/webhooks/wh_9 " in app.clipboard
            copied = app.clipboard
            assert KEY not in copied and "$CONNECTLY_API_KEY" in copied
    finally:
        api.stop()
