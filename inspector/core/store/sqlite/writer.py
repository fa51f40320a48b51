"""The group-commit engine: one writer thread, one connection, batches of queued operations.

The receiver queues an event and awaits a future. The writer thread takes everything queued
since its last commit, writes it in one transaction, commits, then resolves all of those
futures with a single call into the event loop. Under load one fsync covers hundreds of
events, and the event loop never waits on the disk. A delivery is acknowledged only after its
future resolves, so every 2xx is on disk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

from inspector.core.model import Event
from inspector.core.store import ops
from inspector.core.store.base import CommitListener, Prepare
from inspector.core.store.errors import StoreError, explain
from inspector.core.store.sqlite import writes

MAX_BATCH = 2048

Waiter = asyncio.Future[Any] | concurrent.futures.Future[Any]


class _Queued:
    __slots__ = ("loop", "op", "waiter")

    def __init__(self, op: ops.Op[Any], waiter: Waiter,
                 loop: asyncio.AbstractEventLoop | None) -> None:
        self.op = op
        self.waiter = waiter
        self.loop = loop


Outcome = tuple[_Queued, Any, BaseException | None]
_STOP = object()


class Own:
    """The seqs this writer inserted, as runs [first, last], until a follower saw them (so a
    receiver following the feed can tell its own events from another process's imports).
    Runs are noted inside the transaction, before COMMIT: whoever sees a seq committed finds
    it noted. A transaction that fails takes its runs back."""

    def __init__(self) -> None:
        self._runs: list[list[int]] = []
        self._lock = threading.Lock()

    def note(self, runs: list[tuple[int, int]]) -> None:
        """Runs of seqs inserted by this transaction, ascending."""
        with self._lock:
            for first, last in runs:
                if self._runs and self._runs[-1][1] + 1 == first:
                    self._runs[-1][1] = last
                else:
                    self._runs.append([first, last])

    def take_back(self, runs: list[tuple[int, int]]) -> None:
        """The transaction that noted `runs` (the newest ones) failed."""
        with self._lock:
            for first, _ in reversed(runs):
                run = self._runs[-1]
                if run[0] >= first:
                    self._runs.pop()
                else:
                    run[1] = first - 1

    def foreign(self, seqs: Sequence[int], upto: int) -> list[int]:
        with self._lock:
            runs = self._runs
            out = [s for s in seqs if not any(first <= s <= last for first, last in runs)]
            self._runs = [[max(first, upto + 1), last] for first, last in runs if last > upto]
        return out


class Writer:
    """Applies queued operations in group commits; resolves each waiter after the commit."""

    def __init__(self, path: str, connect: Callable[[], sqlite3.Connection],
                 listeners: list[CommitListener], keep_changes: int) -> None:
        self.path = path
        self.connect = connect
        self.listeners = listeners
        self.keep_changes = keep_changes
        self.prepare: Prepare | None = None
        self.committed = 0  # live events committed: the search indexer's traffic gauge
        self.own = Own()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()

    def submit(self, op: ops.Op[Any], waiter: Waiter,
               loop: asyncio.AbstractEventLoop | None) -> None:
        """Queue `op` (the writer must be started)."""
        self._queue.put(_Queued(op, waiter, loop))

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            batch, stop = self._next_batch()
            if not batch:
                break
            try:
                if conn is None:
                    conn = self.connect()
                self._commit(conn, batch)
            except Exception as exc:  # never leave a waiter hanging
                error = exc if isinstance(exc, StoreError) else explain(exc, self.path)
                self._settle([(q, None, error) for q in batch])
            if stop:
                break
        if conn is not None:
            conn.close()

    def _next_batch(self) -> tuple[list[_Queued], bool]:
        """Wait for an operation, then take everything queued since (MAX_BATCH at most);
        and whether to stop after it. An empty batch: stop now."""
        item = self._queue.get()
        if item is _STOP:
            return [], True
        batch = [item]
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, conn: sqlite3.Connection, batch: list[_Queued]) -> None:
        inserted: list[tuple[int, int]] = []
        noted = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = self._apply(conn, batch, inserted)
            self.own.note(inserted)
            noted = True
            conn.execute("COMMIT")
        except Exception as exc:
            if noted:
                self.own.take_back(inserted)
            _rollback(conn)
            if _database_wide(exc):
                # Locked, busy, full or read-only: each op alone would fail the same way,
                # one busy_timeout after another. Fail them all now (the senders get 503).
                error = explain(exc, self.path)
                self._settle([(q, None, error) for q in batch])
                return
            # Isolate the failure: commit each op on its own, so one bad op fails alone.
            self._settle([self._one(conn, q) for q in batch])
            return
        self._settle([(q, result, None) for q, result in zip(batch, results, strict=True)])

    def _apply(self, conn: sqlite3.Connection, batch: list[_Queued],
               inserted: list[tuple[int, int]]
               ) -> list[Any]:
        """Run a batch in order; runs of new events go in with one multi-row INSERT. The
        seqs inserted are added to `inserted`, as runs (first, last)."""
        results: list[Any] = []
        run: list[Event] = []
        for queued in batch:
            op = queued.op
            if type(op) is ops.Add:
                run.append(op.event)
                continue
            if run:
                results += self._insert(conn, run, inserted)
                run = []
            result = self._write(conn, op)
            if type(op) is ops.ImportEvents:
                inserted += [(event.seq, event.seq) for event in result]
            results.append(result)
        if run:
            results += self._insert(conn, run, inserted)
        return results

    def _write(self, conn: Any, op: ops.Op[Any]) -> Any:
        """One operation other than Add (the backend's SQL)."""
        return ops.apply(writes, conn, op, self.keep_changes)

    def _insert(self, conn: sqlite3.Connection, run: list[Event],
                inserted: list[tuple[int, int]]
                ) -> list[Event]:
        events = writes.insert_many(conn, run, self.prepare)
        self.committed += len(run)
        inserted.append((events[0].seq, events[-1].seq))
        return events

    def _one(self, conn: sqlite3.Connection, queued: _Queued) -> Outcome:
        inserted: list[tuple[int, int]] = []
        noted = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            (result,) = self._apply(conn, [queued], inserted)
            self.own.note(inserted)
            noted = True
            conn.execute("COMMIT")
            return queued, result, None
        except Exception as exc:
            if noted:
                self.own.take_back(inserted)
            _rollback(conn)
            return queued, None, explain(exc, self.path) if isinstance(exc, sqlite3.Error) \
                else exc

    def _settle(self, outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for outcome in outcomes:
            queued = outcome[0]
            if queued.loop is None:
                fut = queued.waiter
                assert isinstance(fut, concurrent.futures.Future)
                if outcome[2] is None:
                    fut.set_result(outcome[1])
                else:
                    fut.set_exception(outcome[2])
            else:
                by_loop.setdefault(queued.loop, []).append(outcome)
        # One wake-up of the event loop per batch, however many events it holds.
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._deliver, items)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _deliver(self, items: list[Outcome]) -> None:
        """On the loop: resolve the waiters, then tell the listeners of committed adds."""
        committed: list[Event] = []
        for queued, result, error in items:
            fut = queued.waiter
            if error is None and type(queued.op) is ops.Add:
                committed.append(result)
            if fut.done():
                continue
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)
        if committed:
            for listener in self.listeners:
                listener(committed)


def _database_wide(exc: BaseException) -> bool:
    """A failure of the database as a whole, not of one op."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in text for word in ("locked", "busy", "full", "readonly", "disk i/o error",
                                  "unable to open"))


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
