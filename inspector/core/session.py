"""The inspector without a face: store + analysis + receiver + server (+ forwarder), started
and stopped together.

The TUI and the headless runner both drive one of these; neither knows about the other.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable

from starlette.types import ASGIApp

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.answers import PolicyError, Responder, ResponsePolicy
from inspector.core.capture.ratelimit import RateLimit
from inspector.core.capture.receiver import Receiver
from inspector.core.capture.server import Running, make_server, quiet_uvicorn, url_of
from inspector.core.capture.tunnel import UP, Tunnel, TunnelState
from inspector.core.delivery.forward import DRAIN_TIMEOUT, AttemptListener, Forwarder
from inspector.core.model import Attempt, Event
from inspector.core.settings import Settings
from inspector.core.signatures import Check
from inspector.core.store import CommitListener, Store, insert_attempt


class Runtime:
    def __init__(self, settings: Settings, sock: socket.socket | None) -> None:
        """`sock` is bound by the caller (before any UI starts); None runs without a receiver."""
        self.settings = settings
        self.analyzer = Analyzer(secrets=settings.secrets, public_url=settings.public_url,
                                 routes=settings.routes)
        self.responder = Responder(settings.policy, settings.routes)
        self.store = Store(settings.db, prepare=self.analyzer.analyze)
        self.sock = sock
        self.errors: list[Callable[[str], None]] = []
        self.notices: list[str] = []  # said before the UI started (the TUI repeats them)
        self.attempt_listeners: list[AttemptListener] = []
        self.receiver = Receiver(self.store, settings.max_body, self._error)
        self.app: ASGIApp = self.receiver
        self.limiter: RateLimit | None = None
        if settings.rate_limit:
            # One bucket for every sender (behind a tunnel they all share one address); one
            # refused request a second is recorded, marked refused 429, without its body.
            self.limiter = RateLimit(self.app, settings.rate_limit, record=self.store.add)
            self.app = self.limiter
        self.forwarder: Forwarder | None = None
        if settings.forward_to:
            self.forwarder = Forwarder(self.store, settings.forward_to, analyzer=self.analyzer,
                                       resign=settings.resign,
                                       timeout=settings.forward_timeout)
            self.forwarder.listeners.append(self._attempted)
            self.forwarder.on_error = self._error
            self.store.listeners.append(self.forwarder.on_commit)
        self.responder.forwarder = self.forwarder
        self.responder.store = self.store
        self._running: Running | None = None
        self.tunnel: Tunnel | None = None
        self.tunnel_listeners: list[Callable[[TunnelState], None]] = []
        self.set_policy(settings.policy)

    @property
    def url(self) -> str:
        return url_of(self.sock, self.settings.host) if self.sock else ""

    def on_commit(self, listener: CommitListener) -> None:
        self.store.listeners.append(listener)

    def on_attempt(self, listener: AttemptListener) -> None:
        """`listener(attempt)` on the loop once a forward (or an attempt passed to `record`)
        is stored; `attempt.event_seq` says which event's row to refresh."""
        self.attempt_listeners.append(listener)

    async def record(self, attempt: Attempt) -> Attempt:
        """Store a replay attempt and tell the attempt listeners."""
        await self.store.write(insert_attempt, attempt)
        self._attempted(attempt)
        return attempt

    def set_policy(self, policy: ResponsePolicy) -> None:
        """Change what the receiver answers, live (the command palette calls this). Route
        overrides from the config file still apply to their paths."""
        if policy.respond_with_downstream and self.forwarder is None:
            raise PolicyError("respond with downstream needs a forward target: start with "
                              "--forward-to URL")
        self.responder.policy = policy
        self.settings.policy = policy
        if self.forwarder is not None:
            self.forwarder.respond = policy.respond_with_downstream
        active = self.responder.active
        # The default answer costs nothing extra: no status hook, the receiver's fast path.
        self.store.prepare = self._prepare if active else self.analyzer.analyze
        self.receiver.respond = self.responder.respond if active else None

    def _prepare(self, event: Event) -> Check:
        """Runs in the store's writer thread, before the insert: the verdict, then the status
        the policy gives it (so the stored status is the one answered)."""
        result = self.analyzer.analyze(event)
        self.responder.decide(event)
        return result

    def _error(self, message: str) -> None:
        for listener in self.errors:
            listener(message)

    def _tunnel_changed(self, state: TunnelState) -> None:
        # Twilio signs the public URL: the tunnel's is the one senders call, unless the user
        # said otherwise with --public-url.
        if not self.settings.public_url:
            self.analyzer.resolver.public_url = state.url if state.phase == UP else ""
        for listener in self.tunnel_listeners:
            listener(state)

    def _attempted(self, attempt: Attempt) -> None:
        for listener in self.attempt_listeners:
            listener(attempt)

    async def start(self) -> None:
        """Start the writer thread, the forwarder and the server on the running loop."""
        quiet_uvicorn()
        # A full collection of the start-up heap (Textual's widgets, modules) takes ~60 ms:
        # long enough to stall deliveries. Freeze it so later collections skip it.
        gc.collect()
        gc.freeze()
        # And make full collections ten times rarer than the default: each one pauses the
        # loop for 10-30 ms, which is the p99 of a delivery at a few hundred a second.
        gen0, gen1, _ = gc.get_threshold()
        gc.set_threshold(gen0, gen1, 100)
        self.store.start()
        if self.forwarder is not None:
            self.forwarder.start()
        if self.sock is not None:
            self._running = Running(make_server(self.app, http=self.settings.http), self.sock)
            self._running.start()
            if self.settings.tunnel is not None:
                port = self.sock.getsockname()[1]
                self.tunnel = Tunnel(self.settings.tunnel, port, host=self.settings.host)
                self.tunnel.listeners.append(self._tunnel_changed)
                await self.tunnel.start()

    async def stop(self, drain: float = DRAIN_TIMEOUT) -> None:
        """Stop accepting, finish in-flight requests, forward what is queued (up to `drain`
        seconds; the rest is recorded as not forwarded), flush the store, free the port."""
        if self.tunnel is not None:
            await self.tunnel.stop()
        if self._running is not None:
            await self._running.stop()
            self._running = None
        if self.forwarder is not None:
            await self.forwarder.stop(drain)
        await asyncio.to_thread(self.store.close)

    def close(self) -> None:
        """Last-resort cleanup when the loop is already gone."""
        if self.tunnel is not None:
            self.tunnel.kill_now()
        if self.sock is not None:
            self.sock.close()
        self.store.close()
