"""Slow and greedy clients: slowloris, idle connections, stalled bodies, oversized heads.

The guard in inspector/server.py enforces, for both HTTP parsers: a request head of at most
`head_bytes` (431), delivered within `head_timeout` (408), bodies that never stall longer
than `body_timeout` (408, recorded as a disconnected delivery), and closes idle keep-alive
connections early when connections near `concurrency`. Most tests use short limits on the
real receiver and store; the last ones use the real TUI app with its default limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from inspector.runtime import Runtime
from inspector.server import (
    DEFAULT_LIMITS,
    GuardedHttpTools,
    Limits,
    Running,
    bind,
    make_server,
)
from tests.conftest import make_runtime, make_settings, running_app, wait_for
from tests.reliability.conftest import Answer, port_of, read_answer, request, send_raw

PARSERS = [pytest.param("h11", id="h11"),
           pytest.param("httptools", id="httptools", marks=pytest.mark.skipif(
               GuardedHttpTools is None, reason="httptools is not installed (optional)"))]
SHORT = Limits(head_bytes=4096, head_timeout=0.6, body_timeout=0.6, keep_alive=30)
DELIVERY = request(target="/hook", headers=[(b"content-type", b"application/json")],
                   body=b'{"type": "ping"}')


@contextlib.asynccontextmanager
async def receiver(tmp_path: Path, http: str, limits: Limits) -> AsyncIterator[
        tuple[Runtime, int]]:
    """The real receiver and store behind a server with `limits`; yields (runtime, port)."""
    runtime = make_runtime(make_settings(tmp_path), listen=False)
    await runtime.start()  # the store only: no socket
    sock = bind("127.0.0.1", 0)
    running = Running(make_server(runtime.app, http=http, limits=limits), sock)
    running.start()
    await wait_for(lambda: running.server.started, what="server start")
    try:
        yield runtime, sock.getsockname()[1]
    finally:
        await running.stop()
        await runtime.stop()


async def open_conn(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = 10) -> bytes:
    """Whatever the server sends until it closes the connection."""
    return await asyncio.wait_for(read_all(reader), timeout)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Read until the server closes (a reset after its last words counts as closing)."""
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            data += chunk
    return data


async def delivered(port: int) -> Answer:
    answer = await send_raw(port, DELIVERY, timeout=5)
    assert answer.status == 200, answer
    return answer


@pytest.mark.parametrize("http", PARSERS)
async def test_slowloris_gets_408_and_does_not_stop_deliveries(tmp_path: Path,
                                                              http: str) -> None:
    async with receiver(tmp_path, http, SHORT) as (runtime, port):
        reader, writer = await open_conn(port)
        heard = asyncio.create_task(read_all(reader))  # listen while we write
        writer.write(b"POST /slow HTTP/1.1\r\nhost: x\r\n")
        trickled = 0
        with contextlib.suppress(ConnectionError):  # the server hangs up on us at 0.6 s
            while trickled < 200:  # one header line every 20 ms
                await delivered(port)  # others are served meanwhile
                writer.write(b"x-slow-%d: 1\r\n" % trickled)
                await writer.drain()
                trickled += 1
                await asyncio.sleep(0.02)
        answer = await asyncio.wait_for(heard, 10)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
        assert b"did not arrive within 0.6 s" in answer
        assert trickled < 200  # cut off by the deadline, not by the loop's end
        assert runtime.store.count() >= trickled  # every delivery meanwhile stored
        writer.close()


@pytest.mark.parametrize("http", PARSERS)
async def test_a_connection_that_says_nothing_is_closed(tmp_path: Path, http: str) -> None:
    async with receiver(tmp_path, http, SHORT) as (_runtime, port):
        reader, writer = await open_conn(port)
        assert await closed_by_server(reader) == b""  # closed without a word
        writer.close()
        await delivered(port)


@pytest.mark.parametrize("http", PARSERS)
async def test_a_stalled_body_gets_408_and_is_recorded(tmp_path: Path, http: str) -> None:
    async with receiver(tmp_path, http, SHORT) as (runtime, port):
        reader, writer = await open_conn(port)
        writer.write(b"POST /stall HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n"
                     + b"0123456789")
        answer = await closed_by_server(reader)
        assert answer.startswith(b"HTTP/1.1 408") and b"body stalled" in answer
        writer.close()
        await wait_for(lambda: runtime.store.count() == 1, what="the stalled event")
        (seq,) = runtime.store.seqs()
        event = runtime.store.event(seq)
        assert event is not None and event.status == 499 and event.path == "/stall"
        assert "client disconnected after 10 bytes" in event.refused
        await delivered(port)


@pytest.mark.parametrize("http", PARSERS)
async def test_a_slow_but_moving_body_is_not_cut(tmp_path: Path, http: str) -> None:
    async with receiver(tmp_path, http, SHORT) as (runtime, port):
        reader, writer = await open_conn(port)
        writer.write(b"POST /slow-body HTTP/1.1\r\nhost: x\r\ncontent-length: 40\r\n\r\n")
        for _ in range(8):  # 1.2 s in all, never 0.6 s without a byte
            writer.write(b"01234")
            await asyncio.sleep(0.15)
        answer = await asyncio.wait_for(read_answer(reader), 10)
        assert answer.status == 200
        event = runtime.store.event_by_id(answer.json()["id"])
        assert event is not None and event.body == b"01234" * 8
        writer.close()


