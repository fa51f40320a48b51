"""Custom responses: each flag, per-route overrides, --reject-invalid, live changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from inspector.core.capture.answers import (
    DEFAULT_POLICY,
    REJECTED_NOTE,
    PolicyError,
    ResponsePolicy,
    build_policy,
    default_answer,
)
from inspector.core.config import ConfigError, load_routes
from inspector.core.session import Session
from inspector.core.settings import OptionError, Settings, apply_options
from tests.conftest import Heard, connectly_event, make_runtime, make_settings, wait_for


def options(**values: Any) -> Settings:
    return apply_options(Settings(), **values)


@asynccontextmanager
async def running(tmp_path: Path, settings: Settings | None = None,
                  **overrides: Any) -> AsyncIterator[tuple[Session, httpx.AsyncClient]]:
    base = make_settings(tmp_path, **overrides)
    if settings is not None:
        base = replace(base, policy=settings.policy)
    runtime = make_runtime(base)
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started)
    try:
        async with httpx.AsyncClient(base_url=runtime.url.rstrip("/")) as client:
            yield runtime, client
    finally:
        await runtime.stop()


async def post_case(client: httpx.AsyncClient, name: str, path: str = "") -> httpx.Response:
    case = connectly_event(name)
    return await client.post(path or case["path"], content=case["body"].encode(),
                             headers=case["headers"])


def stored_status(runtime: Session, response: httpx.Response) -> int:
    event = runtime.store.event_by_id(response.headers["x-inspector-event-id"])
    assert event is not None
    return event.status


async def test_default_answer_is_unchanged_and_carries_the_id(tmp_path: Path) -> None:
    async with running(tmp_path) as (runtime, client):
        assert runtime.receiver.respond is None  # the fast path
        response = await client.post("/hook", content=b"{}")
    assert response.status_code == 200
    ident = response.json()["id"]
    assert response.json() == {"ok": True, "id": ident}
    assert response.headers["x-inspector-event-id"] == ident


async def test_status_flag(tmp_path: Path) -> None:
    async with running(tmp_path, options(status=202)) as (runtime, client):
        response = await client.post("/hook", content=b"{}")
        assert response.status_code == 202
        assert response.json() == {"ok": True, "id": response.headers["x-inspector-event-id"]}
        assert stored_status(runtime, response) == 202


async def test_response_body_text_replaces_our_json(tmp_path: Path) -> None:
    async with running(tmp_path, options(response_body="thanks")) as (runtime, client):
        response = await client.post("/hook", content=b"{}")
        assert response.status_code == 200 and response.content == b"thanks"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert runtime.store.event_by_id(response.headers["x-inspector-event-id"]) is not None


async def test_response_body_from_a_file(tmp_path: Path) -> None:
    reply = tmp_path / "reply.json"
    reply.write_bytes(b'{"status": "accepted"}\n')
    settings = options(response_body=f"@{reply}", response_headers=["Retry-After: 5",
                                                                    "X-Trace: a", "X-Trace: b"])
    async with running(tmp_path, settings) as (_, client):
        response = await client.post("/hook", content=b"{}")
    assert response.content == b'{"status": "accepted"}\n'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "5"
    assert response.headers.get_list("x-trace") == ["a", "b"]


async def test_response_header_can_set_the_content_type(tmp_path: Path) -> None:
    settings = options(response_body="<ok/>", response_headers=["Content-Type: application/xml"])
    async with running(tmp_path, settings) as (_, client):
        response = await client.post("/hook", content=b"{}")
    assert response.headers.get_list("content-type") == ["application/xml"]


async def test_no_content_has_no_body(tmp_path: Path) -> None:
    async with running(tmp_path, options(status=204)) as (runtime, client):
        response = await client.post("/hook", content=b"{}")
        assert response.status_code == 204 and response.content == b""
        assert stored_status(runtime, response) == 204


async def test_delay_answers_after_the_commit_without_blocking(tmp_path: Path) -> None:
    async with running(tmp_path, options(delay=1.0)) as (runtime, client):
        heard = Heard()
        runtime.subscribe(heard)
        committed = heard.events
        first = asyncio.create_task(client.post("/hook", content=b"1"))
        second = asyncio.create_task(client.post("/hook", content=b"2"))
        # Both are stored while both answers still wait: the delay does not hold the loop.
        await wait_for(lambda: len(committed) == 2, what="both commits")
        assert not first.done() and not second.done()
        responses = await asyncio.gather(first, second)
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(r.json()["id"] for r in responses) == sorted(e.id for e in committed)


async def test_reject_invalid_answers_401_to_the_tampered_fixture(tmp_path: Path) -> None:
    async with running(tmp_path, options(reject_invalid=True)) as (runtime, client):
        tampered = await post_case(client, "text-tampered")
        valid = await post_case(client, "text")
        unsigned = await post_case(client, "text-unsigned")
        assert tampered.status_code == 401
        payload = tampered.json()
        assert payload["ok"] is False and payload["id"]
        assert payload["error"].startswith("invalid signature: HMAC-SHA256 of the body does not")
        assert valid.status_code == 200 and valid.json()["ok"] is True
        assert unsigned.status_code == 200  # only invalid signatures are rejected
        assert stored_status(runtime, tampered) == 401
        assert stored_status(runtime, valid) == 200
        event = runtime.store.event_by_id(payload["id"])
        assert event is not None and REJECTED_NOTE in event.notes


async def test_what_each_sender_got_is_stored_with_the_event(tmp_path: Path) -> None:
    """A non-default answer is stored exactly as sent; a default one is rebuilt."""
    policy = options(status=202, response_headers=["X-Custom: 1"], reject_invalid=True)
    async with running(tmp_path, policy) as (runtime, client):
        answers = [await post_case(client, name) for name in ("text", "text-tampered")]
        answers.append(await client.post("/hook/custom", content=b"{}"))
        runtime.set_policy(DEFAULT_POLICY)
        answers.append(await client.post("/hook/default", content=b"{}"))
        events = [runtime.store.event_by_id(r.headers["x-inspector-event-id"])
                  for r in answers]
        stored = runtime.store.answers_for([e.seq for e in events if e is not None])
    assert [r.status_code for r in answers] == [202, 401, 202, 200]
    assert len(stored) == 3  # the default answer is not stored: it is rebuilt
    for response, event in zip(answers, events, strict=True):
        assert event is not None
        answer = stored.get(event.seq) or default_answer(event)
        assert event.status == response.status_code and answer.body == response.content
        assert answer.headers == [(k.decode(), v.decode()) for k, v in response.headers.raw
                                  if k not in (b"date", b"server")]


ROUTES = """\
[[route]]
path = "/webhooks/flaky"
status = 503
response_body = '{"error": "try again"}'
response_headers = ["Retry-After: 7"]

