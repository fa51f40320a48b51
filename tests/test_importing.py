"""Imports analysed as live events, and HAR responses that are what the sender got: through
the real receiver, the real `inspector export` and `inspector import` commands."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from inspector.core.capture.answers import ResponsePolicy
from inspector.core.model import Event
from inspector.core.session import Session
from inspector.core.store import open_store
from inspector.faces.cli.commands.export import export_command
from inspector.faces.cli.commands.import_ import import_command
from tests.conftest import CONNECTLY, SECRET, Recorder, make_runtime, make_settings, wait_for

DERIVED = ("provider", "verdict", "reason", "kind", "summary")
# Added by the server itself, after our answer: not part of what the inspector sent.
SERVER_HEADERS = {"date", "server"}


@asynccontextmanager
async def live(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Session, str]]:
    runtime = make_runtime(make_settings(tmp_path, **overrides))
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started)
    try:
        yield runtime, runtime.url.rstrip("/")
    finally:
        await runtime.stop()


def cli(command: Any, *args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def events_of(db: Path) -> dict[str, Event]:
    store = open_store(db, index=False)
    try:
        return {e.id: e for e in store.iter_events(store.seqs())}
    finally:
        store.close()


def devtools_har(base: str) -> dict[str, Any]:
    """The Connectly deliveries as Chrome's devtools saves them: HTTP/2 pseudo-headers, no
    extension field, display text rather than bytes."""
    authority = base.removeprefix("http://")
    entries = []
    for i, case in enumerate(CONNECTLY["events"]):
        headers = [{"name": ":authority", "value": authority},
                   {"name": ":method", "value": "POST"},
                   {"name": ":path", "value": case["path"]},
                   *({"name": k, "value": v} for k, v in case["headers"].items())]
        entries.append({
            "startedDateTime": f"2026-11-27T12:00:{i:02d}.000Z", "time": 3.2,
            "request": {"method": "POST", "url": base + case["path"], "httpVersion": "h2",
                        "headers": headers, "queryString": [], "cookies": [],
                        "headersSize": -1, "bodySize": len(case["body"]),
                        "postData": {"mimeType": "application/json", "text": case["body"]}},
            "response": {"status": 200, "statusText": "", "httpVersion": "h2",
                         "headers": [{"name": "content-type", "value": "application/json"}],
                         "cookies": [], "content": {"size": 11, "mimeType": "application/json",
                                                    "text": '{"ok":true}'},
                         "redirectURL": "", "headersSize": -1, "bodySize": 11},
            "cache": {}, "timings": {"send": 0, "wait": 3.2, "receive": 0}})
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "entries": entries}}


async def test_a_devtools_har_is_analysed_as_live_events_are(tmp_path: Path) -> None:
    async with live(tmp_path) as (_runtime, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"]:
            await client.post(base + case["path"], content=case["body"].encode(),
                              headers=case["headers"])
        har = devtools_har(base)
    received = sorted(events_of(tmp_path / "events.db").values(), key=lambda e: e.received_at)
    file = tmp_path / "devtools.har"
    file.write_text(json.dumps(har, indent=2))

    result = cli(import_command, str(file), "--db", str(tmp_path / "a.db"), "--secret", SECRET)
    assert result.exit_code == 0, result.output
    imported = sorted(events_of(tmp_path / "a.db").values(), key=lambda e: e.received_at)
    assert len(imported) == len(received) == len(CONNECTLY["events"])
    for case, was, now in zip(CONNECTLY["events"], received, imported, strict=True):
        assert now.verdict == case["expected"], case["name"]
        assert [getattr(now, f) for f in DERIVED] == [getattr(was, f) for f in DERIVED], \
            case["name"]
        assert now.body == was.body and now.header("host") == was.header("host")
        assert now.http_version == "2" and not now.header(":authority")

    # Without the secret, the same file says so rather than leaving the verdicts blank.
    result = cli(import_command, str(file), "--db", str(tmp_path / "b.db"))
    assert result.exit_code == 0, result.output
    verdicts = [e.verdict for e in sorted(events_of(tmp_path / "b.db").values(),
                                          key=lambda e: e.received_at)]
    assert verdicts == ["unsigned" if c["expected"] == "unsigned" else "no_secret"
                        for c in CONNECTLY["events"]]


async def test_the_har_response_is_what_the_sender_got(tmp_path: Path,
                                                       recorder: Recorder) -> None:
    """Custom body and header, --reject-invalid, a refusal and a mirrored downstream answer:
    each HAR response matches the bytes the sender read; replays are in the extension."""
    recorder.status, recorder.body = 202, b'{"app": "queued"}'
    policy = ResponsePolicy(status=201, body=b"thanks\n", headers=(("X-Custom", "1"),),
                            reject_invalid=True)
    got: dict[str, httpx.Response] = {}
    async with live(tmp_path, policy=policy) as (_runtime, base), \
            httpx.AsyncClient() as client:
        for name in ("text", "text-tampered"):
            case = next(c for c in CONNECTLY["events"] if c["name"] == name)
            response = await client.post(base + case["path"], content=case["body"].encode(),
                                         headers=case["headers"])
            got[response.headers["x-inspector-event-id"]] = response
        refused = await client.request("TRACE", base + "/hook")  # refused by the receiver
        got[refused.headers["x-inspector-event-id"]] = refused
    assert sorted(r.status_code for r in got.values()) == [201, 401, 405]
    async with live(tmp_path / "mirror", forward_to=recorder.url,
                    policy=ResponsePolicy(respond_with_downstream=True)) as (runtime, base), \
            httpx.AsyncClient() as client:
        response = await client.post(base + "/hook", content=b'{"x": 1}')
        assert response.status_code == 202
        ident = response.headers["x-inspector-event-id"]
        got[ident] = response
        await wait_for(lambda: runtime.store.answers_for([runtime.store.last_seq()]),
                       what="the mirrored answer stored")

    entries = []
    for folder in (tmp_path, tmp_path / "mirror"):
        result = cli(export_command, "--db", str(folder / "events.db"), "--format", "har",
                     "-o", str(folder / "out.har"))
        assert result.exit_code == 0, result.output
        entries += json.loads((folder / "out.har").read_text())["log"]["entries"]
    assert len(entries) == len(got) == 4
    for entry in entries:
        sent = got[entry["_webhookInspector"]["id"]]
        answer = entry["response"]
        assert answer["status"] == sent.status_code
        assert answer["content"]["text"] == sent.text
        assert [(h["name"].lower(), h["value"]) for h in answer["headers"]] == [
            (k.decode().lower(), v.decode()) for k, v in sent.headers.raw
            if k.decode().lower() not in SERVER_HEADERS]
    mirrored = next(e for e in entries if e["response"]["status"] == 202)
    forward = mirrored["_webhookInspector"]["attempts"][0]
    assert (forward["kind"], forward["status"]) == ("forward", 202)

    # Imported back, the answers come with them: exported again, the same file.
    har = tmp_path / "mirror" / "out.har"
    result = cli(import_command, str(har), "--db", str(tmp_path / "c.db"))
    assert result.exit_code == 0, result.output
    result = cli(export_command, "--db", str(tmp_path / "c.db"), "--format", "har",
                 "-o", str(tmp_path / "again.har"))
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "again.har").read_text())["log"]["entries"]
    assert [e["response"] for e in again] == [mirrored["response"]]
