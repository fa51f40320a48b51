"""Shared test helpers: fixtures on disk, a real recording server, the real app on port 0."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

os.environ["TZ"] = "UTC"
time.tzset()

from inspector.core.capture.server import bind  # noqa: E402
from inspector.core.capture.serving import EmbeddedServer, make_server  # noqa: E402
from inspector.core.capture.tunnel import TunnelState  # noqa: E402
from inspector.core.model import Attempt, Event  # noqa: E402
from inspector.core.session import Session  # noqa: E402
from inspector.core.settings import Settings  # noqa: E402
from inspector.core.signatures import Secrets  # noqa: E402
from inspector.core.sink import BaseSink  # noqa: E402
from tests import pilot  # noqa: E402
from tests.postgres import Cluster, ClusterError  # noqa: E402

pilot.install()

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONNECTLY = json.loads((SHARED / "fixtures/connectly/events.json").read_text())
VECTORS = json.loads((SHARED / "fixtures/signatures/vectors.json").read_text())
SECRET: str = CONNECTLY["secret"]


def connectly_event(name: str) -> dict[str, Any]:
    return next(e for e in CONNECTLY["events"] if e["name"] == name)


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.decode("latin-1").lower() == name.lower():
                return value.decode("latin-1")
        return None


@dataclass
class Threaded:
    """A Starlette app served on a loopback port (0) in its own thread: for code under test
    that runs its own event loop, or blocks this one (a CLI command)."""

    url: str
    server: EmbeddedServer
    thread: threading.Thread

    @classmethod
    def start(cls, app: Starlette) -> Threaded:
        sock = bind("127.0.0.1", 0)
        server = make_server(app, http="h11")
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return cls(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Recorder:
    """A real Starlette server on a loopback port, in its own thread, recording requests."""

    status: int = 200
    body: bytes = b'{"received": true}'
    statuses: list[int] = field(default_factory=list)  # answered first, one per request
    content_type: str = "application/json"
    requests: list[Recorded] = field(default_factory=list)
    holding: int = 0  # requests read and held unanswered (see `hold`)
    url: str = ""
    _answer: threading.Event = field(default_factory=threading.Event)
    _served: Threaded | None = None

    def hold(self) -> None:
        """A slow target: from now on, each request is read, then left unanswered until
        `release` (a slow target made of a delay races the test on a loaded machine)."""
        self._answer.clear()

    def release(self) -> None:
        self._answer.set()

    def start(self) -> Recorder:
        async def record(request: Request) -> Response:
            body = await request.body()
            if not self._answer.is_set():
                self.holding += 1
                await asyncio.to_thread(self._answer.wait)
                self.holding -= 1
            scope = request.scope
            self.requests.append(
                Recorded(
                    scope["method"],
                    scope["raw_path"].decode("latin-1"),
                    scope["query_string"].decode("latin-1"),
                    list(scope["headers"]),
                    body,
                )
            )
            status = self.statuses.pop(0) if self.statuses else self.status
            return Response(self.body, status, headers={"content-type": self.content_type})

        app = Starlette(routes=[Route("/{p:path}", record, methods=["GET", "POST", "PUT",
                                                                   "PATCH", "DELETE"])])
        self._answer.set()
        self._served = Threaded.start(app)
        self.url = self._served.url
        return self

    def stop(self) -> None:
        self.release()
        if self._served is not None:
            self._served.stop()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder().start()
    yield rec
    rec.stop()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    settings = Settings(host="127.0.0.1", port=0, db=str(tmp_path / "events.db"),
                        secrets=Secrets(default=SECRET))
    return replace(settings, **overrides)


def make_runtime(settings: Settings, *, listen: bool = True) -> Session:
    sock = bind(settings.host, settings.port) if listen else None
    return Session(settings, sock)


@dataclass
class Heard(BaseSink):
    """A sink that keeps what a session told it, in order."""

    events: list[Event] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    failures: list[str | None] = field(default_factory=list)
    tunnels: list[TunnelState] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    answers: list[Event] = field(default_factory=list)  # answers known after the commit

    def committed(self, events: list[Event]) -> None:
        self.events.extend(events)

    def attempted(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def failed(self, message: str | None) -> None:
        self.failures.append(message)

    def tunnel(self, state: TunnelState) -> None:
        self.tunnels.append(state)

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def answered(self, event: Event) -> None:
        self.answers.append(event)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Session]:
    """The real receiver and store, started on port 0, without a face."""
    rt = make_runtime(make_settings(tmp_path))
    await rt.start()
    await wait_for(lambda: rt._running and rt._running.server.started)
    yield rt
    await rt.stop()


@asynccontextmanager
async def running_app(
    tmp_path: Path, size: tuple[int, int] = (160, 45), *, notifications: bool = False,
    **overrides: Any
) -> AsyncIterator[Any]:
    """The real app, on port 0, driven by Pilot. Yields (app, pilot, base_url).
    `notifications`: show toasts on the screen (Pilot hides them by default)."""
    from inspector.faces.tui.app import InspectorApp

    runtime = make_runtime(make_settings(tmp_path, **overrides))
    app = InspectorApp(runtime)
    async with app.run_test(size=size, notifications=notifications) as pilot:
        await wait_for(lambda: runtime._running and runtime._running.server.started,
                       what="receiver start")
        yield app, pilot, runtime.url.rstrip("/")
        await app.shut_down()  # the quit key asks first when rules are unsaved
    runtime.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session (tests/postgres.py). It never skips:
    a test that needs PostgreSQL fails, saying why, when the cluster cannot start."""
    try:
        cluster = Cluster.start()
    except (ClusterError, OSError) as exc:
        pytest.fail(f"cannot start PostgreSQL for the tests: {exc}", pytrace=False)
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A new empty database in the session's cluster: its URL."""
    return pg_cluster.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives, for tests every backend must pass: a file for SQLite, a new
    database for PostgreSQL."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return str(tmp_path / "events.db")
