"""Request lines and framing that are legal but unusual, or broken in the body: each gets a
JSON answer, and what is stored agrees with what was answered. Real sockets, both parsers,
the real receiver and store."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.model import Event
from inspector.server import DEFAULT_LIMITS
from tests.conftest import wait_for
from tests.reliability.conftest import send_raw
from tests.reliability.test_slow_clients import PARSERS, receiver


@pytest.mark.parametrize("http", PARSERS)
async def test_a_bad_chunk_is_refused_400_and_recorded_so(tmp_path: Path, http: str) -> None:
    """It was answered 400 "not recorded" and stored as 499 "client disconnected"."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        answer = await send_raw(port, b"POST /chunks HTTP/1.1\r\nhost: x\r\n"
                                b"transfer-encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n")
        assert answer.status == 400
        assert answer.headers["content-type"] == "application/json"
        error = answer.json()["error"]
        assert error == "malformed chunked body (a chunk size or a chunk's end is not valid)"

        def recorded() -> Event | None:
            seqs = runtime.store.seqs()
            return runtime.store.event(seqs[0]) if seqs else None

        event: Event = await wait_for(recorded, what="the refused request")
        assert event.path == "/chunks" and event.status == 400
        assert event.refused.startswith(error + "; cut off after ")
