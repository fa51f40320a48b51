"""Exposure through a tunnel: loopback by default, a warning otherwise, no control endpoint,
http(s)-only replays and forwards, no secret in the database or the logs, --max-body, and a
per-second rate limit answering 429."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from inspector.core.capture.ratelimit import RateLimit
from inspector.core.capture.server import bind, exposure_warning
from inspector.core.capture.serving import Running, make_server
from inspector.core.delivery.replay import ReplayError, check_target
from inspector.core.session import Session
from inspector.core.settings import DEFAULT_HOST, OptionError, Settings, apply_options
from tests.conftest import (
    CONNECTLY,
    SECRET,
    connectly_event,
    make_runtime,
    make_settings,
    running_app,
    wait_for,
)
from tests.reliability.conftest import ROOT, child_env, inspector_argv, serve

# -- where it listens ------------------------------------------------------------------------------


def _listening_address(port: int) -> str:
    """The local address a listening TCP socket on `port` is bound to (from /proc)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    return address
    raise AssertionError(f"nothing listens on {port}")


def test_the_default_bind_is_loopback(tmp_path: Path) -> None:
    assert DEFAULT_HOST == "127.0.0.1" and Settings().host == "127.0.0.1"
    with serve(tmp_path, tmp_path / "e.db") as served:  # no --host given
        assert served.base.startswith("http://127.0.0.1:")
        assert _listening_address(served.port) == "0100007F"  # 127.0.0.1, not 0.0.0.0
    assert exposure_warning(DEFAULT_HOST) is None


def test_binding_beyond_loopback_warns() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert exposure_warning(host) is None, host
    for host in ("0.0.0.0", "", "::", "192.168.1.20", "my-laptop.local"):
        warning = exposure_warning(host)
        assert warning is not None and warning.startswith("warning: "), host
        assert "anyone who can reach this machine" in warning and "--host 127.0.0.1" in warning
        assert "\n" not in warning
    assert "every network interface" in (exposure_warning("0.0.0.0") or "")


def test_serve_on_all_interfaces_prints_the_warning(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        inspector_argv("serve", "--host", "0.0.0.0", "--port", "0", "--db",
                       str(tmp_path / "e.db")),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=child_env(), cwd=ROOT)
    try:
        assert proc.stderr is not None
        head: list[str] = []
        while not head or "listening on" not in head[-1]:  # the warning comes first
            line = proc.stderr.readline()
            assert line, head
            head.append(line)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert any(line.startswith("warning: listening on every network interface")
               for line in head), head


# -- no control endpoint ---------------------------------------------------------------------------

LIKELY = ["/api", "/api/events", "/admin", "/_inspector", "/_inspector/quit", "/quit",
          "/shutdown", "/debug", "/metrics", "/.env", "/config", "/events", "/health"]


async def test_there_is_no_control_endpoint(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _pilot, base), httpx.AsyncClient() as client:
        first = await client.post(base + "/hook", content=b'{"keep": "me"}')
        for path in LIKELY:
            for method in ("GET", "POST", "DELETE", "PUT"):
                answer = await client.request(method, base + path, content=b'{"cmd": "quit"}')
                assert answer.status_code == 200, (method, path)
                assert set(answer.json()) == {"ok", "id"}  # an acknowledgement, nothing else
        assert app.store.count() == 1 + 4 * len(LIKELY)  # each one just recorded
        assert app.store.event_by_id(first.json()["id"]) is not None  # nothing deleted
        assert app.is_running
        paths = {e.path for e in app.store.iter_events(app.store.seqs())}
        assert set(LIKELY) <= paths


# -- replays and forwards go to http(s) only -------------------------------------------------------

NOT_HTTP = ["file:///etc/passwd", "ftp://example.com/x", "gopher://localhost:70/",
            "javascript:alert(1)", "unix:///var/run/docker.sock", "data:text/plain,x",
            "ws://localhost:3000/", "localhost:3000", "", "http://"]


def test_replay_refuses_other_schemes() -> None:
    for url in NOT_HTTP:
        with pytest.raises(ReplayError):
            check_target(url)
    assert check_target(" https://example.com/hook ") == "https://example.com/hook"
    assert check_target("HTTP://localhost:3000/") == "HTTP://localhost:3000/"


