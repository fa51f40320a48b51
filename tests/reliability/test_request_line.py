"""Request lines and framing that are legal but unusual, or broken in the body: each gets a
JSON answer, and what is stored agrees with what was answered. Real sockets, both parsers,
the real receiver and store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inspector.model import Event
from inspector.server import DEFAULT_LIMITS, MALFORMED
from tests.conftest import wait_for
from tests.reliability.conftest import read_answer, send_raw
from tests.reliability.test_slow_clients import PARSERS, open_conn, read_all, receiver


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


@pytest.mark.parametrize("http", PARSERS)
async def test_content_length_and_transfer_encoding_close_the_connection(
        tmp_path: Path, http: str) -> None:
    """RFC 9112 §6.3: a request with both may be a smuggling attempt; the server must close
    the connection after answering it (h11 answered and kept it open)."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        reader, writer = await open_conn(port)
        writer.write(b"POST /both HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n"
                     b"transfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                     b"GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n")
        answer = await asyncio.wait_for(read_answer(reader), 5)
        assert await asyncio.wait_for(read_all(reader), 3) == b""  # closed: nothing follows
        writer.close()
        if http == "h11":  # read by Transfer-Encoding, as RFC 9112 says
            assert answer.status == 200
            event = runtime.store.event_by_id(answer.json()["id"])
            assert event is not None and event.body == b"hi"
        else:  # llhttp refuses the pair outright
            assert answer.status == 400 and answer.json()["error"] == MALFORMED
        assert "/smuggled" not in {e.path for e in map(runtime.store.event,
                                                        runtime.store.seqs()) if e}