@pytest.mark.parametrize("http", PARSERS)
async def test_head_limit_is_exact_whatever_the_reads(tmp_path: Path, http: str) -> None:
    async with receiver(tmp_path, http, SHORT) as (runtime, port):
        for size, status in ((4096, 200), (4097, 431)):
            start = b"GET /h HTTP/1.1\r\nhost: x\r\nx-pad: "
            pad = size - len(start) - 4
            head = start + b"p" * pad + b"\r\n\r\n"
            assert len(head) == size
            reader, writer = await open_conn(port)
            for i in range(0, size, 1000):  # in several reads
                writer.write(head[i : i + 1000])
                await writer.drain()
                await asyncio.sleep(0.01)
            answer = await asyncio.wait_for(read_answer(reader), 5)
            assert answer.status == status, (size, answer)
            if status == 431:
                assert "over 4,096 bytes" in answer.json()["error"]
            writer.close()
        assert runtime.store.count() == 1


@pytest.mark.parametrize("http", PARSERS)
async def test_malformed_requests_get_a_clear_400(tmp_path: Path, http: str) -> None:
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        answer = await send_raw(port, b"POST /a\x1bb HTTP/1.1\r\nhost: x\r\n\r\n")
        assert answer.status == 400
        assert answer.json()["error"].startswith("malformed HTTP request")
        assert runtime.store.count() == 0
        await delivered(port)


@pytest.mark.parametrize("http", PARSERS)
async def test_1000_requests_on_one_keep_alive_connection(tmp_path: Path, http: str) -> None:
    """The head count restarts with every request (a bug once answered 431 after ~140)."""
    async with receiver(tmp_path, http, DEFAULT_LIMITS) as (runtime, port):
        reader, writer = await open_conn(port)
        body = b'{"pad": "' + b"x" * 900 + b'"}'
        for n in range(1000):
            writer.write(request(target=f"/k/{n}", body=body))
            answer = await asyncio.wait_for(read_answer(reader), 5)
            assert answer.status == 200, (n, answer)
        writer.close()
        assert runtime.store.count() == 1000


@pytest.mark.parametrize("http", PARSERS)
async def test_idle_keep_alive_connections_are_closed_under_pressure(tmp_path: Path,
                                                                   http: str) -> None:
    limits = Limits(concurrency=60, prune_idle=0.2)
    async with receiver(tmp_path, http, limits) as (_runtime, port):
        idle = []
        for _ in range(59):  # one short of the limit: each delivered once, then stays open
            reader, writer = await open_conn(port)
            writer.write(DELIVERY)
            assert (await asyncio.wait_for(read_answer(reader), 5)).status == 200
            idle.append((reader, writer))
        await asyncio.sleep(0.25)  # they are idle now (prune_idle), not just finished
        await delivered(port)  # without pruning: 503 "Service Unavailable"
        closed = [r for r, _ in idle if await asyncio.wait_for(r.read(), 5) == b""]
        assert len(closed) >= 10
        for _, writer in idle:
            writer.close()


def _room_for(connections: int) -> None:
    """Client and server ends share this process: raise the soft file limit if we may."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = connections * 2 + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


async def test_500_idle_keep_alive_connections_and_a_slowloris_do_not_stop_the_tui(
        tmp_path: Path) -> None:
    """The real app with its default limits."""
    _room_for(600)
    async with running_app(tmp_path) as (app, _pilot, base):
        port = port_of(base)
        idle = []
        for batch in range(10):
            pairs = await asyncio.gather(*(open_conn(port) for _ in range(50)))
            for _reader, writer in pairs:
                writer.write(DELIVERY)
            for reader, _ in pairs:
                assert (await asyncio.wait_for(read_answer(reader), 10)).status == 200
            idle += pairs
            del batch
        loris_reader, loris = await open_conn(port)
        loris.write(b"POST /loris HTTP/1.1\r\nhost: x\r\n")
        for n in range(20):  # 20 deliveries while 500 idle connections and a slowloris wait
            answer = await delivered(port)
            loris.write(b"x-%d: 1\r\n" % n)
            assert app.store.event_by_id(answer.json()["id"]) is not None
        assert not loris_reader.at_eof()  # still inside its 10 s head deadline
        assert app.store.count() == 520 and app.is_running
        assert DEFAULT_LIMITS.concurrency >= 1000 and DEFAULT_LIMITS.head_timeout <= 10
        for _, writer in [*idle, (loris_reader, loris)]:
            writer.close()


@pytest.mark.parametrize("http", PARSERS)
async def test_pruning_spares_a_request_being_answered(http: str) -> None:
    """Under pressure idle connections go, never one whose answer is still coming."""
    release = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            await release.wait()
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    running = Running(make_server(slow, http=http, limits=Limits(concurrency=20,
                                                                 prune_idle=0.1)), sock)
    running.start()
    await wait_for(lambda: running.server.started, what="server start")
    try:
        waiting_reader, waiting = await open_conn(port)
        waiting.write(request(method="GET", target="/slow"))
        others = []
        for _ in range(18):
            reader, writer = await open_conn(port)
            writer.write(request(method="GET", target="/fast"))
            assert (await asyncio.wait_for(read_answer(reader), 5)).status == 200
            others.append(writer)
        await asyncio.sleep(0.2)
        assert (await send_raw(port, request(method="GET", target="/new"))).status == 200
        release.set()
        answer = await asyncio.wait_for(read_answer(waiting_reader), 5)
        assert answer.status == 200 and answer.body == b"/slow"
        for writer in [waiting, *others]:
            writer.close()
    finally:
        await running.stop()
