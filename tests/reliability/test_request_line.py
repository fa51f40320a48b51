"""Request lines and framing that are legal but unusual, or broken in the body: each gets a
JSON answer, and what is stored agrees with what was answered. Real sockets, both parsers,
the real receiver and store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inspector.core.capture.server import DEFAULT_LIMITS, MALFORMED
from inspector.core.model import Event
from inspector.core.session import Session
from tests.conftest import wait_for
from tests.reliability.conftest import read_answer, send_raw
from tests.reliability.test_slow_clients import PARSERS, open_conn, read_all, receiver


def stored(runtime: Session, ident: str) -> Event:
    event = runtime.store.event_by_id(ident)
    assert event is not None
    return event


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
            assert stored(runtime, answer.json()["id"]).body == b"hi"
        else:  # llhttp refuses the pair outright
            assert answer.status == 400 and answer.json()["error"] == MALFORMED
        assert "/smuggled" not in {e.path for e in map(runtime.store.event,
                                                        runtime.store.seqs()) if e}


# (request line, h11's answer, httptools' answer, stored path, stored method, a note's start)
# None for httptools: its parser refuses the line (400, not recorded).
LINES = [
    (b"OPTIONS * HTTP/1.1", 200, 200, "*", "OPTIONS", "request target * (OPTIONS *)"),
    (b"POST http://example.com/abs/p?q=1 HTTP/1.1", 200, 200, "/abs/p", "POST",
     "absolute-form request target http://example.com/abs/p?q=1 (as sent to a proxy)"),
    (b"CONNECT example.com:443 HTTP/1.1", 405, None, "example.com:443", "CONNECT",
     "request target example.com:443 is not a path"),
    (b"TRACE /trace HTTP/1.1", 405, 405, "/trace", "TRACE", None),
    (b"post /lower HTTP/1.1", 200, None, "/lower", "post", "method post is not POST"),
    (b"PROPFIND /dav HTTP/1.1", 200, 200, "/dav", "PROPFIND", "unusual method PROPFIND"),
    (b"BREW /pot HTTP/1.1", 200, None, "/pot", "BREW", "unusual method BREW"),
]


@pytest.mark.parametrize("http", PARSERS)
async def test_unusual_methods_and_targets_get_json_and_are_recorded(tmp_path: Path,
                                                                     http: str) -> None:
    """They got Starlette's plain-text 404 or 405, unrecorded."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        for line, h11_status, httptools_status, path, method, note in LINES:
            status = h11_status if http == "h11" else httptools_status
            answer = await send_raw(port, line + b"\r\nhost: example.com\r\n"
                                    b"content-length: 2\r\n\r\nhi")
            assert answer.headers["content-type"] == "application/json", line
            if status is None:
                assert answer.status == 400 and answer.json()["error"] == MALFORMED, line
                continue
            assert answer.status == status, (line, answer)
            event = stored(runtime, answer.json()["id"])
            assert (event.method, event.path, event.body) == (method, path, b"hi"), line
            assert event.query == ("q=1" if b"?q=1" in line else "")
            if note is not None:
                assert any(n.startswith(note) for n in event.notes), (line, event.notes)
            if status == 405:
                assert answer.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
                assert event.refused == answer.json()["error"]
                assert event.refused.startswith(method)


@pytest.mark.parametrize("http", PARSERS)
async def test_a_control_character_in_a_header_value_is_recorded_or_named(
        tmp_path: Path, http: str) -> None:
    """h11 lets ESC through in a header value (recorded, shown escaped); llhttp refuses it,
    and the refusal named only the request line and header names."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        answer = await send_raw(port, b"POST /v HTTP/1.1\r\nhost: x\r\n"
                                b"x-title: \x1b]2;OWNED\x07\r\ncontent-length: 2\r\n\r\nhi")
        assert answer.headers["content-type"] == "application/json"
        if http == "h11":
            assert answer.status == 200
            assert stored(runtime, answer.json()["id"]).headers[1] == ("x-title",
                                                                      "\x1b]2;OWNED\x07")
        else:
            assert answer.status == 400 and answer.json()["error"] == MALFORMED
            assert "a control character in the request line or a header" in MALFORMED
