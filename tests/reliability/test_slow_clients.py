"""Slow and greedy clients: slowloris, idle connections, stalled bodies, oversized heads.

The guard (inspector/core/capture/server.py) enforces, for both parsers: a request head of at most
`head_bytes` (431), delivered within `head_timeout` (408); bodies that never stall longer
than `body_timeout`, keep to `body_rate` after `body_grace` and end within `body_deadline`
(else 408, recorded as refused 408 with the reason); near `concurrency` connections it closes
idle keep-alive connections and slow bodies early, and at the limit the requests waiting
longest make room. Most tests use short limits on the real receiver and store; some use the
real TUI app with its default limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from inspector.core.capture.server import DEFAULT_LIMITS, Limits, bind
from inspector.core.capture.serving import Running, make_server
from inspector.core.model import Event
from inspector.core.session import Session
from tests.conftest import make_runtime, make_settings, running_app, wait_for
from tests.reliability.conftest import Answer, port_of, read_answer, request, send_raw

# Both parsers, always: httptools is the default (a dependency), h11 the one `--http h11`
# picks; every limit must hold with each.
PARSERS = ["h11", "httptools"]
SHORT = Limits(head_bytes=4096, head_timeout=0.6, body_timeout=0.6, keep_alive=30)
DELIVERY = request(target="/hook", headers=[(b"content-type", b"application/json")],
                   body=b'{"type": "ping"}')


@contextlib.asynccontextmanager
async def receiver(tmp_path: Path, http: str, limits: Limits) -> AsyncIterator[
        tuple[Session, int]]:
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
        event = await cut_event(runtime, "/stall")
        # Stored as answered: 408, and why.
        assert event.status == 408
        assert event.refused == ("the request body stalled: nothing arrived for 0.6 s; cut off "
                                 "after 10 bytes of the body")
        await delivered(port)


async def cut_event(runtime: Session, path: str) -> Event:
    """The one event recorded for `path` (the server cut its body)."""
    def find() -> Event | None:
        events = [runtime.store.event(seq) for seq in runtime.store.seqs()]
        found = [e for e in events if e is not None and e.path == path]
        assert len(found) <= 1, found
        return found[0] if found else None

    event: Event = await wait_for(find, what=f"the event for {path}")
    return event


async def drip(writer: asyncio.StreamWriter, heard: asyncio.Task[bytes], piece: bytes,
               every: float) -> int:
    """Write `piece` every `every` s until the server answers; returns the bytes sent."""
    sent = 0
    while not heard.done():
        writer.write(piece)
        sent += len(piece)
        await asyncio.wait([heard], timeout=every)
    return sent


@pytest.mark.parametrize("http", PARSERS)
async def test_a_body_under_the_minimum_rate_is_cut_and_recorded(tmp_path: Path,
                                                                http: str) -> None:
    limits = Limits(body_grace=0.3, body_rate=100)
    async with receiver(tmp_path, http, limits) as (runtime, port):
        reader, writer = await open_conn(port)
        writer.write(b"POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n")
        heard = asyncio.create_task(closed_by_server(reader))
        sent = await drip(writer, heard, b"ab", 0.1)  # 20 bytes/s, never idle
        answer = heard.result()
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
        error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
        assert error.startswith("the request body arrived too slowly: ")
        assert "(the minimum is 100 bytes/s after the first 0.3 s)" in error
        assert sent < 40  # cut within about half a second, not at the 30 s idle limit
        writer.close()
        event = await cut_event(runtime, "/slow")
        assert event.status == 408  # the answer and the record agree
        assert event.refused.startswith(error + "; cut off after ")
        await delivered(port)


@pytest.mark.parametrize("http", PARSERS)
async def test_a_body_past_its_deadline_is_cut_however_fast_it_trickles(tmp_path: Path,
                                                                       http: str) -> None:
    limits = Limits(body_deadline=0.8, body_grace=0.1, body_rate=10)
    async with receiver(tmp_path, http, limits) as (runtime, port):
        reader, writer = await open_conn(port)
        writer.write(b"POST /long HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n")
        heard = asyncio.create_task(closed_by_server(reader))
        await drip(writer, heard, b"x" * 100, 0.05)  # 2,000 bytes/s: far over the rate
        answer = heard.result()
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"the request body did not arrive within 0.8 s" in answer
        writer.close()
        event = await cut_event(runtime, "/long")
        assert event.status == 408
        assert event.refused.startswith("the request body did not arrive within 0.8 s; ")


@pytest.mark.parametrize("http", PARSERS)
async def test_a_slow_but_steady_body_is_not_cut(tmp_path: Path, http: str) -> None:
    limits = Limits(body_timeout=0.6, body_grace=0.5, body_rate=100)
    async with receiver(tmp_path, http, limits) as (runtime, port):
        reader, writer = await open_conn(port)
        writer.write(b"POST /steady HTTP/1.1\r\nhost: x\r\ncontent-length: 600\r\n\r\n")
        for _ in range(15):  # 400 bytes/s for 1.5 s: past the grace, never 0.6 s idle
            writer.write(b"0123456789" * 4)
            await asyncio.sleep(0.1)
        answer = await asyncio.wait_for(read_answer(reader), 10)
        assert answer.status == 200
        event = runtime.store.event_by_id(answer.json()["id"])
        assert event is not None and event.body == b"0123456789" * 60
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


class Drip:
    """Attackers that keep `count` connections, each sending a `Content-Length: 100000` head
    and then one byte every `every` s, and open a new one `pause` s after the server cuts one
    (as slowhttptest -B does)."""

    HEAD = b"POST /drip HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n"

    def __init__(self, port: int, count: int, every: float, pause: float) -> None:
        self.port, self.count, self.every, self.pause = port, count, every, pause
        self.holding = 0  # connections open and dripping now
        self.peak = 0
        self.answers: list[bytes] = []  # the status line of each answer that cut one
        self._tasks: list[asyncio.Task[None]] = []

    async def _attacker(self) -> None:
        while True:
            try:
                reader, writer = await open_conn(self.port)
            except OSError:
                await asyncio.sleep(self.pause)
                continue
            writer.write(self.HEAD)
            heard = asyncio.create_task(read_all(reader))
            self.holding += 1
            self.peak = max(self.peak, self.holding)
            try:
                await drip(writer, heard, b"x", self.every)
            finally:
                self.holding -= 1
                writer.close()
                if not heard.done():
                    heard.cancel()
            self.answers.append(heard.result().split(b"\r\n", 1)[0])
            await asyncio.sleep(self.pause)

    async def __aenter__(self) -> Drip:
        self._tasks = [asyncio.create_task(self._attacker()) for _ in range(self.count)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.mark.parametrize("http", PARSERS)
async def test_dripping_bodies_do_not_keep_real_deliveries_out(tmp_path: Path,
                                                              http: str) -> None:
    """~1,000 connections dripping a byte every 20 s into a 100,000-byte body held every slot
    for as long as they dripped, and each real delivery got uvicorn's plain-text 503. Scaled
    down here (100 slots, a byte every 0.5 s, slow for 0.2 s before it may be pruned); the
    attackers reconnect at once when cut. The README gives the full-size figures."""
    limits = Limits(concurrency=100, prune_idle=0.2)
    _room_for(limits.concurrency * 2)
    async with receiver(tmp_path, http, limits) as (runtime, port), Drip(
            port, count=limits.concurrency, every=0.5, pause=0.05) as attack:
        await wait_for(lambda: attack.peak >= limits.concurrency * 0.95, timeout=20,
                       what="the attackers to fill the connections")
        ids, held = [], []
        for n in range(40):  # over 2 s: attackers cut meanwhile are back and dripping
            held.append(attack.holding)
            body = b'{"delivery": %d}' % n
            answer = await send_raw(port, request(target=f"/real/{n}", body=body), timeout=10)
            assert answer.status == 200, (n, answer)
            ids.append((answer.json()["id"], body))
            await asyncio.sleep(0.05)  # a delivery every 50 ms, as a busy provider sends
        assert max(held) >= limits.concurrency * 0.8  # deliveries met a full house
        assert attack.holding > 0  # and the attack went on meanwhile
        for ident, body in ids:
            event = runtime.store.event_by_id(ident)
            assert event is not None and event.body == body and event.status == 200
        # The attackers were cut with a 408 saying why (or closed without a word before
        # their head arrived), and their requests recorded so.
        assert b"HTTP/1.1 408 Request Timeout" in attack.answers
        assert set(attack.answers) <= {b"HTTP/1.1 408 Request Timeout", b""}
        cut = [e for e in map(runtime.store.event, runtime.store.seqs())
               if e is not None and e.path == "/drip"]
        assert cut and all(e.status == 408 for e in cut)
        assert all("cut off after" in e.refused for e in cut)
        assert any("too slowly" in e.refused for e in cut)


@pytest.mark.parametrize("http", PARSERS)
async def test_at_the_limit_the_longest_waiting_request_makes_room(tmp_path: Path,
                                                                   http: str) -> None:
    """Even bodies too young to be judged slow give way to a new connection at the limit:
    those that have been arriving for longest are cut, down to `prune_at` of the limit."""
    limits = Limits(concurrency=30, prune_idle=60)  # nothing is ever old enough to prune
    async with receiver(tmp_path, http, limits) as (runtime, port):
        waiting = []
        for n in range(limits.concurrency - 1):  # every slot but the new one's
            reader, writer = await open_conn(port)
            writer.write(b"POST /wait/%d HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\nx" % n)
            await writer.drain()
            waiting.append((reader, writer))
        answer = await send_raw(port, DELIVERY, timeout=5)
        assert answer.status == 200
        for n in range(6):  # 30 connections with the new one, down to 24 (0.8 of 30)
            cut = await closed_by_server(waiting[n][0])
            assert cut.startswith(b"HTTP/1.1 408")
            assert b"was still arriving when webhook-inspector reached its limit of 30" in cut
            event = await cut_event(runtime, f"/wait/{n}")
            assert event.status == 408 and "reached its limit of 30 conn" in event.refused
        assert not any(r.at_eof() for r, _ in waiting[6:])  # only the longest waiting went
        for _, writer in waiting:
            writer.close()


@pytest.mark.parametrize("http", PARSERS)
async def test_when_every_request_is_being_answered_the_new_one_gets_a_json_503(
        http: str) -> None:
    release = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    running = Running(make_server(slow, http=http, limits=Limits(concurrency=10)), sock)
    running.start()
    await wait_for(lambda: running.server.started, what="server start")
    try:
        busy = []
        for _ in range(9):
            reader, writer = await open_conn(port)
            writer.write(request(method="GET", target="/busy"))
            busy.append((reader, writer))
        await wait_for(lambda: len(running.server.server_state.tasks) == 9, what="9 requests")
        answer = await send_raw(port, request(method="GET", target="/new"), timeout=5)
        assert answer.status == 503 and answer.headers["retry-after"] == "1"
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"ok": False, "error": "webhook-inspector is at its limit of 10 "
                                 "connections: not recorded, retry later"}
        release.set()
        for reader, writer in busy:  # none of them was cut to make room
            assert (await asyncio.wait_for(read_answer(reader), 5)).status == 200
            writer.close()
    finally:
        await running.stop()
