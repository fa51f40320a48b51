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
- `--respond-with-downstream`: when `respond` is on, each queued event gets a future that
  the receiver claims (`claim`) right after the commit and awaits, to mirror the answer.
- `stop` drains the queue for up to a timeout, then records what is left as not forwarded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.delivery import replay
from inspector.core.delivery.resign import signer_for
from inspector.core.model import Attempt, Event
from inspector.core.store import EventStore

QUEUE_LIMIT = 10_000  # events waiting
QUEUE_BYTES = 256 * 1024 * 1024  # body bytes waiting (one event is always let in)
DRAIN_TIMEOUT = 5.0  # seconds `stop` waits for the queue to empty

_Item = tuple[Event, "asyncio.Future[Attempt] | None"]


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
    ) -> None:
        self.store = store
        self.target = replay.check_target(target)
        self.analyzer = analyzer or Analyzer()
        self.resign = resign
        self.timeout = timeout
        self.limit = limit
        self.byte_limit = byte_limit
        self.respond = False  # --respond-with-downstream: keep a future per event
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
        await asyncio.gather(task, return_exceptions=True)
        self._task = None
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
        if self.respond:
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
            try:
                attempt = await self._forward(event)
            except Exception as exc:  # a bug here must not stop forwarding
                attempt = self._failed(event, f"forward failed: {type(exc).__name__}: {exc}")
            self._current = None
            self._bytes -= len(event.body)
            self._finish(event, waiter, attempt)
            self._queue.task_done()

    async def _forward(self, event: Event) -> Attempt:
        assert self._client is not None
        url = replay.target_url(self.target, event)
        if self.resign:
            return await replay.send_resigned(self._client, event, url,
                                              signer_for(self.analyzer, event),
                                              kind="forward", timeout=self.timeout)
        return await replay.send(self._client, event, url, kind="forward",
                                 timeout=self.timeout)

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
