"""The group-commit engine on PostgreSQL: the SQLite writer's queue, settling and delivery
(sqlite/writer.py), with PostgreSQL's transactions, its NOTIFY, and reconnection.

When the database goes away, the batch in hand fails (its senders get 503 with the reason:
nothing unacknowledged is ever taken as stored) and the connection is dropped; the next
batch connects again, so the writer recovers by itself once the server is back. A batch
that finds its connection dead before COMMIT (the server restarted while the receiver was
idle) is tried once more on a new one: nothing of it can have been committed.
"""

from __future__ import annotations

from typing import Any

from inspector.core.model import Event
from inspector.core.store import ops
from inspector.core.store.errors import StoreError
from inspector.core.store.postgres import connect as pg
from inspector.core.store.postgres import feed, writes
from inspector.core.store.sqlite.writer import Writer, _Queued


class PostgresWriter(Writer):
    """See sqlite/writer.py; `connect` gives a connection that is not in autocommit."""

    def _run(self) -> None:
        conn: Any = None
        while True:
            batch, stop = self._next_batch()
            if not batch:
                break
            try:
                if conn is None:
                    conn = self.connect()
                try:
                    self._commit(conn, batch, retry=True)
                except _Stale:
                    conn.close()
                    conn = None
                    conn = self.connect()
                    self._commit(conn, batch, retry=False)
            except Exception as exc:  # never leave a waiter hanging
                error = exc if isinstance(exc, StoreError) else pg.explain(exc, self.path)
                self._settle([(q, None, error) for q in batch])
            if conn is not None and (conn.broken or conn.closed):
                conn.close()
                conn = None  # reconnect with the next batch
            if stop:
                break
        if conn is not None:
            conn.close()

    def _commit(self, conn: Any, batch: list[_Queued], *, retry: bool = False) -> None:
        """The batch in one transaction; `retry`: raise _Stale, rather than fail the batch,
        when the connection is found dead before COMMIT."""
        inserted: list[tuple[int, int]] = []
        noted = committing = False
        try:
            with conn.pipeline():  # a round trip only where a result is needed
                results = self._apply(conn, batch, inserted)
                conn.execute(f"NOTIFY {feed.CHANNEL}")
                self.own.note(inserted)
                noted = True
                committing = True
                conn.commit()
        except Exception as exc:
            if noted:
                self.own.take_back(inserted)
            _rollback(conn)
            dead = conn.broken or conn.closed
            if dead and retry and not committing:
                raise _Stale from exc
            if dead or _database_wide(exc):
                # The server went away (or refuses writes): each op alone would fail the
                # same way. Fail them all now (the senders get 503).
                self._settle([(q, None, pg.explain(exc, self.path)) for q in batch])
                return
            # Isolate the failure: commit each op on its own, so one bad op fails alone.
            self._settle([self._one(conn, q) for q in batch])
            return
        self._settle([(q, result, None) for q, result in zip(batch, results, strict=True)])

    def _one(self, conn: Any, queued: _Queued) -> Any:
        inserted: list[tuple[int, int]] = []
        noted = False
        try:
            (result,) = self._apply(conn, [queued], inserted)
            conn.execute(f"NOTIFY {feed.CHANNEL}")
            self.own.note(inserted)
            noted = True
            conn.commit()
            return queued, result, None
        except Exception as exc:
            if noted:
                self.own.take_back(inserted)
            _rollback(conn)
            return queued, None, exc if isinstance(exc, StoreError | TypeError) \
                else pg.explain(exc, self.path)

    def _write(self, conn: Any, op: ops.Op[Any]) -> Any:
        return ops.apply(writes, conn, op, self.keep_changes)

    def _insert(self, conn: Any, run: list[Event],
                inserted: list[tuple[int, int]]) -> list[Event]:
        events = writes.insert_many(conn, run, self.prepare)
        self.committed += len(run)
        inserted += _runs([event.seq for event in events])
        return events


class _Stale(Exception):
    """The connection was dead before the batch's COMMIT: nothing of it was stored."""


def _runs(seqs: list[int]) -> list[tuple[int, int]]:
    """Ascending seqs as runs (first, last): another writer may take seqs in between."""
    out: list[tuple[int, int]] = []
    for seq in seqs:
        if out and out[-1][1] + 1 == seq:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def _database_wide(exc: BaseException) -> bool:
    """A failure of the database as a whole, not of one op."""
    psycopg = pg.driver()
    return isinstance(exc, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction
                      | psycopg.errors.InsufficientPrivilege | psycopg.errors.DiskFull)


def _rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception:  # a broken connection: it is dropped after this batch
        pass
