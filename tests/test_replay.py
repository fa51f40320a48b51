"""Replay into a real local server: byte-exact body, headers kept, clear failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from typing import Any

import pytest

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.delivery import replay
from inspector.core.model import Attempt, Event, new_id
from inspector.core.signatures import Secrets
from tests.conftest import SECRET, Recorder, connectly_event


def event_from(case: dict[str, Any], query: str = "") -> Event:
    headers = [("host", "inspector.example"), ("content-length", "1"), ("connection", "close"),
               *case["headers"].items()]
    return Event(id=new_id(), received_at=0.0, method="POST", path=case["path"], query=query,
                 headers=headers, body=case["body"].encode(), seq=1)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://h:3000", "http://h:3000/webhooks/connectly?a=1"),
        ("http://h:3000/", "http://h:3000/webhooks/connectly?a=1"),
        ("http://h:3000/api/", "http://h:3000/api/webhooks/connectly?a=1"),
        ("http://h:3000/exact/path", "http://h:3000/exact/path"),
        ("https://h/in?x=1", "https://h/in?x=1"),
    ],
)
def test_path_rule(base: str, expected: str) -> None:
    assert replay.target_url(base, event_from(connectly_event("text"), "a=1")) == expected


@pytest.mark.parametrize("bad", ["ftp://h/", "file:///etc/passwd", "localhost:3000", "http://",
                                 "http://[", "http://h]/", "http://h:port/"])
def test_bad_targets_are_refused(bad: str) -> None:
    with pytest.raises(replay.ReplayError):
        replay.check_target(bad)


async def test_replay_is_byte_exact(recorder: Recorder) -> None:
    case = connectly_event("referral")
    event = event_from(case)
    async with replay.new_client() as client:
        attempt = await replay.send(client, event, recorder.url + "/webhooks/connectly")
    assert attempt.status == 200 and not attempt.error
    assert attempt.response_body == b'{"received": true}'
    got = recorder.requests[-1]
    assert got.body == case["body"].encode()
    assert got.header("x-connectly-hmac-sha256") == case["headers"]["x-connectly-hmac-sha256"]
    assert got.header("user-agent") == case["headers"]["user-agent"]
    assert got.header("connection") is None or got.header("connection") != "close"
    assert got.header("host") != "inspector.example"
    assert got.header("content-length") == str(len(case["body"].encode()))
    # The signature still verifies on what the target received.
    digest = hmac.new(SECRET.encode(), got.body, hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == got.header("x-connectly-hmac-sha256")


async def test_no_default_client_headers_are_added(recorder: Recorder) -> None:
    event = Event(id=new_id(), received_at=0.0, method="PUT", path="/x", query="",
                  headers=[("x-only", "1")], body=b"b", seq=1)
    async with replay.new_client() as client:
        await replay.send(client, event, recorder.url + "/x")
    names = sorted(k.decode().lower() for k, _ in recorder.requests[-1].headers)
    assert names == ["content-length", "host", "x-only"]
    assert recorder.requests[-1].method == "PUT"


async def test_refused_connection_is_a_clear_message() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    event = event_from(connectly_event("text"))
    async with replay.new_client() as client:
        attempt = await replay.send(client, event, f"http://127.0.0.1:{port}/x")
    assert attempt.status is None
    assert "connection refused" in attempt.error and "is your app running" in attempt.error


async def test_timeout_is_a_clear_message(recorder: Recorder) -> None:
    recorder.hold()  # never answers in time
    event = event_from(connectly_event("text"))
    async with replay.new_client(timeout=0.3) as client:
        attempt = await replay.send(client, event, recorder.url + "/x", timeout=0.3)
    assert attempt.status is None and "timed out after 0.3 s" in attempt.error


# -- replay many ----------------------------------------------------------------------------------


def numbered(n: int, case: dict[str, Any] | None = None) -> Event:
    """Event n arrived at time n; its body says n."""
    headers = list(case["headers"].items()) if case else [("content-type", "application/json")]
    body = case["body"].encode() if case else f'{{"n": {n}}}'.encode()
    return Event(id=new_id(), received_at=1000.0 + n, method="POST", path=f"/hooks/{n}",
                 query="", headers=headers, body=body, seq=n)


async def test_replay_many_keeps_the_original_order_and_sums_up(recorder: Recorder) -> None:
    events = [numbered(n) for n in (3, 1, 5, 2, 4)]  # handed over out of order
    progress: list[tuple[int, int, int | None]] = []

    async def on_attempt(done: int, total: int, attempt: Attempt) -> None:
        progress.append((done, total, attempt.event_seq))
        if done == 3:
            recorder.status = 500  # the app starts failing after the third
        if done == 4:
            recorder.hold()  # and the last one times out

    async with replay.new_client(timeout=0.3) as client:
        attempts, summary = await replay.replay_many(client, events, recorder.url + "/",
                                                     on_attempt=on_attempt, timeout=0.3)
    assert [r.path for r in recorder.requests[:4]] == [f"/hooks/{n}" for n in (1, 2, 3, 4)]
    assert [r.body for r in recorder.requests[:4]] == [f'{{"n": {n}}}'.encode()
                                                       for n in (1, 2, 3, 4)]
    assert [a.event_seq for a in attempts] == [1, 2, 3, 4, 5]
    assert progress == [(1, 5, 1), (2, 5, 2), (3, 5, 3), (4, 5, 4), (5, 5, 5)]
    assert dict(summary.by_status) == {200: 3, 500: 1}
    assert summary.total == 5 and len(summary.failures) == 1
    assert summary.failures[0][0] == 5 and "timed out" in summary.failures[0][1]
    assert summary.text() == "5 replayed: 200 ×3, 500 ×1; 1 failed"


async def test_replay_many_resigns_only_what_arrived_valid(recorder: Recorder) -> None:
    analyzer = Analyzer(Secrets(default=SECRET))
    genuine = numbered(1, connectly_event("text"))
    forged = numbered(2, connectly_event("text-tampered"))
    plain = numbered(3)
    for event in (genuine, forged, plain):
        analyzer.analyze(event)  # as the receiver does on arrival
    async with replay.new_client() as client:
        attempts, summary = await replay.replay_many(
            client, [genuine, forged, plain], recorder.url + "/", resign=analyzer)
    assert [a.resigned for a in attempts] == [True, False, False]
    assert attempts[1].note.startswith("not re-signed: it arrived with an invalid signature")
    assert attempts[2].note == "not re-signed: it arrived unsigned"
    assert summary.resigned == 1 and summary.kept == 2
    assert "2 not re-signed" in summary.text()
    got = [r.header("x-connectly-hmac-sha256") for r in recorder.requests]
    assert got == [connectly_event("text")["headers"]["x-connectly-hmac-sha256"],
                   connectly_event("text-tampered")["headers"]["x-connectly-hmac-sha256"],
                   None]
    assert [r.body for r in recorder.requests] == [e.body for e in (genuine, forged, plain)]


async def test_an_event_never_checked_is_not_resigned(recorder: Recorder) -> None:
    """It arrived with no secret configured: its authenticity is unknown, and a fresh
    signature would vouch for it, even now that a secret is known."""
    unchecked = numbered(1, connectly_event("text"))
    Analyzer(Secrets()).analyze(unchecked)
    assert unchecked.verdict == "no_secret"
    async with replay.new_client() as client:
        attempts, summary = await replay.replay_many(client, [unchecked], recorder.url + "/",
                                                     resign=Analyzer(Secrets(default=SECRET)))
    assert not attempts[0].resigned and summary.kept == 1
    assert attempts[0].note == ("not re-signed: its signature was not checked when it arrived "
                                "(no secret was set)")
    got = recorder.requests[0]
    assert got.header("x-connectly-hmac-sha256") == unchecked.header("x-connectly-hmac-sha256")
    assert got.body == unchecked.body


async def test_a_forged_verdict_in_the_store_is_checked_again(recorder: Recorder) -> None:
    """An imported record may claim anything: "valid" is confirmed before re-signing."""
    forged = numbered(1, connectly_event("text-tampered"))
    forged.verdict = "valid"
    async with replay.new_client() as client:
        attempts, _ = await replay.replay_many(client, [forged], recorder.url + "/",
                                               resign=Analyzer(Secrets(default=SECRET)))
    assert not attempts[0].resigned
    assert attempts[0].note.startswith("not re-signed: it arrived with an invalid signature")
    assert recorder.requests[0].header("x-connectly-hmac-sha256") == connectly_event(
        "text-tampered")["headers"]["x-connectly-hmac-sha256"]


async def test_replay_many_refuses_a_bad_target_before_sending(recorder: Recorder) -> None:
    async with replay.new_client() as client:
        with pytest.raises(replay.ReplayError):
            await replay.replay_many(client, [numbered(1)], "localhost:3000")
    assert recorder.requests == []
