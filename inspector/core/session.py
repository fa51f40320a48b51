"""The running inspector, without a face: store, analysis, receiver, server, forwarder and
tunnel, started and stopped together, and the state that changes while it runs.

Faces (the TUI, headless `serve`) drive one of these and hear what happens through one
subscription (`subscribe(sink)`, core/sink.py); neither knows about the other. The
settings say how it started and never change; `live` holds what does (`Live`).

A session is one of two kinds. A *receiver* holds its database (core/control/presence.py:
other inspectors started on it become viewers), listens, and opens a control channel for
its viewers. A *viewer* (`view=True`) of a database another process receives into runs no
receiver, no search indexer and no tunnel: it follows the store's change feed, and the
receiver's live state through the control channel (`remote`). Both follow the feed, so what
one process changes (a replay, a delete, a verdict) every other one shows. Faces change
the receiver's answer and secrets through `control`, wherever they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.answers import PolicyError, Responder, ResponsePolicy
from inspector.core.capture.ratelimit import RateLimit
from inspector.core.capture.receiver import Receiver
from inspector.core.capture.server import Running, make_server, quiet_uvicorn, url_of
from inspector.core.capture.tunnel import UP, Tunnel, TunnelState
from inspector.core.control.client import Link, RemoteControl
from inspector.core.control.presence import Claim, Record, claim_database
from inspector.core.control.protocol import (
    Control,
    ControlError,
    ReceiverState,
    secrets_from_json,
)
from inspector.core.control.server import ControlServer, operations
from inspector.core.delivery.forward import DRAIN_TIMEOUT, Forwarder
from inspector.core.model import Attempt, Event
from inspector.core.settings import Settings
from inspector.core.signatures import Check, Secrets
from inspector.core.signatures.resolve import Resolver
from inspector.core.sink import Fanout, Sink
from inspector.core.store import Changes, open_store
from inspector.core.store.follow import Follower

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
        secrets = self.secrets
        return [secrets.default, *secrets.by_provider.values(), self.connectly_api_key]


class Here:
    """The receiver's own `Control` (its faces, and its control channel, call this)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def set_policy(self, policy: ResponsePolicy) -> None:
        self.session.set_policy(policy)

    async def set_secret(self, provider: str, secret: str) -> None:
        self.session.set_secret(provider, secret)


