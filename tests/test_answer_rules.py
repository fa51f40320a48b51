"""Answer rules, faults, breakpoints and forward retries, through real HTTP on loopback: what a
provider that retries sees, what a client sees of each fault, held requests answered, edited,
forwarded and expired, and forwards retried on schedule into a real local server."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from inspector.core.capture.holds import FORWARD, REQUEST
from inspector.core.config import load_file
from inspector.core.delivery.replay import Edit
from inspector.core.model import Event
from inspector.core.rules.rule import Rule
from inspector.core.session import Session
from inspector.core.settings import OptionError, Settings
from inspector.faces.serve import Printer
from tests.conftest import Heard, Recorder, connectly_event, make_runtime, make_settings, wait_for
from tests.test_rules import ISSUE_SYNTAX


def rules(tmp_path: Path, text: str) -> list[Rule]:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return load_file(path)[1]


@asynccontextmanager
async def running(tmp_path: Path, text: str = "", **overrides: Any
                  ) -> AsyncIterator[tuple[Session, httpx.AsyncClient, Heard]]:
    runtime = make_runtime(make_settings(tmp_path, rules=rules(tmp_path, text), **overrides))
    heard = Heard()
    runtime.subscribe(heard)
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started,
                   what="receiver start")
    try:
        async with httpx.AsyncClient(base_url=runtime.url.rstrip("/"), timeout=10) as client:
            yield runtime, client, heard
    finally:
        await runtime.stop()


def status_update(message: str, status: str = "read") -> bytes:
    return json.dumps({"topic": "delivery_status",
                       "statusUpdate": {"id": message, "status": status}}).encode()


def stored(runtime: Session, response: httpx.Response) -> Event:
    event = runtime.store.event_by_id(response.headers["x-inspector-event-id"])
    assert event is not None
    return event


# -- a sequence per delivery ---------------------------------------------------------------


async def test_a_retrying_provider_sees_503_503_200_per_delivery_interleaved(
        tmp_path: Path) -> None:
    """A provider that retries each delivery until it gets a 2xx, two deliveries in flight
    at once, one attempt of each in turn: each sees its own 503, 503, 200."""
    async with running(tmp_path, ISSUE_SYNTAX) as (runtime, client, _):
        deliveries = {"m1": status_update("m1"), "m2": status_update("m2")}
        seen: dict[str, list[int]] = {name: [] for name in deliveries}
        pending = list(deliveries)
        while pending:
            for name in list(pending):
                response = await client.post("/webhooks/connectly", content=deliveries[name],
                                             headers={"content-type": "application/json"})
                seen[name].append(response.status_code)
                if response.status_code < 300:
                    pending.remove(name)
            assert max(len(s) for s in seen.values()) <= 5, seen
        assert seen == {"m1": [503, 503, 200], "m2": [503, 503, 200]}
        # A delivery the `when` does not match gets the default answer.
        other = await client.post("/webhooks/connectly", content=status_update("m3", "sent"))
        assert other.status_code == 200 and stored(runtime, other).rule == ""
        flaky = runtime.store.search('rule:"flaky endpoint"')
        assert len(flaky) == 6
        events = list(runtime.store.iter_events(flaky))
        assert [e.status for e in events] == [503, 503, 503, 503, 200, 200]
        assert events[2].answer_note.startswith("answer 2 of 3 (503): 2 deliveries with this "
                                                "body so far")
        assert runtime.rules.entries[0].hits == 6


async def test_the_providers_delivery_id_counts_even_when_the_body_changes(
        tmp_path: Path) -> None:
    text = '[[rule]]\nname = "by id"\nrespond = [500, 200]\n'
    async with running(tmp_path, text) as (_, client, _):
        statuses = [(await client.post("/hook", content=f'{{"try": {n}}}'.encode(),
                                       headers={"webhook-id": "msg_2Lh"})).status_code
                    for n in range(3)]
    assert statuses == [500, 200, 200]


async def test_a_rule_answers_with_its_body_headers_and_delay(tmp_path: Path) -> None:
    text = """
