"""The SQLite event store: one writer thread that group-commits, readers anywhere.

    schema.py   the tables and their migrations
    writer.py   the group-commit engine (the ingest path)
    writes.py   the SQL of each write operation
    queries.py  the SQL of the reads, and the filter grammar compiled into SQL
    feed.py     the change feed that other processes follow
    search.py   the trigram index of free text, in a side file, built in the background
    dbcheck.py  what is wrong with a database file before anything starts

Searches use indexes and the trigram index kept in `<db>-search` by a background thread; the
writer's own work does not grow.

Opened `read_only` (the scripting commands: `inspector events`, `inspector wait`), a store
never writes: its connections are SQLite read-only ones (`mode=ro`), it neither migrates nor
indexes, and in WAL mode its reads never wait for the receiver's writer, nor make it wait.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from inspector.core.model import Answer, Attempt, Event, Row
from inspector.core.store.base import (
    KEEP_CHANGES,
    Changes,
    CommitListener,
    Cursor,
    Prepare,
)
from inspector.core.store.errors import StoreError, explain
from inspector.core.store.filter import Query, parse
from inspector.core.store.queued import QueuedStore
from inspector.core.store.sqlite import feed, queries, schema, search
from inspector.core.store.sqlite.writer import Writer

T = TypeVar("T")


class SqliteStore(QueuedStore):
    """The event database in one SQLite file (WAL), plus its search side file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        prepare: Prepare | None = None,
        synchronous: str = "NORMAL",
        index: bool = True,
        keep_changes: int = KEEP_CHANGES,
        read_only: bool = False,
    ) -> None:
        """See inspector.core.store.open_store."""
        self._tempdir: str | None = None
        self.read_only = read_only
        if read_only and (str(path) == ":memory:" or not Path(path).is_file()):
            raise StoreError(f"no database at {path}: start `inspector serve --db {path}` (or "
                             "the TUI) first, or use --db with the file it writes")
        if str(path) == ":memory:":
            # A private file that is deleted on close: same code path, nothing kept.
            self._tempdir = tempfile.mkdtemp(prefix="inspector-")
            path = os.path.join(self._tempdir, "events.db")
        self.path = str(path)
        self.synchronous = synchronous
        self.listeners: list[CommitListener] = []
        self._writer = Writer(self.path, self._connect, self.listeners, max(1, keep_changes))
        self._writer.prepare = prepare
        # One reader connection per thread; a thread's connection closes when the thread ends.
        self._local = threading.local()
        self._closed = False
        self._started = False
        conn = self._connect()
        try:
            if read_only:
                schema.check_readable(conn, self.path)
            else:
                schema.migrate(conn, self.path)
        finally:
            conn.close()
        side = search.path_for(self.path)
        # A reader uses the index the receiver keeps, if there is one; it never makes one.
        self._search_ok = os.path.isfile(side) if read_only else search.prepare(side)
        self._indexer: search.Indexer | None = None
        if index and self._search_ok and not read_only:
            self._indexer = search.Indexer(self.path, lambda: self._writer.committed)

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                conn = sqlite3.connect(_read_only_uri(self.path), uri=True, isolation_level=None,
                                       check_same_thread=False)
                # Rarely needed in WAL mode (a crashed writer's log being recovered): wait
                # for that rather than fail; a write lock never makes a reader wait.
                conn.execute("PRAGMA busy_timeout = 3000")
                return conn
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 3000")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise explain(exc, self.path) from exc

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.searchable = False
            if self._search_ok:
                side = search.path_for(self.path)
                try:
                    conn.execute("ATTACH DATABASE ? AS search",
                                 (_read_only_uri(side) if self.read_only else side,))
                    self._local.searchable = True
                except sqlite3.Error:
                    pass  # searches scan instead
            self._local.conn = conn
        return conn

    def _read(self, read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`read(conn, ...)` on this thread's connection, its errors worded for a person."""
        try:
            return read(self._reader(), *args, **kwargs)
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from exc

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._read(queries.scalar, sql, params)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._indexer is not None:
            self._indexer.stop()
        self._writer.stop()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)

    # -- writes ------------------------------------------------------------------------------




    # -- reads -------------------------------------------------------------------------------

    def _events(self, seqs: list[int]) -> list[Event]:
        return self._read(queries.events, seqs)

    def last_seq(self) -> int:
        return int(self._scalar("SELECT coalesce(max(seq), 0) FROM events"))

    def count(self) -> int:
        return self._read(queries.count)

    def seqs(self) -> list[int]:
        return self._read(queries.seqs)

    def rows(self, seqs: Iterable[int]) -> dict[int, Row]:
        return self._read(queries.rows, list(seqs))


    def event_by_id(self, event_id: str) -> Event | None:
        seq = self._scalar("SELECT seq FROM events WHERE id = ?", (event_id,))
        return None if seq is None else self.event(seq)



    def attempts_for(self, seqs: Sequence[int]) -> dict[int, list[Attempt]]:
        return self._read(queries.attempts_for, seqs)

    def answers_for(self, seqs: Sequence[int]) -> dict[int, Answer]:
        return self._read(queries.answers_for, seqs)

    def meta(self, key: str, default: str = "") -> str:
        found = self._scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return default if found is None else str(found)

    def indexed_upto(self) -> int:
        self._reader()
        if not self._local.searchable:
            return 0
        return self._read(queries.indexed_upto)

    def search(self, query: Query | str, *, after: int = 0, now: float | None = None
               ) -> list[int]:
        if isinstance(query, str):
            query = parse(query)
        self._reader()
        return self._read(queries.search, query, after=after, now=now,
                          searchable=self._local.searchable)


    # -- the change feed ---------------------------------------------------------------------

    def cursor(self) -> Cursor:
        return self._read(feed.present)

    def changes_since(self, cursor: Cursor) -> Changes:
        return self._read(feed.since, cursor)

    def data_version(self) -> int:
        return int(self._scalar("PRAGMA main.data_version"))



def _read_only_uri(path: str) -> str:
    """A URI that opens `path` read-only (SQLite's URI syntax: the path percent-encoded)."""
    return f"file:{quote(os.path.abspath(path))}?mode=ro"
