"""Replay into a real local server: byte-exact body, headers kept, clear failures."""

from __future__ import annotations

import socket

import pytest

from inspector import replay
from inspector.model import Event, new_id
from tests.conftest import SECRET, Recorder, connectly_event


def event_from(case: dict[str, str], query: str = "") -> Event:
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


@pytest.mark.parametrize("bad", ["ftp://h/", "file:///etc/passwd", "localhost:3000", "http://"])
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
    import base64
    import hashlib
    import hmac
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
    recorder.delay = 2.0
    event = event_from(connectly_event("text"))
    async with replay.new_client(timeout=0.3) as client:
        attempt = await replay.send(client, event, recorder.url + "/x", timeout=0.3)
    assert attempt.status is None and "timed out after 0.3 s" in attempt.error
