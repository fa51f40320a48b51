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
        # Read by Transfer-Encoding, as RFC 9112 says (llhttp refuses the pair: h11 reads it)
        assert answer.status == 200
        assert stored(runtime, answer.json()["id"]).body == b"hi"
        assert "/smuggled" not in {e.path for e in map(runtime.store.event,
                                                        runtime.store.seqs()) if e}


# (request line, the answer, stored path, stored method, a note's start). llhttp refuses
# CONNECT, `post` and `BREW`: h11 reads them then, so both parsers record the same.
LINES = [
    (b"OPTIONS * HTTP/1.1", 200, "*", "OPTIONS", "request target * (OPTIONS *)"),
    (b"POST http://example.com/abs/p?q=1 HTTP/1.1", 200, "/abs/p", "POST",
     "absolute-form request target http://example.com/abs/p?q=1 (as sent to a proxy)"),
    (b"CONNECT example.com:443 HTTP/1.1", 405, "example.com:443", "CONNECT",
     "request target example.com:443 is not a path"),
    (b"TRACE /trace HTTP/1.1", 405, "/trace", "TRACE", None),
    (b"post /lower HTTP/1.1", 200, "/lower", "post", "method post is not POST"),
    (b"PROPFIND /dav HTTP/1.1", 200, "/dav", "PROPFIND", "unusual method PROPFIND"),
    (b"BREW /pot HTTP/1.1", 200, "/pot", "BREW", "unusual method BREW"),
]


@pytest.mark.parametrize("http", PARSERS)
async def test_unusual_methods_and_targets_get_json_and_are_recorded(tmp_path: Path,
                                                                     http: str) -> None:
    """They got Starlette's plain-text 404 or 405, unrecorded."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        for line, status, path, method, note in LINES:
            answer = await send_raw(port, line + b"\r\nhost: example.com\r\n"
                                    b"content-length: 2\r\n\r\nhi")
            assert answer.headers["content-type"] == "application/json", line
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
    and h11 then reads it. A NUL in the request line is refused by both, with a reason that
    names what may be wrong."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        answer = await send_raw(port, b"POST /v HTTP/1.1\r\nhost: x\r\n"
                                b"x-title: \x1b]2;OWNED\x07\r\ncontent-length: 2\r\n\r\nhi")
        assert answer.headers["content-type"] == "application/json"
        assert answer.status == 200
        assert stored(runtime, answer.json()["id"]).headers[1] == ("x-title",
                                                                  "\x1b]2;OWNED\x07")
        answer = await send_raw(port, b"POST /v\x00 HTTP/1.1\r\nhost: x\r\n\r\n")
        assert answer.status == 400 and answer.json()["error"] == MALFORMED
        assert "a control character in the request line or a header" in MALFORMED


@pytest.mark.parametrize("http", PARSERS)
async def test_a_refused_method_on_a_kept_alive_connection_and_in_pieces(
        tmp_path: Path, http: str) -> None:
    """h11 takes over from httptools at the start of the refused request, also when its
    head arrives in several reads after an earlier request on the same connection; both
    requests are recorded once, in order."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        reader, writer = await open_conn(port)
        try:
            writer.write(b"POST /first HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\na")
            first = await asyncio.wait_for(read_answer(reader), 5)
            for piece in (b"br", b"ew /second HT", b"TP/1.1\r\nhost: x\r\n",
                          b"content-length: 1\r\n\r\nb"):
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0)  # each piece its own read, as far as the kernel allows
            second = await asyncio.wait_for(read_answer(reader), 5)
        finally:
            writer.close()
        assert (first.status, second.status) == (200, 200), second
        events = [runtime.store.event(s) for s in runtime.store.seqs()]
        assert [(e.method, e.path, e.body) for e in events if e] == [
            ("POST", "/first", b"a"), ("brew", "/second", b"b")]


@pytest.mark.parametrize("http", PARSERS)
async def test_a_refused_method_pipelined_behind_another_request_is_refused_not_lost(
        tmp_path: Path, http: str) -> None:
    """Pipelined in one read behind a good request, the refused one cannot be handed over
    from its first byte: httptools refuses it (400, JSON) and closes, and the request before
    it is still recorded; h11 records both."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        reader, writer = await open_conn(port)
        try:
            writer.write(b"POST /one HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\na"
                         b"brew /two HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\nb")
            first = await asyncio.wait_for(read_answer(reader), 5)
            if http == "h11":
                second = await asyncio.wait_for(read_answer(reader), 5)
        finally:
            writer.close()

        def paths() -> list[str]:
            return [e.path for e in map(runtime.store.event, runtime.store.seqs()) if e]

        if http == "h11":
            assert (first.status, second.status) == (200, 200)
            assert paths() == ["/one", "/two"]
        else:
            assert first.status == 400 and first.json()["error"] == MALFORMED
            await wait_for(lambda: paths() == ["/one"], what="the request before it stored")
