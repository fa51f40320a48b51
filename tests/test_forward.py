"""--forward-to: every event goes on to a real local server, byte-exact and in order, without
ever holding up the acknowledgement."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from inspector.core.model import Attempt
from inspector.core.session import Session
from inspector.core.store import open_store
from inspector.faces.serve import serve
from tests.conftest import (
    SECRET,
    Heard,
    Recorder,
    connectly_event,
    make_runtime,
    make_settings,
    wait_for,
)


@asynccontextmanager
async def running(tmp_path: Path, **overrides: Any) -> AsyncIterator[Session]:
    runtime = make_runtime(make_settings(tmp_path, **overrides))
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started,
                   what="receiver start")
    try:
        yield runtime
    finally:
        await runtime.stop()


def attempts_of(runtime: Session) -> list[Attempt]:
    """Every attempt the runtime announced, in the order announced."""
    heard = Heard()
    runtime.subscribe(heard)
    return heard.attempts


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_forward_is_in_order_and_byte_exact_over_100_events(
        tmp_path: Path, recorder: Recorder) -> None:
    async with running(tmp_path, forward_to=recorder.url + "/app/") as runtime:
        seen = attempts_of(runtime)
        base = runtime.url.rstrip("/")
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(limits=limits) as client:

            async def post(n: int) -> httpx.Response:
                body = f'{{"n": {n}}}'.encode() + bytes([0xFF, 0x00, n])  # not UTF-8
                return await client.post(f"{base}/hooks/{n}?q={n}", content=body,
                                         headers=[("X-N", str(n)), ("X-Dup", "a"),
                                                  ("X-Dup", "b")])

            responses = await asyncio.gather(*(post(n) for n in range(100)))
        assert all(r.status_code == 200 for r in responses)
        await wait_for(lambda: len(seen) == 100, what="100 forwards stored")
        stored = [runtime.store.event(seq) for seq in runtime.store.seqs()]
        got = recorder.requests
        assert len(got) == 100
        # Arrival order is the store's order; the target saw exactly that order.
        assert [r.body for r in got] == [e.body for e in stored if e]
        assert [r.path + "?" + r.query for r in got] == [f"/app{e.target}" for e in stored if e]
        for request, event in zip(got, stored, strict=True):
            assert event is not None
            assert request.header("x-n") == event.header("x-n")
            assert [v for k, v in request.headers if k.lower() == b"x-dup"] == [b"a", b"b"]
        assert [a.event_seq for a in seen] == [e.seq for e in stored if e]
        assert {(a.kind, a.status) for a in seen} == {("forward", 200)}
        rows = runtime.store.rows(runtime.store.seqs())
        assert {r.result for r in rows.values()} == {200}
        assert stored[0] is not None  # the loop above checked every one
        assert runtime.store.attempts(stored[0].seq)[0].response_body == b'{"received": true}'


async def test_a_slow_target_does_not_delay_the_ack(tmp_path: Path, recorder: Recorder) -> None:
    recorder.hold()  # the target reads each forward and answers only when released
    async with running(tmp_path, forward_to=recorder.url) as runtime, \
            httpx.AsyncClient() as client:
        seen = attempts_of(runtime)
        forwarder = runtime.forwarder
        assert forwarder is not None
        case = connectly_event("text")
        url = runtime.url.rstrip("/") + case["path"]
        first = await client.post(url, content=case["body"].encode(), headers=case["headers"])
        assert first.status_code == 200  # acknowledged while the target cannot have answered
        await wait_for(lambda: recorder.holding == 1 and forwarder.queued == 0,
                       what="the first forward held by the target")
        held = time.monotonic()
        # The loop is free: a second delivery is acknowledged and queued behind the first.
        second = await client.post(url, content=b"second", headers={"X-N": "2"})
        assert second.status_code == 200 and forwarder.waiting == 2
        assert seen == [] and recorder.requests == []
        held_for = time.monotonic() - held
        recorder.release()
        await wait_for(lambda: len(seen) == 2, what="both forwards")
    assert [r.body for r in recorder.requests] == [case["body"].encode(), b"second"]
    # The attempt measured the target's time: it was held at least as long as seen here.
    assert seen[0].status == 200 and seen[0].elapsed_ms >= held_for * 1000


async def test_a_failing_target_is_a_failed_attempt_on_the_event(tmp_path: Path) -> None:
    target = f"http://127.0.0.1:{closed_port()}/"
    async with running(tmp_path, forward_to=target) as runtime, httpx.AsyncClient() as client:
        seen = attempts_of(runtime)
        response = await client.post(runtime.url + "hook", content=b"{}")
        assert response.status_code == 200
        await wait_for(lambda: seen, what="the failed forward")
        seq = runtime.store.event_by_id(response.json()["id"]).seq  # type: ignore[union-attr]
        attempt = runtime.store.attempts(seq)[0]
        assert attempt.kind == "forward" and attempt.status is None
        assert "connection refused" in attempt.error and "/hook" in attempt.url
        assert runtime.store.rows([seq])[seq].result == 0  # the list shows ✗ failed


async def test_a_full_queue_records_what_was_not_forwarded(
        tmp_path: Path, recorder: Recorder) -> None:
    recorder.hold()
    async with running(tmp_path, forward_to=recorder.url) as runtime, \
            httpx.AsyncClient() as client:
        seen = attempts_of(runtime)
        forwarder = runtime.forwarder
        assert forwarder is not None
        forwarder.limit = 1
        url = runtime.url + "hook"
        await client.post(url, content=b"a")
        await wait_for(lambda: recorder.holding == 1 and forwarder.queued == 0,
                       what="first forward held by the target")
        await client.post(url, content=b"b")  # queued: the queue holds one
        third = await client.post(url, content=b"c")  # full
        assert third.status_code == 200  # still stored and acknowledged
        recorder.release()
        await wait_for(lambda: len(seen) == 3, timeout=15, what="three outcomes")
    by_seq = {a.event_seq: a for a in seen}
    assert [by_seq[s].status for s in (1, 2)] == [200, 200]
    assert by_seq[3].status is None and "forward queue full" in by_seq[3].error
    assert [r.body for r in recorder.requests] == [b"a", b"b"]


async def test_stop_drains_then_records_the_rest(tmp_path: Path, recorder: Recorder) -> None:
    recorder.hold()  # answers nothing before the stop
    runtime = make_runtime(make_settings(tmp_path, forward_to=recorder.url))
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started)
    async with httpx.AsyncClient() as client:
        for body in (b"1", b"2", b"3"):
            await client.post(runtime.url + "hook", content=body)
    await wait_for(lambda: recorder.holding == 1, what="the first forward held by the target")
    await runtime.stop(drain=0.05)
    store = open_store(tmp_path / "events.db")
    try:
        errors = [store.attempts(seq)[0].error for seq in (1, 2, 3)]
    finally:
        store.close()
    assert "stopped before" in errors[0] and "answered" in errors[0]
    assert errors[1:] == ["not forwarded: the inspector stopped with 2 events queued"] * 2


async def test_refused_events_are_not_forwarded(tmp_path: Path, recorder: Recorder) -> None:
    async with running(tmp_path, forward_to=recorder.url, max_body=10) as runtime, \
            httpx.AsyncClient() as client:
        seen = attempts_of(runtime)
        assert (await client.post(runtime.url + "big", content=b"x" * 11)).status_code == 413
        assert (await client.post(runtime.url + "small", content=b"ok")).status_code == 200
        await wait_for(lambda: seen, what="a forward")
    assert [r.path for r in recorder.requests] == ["/small"]


async def test_resign_forwards_a_fresh_signature_only_for_events_that_arrived_valid(
        tmp_path: Path, recorder: Recorder) -> None:
    """--resign never launders a forgery: a tampered event (answered 401 under
    --reject-invalid) and an unsigned one go as they arrived, and the attempt says why. An
    unsigned event on a path whose route pins Connectly would be signable: it is not signed."""
    from inspector.core.capture.answers import ResponsePolicy
    from inspector.core.config import Route
    from inspector.core.signatures import PROVIDERS

    routes = [Route("/pinned/*", PROVIDERS["connectly"])]
    names = ["text", "text-tampered", "text-unsigned", "text-unsigned"]
    paths = ["/webhooks/connectly", "/webhooks/connectly", "/webhooks/connectly", "/pinned/1"]
    async with running(tmp_path, forward_to=recorder.url, resign=True, routes=routes,
                       policy=ResponsePolicy(reject_invalid=True)) as runtime, \
            httpx.AsyncClient() as client:
        seen = attempts_of(runtime)
        answers = []
        for name, path in zip(names, paths, strict=True):
            case = connectly_event(name)
            answers.append((await client.post(runtime.url.rstrip("/") + path,
                                              content=case["body"].encode(),
                                              headers=case["headers"])).status_code)
        await wait_for(lambda: len(seen) == 4, what="four forwards")
    assert answers == [200, 401, 200, 200]
    valid, tampered, unsigned, pinned = recorder.requests
    digest = base64.b64encode(hmac.new(SECRET.encode(), valid.body, hashlib.sha256).digest())
    assert valid.header("x-connectly-hmac-sha256") == digest.decode()
    assert seen[0].resigned and not seen[0].note
    forged = connectly_event("text-tampered")
    assert tampered.body == forged["body"].encode()
    assert tampered.header("x-connectly-hmac-sha256") == forged["headers"][
        "x-connectly-hmac-sha256"]  # the signature it came with, which does not match
    assert not seen[1].resigned
    assert seen[1].note.startswith("not re-signed: it arrived with an invalid signature (")
    for got, attempt in ((unsigned, seen[2]), (pinned, seen[3])):
        assert got.header("x-connectly-hmac-sha256") is None
        assert not attempt.resigned and attempt.note == "not re-signed: it arrived unsigned"
    stored = runtime.store.attempts(seen[1].event_seq)
    assert stored[0].note == seen[1].note and not stored[0].resigned


async def test_serve_prints_why_a_forward_was_not_resigned(
        tmp_path: Path, recorder: Recorder) -> None:
    runtime = make_runtime(make_settings(tmp_path, forward_to=recorder.url, resign=True))
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.create_task(serve(runtime, out=out, err=err))
    case = connectly_event("text-tampered")
    try:
        await wait_for(lambda: "listening on" in err.getvalue(), what="serve start")
        async with httpx.AsyncClient() as client:
            await client.post(runtime.url.rstrip("/") + case["path"],
                              content=case["body"].encode(), headers=case["headers"])
        await wait_for(lambda: out.getvalue().count("\n") == 2, what="two lines")
    finally:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 20)
        runtime.close()
    forward = out.getvalue().splitlines()[1]
    assert "forward → 200" in forward
    assert "(not re-signed: it arrived with an invalid signature (" in forward
    assert "re-signed)" not in forward.replace("(not re-signed", "")


# -- respond with downstream ------------------------------------------------------------------


async def test_respond_with_downstream_mirrors_the_apps_answer(
        tmp_path: Path, recorder: Recorder) -> None:
    from inspector.core.capture.answers import ResponsePolicy

    recorder.status = 202
    recorder.body = b'{"app": "queued it"}'
    policy = ResponsePolicy(respond_with_downstream=True)
    async with running(tmp_path, forward_to=recorder.url, policy=policy) as runtime, \
            httpx.AsyncClient() as client:
        response = await client.post(runtime.url + "hook", content=b'{"x": 1}')
        assert response.status_code == 202
        assert response.content == b'{"app": "queued it"}'
        assert response.headers["content-type"] == "application/json"
        ident = response.headers["x-inspector-event-id"]
        event = runtime.store.event_by_id(ident)
        assert event is not None and event.body == b'{"x": 1}'
        await wait_for(lambda: runtime.store.event(event.seq).status == 202,  # type: ignore
                       what="answered status stored")
    assert recorder.requests[0].body == b'{"x": 1}'


async def test_respond_with_downstream_answers_502_when_the_app_fails(tmp_path: Path) -> None:
    from inspector.core.capture.answers import ResponsePolicy

    target = f"http://127.0.0.1:{closed_port()}/"
    policy = ResponsePolicy(respond_with_downstream=True)
    async with running(tmp_path, forward_to=target, policy=policy) as runtime, \
            httpx.AsyncClient() as client:
        response = await client.post(runtime.url + "hook", content=b"{}")
        assert response.status_code == 502
        payload = response.json()
        assert payload["ok"] is False and payload["id"]
        assert payload["error"].startswith("downstream failed: connection refused")
        assert runtime.store.event_by_id(payload["id"]) is not None  # stored first


# -- headless output -------------------------------------------------------------------------


async def test_serve_json_prints_the_forward_result(tmp_path: Path, recorder: Recorder) -> None:
    runtime = make_runtime(make_settings(tmp_path, forward_to=recorder.url))
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.create_task(serve(runtime, as_json=True, out=out, err=err))
    try:
        await wait_for(lambda: "listening on" in err.getvalue(), what="serve start")
        async with httpx.AsyncClient() as client:
            response = await client.post(runtime.url + "hook", content=b"{}")
        await wait_for(lambda: out.getvalue().count("\n") == 2, what="two lines")
    finally:
        os.kill(os.getpid(), signal.SIGTERM)  # serve's own handler stops it
        await asyncio.wait_for(task, 20)
        runtime.close()
    event, forward = (json.loads(line) for line in out.getvalue().splitlines())
    assert event["type"] == "event" and event["id"] == response.json()["id"]
    assert forward == {"type": "forward", "id": event["id"], "url": recorder.url + "/hook",
                       "status": 200, "ms": forward["ms"], "error": "", "resigned": False,
                       "note": ""}
    assert "forwarding to " + recorder.url in err.getvalue()