[[rule]]
name = "busy"
method = "POST"
header = "X-Tenant: acme"
respond = {status = 429, body = '{"error": "slow down"}', headers = ["Retry-After: 7"]}
delay = 0.3
"""
    async with running(tmp_path, text) as (runtime, client, _):
        started = time.monotonic()
        busy = await client.post("/x", content=b"{}", headers={"x-tenant": "acme"})
        took = time.monotonic() - started
        other = await client.post("/x", content=b"{}", headers={"x-tenant": "else"})
        assert busy.status_code == 429 and busy.json() == {"error": "slow down"}
        assert busy.headers["retry-after"] == "7" and took >= 0.3
        assert busy.headers["content-type"] == "application/json"
        assert other.status_code == 200
        event = stored(runtime, busy)
        assert event.rule == "busy" and event.status == 429
        assert runtime.store.answers_for([event.seq])[event.seq].body == b'{"error": "slow down"}'


async def test_a_when_that_fails_does_not_match_and_is_counted(tmp_path: Path) -> None:
    text = '[[rule]]\nname = "big"\nwhen = "body.amount > 100"\nrespond = 402\n'
    async with running(tmp_path, text) as (runtime, client, _):
        big = await client.post("/pay", content=b'{"amount": 150}')
        wrong = await client.post("/pay", content=b'{"amount": "150"}')
        missing = await client.post("/pay", content=b'{"total": 1}')
        not_json = await client.post("/pay", content=b"amount=150&x=<")
    assert [r.status_code for r in (big, wrong, missing, not_json)] == [402, 200, 200, 200]
    entry = runtime.rules.entries[0]
    assert entry.hits == 1 and entry.failures == 3
    assert "not JSON or a form" in entry.failure or "no field" in entry.failure


# -- faults ------------------------------------------------------------------------------------


async def raw_post(runtime: Session, path: str, wait: float = 5.0) -> tuple[str, float]:
    """POST with a plain socket: ("answer", …), ("closed", …) without a byte, ("reset", …),
    or ("waiting", …) when nothing came within `wait` seconds (then it gives up)."""
    parts = urlsplit(runtime.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    started = time.monotonic()
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode())
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(65536), wait)
        outcome = "answer" if data else "closed"
    except ConnectionResetError:
        outcome = "reset"
    except TimeoutError:
        outcome = "waiting"
    took = time.monotonic() - started
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass
    return outcome, took


async def test_faults_are_seen_by_a_real_client_as_such(tmp_path: Path) -> None:
    text = """
[[rule]]
name = "hang"
path = "/hang/*"
fault = "close"

[[rule]]
name = "crash"
path = "/crash/*"
fault = "reset"

[[rule]]
name = "slow"
path = "/slow/*"
fault = "timeout"