[[route]]
path = "/webhooks/strict"
reject_invalid = true

[[route]]
path = "/webhooks/file"
response_body = "@reply.txt"
"""


async def test_route_overrides_apply_to_their_paths_only(tmp_path: Path) -> None:
    (tmp_path / "reply.txt").write_text("from a file")
    config = tmp_path / "inspector.toml"
    config.write_text(ROUTES)
    routes = load_routes(config)
    async with running(tmp_path, options(status=201), routes=routes) as (runtime, client):
        assert runtime.receiver.respond is not None
        flaky = await client.post("/webhooks/flaky", content=b"{}")
        strict = await post_case(client, "text-tampered", "/webhooks/strict")
        from_file = await client.post("/webhooks/file", content=b"{}")
        other = await post_case(client, "text-tampered", "/webhooks/other")
        assert (flaky.status_code, flaky.json()) == (503, {"error": "try again"})
        assert flaky.headers["retry-after"] == "7"
        assert strict.status_code == 401
        assert (from_file.status_code, from_file.content) == (201, b"from a file")
        assert other.status_code == 201  # the global policy; invalid is not rejected here
        assert stored_status(runtime, flaky) == 503


@pytest.mark.parametrize(("text", "expected"), [
    ('[[route]]\npath = "/a"\nstatus = 99\n',
     ":3: route 1: status is wrong: status 99 is not a final HTTP status (200 to 599)"),
    ('[[route]]\npath = "/a"\nstatus = "500"\n', ":3: route 1: status must be a whole number"),
    ('[[route]]\npath = "/a"\ndelay = -1\n', ":3: route 1: delay is wrong: delay -1 s is out"),
    ('[[route]]\npath = "/a"\nresponse_headers = "X: 1"\n',
     ':3: route 1: response_headers must be a list of "Name: value" strings'),
    ('[[route]]\npath = "/a"\nresponse_headers = ["nocolon"]\n',
     ":3: route 1: response_headers is wrong: 'nocolon' is not 'Name: value'"),
    ('[[route]]\npath = "/a"\nresponse_headers = ["Content-Length: 3"]\n',
     ":3: route 1: response_headers is wrong: Content-Length is set by the server"),
    ('[[route]]\npath = "/a"\nresponse_body = "@missing.json"\n',
     ":3: route 1: response_body is wrong: cannot read the response body file"),
    ('[[route]]\npath = "/a"\nreject_invalid = "yes"\n',
     ":3: route 1: reject_invalid must be true or false"),
])
def test_route_response_mistakes_are_one_clear_line(tmp_path: Path, text: str,
                                                    expected: str) -> None:
    path = tmp_path / "inspector.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_routes(path)
    message = str(caught.value)
    assert message.startswith(str(path) + expected), message
    assert "\n" not in message


@pytest.mark.parametrize(("values", "option", "fragment"), [
    ({"status": 99}, "--status", "not a final HTTP status"),
    ({"status": 600}, "--status", "not a final HTTP status"),
    ({"delay": -0.5}, "--delay", "out of range"),
    ({"response_headers": ["X-A 1"]}, "--response-header", "is not 'Name: value'"),
    ({"response_headers": ["Transfer-Encoding: chunked"]}, "--response-header",
     "set by the server"),
    ({"response_body": "@/nonexistent/reply.json"}, "--response-body", "cannot read"),
    ({"respond_with_downstream": True}, "--respond-with-downstream", "needs --forward-to URL"),
    ({"forward_to": "ftp://x"}, "--forward-to", "not an http(s) URL"),
])
def test_bad_options_name_their_flag(values: dict[str, Any], option: str,
                                     fragment: str) -> None:
    with pytest.raises(OptionError) as caught:
        options(**values)
    assert caught.value.option == option and fragment in str(caught.value)


def test_options_build_the_settings() -> None:
    settings = options(forward_to=" http://localhost:3000/ ", resign=True, status=500,
                       response_body="x", response_headers=["A: 1"], delay=0.5,
                       reject_invalid=True, respond_with_downstream=True)
    assert settings.forward_to == "http://localhost:3000/" and settings.resign
    assert settings.policy == ResponsePolicy(500, b"x", (("A", "1"),), 0.5, True, True)
    assert options().policy.is_default


async def test_policy_changes_live(tmp_path: Path) -> None:
    async with running(tmp_path) as (runtime, client):
        runtime.set_policy(build_policy(status=500, body="down"))
        down = await client.post("/hook", content=b"{}")
        runtime.set_policy(DEFAULT_POLICY)
        up = await client.post("/hook", content=b"{}")
        with pytest.raises(PolicyError, match="needs a forward target"):
            runtime.set_policy(ResponsePolicy(respond_with_downstream=True))
        assert (down.status_code, down.content) == (500, b"down")
        assert up.status_code == 200 and up.json()["ok"] is True
        assert runtime.receiver.respond is None  # back on the fast path
        assert stored_status(runtime, down) == 500


def test_policy_describes_itself() -> None:
    assert DEFAULT_POLICY.describe() == 'default: 200 {"ok": true, "id": …}'
    policy = build_policy(status=503, body="x", headers=["A: 1"], delay=2, reject_invalid=True)
    assert policy.describe() == ("503, custom body (1 byte), 1 header, after 2 s, "
                                 "401 to invalid signatures")
