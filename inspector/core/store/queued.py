"""What every backend shares around its writer thread (sqlite/writer.py's engine): writes
queued from the loop or from a thread, the analysis hook, the receiver's own seqs, and the
reads that are other reads put together. A backend gives its `_writer` and `_events`."""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from inspector.core.model import Attempt, Event
from inspector.core.store import ops
from inspector.core.store.base import EventStore, Prepare
from inspector.core.store.errors import StoreError
from inspector.core.store.filter import Query, Term
from inspector.core.store.thread import StoreThread

T = TypeVar("T")
Waiter = asyncio.Future[Any] | concurrent.futures.Future[Any]


class Own(Protocol):
    def foreign(self, seqs: Sequence[int], upto: int) -> list[int]: ...


class Writer(Protocol):
    """The engine a backend gives (sqlite/writer.py's, or one built on it)."""

    prepare: Prepare | None
    committed: int  # live events committed so far (a search indexer's traffic gauge)

    @property
    def own(self) -> Own: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(self, op: ops.Op[Any], waiter: Waiter,
               loop: asyncio.AbstractEventLoop | None) -> None: ...


class QueuedStore(EventStore):
    """An EventStore whose writes go through a group-commit `Writer`."""

    _writer: Writer
    _indexer: StoreThread | None = None  # the search index's, started with the writer
    read_only: bool
    _closed: bool = False
    _started: bool = False

    @abc.abstractmethod
    def _events(self, seqs: list[int]) -> list[Event]:
        """Whole events, in the order of `seqs` (missing ones left out)."""

    @property
    def prepare(self) -> Prepare | None:
        return self._writer.prepare

    @prepare.setter
    def prepare(self, prepare: Prepare | None) -> None:
        self._writer.prepare = prepare

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._writer.start()
            if self._indexer is not None:
                self._indexer.start()

    # -- writes ------------------------------------------------------------------------------

    def _submit(self, op: ops.Op[T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue(op, future, loop)
        return future

    def _submit_sync(self, op: ops.Op[T]) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue(op, future, None)
        return future.result()

    def _queue(self, op: ops.Op[Any], waiter: Waiter,
               loop: asyncio.AbstractEventLoop | None) -> None:
        if self._closed:
            raise StoreError("the store is closed")
        if self.read_only:
            raise StoreError(f"{self.path} was opened read-only")
        if not self._started:
            self.start()
        self._writer.submit(op, waiter, loop)

    # -- reads made of other reads ---------------------------------------------------------

    def event(self, seq: int) -> Event | None:
        found = self._events([seq])
        return found[0] if found else None

    def iter_events(self, seqs: Iterable[int], chunk: int = 200) -> Iterator[Event]:
        batch: list[int] = []
        for seq in seqs:
            batch.append(seq)
            if len(batch) == chunk:
                yield from self._events(batch)
                batch = []
        if batch:
            yield from self._events(batch)

    def attempts(self, seq: int) -> list[Attempt]:
        return self.attempts_for([seq]).get(seq, [])

    def related(self, key: str) -> list[int]:
        return self.search(Query((Term("related", key),)))

    def foreign(self, inserted: Sequence[int], upto: int) -> list[int]:
        return self._writer.own.foreign(inserted, upto)