[[rule]]
name = "capped"
path = "/capped/*"
respond = "timeout"
timeout = 0.4
"""
    async with running(tmp_path, text) as (runtime, client, _):
        assert (await raw_post(runtime, "/hang/1"))[0] == "closed"
        assert (await raw_post(runtime, "/crash/1"))[0] == "reset"
        outcome, took = await raw_post(runtime, "/slow/1", wait=0.5)
        assert outcome == "waiting" and took >= 0.5  # held until the client gave up
        outcome, took = await raw_post(runtime, "/capped/1", wait=10)
        assert outcome == "closed" and 0.4 <= took < 5  # the cap closed it
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/hang/2", content=b"{}")
        # Nothing else was held up meanwhile.
        assert (await client.post("/fine", content=b"{}")).status_code == 200
        await wait_for(lambda: len(runtime.store.search("answered:none")) == 5
                       and "gave up" in by_rule(runtime, "slow")[0].answer_note,
                       what="the faults' outcomes stored")
        assert by_rule(runtime, "hang")[0].answer_note.startswith(
            "close: closed the connection without an answer")
        assert by_rule(runtime, "crash")[0].answer_note.startswith("reset: ")
        assert "the sender gave up after 0.5 s" in by_rule(runtime, "slow")[0].answer_note
        assert "the cap" in by_rule(runtime, "capped")[0].answer_note


def by_rule(runtime: Session, name: str) -> list[Event]:
    return list(runtime.store.iter_events(runtime.store.search(f'rule:"{name}"')))


async def test_stopping_closes_a_connection_a_timeout_fault_holds(tmp_path: Path) -> None:
    runtime = make_runtime(make_settings(tmp_path, rules=rules(
        tmp_path, '[[rule]]\nname = "slow"\nfault = "timeout"\ntimeout = 300\n')))
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started)
    waiting = asyncio.create_task(raw_post(runtime, "/x", wait=30))
    await wait_for(lambda: runtime.store.count() == 1, what="stored")
    started = time.monotonic()
    await runtime.stop()
    outcome, _ = await waiting
    assert outcome == "closed" and time.monotonic() - started < 10


# -- breakpoints -------------------------------------------------------------------------------


async def test_a_held_request_answered_with_an_edited_body_gets_that_body(
        tmp_path: Path) -> None:
    text = '[[rule]]\nname = "stop here"\npath = "/held/*"\nhold = true\n'
    async with running(tmp_path, text) as (runtime, client, heard):
        changes: list[int] = []
        runtime.holds.on_change = changes.append
        pending = asyncio.create_task(client.post("/held/1", content=b'{"n": 1}'))
        await wait_for(lambda: runtime.holds.waiting, what="held")
        held = runtime.holds.waiting[0]
        assert held.kind == REQUEST and held.rule == "stop here" and held.seconds == 25
        assert runtime.store.count() == 1  # stored on arrival, before any answer
        # Holding blocks nothing else.
        assert (await client.post("/other", content=b"{}")).status_code == 200
        assert not pending.done()
        assert runtime.answer_held(held, 202, ["X-Edited: yes"], b'{"edited": true}')
        response = await pending
        assert response.status_code == 202 and response.content == b'{"edited": true}'
        assert response.headers["x-edited"] == "yes"
        assert response.headers["content-type"] == "application/json"
        assert not runtime.answer_held(held, 200, [], b"late")  # it is no longer held
        assert changes == [1, 0]
        await wait_for(lambda: heard.answers, what="the answer stored")
        event = stored(runtime, response)
        assert event.status == 202 and "answered 202 with your edits" in event.answer_note
        assert runtime.store.answers_for([event.seq])[event.seq].body == b'{"edited": true}'


async def test_a_hold_that_expires_is_released_with_its_answer(tmp_path: Path) -> None:
    text = '[[rule]]\nname = "brief"\nrespond = 418\nhold = 0.5\n'
    async with running(tmp_path, text) as (runtime, client, _):
        started = time.monotonic()
        response = await client.post("/x", content=b"{}")
        assert response.status_code == 418 and time.monotonic() - started >= 0.5
        assert not runtime.holds.waiting
        await wait_for(lambda: "expired" in stored(runtime, response).answer_note,
                       what="the note")
        note = stored(runtime, response).answer_note
        assert note.startswith("held 0.5 s at a breakpoint: the hold expired after 0.5 s, so "
                               "it was released")


async def test_the_breakpoint_holds_everything_and_quitting_releases_it(
        tmp_path: Path) -> None:
    runtime = make_runtime(make_settings(tmp_path))
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started)
    assert runtime.receiver.respond is None  # no rule, no breakpoint: the fast path
    runtime.set_breakpoint(True)
    assert runtime.receiver.respond is not None
    async with httpx.AsyncClient(base_url=runtime.url.rstrip("/"), timeout=10) as client:
        first = asyncio.create_task(client.post("/a", content=b"1"))
        second = asyncio.create_task(client.post("/b", content=b"2"))
        await wait_for(lambda: len(runtime.holds) == 2, what="both held")
        release = runtime.holds.waiting[1]
        assert runtime.release(release)
        assert (await second).status_code == 200 and not first.done()
        await runtime.stop()  # quitting releases everything held
        response = await first
    assert response.status_code == 200 and response.json()["ok"] is True
    runtime.close()


async def test_a_held_request_forwarded_with_edits_is_answered_with_what_came_back(
        tmp_path: Path, recorder: Recorder) -> None:
    recorder.status, recorder.body = 201, b'{"from": "your app"}'
    text = '[[rule]]\nname = "check"\nhold = true\n'
    async with running(tmp_path, text) as (runtime, client, heard):
        pending = asyncio.create_task(client.post("/hook", content=b'{"a": 1}'))
        await wait_for(lambda: runtime.holds.waiting, what="held")
        held = runtime.holds.waiting[0]
        edit = Edit("PUT", recorder.url + "/edited", [("x-why", "testing")], b'{"a": 2}',
                    edited=True)
        attempt = await runtime.send_held(held, edit)
        assert attempt is not None and attempt.status == 201 and attempt.kind == "forward"
        response = await pending
        assert response.status_code == 201 and response.content == b'{"from": "your app"}'
        sent = recorder.requests[-1]
        assert (sent.method, sent.path, sent.body) == ("PUT", "/edited", b'{"a": 2}')
        assert sent.header("x-why") == "testing"
        assert [a.kind for a in heard.attempts] == ["forward"]


async def test_a_forward_breakpoint_lets_a_person_edit_the_forward(
        tmp_path: Path, recorder: Recorder) -> None:
    text = '[[rule]]\nname = "look first"\npath = "/edit/*"\nhold_forward = true\n'
    async with running(tmp_path, text, forward_to=recorder.url + "/app/") as (
            runtime, client, heard):
        assert (await client.post("/edit/1", content=b'{"v": 1}')).status_code == 200
        await wait_for(lambda: runtime.holds.waiting, what="forward held")
        held = runtime.holds.waiting[0]
        assert held.kind == FORWARD and not recorder.requests
        await runtime.send_held(held, Edit("POST", recorder.url + "/app/edited", [],
                                           b'{"v": 2}', edited=True))
        await wait_for(lambda: heard.attempts, what="the forward")
        assert recorder.requests[-1].path == "/app/edited"
        assert recorder.requests[-1].body == b'{"v": 2}'
        assert "sent as edited" in heard.attempts[0].note
        # The breakpoint on every forward, then a skip.
        runtime.set_forward_breakpoint(True)
        assert (await client.post("/plain", content=b"{}")).status_code == 200
        await wait_for(lambda: runtime.holds.waiting, what="forward held")
        assert runtime.skip_forward(runtime.holds.waiting[0])
        await wait_for(lambda: len(heard.attempts) == 2, what="the skip recorded")
        assert heard.attempts[1].error.endswith("skipped") and len(recorder.requests) == 1


# -- forward retries ---------------------------------------------------------------------------


async def test_forward_retries_follow_the_schedule_into_an_app_that_fails_twice(
        tmp_path: Path, recorder: Recorder) -> None:
    recorder.statuses = [503, 503]
    async with running(tmp_path, forward_to=recorder.url, forward_retries=3,
                       retry_schedule=(0.3, 0.6)) as (runtime, client, heard):
        response = await client.post("/hook", content=b'{"first": 1}')
        await wait_for(lambda: len(heard.attempts) == 3, what="three attempts")
        attempts = heard.attempts
        assert [a.status for a in attempts] == [503, 503, 200]
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
        assert gaps[0] >= 0.3 and gaps[1] >= 0.6
        assert attempts[0].note == "retry 1 of 3 in 0.3 s"
        assert attempts[1].note == "retry 1 of 3; retry 2 of 3 in 0.6 s"
        assert attempts[2].note == "retry 2 of 3"
        event = stored(runtime, response)
        assert [a.status for a in runtime.store.attempts(event.seq)] == [503, 503, 200]
        assert len(recorder.requests) == 3


async def test_serve_names_the_event_on_every_retry_line(tmp_path: Path,
                                                       recorder: Recorder) -> None:
    """`serve --json`'s forward lines: a script matches each to its event by id, retries too
    (they used to carry "id": "" after the first)."""
    recorder.statuses = [503, 503]
    out = io.StringIO()
    async with running(tmp_path, forward_to=recorder.url, forward_retries=2,
                       retry_schedule=(0.1,)) as (runtime, client, heard):
        runtime.subscribe(Printer(out, io.StringIO(), as_json=True, forwarding=True))
        response = await client.post("/hook", content=b'{"first": 1}')
        await wait_for(lambda: len(heard.attempts) == 3, what="three attempts")
        await wait_for(lambda: out.getvalue().count('"type": "forward"') == 3, what="printed")
    forwards = [json.loads(line) for line in out.getvalue().splitlines()
                if '"type": "forward"' in line]
    assert [f["status"] for f in forwards] == [503, 503, 200]
    assert [f["id"] for f in forwards] == [response.json()["id"]] * 3


async def test_retries_keep_each_deliverys_order_and_let_the_others_through(
        tmp_path: Path, recorder: Recorder) -> None:
    """While a delivery waits for its retry, another delivery with the same key waits behind
    it, and a different one goes at once."""
    recorder.statuses = [500]
    async with running(tmp_path, forward_to=recorder.url, forward_retries=2,
                       retry_schedule=(0.8,)) as (_, client, heard):
        await client.post("/a", content=b"same", headers={"webhook-id": "k1"})
        await wait_for(lambda: heard.attempts, what="first attempt")
        await client.post("/b", content=b"again", headers={"webhook-id": "k1"})
        await client.post("/c", content=b"other", headers={"webhook-id": "k2"})
        await wait_for(lambda: len(heard.attempts) == 4, what="every attempt")
    assert [(r.path, r.body) for r in recorder.requests] == [
        ("/a", b"same"), ("/c", b"other"), ("/a", b"same"), ("/b", b"again")]
    assert [a.status for a in heard.attempts] == [500, 200, 200, 200]


async def test_a_rule_can_keep_an_event_from_being_forwarded_or_retry_it(
        tmp_path: Path, recorder: Recorder) -> None:
    text = """
