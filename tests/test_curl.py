"""curl commands: run with bash and sh against a real recording server, compared byte for byte."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import shutil
import subprocess

import pytest

from inspector.core.delivery.curl import curl_command
from inspector.core.delivery.replay import replay_headers
from inspector.core.model import Event, new_id
from tests.conftest import SECRET, Recorded, Recorder, connectly_event

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")
SHELLS = [s for s in ("bash", "sh") if shutil.which(s)]


def fixture_event(name: str, **changes: object) -> Event:
    case = connectly_event(name)
    event = Event(id=new_id(), received_at=0.0, method="POST", path=case["path"], query="",
                  headers=[("host", "inspector.example:8765"), ("content-length", "1"),
                           ("connection", "keep-alive"), *case["headers"].items()],
                  body=case["body"].encode(), seq=1)
    for key, value in changes.items():
        setattr(event, key, value)
    return event


async def run(command: str, shell: str, recorder: Recorder) -> Recorded:
    before = len(recorder.requests)
    proc = await asyncio.create_subprocess_exec(
        shell, "-c", command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert out == recorder.body  # curl printed the target's answer
    assert len(recorder.requests) == before + 1
    return recorder.requests[-1]


def sent_headers(got: Recorded) -> list[tuple[str, str]]:
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in got.headers
            if k.lower() not in (b"host", b"content-length")]


def expected_headers(event: Event) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in replay_headers(event.headers)]


@pytest.mark.parametrize("shell", SHELLS)
async def test_connectly_event_arrives_byte_exact_and_still_verifies(
    recorder: Recorder, shell: str
) -> None:
    event = fixture_event("delivery_failed")
    got = await run(curl_command(event, recorder.url + "/"), shell, recorder)
    assert got.method == "POST" and got.path == "/webhooks/connectly"  # the path rule
    assert got.body == event.body
    assert sorted(sent_headers(got)) == sorted(expected_headers(event))
    assert got.header("content-length") == str(len(event.body))
    digest = hmac.new(SECRET.encode(), got.body, hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == got.header("x-connectly-hmac-sha256")


@pytest.mark.parametrize("shell", SHELLS)
async def test_binary_body_and_odd_headers_survive(recorder: Recorder, shell: str) -> None:
    body = bytes(range(256)) + b"\x00'\\%b %s \\c $(id) `id`\n\r\n\xff\xfe" + "é😀".encode()
    headers = [
        ("Host", "x"), ("X-Dup", "one"), ("X-Dup", "two"), ("X-Empty", ""),
        ("X-Quote", "it's \"quoted\" $HOME `id`"),
        ("X-Latin", b"caf\xe9 \xff".decode("latin-1")),  # not UTF-8: goes through printf
        ("X-Utf8", "café".encode().decode("latin-1")),
        ("Content-Type", "application/octet-stream"),
    ]
    event = Event(id=new_id(), received_at=0.0, method="PUT", path="/in/a%20b/[x]",
                  query="q=1&r=%2F", headers=headers, body=body, seq=1)
    command = curl_command(event, recorder.url + "/base/")
    assert "\x00" not in command and "\x1b" not in command
    got = await run(command, shell, recorder)
    assert got.method == "PUT"
    assert got.path == "/base/in/a%20b/[x]" and got.query == "q=1&r=%2F"
    assert got.body == body
    assert sent_headers(got) == expected_headers(event)  # order and duplicates kept


@pytest.mark.parametrize("shell", SHELLS)
async def test_get_without_body_adds_nothing(recorder: Recorder, shell: str) -> None:
    event = Event(id=new_id(), received_at=0.0, method="GET", path="/ping", query="",
                  headers=[("host", "x"), ("x-only", "1")], body=b"", seq=1)
    got = await run(curl_command(event, recorder.url + "/exact"), shell, recorder)
    assert got.method == "GET" and got.path == "/exact" and got.body == b""
    assert sent_headers(got) == [("x-only", "1")]


def test_the_target_is_given_never_the_host_header() -> None:
    event = fixture_event("text", query="a=1")
    command = curl_command(event, "http://127.0.0.1:8765/")
    assert "'http://127.0.0.1:8765/webhooks/connectly?a=1'" in command
    assert "inspector.example" not in command
    assert command.startswith("printf '%b' '{")
    assert "\n  --data-binary @-" in command
