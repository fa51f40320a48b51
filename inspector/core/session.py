"""The running inspector, without a face: store, analysis, receiver, server, forwarder and
tunnel, started and stopped together, and the state that changes while it runs.

Faces (the TUI, headless `serve`) drive one of these and hear what happens through one
subscription (`subscribe(sink)`, core/sink.py); neither knows about the other. The
settings say how it started and never change; `live` holds what does (`Live`).
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.answers import PolicyError, Responder, ResponsePolicy
from inspector.core.capture.ratelimit import RateLimit
from inspector.core.capture.receiver import Receiver
from inspector.core.capture.server import Running, make_server, quiet_uvicorn, url_of
from inspector.core.capture.tunnel import UP, Tunnel, TunnelState
from inspector.core.delivery.forward import DRAIN_TIMEOUT, Forwarder
from inspector.core.model import Attempt, Event
from inspector.core.settings import Settings
from inspector.core.signatures import Check, Secrets
from inspector.core.signatures.resolve import Resolver
from inspector.core.sink import Fanout, Sink
from inspector.core.store import open_store

REPLAY_TARGET = "replay_target"  # the store's meta key for the last replay target


@dataclass(slots=True)
class Live:
    """What changes while the inspector runs. The secrets and the public URL are the
    resolver's (what verification sees); the session changes them (`set_secret`, the
    tunnel), faces read them here."""

    resolver: Resolver = field(repr=False)
    policy: ResponsePolicy  # what the receiver answers (`Session.set_policy`)
    replay_target: str  # where replays went last (--replay-to, or remembered in the store)
    connectly_business_id: str
    connectly_api_key: str = field(repr=False)  # memory only, never stored

    @property
    def secrets(self) -> Secrets:
        return self.resolver.secrets

    @property
    def public_url(self) -> str:
        """The URL senders call: --public-url, else the tunnel's while it is up."""
        return self.resolver.public_url

    def secret_values(self) -> list[str | None]:
        return [*self.secrets.values(), self.connectly_api_key]


class Session:
    def __init__(self, settings: Settings, sock: socket.socket | None) -> None:
        """`sock` is bound by the caller (before any UI starts); None runs without a receiver."""
        self.settings = settings
        self.resolver = Resolver(settings.routes, settings.secrets.copy(), settings.public_url)
        self.analyzer = Analyzer(resolver=self.resolver)
        self.responder = Responder(settings.policy, settings.routes)
        self.store = open_store(settings.db, prepare=self.analyzer.analyze)
        self.live = Live(self.resolver, settings.policy,
                         settings.replay_to or self.store.meta(REPLAY_TARGET),
                         settings.connectly_business_id, settings.connectly_api_key)
        self.sock = sock
        self.notices: list[str] = []  # every notice so far (said before a face subscribed, too)
        self._sinks = Fanout()
        self._failing = False  # a store failure was reported and no commit went through since
        self.receiver = Receiver(self.store, settings.max_body, self._failed)
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
                                       timeout=settings.forward_timeout,
                                       on_attempt=self._sinks.attempted,
                                       on_error=self._failed)
        self.store.listeners.append(self._committed)
        self.responder.forwarder = self.forwarder
        self.responder.store = self.store
        self._running: Running | None = None
        self.tunnel: Tunnel | None = None
        self.set_policy(settings.policy)

    @property
    def url(self) -> str:
        return url_of(self.sock, self.settings.host) if self.sock else ""

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        """Tell `sink` what happens from now on (on the loop); returns the unsubscribe."""
        return self._sinks.subscribe(sink)

    def notice(self, text: str) -> None:
        """Something a person should read: kept in `notices`, told to every sink."""
        self.notices.append(text)
        self._sinks.notice(text)

    def secret_values(self) -> list[str | None]:
        """Every secret this session holds, now (the TUI can set one while it runs)."""
        return [*self.settings.secret_values(), *self.live.secret_values()]

    # -- live state ----------------------------------------------------------------------------

    def set_policy(self, policy: ResponsePolicy) -> None:
        """Change what the receiver answers, live (the command palette calls this). Route
        overrides from the config file still apply to their paths."""
        if policy.respond_with_downstream and self.forwarder is None:
            raise PolicyError("respond with downstream needs a forward target: start with "
                              "--forward-to URL")
        self.responder.policy = policy
        self.live.policy = policy
        if self.forwarder is not None:
            self.forwarder.respond = policy.respond_with_downstream
        active = self.responder.active
        # The default answer costs nothing extra: no status hook, the receiver's fast path.
        self.store.prepare = self._prepare if active else self.analyzer.analyze
        self.receiver.respond = self.responder.respond if active else None

    def set_secret(self, provider: str, secret: str) -> None:
        """Use `secret` for `provider` from now on (stored events keep their verdicts until
        they are verified again)."""
        self.live.secrets.by_provider[provider] = (secret,)

    async def remember_target(self, base: str) -> bool:
        """Make `base` the replay target offered next time (kept in the store across runs);
        False when it already was."""
        if base == self.live.replay_target:
            return False
        self.live.replay_target = base
        await self.store.set_meta(REPLAY_TARGET, base)
        return True

    async def record(self, attempt: Attempt) -> Attempt:
        """Store a replay attempt and tell the sinks."""
        await self.store.record_attempt(attempt)
        self._sinks.attempted(attempt)
        return attempt

    # -- what the parts report -----------------------------------------------------------------

    def _prepare(self, event: Event) -> Check:
        """Runs in the store's writer thread, before the insert: the verdict, then the status
        the policy gives it (so the stored status is the one answered)."""
        result = self.analyzer.analyze(event)
        self.responder.decide(event)
        return result

    def _committed(self, events: list[Event]) -> None:
        """The store committed a batch (on the loop). Must stay O(batch): the hot path."""
        if self._failing:  # a commit went through: the disk has room again, the lock is gone
            self._failing = False
            self._sinks.failed(None)
        if self.forwarder is not None:
            self.forwarder.on_commit(events)
        self._sinks.committed(events)

    def _failed(self, message: str) -> None:
        self._failing = True
        self._sinks.failed(message)

    def _tunnel_changed(self, state: TunnelState) -> None:
        # Twilio signs the public URL: the tunnel's is the one senders call, unless the user
        # said otherwise with --public-url.
        if not self.settings.public_url:
            self.resolver.public_url = state.url if state.phase == UP else ""
        self._sinks.tunnel(state)

    # -- lifecycle -----------------------------------------------------------------------------

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
