"""`--forward-to URL`: send every incoming event on to the user's app, as it arrives.

- Byte-exact: the raw body and the headers as received (minus hop-by-hop), exactly as a
  replay sends them, with the same path rule (`replay.target_url`). `--resign` re-signs each
  event that arrived with a valid signature; the others go as they arrived, never with a
  fresh signature, and the attempt's note says why (`replay.send_resigned`).
- In arrival order: each committed batch (`on_commit`, called by the session) feeds one
  FIFO queue, which one consumer task empties, one request at a time.
- Off the acknowledgement path: the sender is answered once the event is committed; the
  forward happens afterwards on its own task, so a slow (or dead) target only makes the
  queue longer. It never blocks the loop (httpx is async).
- Bounded: at most QUEUE_LIMIT events or QUEUE_BYTES of bodies wait. An event arriving at a
  full queue is not forwarded, and says so: it gets a failed attempt "forward queue full".
  Nothing is dropped silently.
- Every forward is stored as an Attempt (kind "forward"), so the list's result column and
  the detail pane show it; a failure is the attempt's error. `on_attempt` hears each
  attempt on the loop once it is stored; `on_error` hears why one could not be stored.
- `--respond-with-downstream`: an event whose plan says `mirror` gets a future that the
  receiver claims (`claim`) right after the commit and awaits, to mirror the answer (of its
  first attempt: the sender does not wait for retries).
- An answer rule can keep an event from being forwarded (`forward = false`), give it its own
  number of retries, or hold its forward at a breakpoint (`hold_forward`) so that a person
  can edit it, send it as it is or skip it before it leaves (core/capture/holds.py).
- Retries (`--forward-retries N`, or per rule): a forward that failed (no answer, a timeout,
  5xx or 429) is sent again on a compressed provider-like schedule (`schedule`: 1 s, 5 s,
  30 s, the last repeating). The queue does not wait for it: the event moves to a lane of its
  own, keyed by its delivery key (providers/delivery.py), and later events with the same key
  wait in that lane behind it, so each delivery's forwards stay in arrival order while the
  others go on. Every attempt is stored, its note saying which retry it was and when the
  next one comes.
- `stop` drains the queue for up to a timeout, then records what is left as not forwarded,
  retries that were still due included.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.holds import FORWARD, Holds, ended
from inspector.core.delivery import replay
from inspector.core.delivery.resign import signer_for
from inspector.core.model import Attempt, Event
from inspector.core.providers.delivery import delivery_key
from inspector.core.store import EventStore

if TYPE_CHECKING:
    import httpx

QUEUE_LIMIT = 10_000  # events waiting
QUEUE_BYTES = 256 * 1024 * 1024  # body bytes waiting (one event is always let in)
DRAIN_TIMEOUT = 5.0  # seconds `stop` waits for the queue to empty
RETRY_SCHEDULE = (1.0, 5.0, 30.0)  # seconds before retry 1, 2, 3, … (the last repeats)
LANE_LIMIT = 1000  # events waiting behind a retry of the same delivery
SKIP = "skip"  # a held forward's decision: do not send it

_Item = tuple[Event, "asyncio.Future[Attempt] | None"]


def retryable(attempt: Attempt) -> bool:
    """No answer (refused, timed out), 5xx or 429: what providers retry."""
    status = attempt.status
    return status is None or status >= 500 or status == 429


@dataclass(eq=False, slots=True)
class _Try:
    """An event in a retry lane: how many attempts it had, how many retries it may have."""

    event: Event
    waiter: asyncio.Future[Attempt] | None
    retries: int
    tries: int = 0


class Forwarder:
    def __init__(
        self,
        store: EventStore,
        target: str,
        *,
        analyzer: Analyzer | None = None,
        resign: bool = False,
        timeout: float = replay.DEFAULT_TIMEOUT,
        limit: int = QUEUE_LIMIT,
        byte_limit: int = QUEUE_BYTES,
        on_attempt: Callable[[Attempt], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        retries: int = 0,
        schedule: Sequence[float] = RETRY_SCHEDULE,
        holds: Holds | None = None,
    ) -> None:
        self.store = store
        self.target = replay.check_target(target)
        self.analyzer = analyzer or Analyzer()
        self.resign = resign
        self.timeout = timeout
        self.limit = limit
        self.byte_limit = byte_limit
        self.retries = retries  # --forward-retries (a rule may say otherwise)
        self.schedule = tuple(schedule) or RETRY_SCHEDULE
        self.holds = holds if holds is not None else Holds()  # held forwards
        self.on_attempt = on_attempt
        self.on_error = on_error  # storage failures
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._bytes = 0
        self._waiters: dict[str, asyncio.Future[Attempt]] = {}
        self._writes: set[asyncio.Future[Attempt]] = set()
        self._current: _Item | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._stopping = False
        self._lanes: dict[str, deque[_Try]] = {}  # delivery key -> events behind a retry
        self._lane_tasks: set[asyncio.Task[None]] = set()

    @property
    def queued(self) -> int:
        """Events waiting for their turn."""
        return self._queue.qsize()

    @property
    def waiting(self) -> int:
        """Events queued or in flight."""
        return self._queue.qsize() + (self._current is not None)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the consumer on the running loop."""
        if self._task is None:
            self._client = replay.new_client(self.timeout)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="forward")

    async def stop(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Forward what is queued for up to `timeout` seconds, then record the rest as not
        forwarded. Call before the store closes."""
        task = self._task
        if task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            pass
        self._stopping = True
        task.cancel()
        lanes = list(self._lane_tasks)
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(task, *lanes, return_exceptions=True)
        self._task = None
        for waiting in self._lanes.values():
            for entry in waiting:
                why = (f"not retried: the inspector stopped before retry {entry.tries} of "
                       f"{entry.retries}" if entry.tries else
                       "not forwarded: the inspector stopped while an earlier delivery with "
                       "the same delivery key waited for a retry")
                self._finish(entry.event, entry.waiter, self._failed(entry.event, why))
        self._lanes.clear()
        if self._current is not None:
            event, waiter = self._current
            self._current = None
            self._finish(event, waiter, self._failed(
                event, f"not forwarded: the inspector stopped before {self.target} answered"))
        left = self._queue.qsize()
        while not self._queue.empty():
            event, waiter = self._queue.get_nowait()
            self._finish(event, waiter, self._failed(
                event, f"not forwarded: the inspector stopped with {left:,} events queued"))
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- intake (each committed batch, on the loop) ---------------------------------------------

    def on_commit(self, events: list[Event]) -> None:
        for event in events:
            if not event.refused:  # a refused event's body was not kept: nothing to send
                self.enqueue(event)

    def enqueue(self, event: Event) -> None:
        waiter: asyncio.Future[Attempt] | None = None
        plan = event.plan
        if plan is not None and not plan.forward:  # an answer rule says: not this one
            return
        if plan is not None and plan.mirror:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[event.id] = waiter
        if self._stopping:  # nothing would send it any more
            self._finish(event, waiter, self._failed(
                event, "not forwarded: the inspector was stopping"))
            return
        size = len(event.body)
        queued = self._queue.qsize()
        if queued and (queued >= self.limit or self._bytes + size > self.byte_limit):
            mib = self._bytes / (1024 * 1024)
            self._finish(event, waiter, self._failed(
                event, f"forward queue full ({queued:,} events, {mib:.1f} MiB waiting for "
                       f"{self.target}): not forwarded"))
            return
        self._bytes += size
        self._queue.put_nowait((event, waiter))

    def claim(self, event_id: str) -> asyncio.Future[Attempt] | None:
        """The future of this event's forward (once; None when there is none)."""
        return self._waiters.pop(event_id, None)

    # -- the consumer ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            self._current = item
            event, waiter = item
            parked = False
            try:
                lane = self._lanes.get(self._key(event)) if self._lanes else None
                if lane is not None and len(lane) < LANE_LIMIT:
                    # An earlier delivery with its key waits for a retry: keep their order.
                    lane.append(_Try(event, waiter, self._retries_for(event)))
                    parked = True
                elif lane is not None:
                    attempt = self._failed(event, f"not forwarded: {LANE_LIMIT:,} deliveries "
                                                  "with its delivery key wait for a retry")
                else:
                    attempt, sent = await self._forward(event)
                    retries = self._retries_for(event)
                    if sent and retries and retryable(attempt):
                        attempt.note = _join(attempt.note,
                                             _next_retry(1, retries, self._delay(1)))
                        self._open_lane(_Try(event, None, retries, tries=1))
            except Exception as exc:  # a bug here must not stop forwarding
                attempt = self._failed(event, f"forward failed: {type(exc).__name__}: {exc}")
            self._current = None
            self._bytes -= len(event.body)
            if not parked:
                self._finish(event, waiter, attempt)
            self._queue.task_done()

    def _retries_for(self, event: Event) -> int:
        plan = event.plan
        return self.retries if plan is None or plan.retries is None else plan.retries

    def _delay(self, retry: int) -> float:
        """Seconds before retry number `retry` (1-based): the schedule, its last repeating."""
        return self.schedule[min(retry, len(self.schedule)) - 1]

    @staticmethod
    def _key(event: Event) -> str:
        what, key = delivery_key(event.headers, event.body)
        return f"{what}:{key}"

    def _open_lane(self, first: _Try) -> None:
        key = self._key(first.event)
        self._lanes[key] = deque([first])
        task = asyncio.get_running_loop().create_task(self._lane(key), name="forward retry")
        self._lane_tasks.add(task)
        task.add_done_callback(self._lane_tasks.discard)

    async def _lane(self, key: str) -> None:
        """Send one delivery key's events in order, each retried on the schedule."""
        lane = self._lanes[key]
        while lane:
            entry = lane[0]
            if entry.tries:
                await asyncio.sleep(self._delay(entry.tries))
            try:
                attempt, sent = await self._forward(entry.event, held=not entry.tries)
            except Exception as exc:
                attempt, sent = self._failed(
                    entry.event, f"forward failed: {type(exc).__name__}: {exc}"), False
            entry.tries += 1
            again = sent and retryable(attempt) and entry.tries <= entry.retries
            if entry.tries > 1:
                attempt.note = _join(attempt.note,
                                     f"retry {entry.tries - 1} of {entry.retries}")
            if again:
                attempt.note = _join(attempt.note, _next_retry(
                    entry.tries, entry.retries, self._delay(entry.tries)))
            elif sent and retryable(attempt) and entry.retries:
                attempt.note = _join(attempt.note, "no retries left")
            self._finish(entry.event, entry.waiter, attempt)
            entry.waiter = None
            if not again:
                lane.popleft()
        del self._lanes[key]

    async def _forward(self, event: Event, *, held: bool = True) -> tuple[Attempt, bool]:
        """Forward once (after its breakpoint, if it has one and `held`); the attempt, and
        whether anything was sent (a skipped forward is not retried)."""
        assert self._client is not None
        url = replay.target_url(self.target, event)
        plan = event.plan
        if held and plan is not None and plan.hold_forward:
            started = time.monotonic()
            decision, how = await self.holds.hold(event, FORWARD, plan.hold_forward,
                                                  event.rule)
            note = ended(how, time.monotonic() - started, plan.hold_forward)
            if decision == SKIP:
                return self._failed(event, f"not forwarded: {note}: skipped"), False
            if isinstance(decision, replay.Edit):
                attempt = await replay.send_edit(self._client, event, decision,
                                                 signer_for(self.analyzer, event),
                                                 kind="forward", timeout=self.timeout)
                attempt.note = _join(f"{note}: sent as edited", attempt.note)
                return attempt, True
            attempt, sent = await self._send(event, url)
            attempt.note = _join(note, attempt.note)
            return attempt, sent
        return await self._send(event, url)

    async def _send(self, event: Event, url: str) -> tuple[Attempt, bool]:
        assert self._client is not None
        if self.resign:
            return await replay.send_resigned(self._client, event, url,
                                              signer_for(self.analyzer, event),
                                              kind="forward", timeout=self.timeout), True
        return await replay.send(self._client, event, url, kind="forward",
                                 timeout=self.timeout), True

    def _failed(self, event: Event, error: str) -> Attempt:
        return Attempt(event_seq=event.seq, kind="forward", at=time.time(),
                       method=event.method, url=replay.target_url(self.target, event),
                       error=error)

    def _finish(self, event: Event, waiter: asyncio.Future[Attempt] | None,
                attempt: Attempt) -> None:
        """Hand the outcome to the receiver (if waiting), store it, then tell `on_attempt`."""
        self._waiters.pop(event.id, None)  # unclaimed: nobody will ask any more
        if waiter is not None and not waiter.done():
            waiter.set_result(attempt)
        try:
            write = self.store.record_attempt(attempt)
        except Exception as exc:  # the store is closed
            self._stored_failed(attempt, exc)
            return
        self._writes.add(write)
        write.add_done_callback(lambda f: self._stored(f, attempt))

    def _stored(self, write: asyncio.Future[Attempt], attempt: Attempt) -> None:
        self._writes.discard(write)
        if write.cancelled():
            return
        exc = write.exception()
        if exc is not None:
            self._stored_failed(attempt, exc)
            return
        self._tell(attempt)

    def _stored_failed(self, attempt: Attempt, exc: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(f"forward result not stored: {exc}")
        self._tell(attempt)

    def _tell(self, attempt: Attempt) -> None:
        if self.on_attempt is not None:
            self.on_attempt(attempt)


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _next_retry(retry: int, retries: int, delay: float) -> str:
    """The note's last part when another try of the same event follows (`retry_follows`)."""
    return f"retry {retry} of {retries} in {delay:g} s"


_NEXT_RETRY = re.compile(r"retry \d+ of \d+ in \S+ s\Z")


def retry_follows(attempt: Attempt) -> bool:
    """Whether another forward of this attempt's event is to come (its note announces one):
    a face that tells attempts apart by event keeps the event until the last."""
    return attempt.kind == "forward" and _NEXT_RETRY.search(attempt.note) is not None
