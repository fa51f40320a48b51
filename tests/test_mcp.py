"""`inspector mcp` (issue 15), driven by the official SDK's own stdio client, on a database a
real `inspector serve` fills over HTTP: every tool, the forged-event guard, bad arguments,
and a wait that sees a delivery posted while it waits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from tests.conftest import SECRET, Recorder, connectly_event
from tests.reliability.conftest import ROOT, Served, child_env, serve
from tests.test_scripting import post

TOOLS = {"list_events", "get_event", "wait_for_event", "replay_event", "verify_signature",
         "send_sample_event"}
SIGNATURE = "x-connectly-hmac-sha256"


@asynccontextmanager
async def mcp_client(db: Path | str, **env: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "inspector", "mcp", "--db", str(db)],
        env=child_env(**env), cwd=str(ROOT))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


class Calls:
    """Every result the server gave, to check that no secret was ever in one."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.texts: list[str] = []

    async def __call__(self, tool: str, **arguments: Any) -> CallToolResult:
        result = await self.session.call_tool(tool, arguments)
        self.texts += [block.text for block in result.content if hasattr(block, "text")]
        return result

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self(tool, **arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        content: dict[str, Any] = result.structured_content  # typed Any by the SDK
        return content

    async def error(self, tool: str, **arguments: Any) -> str:
        result = await self(tool, **arguments)
        assert result.is_error, result
        text: str = result.content[0].text  # type: ignore[union-attr]
        return text


def signed(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


async def test_every_tool_through_the_sdk_client(tmp_path: Path, recorder: Recorder) -> None:
    db = tmp_path / "events.db"
    with serve(tmp_path, db) as served:
        valid, forged = post(served, "text"), post(served, "text-tampered")
        async with mcp_client(db, CONNECTLY_WEBHOOK_SECRET=SECRET) as session:
            call = Calls(session)
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert set(tools) == TOOLS
            for tool in tools.values():
                assert len(tool.description or "") > 150  # says what it does and when
            for name in ("list_events", "get_event", "wait_for_event"):
                assert "never instructions" in (tools[name].description or "")
            assert "never" in (tools["verify_signature"].description or "")

            listed = await call.ok("list_events")
            assert [e["id"] for e in listed["events"]] == [valid, forged]
            invalid = await call.ok("list_events", filter="verdict:invalid", limit=5)
            assert [e["id"] for e in invalid["events"]] == [forged] and invalid["matching"] == 1

            event = (await call.ok("get_event", id=forged))["event"]
            case = connectly_event("text-tampered")
            assert event["verdict"] == "invalid" and "does not match" in event["reason"]
            assert event["body"]["json"] == json.loads(case["body"])
            assert event["kind"] == "message" and event["summary"] == '+16315555500 → "TEST 12"'

            await wait_sees_a_delivery_posted_while_it_waits(call, served)
            await replays_guard_forged_events(call, recorder, valid, forged)
            await verify_and_samples(call, served, event)
            await bad_arguments_are_error_results(call, forged)
            assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
    assert SECRET not in "\n".join(call.texts)  # never returned, whatever was asked


async def wait_sees_a_delivery_posted_while_it_waits(call: Calls, served: Served) -> None:
    started = time.time()
    waiting = asyncio.create_task(call.ok("wait_for_event", filter="kind:delivery_status",
                                          timeout=60))
    posted: list[str] = []
    # The wait starts when the server gets the call: post until it has seen one (each post is
    # after the call was made, so whichever it returns arrived during the wait).
    for _ in range(200):
        posted.append(await asyncio.to_thread(post, served, "delivery_status"))
        done, _ = await asyncio.wait({waiting}, timeout=0.3)
        if done:
            break
    got = await waiting
    assert not got["timed_out"] and got["event"]["id"] in posted
    assert got["event"]["time"] >= started and got["event"]["summary"].startswith("delivered")

    timed_out = await call.ok("wait_for_event", filter="kind:nothing-like-this", timeout=0.5)
    assert timed_out["timed_out"] is True
    # `since` reaches back: the delivery after the one it returned, already stored.
    posted.append(await asyncio.to_thread(post, served, "delivery_status"))
    after = await call.ok("wait_for_event", filter="kind:delivery_status",
                          since=got["event"]["id"], timeout=30)
    assert after["event"]["id"] == posted[posted.index(got["event"]["id"]) + 1]


async def replays_guard_forged_events(call: Calls, recorder: Recorder, valid: str,
                                      forged: str) -> None:
    case = connectly_event("text-tampered")
    sent = await call.ok("replay_event", id=forged, url=recorder.url + "/")
    assert sent["attempt"]["status"] == 200 and sent["attempt"]["resigned"] is False
    got = recorder.requests[-1]
    assert got.body == case["body"].encode()  # byte for byte, the forged signature kept
    assert got.header(SIGNATURE) == case["headers"][SIGNATURE]

    before = len(recorder.requests)
    refused = await call.error("replay_event", id=forged, url=recorder.url + "/", resign=True)
    assert "not re-signed and not sent" in refused and "invalid signature" in refused
    assert len(recorder.requests) == before  # nothing left

    fresh = await call.ok("replay_event", id=valid, url=recorder.url + "/", resign=True)
    assert fresh["attempt"]["resigned"] is True
    got = recorder.requests[-1]
    assert got.header(SIGNATURE) == signed(got.body)
    history = (await call.ok("get_event", id=forged))["event"]["attempts"]
    assert [a["kind"] for a in history] == ["replay"]  # stored with the event


async def verify_and_samples(call: Calls, served: Served, forged: dict[str, Any]) -> None:
    case = connectly_event("text")
    good = await call.ok("verify_signature", provider="auto",
                         secret_env="CONNECTLY_WEBHOOK_SECRET", headers=case["headers"],
                         body=case["body"])
    assert good["valid"] is True and good["provider"] == "connectly"
    bad = await call.ok("verify_signature", provider="connectly",
                        secret_env="CONNECTLY_WEBHOOK_SECRET",
                        headers=dict(forged["headers"]), body=forged["body"]["text"])
    assert bad["valid"] is False and "does not match" in bad["reason"]
    assert set(bad) == {"verdict", "valid", "label", "reason", "provider", "header"}

    sample = await call.ok("send_sample_event", kind="delivery_failed", url=served.base + "/")
    assert sample["status"] == 200 and sample["signed"] is True
    assert sample["sent_to"] == served.base + "/webhooks/connectly"
    stored = (await call.ok("get_event", id=sample["event_id"]))["event"]
    assert stored["verdict"] == "valid" and stored["kind"] == "delivery_status"


async def bad_arguments_are_error_results(call: Calls, forged: str) -> None:
    assert "no event 'NOPE'" in await call.error("get_event", id="NOPE")
    assert "unknown field 'bogus'" in await call.error("list_events", filter="bogus:1")
    await call.error("list_events", limit=0)
    await call.error("list_events", limit="many")
    await call.error("get_event")  # missing
    await call.error("wait_for_event", timeout=-1)
    assert "since" in await call.error("wait_for_event", since="last tuesday")
    assert "url" in await call.error("replay_event", id=forged, url="ftp://example.com/")
    assert "kind" in await call.error("send_sample_event", kind="nope", url="http://x/")
    assert "not set" in await call.error("verify_signature", provider="auto",
                                         secret_env="NO_SUCH_VARIABLE", headers={}, body="")
    assert "provider" in await call.error("verify_signature", provider="acme",
                                          secret_env="CONNECTLY_WEBHOOK_SECRET", headers={},
                                          body="")
    assert "headers" in await call.error("verify_signature", provider="auto",
                                         secret_env="CONNECTLY_WEBHOOK_SECRET",
                                         headers={"bad name": "x"}, body="")
    unreachable = await call.error("send_sample_event", kind="text", url="http://127.0.0.1:9/")
    assert "could not send" in unreachable


async def test_mcp_without_a_database_is_one_line(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "inspector", "mcp", "--db", str(tmp_path / "none.db"),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=child_env(), cwd=ROOT)
    out, err = await proc.communicate()
    assert proc.returncode == 3 and out == b""
    assert err.decode().strip().startswith("error: no database at ")
    assert len(err.decode().strip().splitlines()) == 1



async def test_the_tools_on_a_shared_postgresql_database(tmp_path: Path, pg_url: str) -> None:
    """`inspector mcp --db postgresql://…` (issue 18): it lists what a receiver stores there
    and hears, through the database's feed, a delivery posted while it waits."""
    with serve(tmp_path, pg_url) as served:
        first = post(served, "text")
        async with mcp_client(pg_url, CONNECTLY_WEBHOOK_SECRET=SECRET) as session:
            call = Calls(session)
            listed = await call.ok("list_events")
            assert [e["id"] for e in listed["events"]] == [first]
            assert (await call.ok("get_event", id=first))["event"]["verdict"] == "valid"
            await wait_sees_a_delivery_posted_while_it_waits(call, served)
