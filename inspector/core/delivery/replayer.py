"""Replays for any face: one event, many, or a whole view, with each attempt stored.

The face says which events and where; the `Replayer` sends them in the order they arrived,
stores every attempt through the session as it completes (so a list shows results while a
long run goes on, and every sink hears of them), reports progress, and has the session
remember the target for the next time. Re-signing goes through the `Signer`, which refuses
to vouch for an event that did not arrive valid unless a person confirmed it (see
inspector.core.delivery.resign).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.core.delivery import replay
from inspector.core.delivery.resign import Signer, signer_for
from inspector.core.interop.export import DEFAULT_CURL_TARGET
from inspector.core.model import Attempt, Event
from inspector.core.session import Session

if TYPE_CHECKING:
    import httpx

DEFAULT_TARGET = "http://localhost:3000/"  # offered when nothing was used yet

Progress = Callable[[int, int], object]  # (done, total), first with done == 0


@dataclass(frozen=True, slots=True)
class Run:
    """What a replay of several events did."""

    attempts: list[Attempt]
    summary: replay.Summary


class Replayer:
    def __init__(self, session: Session, http: Callable[[], httpx.AsyncClient], *,
                 on_target: Callable[[str], object] = lambda target: None) -> None:
        """`http` gives the client to send with (made on first use); `on_target` hears of a
        new replay target once the session remembers it."""
        self.session = session
        self.http = http
        self.on_target = on_target

    @property
    def fixed(self) -> str:
        """--replay-to, or the target set since: replays go there without a question."""
        return self.session.live.replay_to

    @property
    def target(self) -> str:
        """The last target used (this session or an earlier one), or --replay-to."""
        return self.session.live.replay_target

    def offer(self) -> str:
        """The target to offer in a question: the last one used, or a local default."""
        return self.target or DEFAULT_TARGET

    def aim(self, event: Event) -> str:
        """Where the replay editor starts: the target with the path rule applied."""
        base = self.fixed or self.offer()
        try:
            return replay.target_url(base, event)
        except replay.ReplayError:
            return base

    def curl_target(self) -> str:
        """Where curl commands go: the replay target, else this inspector's own URL. Never
        the event's Host header: the sender chose it."""
        return self.fixed or self.target or self.session.url or DEFAULT_CURL_TARGET

    def signer(self, event: Event) -> Signer:
        """The scheme and secret that would re-sign `event`, and how it arrived."""
        return signer_for(self.session.analyzer, event)

    async def remember(self, base: str) -> None:
        if await self.session.remember_target(base):
            self.on_target(base)

    async def many(self, seqs: Sequence[int], base: str,
                   progress: Progress = lambda done, total: None) -> Run | None:
        """Replay events one at a time in the order they arrived, storing each attempt.
        None when every one of them was deleted meanwhile. Raises ReplayError for a bad
        target, before anything is sent."""
        replay.check_target(base)
        await self.remember(base)
        store = self.session.store
        events = [e for e in map(store.event, seqs) if e is not None]
        if not events:
            return None

        async def stored(done: int, total: int, attempt: Attempt) -> None:
            await self.session.record(attempt)
            progress(done, total)

        progress(0, len(events))
        resign = self.session.analyzer if self.session.settings.resign else None
        attempts, summary = await replay.replay_many(self.http(), events, base, resign=resign,
                                                     on_attempt=stored)
        return Run(attempts, summary)

    async def resigned(self, event: Event, base: str, signer: Signer) -> Attempt:
        """Replay with a fresh signature (see replay.send_resigned) and store the attempt.
        Raises ReplayError for a bad target."""
        url = replay.target_url(base, event)
        await self.remember(base)
        attempt = await replay.send_resigned(self.http(), event, url, signer)
        return await self.session.record(attempt)

    async def edited(self, event: Event, edit: replay.Edit, signer: Signer) -> Attempt:
        """Send what the replay editor holds (see replay.send_edit) and store the attempt."""
        return await self.session.record(await replay.send_edit(self.http(), event, edit, signer))
