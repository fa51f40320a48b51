"""The PostgreSQL event store: a team's shared capture, written by several receivers.

    connect.py  the URL, the psycopg extra, failures in one line
    schema.py   the tables and their migrations
    writer.py   group commit (COPY), off the loop, reconnecting by itself
    writes.py   the SQL of each write operation
    queries.py  the SQL of the reads, and the filter grammar compiled into SQL
    feed.py     the change feed: out-of-order commits, gap re-checks, LISTEN/NOTIFY

Several receivers (`inspector serve` on several hosts) may write to one database at once:
seqs come from one sequence and never collide, and every process follows the others'
events through the feed. Viewers follow it the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from inspector.core.model import Answer, Attempt, Event, Row
from inspector.core.store.base import (
    KEEP_CHANGES,
    Changes,
    CommitListener,
    Cursor,
    Prepare,
)
from inspector.core.store.errors import StoreError
from inspector.core.store.filter import Query, parse
from inspector.core.store.postgres import connect as pg
from inspector.core.store.postgres import feed, queries, schema, search
from inspector.core.store.postgres.writer import PostgresWriter
from inspector.core.store.postgres.writes import clean
from inspector.core.store.queued import QueuedStore

T = TypeVar("T")


class PostgresStore(QueuedStore):
    """The event database in PostgreSQL (`url`: postgresql://USER:PASSWORD@HOST/DB)."""

    def __init__(self, url: str, *, prepare: Prepare | None = None, index: bool = True,
                 keep_changes: int = KEEP_CHANGES, read_only: bool = False) -> None:
        """See inspector.core.store.open_store. `index`: keep the trigram index of free
        text (search.py) in a background thread, when pg_trgm is there."""
        self.url = url
        self.path = pg.display(url)
        self.read_only = read_only
        self.listeners: list[CommitListener] = []
        self._writer = PostgresWriter(url, self._connect_writer, self.listeners,
                                      max(1, keep_changes))
        self._writer.path = url  # explain() hides the password from what it says
        self._writer.prepare = prepare
        self._local = threading.local()
        self._readers: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self._started = False
        self._listener: feed.Listener | None = None
        conn = pg.connect(url)
        try:
            if read_only:
                schema.check_readable(conn, self.path)
            else:
                schema.migrate(conn, self.path)
                search.enable(conn)
            self._indexed = search.available(conn)
        except pg.driver().Error as exc:
            raise pg.explain(exc, url) from None
        finally:
            conn.close()
        self._indexer: search.Indexer | None = None
        if index and self._indexed and not read_only:
            self._indexer = search.Indexer(url, self.changes_since, self.seqs,
                                           lambda: self._writer.committed)

    # -- connections -------------------------------------------------------------------------

    def _connect_writer(self) -> Any:
        conn = pg.connect(self.url)
        # An event is acknowledged once committed: a commit must be on disk when it returns,
        # whatever the server's default (a replica may still wait, as its owner configured).
        if conn.execute("SHOW synchronous_commit").fetchone()[0] == "off":
            conn.execute("SET synchronous_commit = local")
        conn.commit()
        return conn

    def _reader(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and (conn.broken or conn.closed):
            conn.close()
            conn = None
        if conn is None:
            conn = pg.connect(self.url, autocommit=True)
            if self.read_only:
                conn.execute("SET default_transaction_read_only = on")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _read(self, read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`read(conn, ...)` on this thread's connection, its errors worded for a person.
        A connection found dead (the server restarted) is replaced, and the read tried
        once more."""
        psycopg = pg.driver()
        for attempt in (1, 2):
            conn = self._reader()
            try:
                return read(conn, *args, **kwargs)
            except psycopg.Error as exc:
                dead = conn.broken or conn.closed
                if dead:
                    conn.close()
                    self._local.conn = None
                if not dead or attempt == 2:
                    raise pg.explain(exc, self.url) from None
        raise AssertionError("unreachable")

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._read(queries.scalar, sql, params)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.stop()
        if self._indexer is not None:
            self._indexer.stop()
        self._writer.stop()
        with self._lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

    # -- writes ------------------------------------------------------------------------------




    # -- reads -------------------------------------------------------------------------------

    def _events(self, seqs: list[int]) -> list[Event]:
        return self._read(queries.events, seqs)

    def last_seq(self) -> int:
        return int(self._scalar("SELECT coalesce(max(seq), 0) FROM events"))

    def count(self) -> int:
        return int(self._scalar("SELECT count(*) FROM events"))

    def seqs(self) -> list[int]:
        return self._read(queries.seqs)

    def rows(self, seqs: Iterable[int]) -> dict[int, Row]:
        return self._read(queries.rows, list(seqs))


    def event_by_id(self, event_id: str) -> Event | None:
        seq = self._scalar("SELECT seq FROM events WHERE id = %s", (clean(event_id),))
        return None if seq is None else self.event(seq)



    def attempts_for(self, seqs: Sequence[int]) -> dict[int, list[Attempt]]:
        return self._read(queries.attempts_for, seqs)

    def answers_for(self, seqs: Sequence[int]) -> dict[int, Answer]:
        return self._read(queries.answers_for, seqs)

    def meta(self, key: str, default: str = "") -> str:
        found = self._scalar("SELECT value FROM meta WHERE key = %s", (key,))
        return default if found is None else str(found)

    def indexed_upto(self) -> int:
        return self._read(search.indexed_upto) if self._indexed else 0

    def search(self, query: Query | str, *, after: int = 0, now: float | None = None
               ) -> list[int]:
        if isinstance(query, str):
            query = parse(query)
        return self._read(queries.search, query, after=after, now=now, indexed=self._indexed)


    # -- the change feed ---------------------------------------------------------------------

    def cursor(self) -> Cursor:
        return self._read(feed.present)

    def changes_since(self, cursor: Cursor) -> Changes:
        return self._read(feed.since, cursor)

    def data_version(self) -> int:
        if self._listener is None:
            if self._closed:
                raise StoreError("the store is closed")
            self._listener = feed.Listener(self.url)
            self._listener.start()
        if self._listener.error is not None:
            raise StoreError(self._listener.error)
        return self._listener.version