[[rule]]
name = "private"
path = "/private/*"
forward = false

[[rule]]
name = "persistent"
path = "/retry/*"
forward_retries = 1
"""
    recorder.statuses = [502]
    async with running(tmp_path, text, forward_to=recorder.url,
                       retry_schedule=(0.2,)) as (_, client, heard):
        await client.post("/private/1", content=b"{}")
        await client.post("/retry/1", content=b"{}")
        await wait_for(lambda: len(heard.attempts) == 2, what="the forward and its retry")
    assert [r.path for r in recorder.requests] == ["/retry/1", "/retry/1"]
    assert [a.status for a in heard.attempts] == [502, 200]


def test_retry_options_are_checked() -> None:
    settings = Settings.build(forward_retries=3, forward_retry_schedule="0.5,2", environ={})
    assert settings.forward_retries == 3 and settings.retry_schedule == (0.5, 2.0)
    assert Settings.build(environ={}).retry_schedule == (1.0, 5.0, 30.0)
    for bad in ("", "x", "1,-2", "0", "nan"):
        if not bad:
            continue
        with pytest.raises(OptionError) as caught:
            Settings.build(forward_retry_schedule=bad, environ={})
        assert caught.value.option == "--forward-retry-schedule"


# -- targets at runtime ------------------------------------------------------------------------


async def test_the_forward_target_changes_while_running(tmp_path: Path,
                                                        recorder: Recorder) -> None:
    async with running(tmp_path) as (runtime, client, heard):
        assert runtime.forwarder is None
        await runtime.set_forward_target(recorder.url + "/live/")
        await client.post("/one", content=b"1")
        await wait_for(lambda: heard.attempts, what="forwarded")
        assert recorder.requests[0].path == "/live/one" and runtime.live.forward_to
        await runtime.set_forward_target("")
        assert runtime.forwarder is None and runtime.live.forward_to == ""
        await client.post("/two", content=b"2")
        await runtime.set_replay_target(recorder.url + "/")
        assert runtime.live.replay_to == recorder.url + "/"
    assert len(recorder.requests) == 1


# -- serve -------------------------------------------------------------------------------------


def test_serve_takes_rules_from_the_config_and_refuses_a_bad_one(tmp_path: Path) -> None:
    config = tmp_path / "inspector.toml"
    config.write_text('[[rule]]\nname = "teapot"\nrespond = 418\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspector", "serve", "--port", "0", "--db",
         str(tmp_path / "e.db"), "--config", str(config), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        said = [""]
        while "listening on" not in said[-1]:
            said.append(proc.stderr.readline())
            assert said[-1], "serve stopped"
        url = said[-1].split("listening on ")[1].split(" ")[0]
        assert "0 routes, 1 answer rule" in "".join(said)
        response = httpx.post(url + "hook", content=b"{}")
        assert response.status_code == 418
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    record = json.loads(out.splitlines()[0])
    assert record["rule"] == "teapot" and record["status"] == 418
    config.write_text('[[rule]]\nname = "bad"\nrespond = [503, "explode"]\n')
    bad = subprocess.run([sys.executable, "-m", "inspector", "serve", "--port", "0", "--db",
                          str(tmp_path / "e.db"), "--config", str(config)],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "inspector.toml:3: rule 1 (bad): respond answer 2 'explode' is not a fault" in (
        " ".join(bad.stderr.split()))


async def test_a_held_request_is_stored_before_it_is_answered_even_if_never_decided(
        tmp_path: Path) -> None:
    """Ack after commit holds with a breakpoint: the event is committed on arrival, so a
    crash while it is held loses nothing that was ever acknowledged."""
    case = connectly_event("text")
    text = '[[rule]]\nname = "hold"\nhold = true\n'
    async with running(tmp_path, text) as (runtime, client, heard):
        pending = asyncio.create_task(client.post(case["path"], content=case["body"].encode(),
                                                  headers=case["headers"]))
        await wait_for(lambda: heard.events, what="committed")
        assert heard.events[0].verdict == "valid" and not pending.done()
        assert runtime.store.event(heard.events[0].seq) is not None
        runtime.release(runtime.holds.waiting[0])
        assert (await pending).status_code == 200
