"""Issue 5 in the TUI: edit & replay, replay many, forward results, answers, samples."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.answers import DEFAULT_POLICY
from inspector.core.interop import export, importing
from inspector.core.signatures import Secrets
from inspector.core.store import open_store
from inspector.faces.tui.features import answers, samples
from inspector.faces.tui.screens.prompt import Confirm
from inspector.faces.tui.widgets.detail import DetailPane, replays
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import CONNECTLY, SECRET, Recorder, connectly_event, running_app, wait_for


async def post(base: str, case: dict[str, Any], client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(base + case["path"], content=case["body"].encode(),
                             headers=case["headers"])


def signature_ok(body: bytes, header: str | None) -> bool:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return header == base64.b64encode(digest).decode()


async def test_edit_and_replay_resigned(tmp_path: Path, recorder: Recorder) -> None:
    async with running_app(tmp_path, replay_to=recorder.url + "/") as (app, pilot, base), \
            httpx.AsyncClient() as client:
        await post(base, connectly_event("text"), client)
        await wait_for(lambda: app.query_one(DetailPane).detail, what="detail")
        await pilot.press("R")
        await wait_for(lambda: app.screen.query("ReplayEditor #body"), what="editor")
        await pilot.pause()
        await pilot.press("space")  # an edit at the top of the body
        await pilot.click("#send")  # without re-signing: a warning first, nothing sent
        assert "original signature will not verify" in str(
            app.screen.query_one("#error").render())
        assert not recorder.requests
        await pilot.click("#resign")
        # A button ignores presses while it shows the last one (Textual's active effect).
        send = app.screen.query_one("#send")
        await wait_for(lambda: not send.has_class("-active"), what="Send ready again")
        await pilot.click("#send")
        await wait_for(lambda: recorder.requests, what="edited replay")
        got = recorder.requests[-1]
        assert got.body == b" " + connectly_event("text")["body"].encode()
        assert signature_ok(got.body, got.header("x-connectly-hmac-sha256"))
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail and pane.detail.attempts, what="attempt shown")
        assert pane.detail is not None
        attempt = pane.detail.attempts[-1]
        assert attempt.resigned and attempt.edited and attempt.status == 200


def shown(renderable: Any) -> str:
    console = Console(width=220, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return str(console.file.getvalue())  # type: ignore[attr-defined]


async def test_a_forced_resign_asks_first_naming_the_verdict_and_is_recorded(
        tmp_path: Path, recorder: Recorder) -> None:
    forged = connectly_event("text-tampered")
    async with running_app(tmp_path, replay_to=recorder.url + "/") as (app, pilot, base), \
            httpx.AsyncClient() as client:
        await post(base, forged, client)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail, what="detail")
        await pilot.press("R")
        await wait_for(lambda: app.screen.query("ReplayEditor #body"), what="editor")
        await pilot.pause()
        assert str(app.screen.query_one("#resign-why").render()).startswith(
            "Asks first: it arrived with an invalid signature (")
        await pilot.click("#resign")
        await pilot.click("#send")
        await wait_for(lambda: isinstance(app.screen, Confirm), what="the confirmation")
        question = str(app.screen.query_one("Label").render())
        assert question.startswith("Signature when it arrived: ✗ invalid (")
        assert "makes your app accept this event as genuine" in question
        assert not recorder.requests
        await pilot.click("#ok")
        await wait_for(lambda: recorder.requests, what="the forced replay")
        got = recorder.requests[-1]
        assert got.body == forged["body"].encode()
        assert signature_ok(got.body, got.header("x-connectly-hmac-sha256"))
        await wait_for(lambda: pane.detail and pane.detail.attempts, what="attempt shown")
        assert pane.detail is not None
        attempt = pane.detail.attempts[-1]
        assert attempt.forced and attempt.resigned and not attempt.edited
        assert attempt.note.startswith("forced re-sign: it arrived with an invalid signature")
        assert "forced re-sign" in shown(replays(pane.detail))
        seq = attempt.event_seq
        for fmt in ("jsonl", "har"):
            export.export_to_file(app.store, [seq], fmt, tmp_path / f"out.{fmt}")
    record = json.loads((tmp_path / "out.jsonl").read_text())
    har = json.loads((tmp_path / "out.har").read_text())
    for exported in (record, har["log"]["entries"][0][export.HAR_KEY]):
        (replayed,) = exported["attempts"]
        assert replayed["forced"] is True and replayed["resigned"] is True
        assert replayed["note"].startswith("forced re-sign: it arrived with an invalid signature")
    again = open_store(tmp_path / "again.db")
    try:
        with (tmp_path / "out.jsonl").open("rb") as data:
            importing.import_file(again, data, Analyzer(Secrets(default=SECRET)))
        (imported,) = again.attempts(again.seqs()[0])
        assert imported.forced and imported.note == attempt.note
    finally:
        again.close()


async def test_an_event_that_arrived_without_a_secret_is_resigned_once_it_verifies(
        tmp_path: Path, recorder: Recorder) -> None:
    """No secret when it arrived: authenticity unknown, so no automatic re-sign, even once
    a secret is known, until the event is verified with it (Set secret… re-verifies)."""
    async with running_app(tmp_path, secrets=Secrets(), replay_to=recorder.url + "/") as (
            app, pilot, base), httpx.AsyncClient() as client:
        await post(base, connectly_event("text"), client)
        events = app.query_one(EventList)
        await wait_for(lambda: events.seqs and events.row(events.seqs[0]).verdict == "no_secret",
                       what="the event, unchecked")
        await wait_for(lambda: app.query_one(DetailPane).detail, what="detail")
        app.session.set_secret("connectly", SECRET)  # not re-verified yet
        await pilot.press("s")
        await wait_for(lambda: any("not checked when it arrived" in n.message
                                   for n in app._notifications), what="the refusal")
        app.action_run("set-secret")
        await wait_for(lambda: app.screen.query("#secret"), what="secret prompt")
        app.screen.query_one("#secret").value = SECRET
        await pilot.press("enter")
        await wait_for(lambda: events.row(events.seqs[0]).verdict == "valid", what="verified")
        await pilot.press("s")
        await wait_for(lambda: recorder.requests, what="the re-signed replay")
        await wait_for(lambda: not any(w.is_running for w in app.workers), what="workers done")
    assert len(recorder.requests) == 1
    got = recorder.requests[0]
    assert signature_ok(got.body, got.header("x-connectly-hmac-sha256"))


async def test_replay_marked_events_in_order(tmp_path: Path, recorder: Recorder) -> None:
    async with running_app(tmp_path, replay_to=recorder.url + "/") as (app, pilot, base), \
            httpx.AsyncClient() as client:
        cases = CONNECTLY["events"][:4]
        for case in cases:
            await post(base, case, client)
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 4, what="rows")
        await pilot.press("g", "space", "j", "space", "space")  # marks 0, 2, 3
        assert len(events.marked) == 3
        await pilot.press("r")
        await wait_for(lambda: len(recorder.requests) == 3, what="3 replays")
        assert [r.body for r in recorder.requests] == [
            cases[i]["body"].encode() for i in (0, 2, 3)]
        await wait_for(lambda: all(events.row(s).result == 200 for s in
                                   events.marked_in_order()), what="result column")


async def test_forward_results_show_in_the_list(tmp_path: Path, recorder: Recorder) -> None:
    recorder.status = 202
    async with running_app(tmp_path, forward_to=recorder.url + "/") as (app, _pilot, base), \
            httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:3]:
            assert (await post(base, case, client)).status_code == 200
        events = app.query_one(EventList)
        await wait_for(lambda: len(recorder.requests) == 3, what="forwards")
        await wait_for(lambda: [events.row(s).result for s in events.seqs] == [202] * 3,
                       what="forward results in rows")
        assert "forward →" in str(app.query_one(StatusBar).render())


async def test_custom_status_and_reject_invalid_from_the_palette(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        app.action_run("response-status")
        await wait_for(lambda: app.screen.query("TextPrompt #url"), what="prompt")
        for typed in ("abc", "²⁰⁰"):  # said as a person reads it, not as Python's int() does
            app.screen.query_one("#url").value = typed
            await pilot.press("enter")
            error = str(app.screen.query_one("#error").render())
            assert error == f"status {typed!r} is not a number such as 200", error
        app.screen.query_one("#url").value = "202"
        await pilot.press("enter")
        await wait_for(lambda: not app.screen.query("TextPrompt"), what="prompt closed")
        answer = await post(base, connectly_event("text"), client)
        assert answer.status_code == 202 and answer.json()["ok"] is True
        assert "202" in str(app.query_one(StatusBar).render())
        app.action_run("reject-invalid")
        assert (await post(base, connectly_event("text-tampered"), client)).status_code == 401
        answers.set_policy(app, replace(app.session.live.policy, status=503,
                                        reject_invalid=False))
        answer = await post(base, connectly_event("text"), client)
        assert answer.status_code == 503 and answer.json()["ok"] is False
        app.action_run("response-default")  # applied by a worker (a viewer's goes remote)
        await wait_for(lambda: app.session.live.policy == DEFAULT_POLICY, what="the default")
        assert (await post(base, connectly_event("text-tampered"), client)).status_code == 200
        app.action_run("response-delay")
        await wait_for(lambda: app.screen.query("TextPrompt #url"), what="delay prompt")
        app.screen.query_one("#url").value = "soon"
        await pilot.press("enter")
        error = str(app.screen.query_one("#error").render())
        assert error == "delay 'soon' is not a number of seconds such as 1.5", error


async def test_send_sample_event_is_a_signed_demo(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _pilot, _base):
        samples.send_sample(app, "delivery_failed")
        events = app.query_one(EventList)
        await wait_for(lambda: events.seqs, what="sample event")
        row = events.row(events.seqs[-1])
        assert row is not None
        assert row.verdict == "valid" and row.kind == "delivery_status"
        assert row.summary.startswith("delivery_failed")
