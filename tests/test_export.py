"""Export (JSON lines, HAR, curl) and import, through the real store and the click commands."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.delivery import replay
from inspector.core.interop.export import export
from inspector.core.interop.importing import Imported, ImportFailed, import_file
from inspector.core.model import Attempt, Event, new_id
from inspector.core.signatures import Secrets
from inspector.core.store import EventStore, open_store
from inspector.faces.cli.commands.export import export_command
from inspector.faces.cli.commands.import_ import import_command
from tests.conftest import (
    CONNECTLY,
    SECRET,
    Recorder,
    connectly_event,
    make_runtime,
    make_settings,
)

ANALYZER = Analyzer(Secrets(default=SECRET))  # what the receiver runs, with the secret


def odd_event(n: int = 0) -> Event:
    """Non-UTF-8 body with NUL, duplicate and non-ASCII headers, a query, notes."""
    return Event(
        id=new_id(1_700_000_000 + n), received_at=1_700_000_000.123456 + n, method="POST",
        path="/hooks/a%2Fb", query="x=1&x=2",
        headers=[("Host", "127.0.0.1:8765"), ("X-Dup", "1"), ("X-Dup", "2"),
                 ("X-Latin", "caf\xe9"), ("Content-Type", "application/octet-stream")],
        body=b"\x00\xff\xfe raw \x1b[31m bytes\n" + bytes([n % 256]),
        client="203.0.113.7:40000", notes=["odd one"])


def fixture_events() -> list[Event]:
    events = []
    for i, case in enumerate(CONNECTLY["events"]):
        events.append(Event(
            id=new_id(1_700_000_100 + i), received_at=1_700_000_100.5 + i, method="POST",
            path=case["path"], query="",
            headers=[("host", "127.0.0.1:8765"), *case["headers"].items()],
            body=case["body"].encode()))
    return events


def analysed(events: list[Event]) -> list[Event]:
    """As the receiver's writer stores them: analysed with the secret."""
    for event in events:
        ANALYZER.analyze(event)
    return events


def imported(store: EventStore, blob: bytes, **options: object) -> Imported:
    return import_file(store, io.BytesIO(blob), ANALYZER, **options)  # type: ignore[arg-type]


def filled_store(path: Path) -> EventStore:
    store = open_store(path, index=False)
    events = analysed([odd_event(1), *fixture_events(), odd_event(2)])
    stored = store.import_events_sync([(e, []) for e in events])
    first = stored[0]
    store.record_attempt_sync(Attempt(
        event_seq=first.seq, kind="replay", at=1_700_000_500.25, method="POST",
        url="http://localhost:3000/hooks/a%2Fb", status=502, elapsed_ms=12.5,
        response_headers=[("content-type", "text/plain"), ("x-r", "1"), ("x-r", "2")],
        response_body=b"bad \xff gateway"))
    store.record_attempt_sync(Attempt(
        event_seq=first.seq, kind="forward", at=1_700_000_501.0, method="POST",
        url="http://localhost:3000/hooks/a%2Fb", error="connection refused: nothing answers"))
    store.record_attempt_sync(Attempt(
        event_seq=stored[1].seq, kind="replay", at=1_700_000_502.0, method="POST",
        url="http://localhost:3000/webhooks/connectly", status=200, elapsed_ms=3.0,
        response_headers=[("content-type", "application/json")], response_body=b'{"ok":1}'))
    return store


def exported(store: EventStore, fmt: str, query: str = "") -> str:
    out = io.StringIO()
    export(store, store.search(query), fmt, out)
    return out.getvalue()


