"""The running inspector, without a face: store, analysis, receiver, server, forwarder and
tunnel, started and stopped together, and the state that changes while it runs.

Faces (the TUI, headless `serve`) drive one of these and hear what happens through one
subscription (`subscribe(sink)`, core/sink.py); neither knows about the other. The
settings say how it started and never change; `live` holds what does (`Live`), and so do
the answer rules (`rules`, edited through the session) and the requests held at a
breakpoint (`holds`, decided through the session).

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
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from inspector.core.capture.handshakes import Handshakes
from inspector.core.capture.holds import FORWARD, REQUEST, Held, Holds
from inspector.core.capture.ratelimit import RateLimit
from inspector.core.capture.receiver import Receiver
from inspector.core.capture.server import url_of
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
from inspector.core.delivery import replay
from inspector.core.delivery.forward import DRAIN_TIMEOUT, SKIP, Forwarder
from inspector.core.delivery.resign import signer_for
from inspector.core.model import Attempt, Event
from inspector.core.retention import Retention
from inspector.core.rules.book import RuleBook
from inspector.core.rules.rule import DEFAULT_HOLD, Rule
from inspector.core.settings import Settings
from inspector.core.signatures import Check, Secrets
from inspector.core.signatures.resolve import Resolver
from inspector.core.sink import Fanout, Sink
from inspector.core.store import Changes, is_url, open_store
from inspector.core.store.follow import Follower

if TYPE_CHECKING:
    import httpx

    from inspector.core.capture.serving import Running

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
        return [*self.secrets.values(), self.connectly_api_key]


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
        self.resolver = Resolver(settings.routes, settings.secrets.copy(), settings.public_url)
        self.analyzer = Analyzer(resolver=self.resolver)
        self.rules = RuleBook(settings.rules)
        self._sinks = Fanout()
        self.holds = Holds(on_change=self._sinks.held)
        # Provider handshakes (Slack, Zoom, Twitch, Discord, Meta): armed only while a
        # secret or token could answer one (`_arm`); a viewer answers nothing.
        self.handshakes = (Handshakes(self.resolver, settings.meta_verify_tokens)
                           if settings.handshakes and not view else None)
        self.responder = Responder(settings.policy, settings.routes, self.rules, self.holds,
                                   self.handshakes)
        kept = settings.db != ":memory:"  # another process can see it (a file, or a server)
        # A file has one receiver (others open as its viewers); PostgreSQL takes several.
        claimable = kept and not is_url(settings.db)
        receiving = sock is not None and not view
        if claim is None and receiving and claimable:
            claim = claim_database(settings.db)
        self.claim = claim
        try:
            self.store = open_store(settings.db, prepare=self.analyzer.analyze, index=not view)
        except BaseException:
            if claim is not None:
                claim.release()
            raise
        # Where several receivers write (PostgreSQL; without its password), else "".
        self.shared = self.store.path if kept and not claimable else ""
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
        if settings.rate_limit and not view:
            # One bucket for every sender (behind a tunnel they all share one address); one
            # refused request a second is recorded, marked refused 429, without its body.
            self.limiter = RateLimit(self.app, settings.rate_limit, record=self.store.add)
            self.app = self.limiter
        self.forwarder: Forwarder | None = None
        if settings.forward_to and not view:
            self.forwarder = self._forwarder(settings.forward_to)
        self.store.listeners.append(self._committed)
        self.responder.forwarder = self.forwarder
        self.responder.store = self.store
        self.responder.on_answered = self._sinks.answered
        self._running: Running | None = None
        self._started = False
        self.tunnel: Tunnel | None = None
        self._http: httpx.AsyncClient | None = None  # forwards of held requests
        self.retention: Retention | None = None  # --keep, --keep-days (the receiver prunes)
        if not view and (settings.keep or settings.keep_days):
            self.retention = Retention(self.store, settings.keep, settings.keep_days,
                                       on_pruned=self._pruned, on_error=self._prune_failed)
        # The feed: the cursor is taken now, before a face loads what is stored. Retention's
        # deletions reach the faces through it too (a database in memory included).
        self.follower: Follower | None = None
        if (kept and (view or receiving)) or self.retention is not None:
            self.follower = Follower(self.store, self._changed, on_error=self._feed_failed)
        self.link: Link | None = (Link(settings.receiver or settings.db, self._heard) if view
                                  else None)
        self.remote: ReceiverState | None = None  # a viewer's receiver (None: none runs)
        self.control: Control = (RemoteControl(self.link, Here(self)) if self.link is not None
                                 else Here(self))
        self._control_server: ControlServer | None = None
        self._secret_changes = 0  # secrets set while running: viewers fetch them on a change
        self._tasks: set[asyncio.Task[None]] = set()
        if not view:  # a viewer's answer is its receiver's (`remote`)
            self.set_policy(settings.policy)

    def _forwarder(self, target: str) -> Forwarder:
        settings = self.settings
        return Forwarder(self.store, target, analyzer=self.analyzer, resign=settings.resign,
                         timeout=settings.forward_timeout, on_attempt=self._sinks.attempted,
                         on_error=self._failed, retries=settings.forward_retries,
                         schedule=settings.retry_schedule, holds=self.holds)

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
        self._arm()

    def _arm(self) -> None:
        """Answer through the responder only when something can change an answer: the
        default answer costs nothing extra (no hook in the writer, the receiver's fast
        path)."""
        if self.handshakes is not None:
            self.handshakes.refresh()
        active = self.responder.active
        self.store.prepare = self._prepare if active else self.analyzer.analyze
        self.receiver.respond = self.responder.respond if active else None
        self._announce()

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
        self.live.secrets.by_provider[provider] = (secret,)
        if not self.view:
            self._secret_changes += 1
            self._arm()  # a handshake may now be answerable

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
        result, decoded = self.analyzer.examine(event)
        self.responder.decide(event, decoded, result)
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

    def _feed_failed(self, message: str | None) -> None:
        """The feed cannot be read (a database server gone away: said before a delivery
        fails), or can again (None: the server is back, and the writer reconnects with the
        next batch)."""
        if message is not None:
            self._failed(message)
        elif self._failing:
            self._failing = False
            self._sinks.failed(None)

    def _pruned(self, count: int) -> None:
        """Retention deleted old events: the faces hear of it from the feed, now."""
        if self.follower is not None:
            self.follower.poke()

    def _prune_failed(self, message: str | None) -> None:
        if message is not None:
            self.notice(f"Old events could not be deleted (--keep/--keep-days): {message}")

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
        self._started = True
        # uvicorn and its parsers are imported here, not at start-up: a face paints first.
        from inspector.core.capture.serving import Running, make_server, quiet_uvicorn

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
        if self.retention is not None:
            self.retention.start()
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
        if self.retention is not None:
            await self.retention.stop()
        for task in list(self._tasks):
            task.cancel()
        if self.claim is not None:
            self.claim.withdraw()
        if self._control_server is not None:
            await self._control_server.stop()
            self._control_server = None
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