class Session:
    def __init__(self, settings: Settings, sock: socket.socket | None, *,
                 claim: Claim | None = None, view: bool = False) -> None:
        """`sock` is bound by the caller (before any UI starts); None runs without a receiver.
        A receiver holds its database: `claim`, taken by the caller before binding (else
        here; presence.Taken when another process receives into it). `view`: a viewer of
        the database (see the module's docstring)."""
        self.settings = settings
        self.view = view
        secrets = settings.secrets
        self.resolver = Resolver(settings.routes,
                                 Secrets(secrets.default, dict(secrets.by_provider)),
                                 settings.public_url)
        self.analyzer = Analyzer(resolver=self.resolver)
        self.responder = Responder(settings.policy, settings.routes)
        on_file = settings.db != ":memory:"
        receiving = sock is not None and not view
        if claim is None and receiving and on_file:
            claim = claim_database(settings.db)
        self.claim = claim
        try:
            self.store = open_store(settings.db, prepare=self.analyzer.analyze, index=not view)
        except BaseException:
            if claim is not None:
                claim.release()
            raise
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
        if settings.rate_limit and not view:
            # One bucket for every sender (behind a tunnel they all share one address); one
            # refused request a second is recorded, marked refused 429, without its body.
            self.limiter = RateLimit(self.app, settings.rate_limit, record=self.store.add)
            self.app = self.limiter
        self.forwarder: Forwarder | None = None
        if settings.forward_to and not view:
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
        # The feed: the cursor is taken now, before a face loads what is stored.
        self.follower: Follower | None = None
        if on_file and (view or receiving):
            self.follower = Follower(self.store, self._changed,
                                     on_error=self._sinks.failed if view else None)
        self.link: Link | None = Link(settings.db, self._heard) if view else None
        self.remote: ReceiverState | None = None  # a viewer's receiver (None: none runs)
        self.control: Control = (RemoteControl(self.link, Here(self)) if self.link is not None
                                 else Here(self))
        self._control_server: ControlServer | None = None
        self._secret_changes = 0  # secrets set while running: viewers fetch them on a change
        self._tasks: set[asyncio.Task[None]] = set()
        if not view:  # a viewer's answer is its receiver's (`remote`)
            self.set_policy(settings.policy)

    @property
    def url(self) -> str:
        """Where events are received: this session's port, or a viewer's receiver's."""
        if self.view:
            return self.remote.url if self.remote is not None else ""
        return url_of(self.sock, self.settings.host) if self.sock else ""

    @property
    def tunnel_state(self) -> TunnelState | None:
        """The tunnel's state: this session's, or a viewer's receiver's."""
        if self.view:
            return self.remote.tunnel if self.remote is not None else None
        return self.tunnel.state if self.tunnel is not None else None

    def state(self) -> ReceiverState:
        """This receiver as its viewers see it (the control channel sends it)."""
        forward = self.forwarder.target if self.forwarder is not None else ""
        return ReceiverState(os.getpid(), self.url, self.live.policy, forward,
                             self.resolver.public_url, self.tunnel_state, self._secret_changes)

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
        self._announce()

    def set_secret(self, provider: str, secret: str) -> None:
        """Use `secret` for `provider` from now on (stored events keep their verdicts until
        they are verified again)."""
        self.live.secrets.by_provider[provider] = secret
        if not self.view:
            self._secret_changes += 1
            self._announce()

    def _announce(self) -> None:
        """The receiver's live state changed: tell its faces and its viewers."""
        if self.view:
            return
        if self._control_server is not None:
            self._control_server.changed()
        self._sinks.receiver(self.state())

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
        self._announce()

    def _changed(self, changes: Changes) -> None:
        """The feed moved (on the loop). A receiver heard of its own events as they were
        committed: it passes on only the ones another process inserted."""
        if not self.view:
            inserted = self.store.foreign(changes.inserted, changes.cursor.seq)
            if len(inserted) != len(changes.inserted):
                changes = replace(changes, inserted=inserted)
        if changes:
            self._sinks.changed(changes)

    def _heard(self, state: ReceiverState | None) -> None:
        """A viewer's receiver changed its state, started, or stopped (None)."""
        before, self.remote = self.remote, state
        if state is not None:
            self.live.policy = state.policy
            if not self.settings.public_url:
                self.resolver.public_url = state.public_url
            if before is None or before.secrets != state.secrets:
                self._spawn(self._fetch_secrets())
            if state.tunnel is not None and (before is None or before.tunnel != state.tunnel):
                self._sinks.tunnel(state.tunnel)
        self._sinks.receiver(state)

    async def _fetch_secrets(self) -> None:
        """The receiver's secrets (its flags, and any set while it runs) serve this viewer
        too: the detail pane checks signatures, and re-signing needs them."""
        if self.link is None:
            return
        try:
            answer = await self.link.request("secrets")
            theirs = secrets_from_json(answer.get("secrets"))
        except ControlError:
            return  # it stopped meanwhile: the next one is asked when it starts
        mine = self.live.secrets
        if theirs.default:
            mine.default = theirs.default
        mine.by_provider.update(theirs.by_provider)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        if not self.view:  # a viewer's writer starts with its first write
            self.store.start()
        if self.forwarder is not None:
            self.forwarder.start()
        if self.sock is not None and not self.view:
            self._running = Running(make_server(self.app, http=self.settings.http), self.sock)
            self._running.start()
            if self.settings.tunnel is not None:
                port = self.sock.getsockname()[1]
                self.tunnel = Tunnel(self.settings.tunnel, port, host=self.settings.host)
                self.tunnel.listeners.append(self._tunnel_changed)
                await self.tunnel.start()
            await self._open_control()
        if self.follower is not None:
            self.follower.start()
        if self.link is not None:
            self.link.start()

    async def _open_control(self) -> None:
        """Open the control channel and tell viewers where this receiver is."""
        if self.claim is None:
            return
        server = ControlServer(operations(self.control, lambda: self.live.secrets,
                                          self.notice), self.state)
        try:
            path = await server.start()
        except ControlError as exc:
            self.notice(str(exc))
            path = ""
        else:
            self._control_server = server
            stale = self.claim.stale  # a receiver that was killed left its socket behind
            if stale is not None and stale.control and Path(stale.control).parent == \
                    Path(path).parent:
                with contextlib.suppress(OSError):
                    os.unlink(stale.control)
        self.claim.publish(Record(os.getpid(), self.url, path, time.time()))

    async def stop(self, drain: float = DRAIN_TIMEOUT) -> None:
        """Stop accepting, finish in-flight requests, forward what is queued (up to `drain`
        seconds; the rest is recorded as not forwarded), flush the store, free the port,
        and let go of the database (viewers see the receiver stop)."""
        if self.link is not None:
            await self.link.stop()
        if self.follower is not None:
            await self.follower.stop()
        for task in list(self._tasks):
            task.cancel()
        if self.claim is not None:
            self.claim.withdraw()
        if self._control_server is not None:
            await self._control_server.stop()
            self._control_server = None
        if self.tunnel is not None:
            await self.tunnel.stop()
        if self._running is not None:
            await self._running.stop()
            self._running = None
        if self.forwarder is not None:
            await self.forwarder.stop(drain)
        await asyncio.to_thread(self.store.close)
        if self.claim is not None:
            self.claim.release()

    def close(self) -> None:
        """Last-resort cleanup when the loop is already gone."""
        if self.tunnel is not None:
            self.tunnel.kill_now()
        if self.sock is not None:
            self.sock.close()
        self.store.close()
        if self.claim is not None:
            self.claim.release()
