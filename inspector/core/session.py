"""The running inspector, without a face: store, analysis, receiver, server, forwarder and
tunnel, started and stopped together, and the state that changes while it runs.

Faces (the TUI, headless `serve`) drive one of these and hear what happens through one
subscription (`subscribe(sink)`, core/sink.py); neither knows about the other. The
settings say how it started and never change; `live` holds what does (`Live`), and so do
the answer rules (`rules`, edited through the session) and the requests held at a
breakpoint (`holds`, decided through the session).
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import httpx
from starlette.types import ASGIApp

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.answers import (
    Given,
    Mirrored,
    PolicyError,
    Responder,
    ResponsePolicy,
    answer_header,
    check_status,
    custom_answer,
)
from inspector.core.capture.holds import FORWARD, REQUEST, Held, Holds
from inspector.core.capture.ratelimit import RateLimit
from inspector.core.capture.receiver import Receiver
from inspector.core.capture.server import Running, make_server, quiet_uvicorn, url_of
from inspector.core.capture.tunnel import UP, Tunnel, TunnelState
from inspector.core.delivery import replay
from inspector.core.delivery.forward import DRAIN_TIMEOUT, SKIP, Forwarder
from inspector.core.delivery.resign import signer_for
from inspector.core.model import Attempt, Event
from inspector.core.rules.book import RuleBook
from inspector.core.rules.rule import DEFAULT_HOLD, Rule
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
    replay_to: str  # where replays go without asking ("" asks: `Session.set_replay_target`)
    forward_to: str  # where every event is forwarded ("" none: `Session.set_forward_target`)
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
        secrets = self.secrets
        return [secrets.default, *secrets.by_provider.values(), self.connectly_api_key]


class Session:
    def __init__(self, settings: Settings, sock: socket.socket | None) -> None:
        """`sock` is bound by the caller (before any UI starts); None runs without a receiver."""
        self.settings = settings
        secrets = settings.secrets
        self.resolver = Resolver(settings.routes,
                                 Secrets(secrets.default, dict(secrets.by_provider)),
                                 settings.public_url)
        self.analyzer = Analyzer(resolver=self.resolver)
        self.rules = RuleBook(settings.rules)
        self._sinks = Fanout()
        self.holds = Holds(on_change=self._sinks.held)
        self.responder = Responder(settings.policy, settings.routes, self.rules, self.holds)
        self.store = open_store(settings.db, prepare=self.analyzer.analyze)
        self.live = Live(self.resolver, settings.policy,
                         settings.replay_to or self.store.meta(REPLAY_TARGET),
                         settings.replay_to, settings.forward_to, settings.connectly_business_id,
                         settings.connectly_api_key)
        self.sock = sock
        self.notices: list[str] = []  # every notice so far (said before a face subscribed, too)
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
            self.forwarder = self._forwarder(settings.forward_to)
        self.store.listeners.append(self._committed)
        self.responder.forwarder = self.forwarder
        self.responder.store = self.store
        self.responder.on_answered = self._sinks.answered
        self._running: Running | None = None
        self._started = False
        self.tunnel: Tunnel | None = None
        self._http: httpx.AsyncClient | None = None  # forwards of held requests
        self.set_policy(settings.policy)

    def _forwarder(self, target: str) -> Forwarder:
        settings = self.settings
        return Forwarder(self.store, target, analyzer=self.analyzer, resign=settings.resign,
                         timeout=settings.forward_timeout, on_attempt=self._sinks.attempted,
                         on_error=self._failed, retries=settings.forward_retries,
                         schedule=settings.retry_schedule, holds=self.holds)

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
        self._arm()

    def _arm(self) -> None:
        """Answer through the responder only when something can change an answer: the
        default answer costs nothing extra (no hook in the writer, the receiver's fast
        path)."""
        active = self.responder.active
        self.store.prepare = self._prepare if active else self.analyzer.analyze
        self.receiver.respond = self.responder.respond if active else None

    # -- answer rules and breakpoints (live) --------------------------------------------------

    def put_rule(self, rule: Rule, index: int | None = None) -> None:
        """Add a rule at the end, or replace the one at `index` (RuleError: its name is
        taken). From the next request on."""
        self.rules.put(rule, index)
        self._arm()

    def move_rule(self, index: int, to: int) -> None:
        self.rules.move(index, to)

    def toggle_rule(self, index: int) -> None:
        self.rules.toggle(index)
        self._arm()

    def remove_rule(self, index: int) -> None:
        self.rules.remove(index)
        self._arm()

    def set_breakpoint(self, on: bool, seconds: float = DEFAULT_HOLD) -> None:
        """Hold every request before it is answered (for `seconds` at most), or stop."""
        self.rules.hold_all = seconds if on else 0.0
        self._arm()

    def set_forward_breakpoint(self, on: bool, seconds: float = DEFAULT_HOLD) -> None:
        """Hold every forward before it leaves (for `seconds` at most), or stop."""
        self.rules.hold_forwards = seconds if on else 0.0
        self._arm()

    def release(self, held: Held) -> bool:
        """Let a held request have the answer it would have had (a held forward leave as
        it is); False when it was no longer held."""
        return self.holds.release(held)

    def answer_held(self, held: Held, status: int, headers: Sequence[str], body: bytes
                    ) -> bool:
        """Answer a held request with this status, "Name: value" headers and body
        (PolicyError for a bad status or header); False when it was no longer held."""
        if held.kind != REQUEST:
            raise PolicyError("only a held request is answered; a held forward is sent")
        code = check_status(status)
        pairs = [answer_header(h) for h in headers]
        answer = custom_answer(held.event, code, body, pairs)
        assert answer is not None
        return self.holds.decide(held, Given(code, answer))

    async def send_held(self, held: Held, edit: replay.Edit) -> Attempt | None:
        """Send a held request or forward as edited. A held request is then answered with
        what came back (the attempt is stored as a forward); a held forward leaves as
        edited. None when it was no longer held."""
        if held.future.done():
            return None
        if held.kind == FORWARD:
            self.holds.decide(held, edit)
            return None
        if self._http is None:
            self._http = replay.new_client(self.settings.forward_timeout)
        attempt = await replay.send_edit(self._http, held.event, edit,
                                         signer_for(self.analyzer, held.event),
                                         kind="forward", timeout=self.settings.forward_timeout)
        attempt.note = "; ".join(n for n in ("sent by you from a breakpoint", attempt.note)
                                 if n)
        await self.record(attempt)
        return attempt if self.holds.decide(held, Mirrored(attempt)) else None

    def skip_forward(self, held: Held) -> bool:
        """Do not send a held forward (recorded as not forwarded)."""
        return held.kind == FORWARD and self.holds.decide(held, SKIP)

    async def set_replay_target(self, target: str) -> None:
        """Replay to `target` from now on without asking ("" asks each time, offering the
        last one). ReplayError for a bad URL."""
        if target:
            target = replay.check_target(target)
            await self.remember_target(target)
        self.live.replay_to = target

    async def set_forward_target(self, target: str) -> None:
        """Forward every event to `target` from now on ("" stops forwarding, after what is
        queued). ReplayError for a bad URL."""
        if target:
            target = replay.check_target(target)
            if self.forwarder is None:
                self.forwarder = self._forwarder(target)
                if self._started:
                    self.forwarder.start()
            self.forwarder.target = target
        elif self.forwarder is not None:
            forwarder, self.forwarder = self.forwarder, None
            if self.live.policy.respond_with_downstream:  # nothing left to mirror
                self.set_policy(replace(self.live.policy, respond_with_downstream=False))
            await forwarder.stop()
        self.responder.forwarder = self.forwarder
        self.live.forward_to = target

    def set_secret(self, provider: str, secret: str) -> None:
        """Use `secret` for `provider` from now on (stored events keep their verdicts until
        they are verified again)."""
        self.live.secrets.by_provider[provider] = secret

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
        result, decoded = self.analyzer.examine(event)
        self.responder.decide(event, decoded)
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
        self._started = True
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
        # Held requests get the answer they would have had, before the server stops.
        self.responder.stop()
        if self._running is not None:
            await self._running.stop()
            self._running = None
        if self.forwarder is not None:
            await self.forwarder.stop(drain)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await asyncio.to_thread(self.store.close)

    def close(self) -> None:
        """Last-resort cleanup when the loop is already gone."""
        if self.tunnel is not None:
            self.tunnel.kill_now()
        if self.sock is not None:
            self.sock.close()
        self.store.close()