def test_jsonl_round_trips_byte_exact(tmp_path: Path) -> None:
    first = exported(filled_store(tmp_path / "a.db"), "jsonl")
    lines = first.splitlines()
    assert len(lines) == len(CONNECTLY["events"]) + 2
    record = json.loads(lines[0])
    assert base64.b64decode(record["body_base64"]).startswith(b"\x00\xff\xfe raw \x1b")
    assert record["headers"][1:3] == [["X-Dup", "1"], ["X-Dup", "2"]]
    assert [a["kind"] for a in record["attempts"]] == ["replay", "forward"]
    assert first.isascii() and "\x1b" not in first  # escapes stay escaped in the file

    again = open_store(tmp_path / "b.db", index=False)
    result = imported(again, first.encode())
    assert (result.format, result.read, result.added) == ("jsonl", len(lines), len(lines))
    assert not result.skipped
    assert exported(again, "jsonl") == first
    # Importing again adds nothing: ids are kept.
    assert imported(again, first.encode()).added == 0
    assert again.count() == len(lines)
    row = again.rows([again.seqs()[0]])[again.seqs()[0]]
    assert row.result == 0  # the latest attempt (the failed forward) is the list's result


def test_har_opens_as_har_and_imports_without_loss(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.db")
    har = json.loads(exported(store, "har"))
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "webhook-inspector"
    entries = log["entries"]
    assert len(entries) == store.count()
    for entry in entries:  # the fields HAR 1.2 requires
        assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= set(entry)
        assert entry["startedDateTime"].endswith("Z")
        assert {"method", "url", "httpVersion", "cookies", "headers", "queryString",
                "headersSize", "bodySize"} <= set(entry["request"])
        assert {"status", "statusText", "httpVersion", "cookies", "headers", "content",
                "redirectURL", "headersSize", "bodySize"} <= set(entry["response"])
        assert {"send", "wait", "receive"} <= set(entry["timings"])
    odd, text = entries[0], entries[1]
    assert odd["request"]["url"] == "http://127.0.0.1:8765/hooks/a%2Fb?x=1&x=2"
    assert odd["request"]["queryString"] == [{"name": "x", "value": "1"},
                                             {"name": "x", "value": "2"}]
    assert {"name": "X-Latin", "value": "caf\xe9"} in odd["request"]["headers"]
    # The response is what the sender got; replays and forwards are in the extension field.
    odd_id = odd["_webhookInspector"]["id"]
    assert odd["response"]["status"] == 200
    assert odd["response"]["content"]["text"] == f'{{"ok":true,"id":"{odd_id}"}}'
    assert odd["response"]["headers"] == [
        {"name": "content-type", "value": "application/json"},
        {"name": "content-length", "value": str(len(f'{{"ok":true,"id":"{odd_id}"}}'))},
        {"name": "x-inspector-event-id", "value": odd_id}]
    assert "answered the sender" in odd["response"]["comment"]
    assert [a["status"] for a in odd["_webhookInspector"]["attempts"]] == [502, None]
    assert "2 replay/forward attempts, the latest forward" in odd["comment"]
    assert text["request"]["postData"]["text"] == CONNECTLY["events"][0]["body"]
    assert text["response"]["status"] == 200 and '"ok":true' in text["response"]["content"]["text"]
    assert text["_webhookInspector"]["attempts"][0]["response_body_base64"] == \
        base64.b64encode(b'{"ok":1}').decode()

    again = open_store(tmp_path / "b.db", index=False)
    har_text = exported(store, "har")
    assert imported(again, har_text.encode()).format == "har"
    assert exported(again, "jsonl") == exported(store, "jsonl")


def test_har_from_another_tool_imports_its_requests(tmp_path: Path) -> None:
    har = {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                   "entries": [{
                       "startedDateTime": "2026-11-27T12:00:00.250Z", "time": 12.0,
                       "request": {"method": "POST", "url": "https://api.example/hooks/in?a=1",
                                   "httpVersion": "HTTP/1.1",
                                   "headers": [{"name": "Content-Type",
                                                "value": "application/json"},
                                               {"name": "X-Name", "value": "café"}],
                                   "queryString": [], "cookies": [], "headersSize": -1,
                                   "bodySize": 9,
                                   "postData": {"mimeType": "application/json",
                                                "text": '{"a":"é"}'}},
                       "response": {"status": 202, "statusText": "Accepted",
                                    "headers": [{"name": "Content-Type",
                                                 "value": "text/plain"}],
                                    "content": {"size": 2, "mimeType": "text/plain",
                                                "text": "ok"}},
                       "cache": {}, "timings": {}}]}}
    blob = json.dumps(har, indent=2).encode()
    store = open_store(tmp_path / "e.db", index=False)
    assert imported(store, blob).added == 1
    event = store.event(store.seqs()[0])
    assert event is not None
    assert (event.method, event.path, event.query) == ("POST", "/hooks/in", "a=1")
    assert event.body == '{"a":"é"}'.encode()
    assert ("X-Name", "café".encode().decode("latin-1")) in event.headers
    assert event.header("host") == "api.example"
    assert event.received_at == datetime(2026, 11, 27, 12, 0, 0, 250000, UTC).timestamp()
    assert (event.verdict, event.kind) == ("unsigned", "json")  # analysed, as live
    assert event.notes[0] == "imported from a HAR file written by another tool"
    # Its response is what the sender got, and goes out again as the HAR's response.
    assert event.status == 202
    entry = json.loads(exported(store, "har"))["log"]["entries"][0]
    assert entry["response"]["status"] == 202 and entry["response"]["content"]["text"] == "ok"
    assert entry["response"]["headers"] == [{"name": "Content-Type", "value": "text/plain"}]
    assert imported(store, blob).added == 0  # same entry, same id