def test_forward_refuses_other_schemes() -> None:
    for url in NOT_HTTP[:-2]:
        if not url:
            continue
        with pytest.raises(OptionError) as raised:
            apply_options(Settings(), forward_to=url)
        assert raised.value.option == "--forward-to"


# -- secrets are never written ---------------------------------------------------------------------


def _secret_forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), raw.hex().encode(), json.dumps(secret).encode()[1:-1]]


def _assert_no_secret(where: str, data: bytes, secret: str) -> None:
    for form in _secret_forms(secret):
        assert form not in data, f"the secret ({form!r}) is in {where}"


@contextlib.contextmanager
def _captured_logs() -> Iterator[list[str]]:
    """Every log record from every logger, at every level."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in
                                      ("inspector", "uvicorn", "uvicorn.error", "asyncio"))]
    saved = [(lg, lg.level) for lg in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


async def test_secrets_are_not_in_the_database_or_the_logs(tmp_path: Path) -> None:
    secret = SECRET
    with _captured_logs() as records:
        async with running_app(tmp_path) as (app, _pilot, base), httpx.AsyncClient() as client:
            for case in CONNECTLY["events"]:  # valid, tampered and unsigned deliveries
                answer = await client.post(base + case["path"], content=case["body"].encode(),
                                           headers=case["headers"])
                assert answer.status_code == 200
                _assert_no_secret("an answer", answer.content, secret)
            # A delivery signed with a wrong secret, and one whose signature header is junk.
            wrong = hmac.new(b"not-the-secret", b"{}", hashlib.sha256).digest()
            await client.post(base + "/webhooks/connectly", content=b"{}", headers={
                "x-connectly-hmac-sha256": base64.b64encode(wrong).decode()})
            await client.post(base + "/webhooks/connectly", content=b"{}",
                              headers={"x-connectly-hmac-sha256": "%%%"})
            count = app.store.count()
            # The detail pane's check (received vs expected) holds no secret either.
            event = app.store.event(app.store.seqs()[0])
            assert event is not None
            check = app.session.analyzer.verify(event)
            _assert_no_secret("a signature check", repr(check).encode(), secret)
            assert check.ok
    assert count == len(CONNECTLY["events"]) + 2
    files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("events.db"))
    assert files and files[0].name == "events.db"
    for path in files:
        _assert_no_secret(path.name, path.read_bytes(), secret)
    _assert_no_secret("the logs", "\n".join(records).encode(), secret)
    # Exports get the same grep in tests/test_export.py (every format).


def test_secrets_are_not_in_serve_output_or_its_database(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    with serve(tmp_path, db, "--json") as served:
        for case in CONNECTLY["events"]:
            httpx.post(served.base + case["path"], content=case["body"].encode(),
                       headers=case["headers"])
    out = served.out.read_bytes() + served.err.read_bytes()
    assert out.count(b"\n") >= len(CONNECTLY["events"])
    assert b'"verdict": "valid"' in out
    _assert_no_secret("serve's output", out, SECRET)
    for path in tmp_path.glob("serve.db*"):
        _assert_no_secret(path.name, path.read_bytes(), SECRET)


# -- --max-body ------------------------------------------------------------------------------------


def test_max_body_flag(tmp_path: Path) -> None:
    with serve(tmp_path, tmp_path / "e.db", "--max-body", "1k") as served:
        ok = httpx.post(served.base + "/small", content=b"x" * 1024)
        big = httpx.post(served.base + "/big", content=b"x" * 1025)
    assert ok.status_code == 200
    assert big.status_code == 413 and "the limit is 1,024" in big.json()["error"]


# -- the rate limit --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _accept(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: Any, headers: list[tuple[bytes, bytes]] | None = None
                ) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": "POST", "path": "/x", "raw_path": b"/x",
             "query_string": b"", "headers": headers or [], "client": ("127.0.0.1", 5)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


async def test_token_bucket_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimit(_accept, 10, clock=clock)
    statuses = [(await _call(limiter))[0] for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2  # a burst of one second's worth
    status, headers, body = await _call(limiter)
    assert status == 429 and headers[b"retry-after"] == b"1"
    assert json.loads(body) == {"ok": False, "error": "rate limited: more than 10 requests "
                                                      "a second (--rate-limit); retry after 1 s"}
    clock.now += 0.101  # one token back
    assert [(await _call(limiter))[0] for _ in range(2)] == [200, 429]
    clock.now += 60  # a quiet minute: the bucket holds one second's worth, not more
    assert [(await _call(limiter))[0] for _ in range(11)] == [200] * 10 + [429]
    assert limiter.refused == 5
    slow = RateLimit(_accept, 0.2, clock=clock)  # one request every 5 s
    assert (await _call(slow))[0] == 200
    status, headers, _ = await _call(slow)
    assert status == 429 and headers[b"retry-after"] == b"5"
    # A refused request that carries a body is answered and its connection closed.
    assert (await _call(slow, [(b"content-length", b"10")]))[1][b"connection"] == b"close"
    with pytest.raises(ValueError):
        RateLimit(_accept, 0)


@contextlib.asynccontextmanager
async def limited(tmp_path: Path, rate: float) -> AsyncIterator[tuple[Session, RateLimit, str]]:
    """The real receiver and store behind RateLimit, as the runtime should wire it."""
    runtime = make_runtime(make_settings(tmp_path), listen=False)
    await runtime.start()
    limiter = RateLimit(runtime.app, rate, record=runtime.store.add)
    sock = bind("127.0.0.1", 0)
    running = Running(make_server(limiter, http="h11"), sock)
    running.start()
    await wait_for(lambda: running.server.started, what="server start")
    try:
        yield runtime, limiter, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await running.stop()
        await runtime.stop()


async def test_rate_limit_answers_429_and_records_one_sample_a_second(tmp_path: Path) -> None:
    case = connectly_event("text")
    async with limited(tmp_path, 5) as (runtime, limiter, base), httpx.AsyncClient() as client:
        answers = [await client.post(f"{base}/hook/{n}", content=case["body"].encode(),
                                     headers=case["headers"]) for n in range(40)]
        codes = [a.status_code for a in answers]
        assert codes[:5] == [200] * 5 and codes.count(429) >= 30
        refused = next(a for a in answers if a.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert "rate limited: more than 5 requests a second" in refused.json()["error"]
        # Each accepted one is stored; refused ones leave one sample (maybe two, if the
        # burst straddled a second), bodies not kept, the others counted.
        accepted = [a.json()["id"] for a in answers if a.status_code == 200]
        samples = [e for e in runtime.store.iter_events(runtime.store.seqs()) if e.status == 429]
        assert all(runtime.store.event_by_id(i) is not None for i in accepted)
        assert 1 <= len(samples) <= 2 and limiter.refused == codes.count(429)
        sample = samples[0]
        assert sample.body == b"" and sample.path.startswith("/hook/")
        assert sample.body_size == len(case["body"].encode())  # as declared
        assert "rate limited: over 5 requests a second" in sample.refused
        assert sample.header("x-connectly-hmac-sha256") == case["headers"][
            "x-connectly-hmac-sha256"]
        # The bucket refills: deliveries are accepted again.
        async def accepted_again() -> bool:
            return (await client.post(base + "/later", content=b"{}")).status_code == 200

        for _ in range(100):
            if await accepted_again():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the bucket never refilled")


def test_rate_limit_flag_is_off_by_default_and_answers_429(tmp_path: Path) -> None:
    assert getattr(Settings(), "rate_limit", None) == 0  # off by default
    with serve(tmp_path, tmp_path / "e.db", "--rate-limit", "3") as served:
        codes = [httpx.post(served.base + "/x", content=b"{}").status_code for _ in range(10)]
    assert codes[:3] == [200] * 3 and 429 in codes


async def test_the_tui_on_all_interfaces_shows_the_warning(tmp_path: Path) -> None:
    async with running_app(tmp_path, host="0.0.0.0") as (app, _pilot, _base):
        await wait_for(lambda: list(app._notifications), timeout=2, what="a notification")
        messages = [n.message for n in app._notifications]
        assert any("anyone who can reach this machine" in m for m in messages), messages
