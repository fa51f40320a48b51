"""The receiver on its own, through httpx.ASGITransport, with the real store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.receiver import DEFAULT_MAX_BODY, create_receiver
from inspector.core.model import Verdict
from inspector.core.signatures import Secrets
from inspector.core.store import EventStore, open_store
from tests.conftest import CONNECTLY, SECRET


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    s = open_store(tmp_path / "events.db", prepare=Analyzer(Secrets(default=SECRET)).analyze)
    s.start()
    yield s
    s.close()


def client_for(store: EventStore, max_body: int = DEFAULT_MAX_BODY) -> httpx.AsyncClient:
    app = create_receiver(store, max_body=max_body)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hooks.test")


async def test_any_path_and_method_is_recorded(store: EventStore) -> None:
    async with client_for(store) as client:
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]:
            response = await client.request(method, "/a/b%2Fc/x?q=1&q=2", content=b"x")
            assert response.status_code == 200, method
            if method != "HEAD":
                assert response.json()["ok"] is True
    events = [store.event(seq) for seq in store.seqs()]
    assert [e.method for e in events if e] == ["GET", "POST", "PUT", "PATCH", "DELETE",
                                                "OPTIONS", "HEAD"]
    first = events[0]
    assert first is not None
    assert first.path == "/a/b%2Fc/x"  # raw path, percent-encoding kept
    assert first.query == "q=1&q=2"


async def test_ack_carries_the_stored_id(store: EventStore) -> None:
    async with client_for(store) as client:
        response = await client.post("/hook", content=b"{}")
    ident = response.json()["id"]
    event = store.event_by_id(ident)
    assert event is not None and event.body == b"{}"


async def test_headers_keep_order_duplicates_and_bytes(store: EventStore) -> None:
    headers = [("X-B", "2"), ("x-a", "1"), ("X-B", "3"), ("x-latin", "caf\xe9")]
    async with client_for(store) as client:
        request = client.build_request("POST", "/h", content=b"\x00\xff body")
        for name, value in headers:
            request.headers._list.append(  # raw, so duplicates and order are ours
                (name.encode("latin-1"), name.lower().encode("latin-1"), value.encode("latin-1"))
            )
        await client.send(request)
    event = store.event(store.seqs()[-1])
    assert event is not None
    got = [(k.lower(), v) for k, v in event.headers if k.lower().startswith("x-")]
    assert got == [("x-b", "2"), ("x-a", "1"), ("x-b", "3"), ("x-latin", "caf\xe9")]
    assert event.body == b"\x00\xff body"
    assert event.http_version == "1.1"
    assert event.client.startswith("127.0.0.1:")


@pytest.mark.parametrize("case", CONNECTLY["events"], ids=lambda c: c["name"])
async def test_connectly_fixture_verdicts(store: EventStore, case: dict[str, Any]) -> None:
    async with client_for(store) as client:
        response = await client.post(case["path"], content=case["body"].encode(),
                                     headers=case["headers"])
    assert response.status_code == 200
    event = store.event_by_id(response.json()["id"])
    assert event is not None
    assert event.verdict == case["expected"]
    assert event.body == case["body"].encode()
    assert event.provider == "connectly" or case["expected"] == "unsigned"


async def test_body_over_limit_is_refused_and_still_listed(store: EventStore) -> None:
    async with client_for(store, max_body=1000) as client:
        ok = await client.post("/h", content=b"x" * 1000)
        over = await client.post("/h", content=b"x" * 1001)
    assert ok.status_code == 200
    assert over.status_code == 413
    payload = over.json()
    assert payload["ok"] is False and "limit is 1,000" in payload["error"]
    event = store.event_by_id(payload["id"])
    assert event is not None
    assert event.status == 413 and event.refused and event.body_size == 1001
    assert event.body == b""


async def test_streamed_body_over_limit_is_refused(store: EventStore) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 400

    async with client_for(store, max_body=1000) as client:
        response = await client.post("/h", content=chunks())
    assert response.status_code == 413
    event = store.event_by_id(response.json()["id"])
    assert event is not None and "at least" in event.refused


async def test_no_secret_verdict_says_how_to_set_one(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db", prepare=Analyzer(Secrets()).analyze)
    store.start()
    case = CONNECTLY["events"][0]
    try:
        async with client_for(store) as client:
            response = await client.post(case["path"], content=case["body"].encode(),
                                         headers=case["headers"])
        event = store.event_by_id(response.json()["id"])
        assert event is not None
        assert event.verdict == Verdict.NO_SECRET
        assert "CONNECTLY_WEBHOOK_SECRET" in event.reason
    finally:
        store.close()


async def test_storage_failure_is_503_not_a_false_ack(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db")
    store.start()
    errors: list[str] = []
    app = create_receiver(store, on_error=errors.append)
    store.close()  # a store that cannot take the event
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://x") as client:
        response = await client.post("/h", content=b"{}")
    assert response.status_code == 503
    assert json.loads(response.text)["ok"] is False
    assert errors and "closed" in errors[0]