def test_curl_export_is_one_command_per_event(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "a.db")
    text = exported(store, "curl", "path:/webhook*")
    assert text.count("\ncurl ") + text.startswith("curl ") == len(CONNECTLY["events"])
    assert text.count("# ") == len(CONNECTLY["events"])
    assert "'http://127.0.0.1:8765/webhooks/connectly'" in text


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "the file is empty"),
        (b"<html>", "neither JSON lines nor HAR"),
        (b'{"log": {"entries": {}}}', "nor HAR .no log.entries"),
        (b'{"log": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
)
def test_a_file_of_neither_format_is_one_clear_error(tmp_path: Path, blob: bytes,
                                                     message: str) -> None:
    store = open_store(tmp_path / "e.db", index=False)
    with pytest.raises(ImportFailed, match=message):
        imported(store, blob)
    assert store.count() == 0


def test_bad_entries_are_skipped_and_named_the_rest_imported(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db", index=False)
    store.import_events_sync([(e, []) for e in analysed([odd_event(i) for i in range(3)])])
    lines = exported(store, "jsonl").splitlines()
    blob = "\n".join(["{oops", lines[0], lines[1], '{"id": "x", "method": "POST"}',
                      lines[2]]).encode()
    again = open_store(tmp_path / "b.db", index=False)
    result = imported(again, blob, batch=2)
    assert (result.read, result.added) == (3, 3)
    assert [p.split(":")[0] for p in result.skipped] == ["line 1", "line 4"]
    assert result.skipped[0].startswith("line 1: not JSON")
    assert result.skipped[1] == 'line 4: id "x" is not 26 letters and digits, as ours'
    assert exported(again, "jsonl") == exported(store, "jsonl")


def test_commands(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    filled_store(db).close()
    runner = CliRunner()
    out = tmp_path / "out" / "invalid.jsonl"
    out.parent.mkdir()
    invalid = sum(case["expected"] == "invalid" for case in CONNECTLY["events"])
    result = runner.invoke(export_command, ["--db", str(db), "--format", "jsonl",
                                            "--filter", "verdict:invalid", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"exported {invalid} events to" in result.output
    assert [json.loads(line)["verdict"] for line in out.read_text().splitlines()] == \
        ["invalid"] * invalid
    assert not list(out.parent.glob(".*"))  # no temporary file left

    result = runner.invoke(import_command, [str(out), "--db", str(tmp_path / "b.db"),
                                            "--secret", SECRET])
    assert result.exit_code == 0, result.output
    assert f"imported {invalid} of {invalid} events (jsonl)" in result.output
    result = runner.invoke(import_command, [str(out), "--db", str(tmp_path / "b.db")])
    assert f"imported 0 of {invalid} events" in result.output
    assert f"{invalid} were already there" in result.output

    result = runner.invoke(export_command, ["--db", str(db), "--format", "curl",
                                            "--target", "http://localhost:3000/"])
    assert result.exit_code == 0 and "'http://localhost:3000/webhooks/connectly'" in \
        result.output

    bad = runner.invoke(export_command, ["--db", str(db), "--format", "har",
                                         "--filter", "metod:POST"])
    assert bad.exit_code == 2 and "unknown field 'metod'" in bad.output
    missing = runner.invoke(export_command, ["--db", str(tmp_path / "none.db"),
                                             "--format", "har"])
    assert missing.exit_code == 2 and "no database at" in missing.output
    assert not (tmp_path / "none.db").exists()
    junk = tmp_path / "junk.jsonl"
    junk.write_text("nope\n")
    failed = runner.invoke(import_command, [str(junk), "--db", str(tmp_path / "c.db")])
    assert failed.exit_code == 1 and "neither JSON lines nor HAR" in failed.output
    assert "Traceback" not in failed.output + bad.output + missing.output


def test_large_export_streams_in_chunks(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db", index=False)
    store.import_events_sync([(odd_event(i), []) for i in range(450)])
    text = exported(store, "jsonl")
    ids = [json.loads(line)["id"] for line in text.splitlines()]
    assert len(ids) == 450 and len(set(ids)) == 450
    assert [json.loads(line)["time"] for line in text.splitlines()] == sorted(
        json.loads(line)["time"] for line in text.splitlines())


async def test_secrets_never_reach_the_database_or_any_export(tmp_path: Path) -> None:
    runtime = make_runtime(make_settings(tmp_path))
    await runtime.start()
    try:
        async with httpx.AsyncClient() as client:
            for case in CONNECTLY["events"]:
                response = await client.post(runtime.url.rstrip("/") + case["path"],
                                             content=case["body"].encode(),
                                             headers=case["headers"])
                assert response.status_code == 200
    finally:
        await runtime.stop()
    store = open_store(tmp_path / "events.db", index=False)
    assert store.count() == len(CONNECTLY["events"])
    assert {store.event(s).verdict for s in store.seqs()} >= {"valid", "invalid"}  # type: ignore[union-attr]
    secret_forms = [SECRET, base64.b64encode(SECRET.encode()).decode(), SECRET.encode().hex()]
    for fmt in ("jsonl", "har", "curl"):
        text = exported(store, fmt)
        assert text and not any(s in text for s in secret_forms), fmt
    for file in tmp_path.glob("events.db*"):
        assert SECRET.encode() not in file.read_bytes(), file.name


async def test_imported_events_can_be_replayed(tmp_path: Path, recorder: Recorder) -> None:
    source = open_store(tmp_path / "a.db", index=False)
    events = fixture_events()
    source.import_events_sync([(e, []) for e in events])
    blob = exported(source, "jsonl").encode()
    store = open_store(tmp_path / "b.db", index=False)
    imported(store, blob)
    event = store.event_by_id(events[5].id)  # delivery_failed
    assert event is not None
    async with replay.new_client() as client:
        attempt = await replay.send(client, event, replay.target_url(recorder.url + "/", event))
    assert attempt.status == 200
    got = recorder.requests[-1]
    assert got.body == connectly_event("delivery_failed")["body"].encode()
    digest = hmac.new(SECRET.encode(), got.body, hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == got.header("x-connectly-hmac-sha256")


def test_curl_export_never_aims_at_the_senders_host(tmp_path: Path) -> None:
    store = open_store(tmp_path / "a.db", index=False)
    event = odd_event(0)
    event.headers[0] = ("Host", "internal-admin.example:9000")  # chosen by the sender
    store.import_events_sync([(event, [])])
    store.close()
    result = CliRunner().invoke(export_command, ["--db", str(tmp_path / "a.db"), "--format",
                                                 "curl"])
    assert result.exit_code == 0, result.output
    assert "'http://127.0.0.1:8765/hooks/a%2Fb?x=1&x=2'" in result.output
    assert "internal-admin" not in result.output
