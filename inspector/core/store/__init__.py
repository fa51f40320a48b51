"""SQLite event store: one writer thread that group-commits, readers anywhere.

Group commit: the receiver queues an event and awaits a future. The writer thread takes
everything queued since its last commit, writes it in one transaction, commits, then resolves
all of those futures with a single call into the event loop. Under load one fsync covers
hundreds of events, and the event loop never waits on the disk. A delivery is acknowledged
only after its future resolves, so every 2xx is on disk.

Seqs are never reused (meta `top_seq`), so a seq always names one event. Searches
(`Store.search`, the inspector.core.store.filter grammar) use indexes and a trigram index kept in a
side file by a background thread (inspector.core.store.search); the writer's own work does not grow.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from inspector.core.model import Answer, Attempt, Event, HeaderList, Row
from inspector.core.store import search
from inspector.core.store.filter import Query, compile_query, parse

T = TypeVar("T")

SCHEMA_VERSION = 4
MAX_BATCH = 2048

# Version 1 of the schema; later versions are the MIGRATIONS below (a new database runs them
# all, so every database reaches the same schema by the same steps).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL DEFAULT '',
    http_version TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT '',
    scheme TEXT NOT NULL DEFAULT 'http',
    headers TEXT NOT NULL,
    body_size INTEGER NOT NULL,
    status INTEGER NOT NULL,
    refused TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '[]',
    provider TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    result_status INTEGER,
    result_ms REAL
);
CREATE TABLE IF NOT EXISTS bodies (
    seq INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER,
    elapsed_ms REAL NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    response_headers TEXT NOT NULL DEFAULT '[]',
    response_body BLOB NOT NULL DEFAULT x'',
    resigned INTEGER NOT NULL DEFAULT 0,
    edited INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS attempts_seq ON attempts(seq);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_ROW_COLUMNS = (
    "seq, id, received_at, method, path, query, kind, summary, body_size, verdict, status, "
    "refused, provider, result_status, result_ms"
)
_EVENT_COLUMNS = (
    "seq, id, received_at, method, path, query, http_version, client, scheme, headers, "
    "body_size, status, refused, notes, provider, kind, summary, verdict, reason"
)


class StoreError(Exception):
    """A storage failure, worded for a person."""


def explain(exc: BaseException, path: str) -> StoreError:
    """Turn a sqlite3/OS error into a message a person can act on."""
    text = str(exc).lower()
    if "disk is full" in text or "no space" in text:
        return StoreError(f"disk full: cannot write to {path}; free some space")
    if "readonly" in text or "read-only" in text or "permission denied" in text:
        return StoreError(f"{path} is read-only: use --db with a writable path")
    if "locked" in text or "busy" in text:
        return StoreError(
            f"{path} is locked by another process (another inspector?): "
            "close it, or use --db with another file"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"{path} is corrupt or not an inspector database: move it away, or use --db "
            "with another file"
        )
    if "unable to open" in text or "not a directory" in text or "no such file" in text:
        return StoreError(f"cannot open {path}: check that its folder exists and is writable")
    return StoreError(f"database error on {path}: {exc}")


Waiter = asyncio.Future[Any] | concurrent.futures.Future[Any]


class _Op:
    __slots__ = ("args", "fn", "loop", "waiter")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        waiter: Waiter,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.waiter = waiter
        self.loop = loop


_STOP = object()
CommitListener = Callable[[list[Event]], None]


class Store:
    """The event database. Writes go through `add`/`write`; reads are direct."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        prepare: Callable[[Event], Any] | None = None,
        synchronous: str = "NORMAL",
        index: bool = True,
    ) -> None:
        """`index`: keep the free-text search index up to date in the background (the
        searches are exact without it, only slower)."""
        self._tempdir: str | None = None
        if str(path) == ":memory:":
            # A private file that is deleted on close: same code path, nothing kept.
            self._tempdir = tempfile.mkdtemp(prefix="inspector-")
            path = os.path.join(self._tempdir, "events.db")
        self.path = str(path)
        self.prepare = prepare
        self.synchronous = synchronous
        self.listeners: list[CommitListener] = []
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # One reader connection per thread; a thread's connection closes when the thread ends.
        self._local = threading.local()
        self._closed = False
        self._committed = 0  # live events committed: the indexer's traffic gauge
        self._migrate()
        self._search_ok = search.prepare(search.path_for(self.path))
        self._indexer: search.Indexer | None = None
        if index and self._search_ok:
            self._indexer = search.Indexer(self.path, lambda: self._committed)

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 3000")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise explain(exc, self.path) from exc

    def _migrate(self) -> None:
        conn = self._connect()
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer webhook-inspector (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}): upgrade, or use --db with another file"
                )
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                for step in range(version, SCHEMA_VERSION):
                    MIGRATIONS[step](conn)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from exc
        finally:
            conn.close()

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.searchable = False
            if self._search_ok:
                try:
                    conn.execute("ATTACH DATABASE ? AS search",
                                 (search.path_for(self.path),))
                    self._local.searchable = True
                except sqlite3.Error:
                    pass  # searches scan instead
            self._local.conn = conn
        return conn

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from exc

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
            self._thread.start()
            if self._indexer is not None:
                self._indexer.start()

    def close(self) -> None:
        """Finish queued writes, stop the writer, close everything."""
        if self._closed:
            return
        self._closed = True
        if self._indexer is not None:
            self._indexer.stop()
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)

    # -- writes ------------------------------------------------------------------------

    def add(self, event: Event) -> asyncio.Future[Event]:
        """Queue an event; the future resolves once it is committed (call on the loop)."""
        return self.write(_add_event, event)

    def write(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run `fn(conn, *args)` in the writer's next transaction (call on the loop)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_Op(fn, args, future, loop))
        return future

    def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Like `write`, blocking, for code without an event loop (CLI commands)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit(_Op(fn, args, future, None))
        return future.result()

    def _submit(self, op: _Op) -> None:
        if self._closed:
            raise StoreError("the store is closed")
        self.start()
        self._queue.put(op)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                if conn is None:
                    conn = self._connect()
                self._commit(conn, batch)
            except Exception as exc:  # never leave a waiter hanging
                error = exc if isinstance(exc, StoreError) else explain(exc, self.path)
                self._settle([(op, None, error) for op in batch])
            if stop:
                break
        if conn is not None:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = self._apply(conn, batch)
            conn.execute("COMMIT")
        except Exception as exc:
            _rollback(conn)
            if _database_wide(exc):
                # Locked, busy, full or read-only: each op alone would fail the same way,
                # one busy_timeout after another. Fail them all now (the senders get 503).
                error = explain(exc, self.path)
                self._settle([(op, None, error) for op in batch])
                return
            # Isolate the failure: commit each op on its own, so one bad op fails alone.
            self._settle([self._one(conn, op) for op in batch])
            return
        self._settle([(op, result, None) for op, result in zip(batch, results, strict=True)])

    def _apply(self, conn: sqlite3.Connection, batch: list[_Op]) -> list[Any]:
        """Run a batch in order; runs of new events go in with one executemany."""
        results: list[Any] = []
        run: list[Event] = []
        for op in batch:
            if op.fn is _add_event:
                run.append(op.args[0])
                continue
            if run:
                results += _insert_many(conn, run, self.prepare)
                self._committed += len(run)
                run = []
            results.append(op.fn(conn, *op.args))
        if run:
            results += _insert_many(conn, run, self.prepare)
            self._committed += len(run)
        return results

    def _one(self, conn: sqlite3.Connection, op: _Op) -> tuple[_Op, Any, BaseException | None]:
        try:
            conn.execute("BEGIN IMMEDIATE")
            (result,) = self._apply(conn, [op])
            conn.execute("COMMIT")
            return op, result, None
        except sqlite3.Error as exc:
            _rollback(conn)
            return op, None, explain(exc, self.path)
        except Exception as exc:
            _rollback(conn)
            return op, None, exc

    def _settle(self, outcomes: list[tuple[_Op, Any, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Op, Any, BaseException | None]]]
        by_loop = {}
        for outcome in outcomes:
            op = outcome[0]
            if op.loop is None:
                fut = op.waiter
                assert isinstance(fut, concurrent.futures.Future)
                if outcome[2] is None:
                    fut.set_result(outcome[1])
                else:
                    fut.set_exception(outcome[2])
            else:
                by_loop.setdefault(op.loop, []).append(outcome)
        # One wake-up of the event loop per batch, however many events it holds.
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._deliver, items)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _deliver(self, items: list[tuple[_Op, Any, BaseException | None]]) -> None:
        committed: list[Event] = []
        for op, result, error in items:
            fut = op.waiter
            if error is None and isinstance(result, Event):
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

    # -- reads -------------------------------------------------------------------------

    def last_seq(self) -> int:
        """The newest event's seq (0 when empty)."""
        return int(self._read("SELECT coalesce(max(seq), 0) FROM events")[0][0])

    def count(self) -> int:
        return int(self._read("SELECT count(*) FROM events")[0][0])

    def seqs(self) -> list[int]:
        """Every event's seq, oldest first."""
        return [r[0] for r in self._read("SELECT seq FROM events ORDER BY seq")]

    def rows(self, seqs: Iterable[int]) -> dict[int, Row]:
        """List rows for these seqs (missing ones are left out)."""
        wanted = list(seqs)
        out: dict[int, Row] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self._read(f"SELECT {_ROW_COLUMNS} FROM events WHERE seq IN ({marks})", chunk):
                out[r[0]] = Row(*r)  # columns in Row's field order
        return out

    def event(self, seq: int) -> Event | None:
        rows = self._read(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq = ?", (seq,))
        if not rows:
            return None
        body = self._read("SELECT body FROM bodies WHERE seq = ?", (seq,))
        return _event_of(rows[0], bytes(body[0][0]) if body else b"")

    def event_by_id(self, event_id: str) -> Event | None:
        found = self._read("SELECT seq FROM events WHERE id = ?", (event_id,))
        return self.event(found[0][0]) if found else None

    def meta(self, key: str, default: str = "") -> str:
        """A small saved setting (never a secret), such as the last replay target."""
        found = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(found[0][0]) if found else default

    def attempts(self, seq: int) -> list[Attempt]:
        rows = self._read(f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE seq = ? ORDER BY id",
                          (seq,))
        return [_attempt_of(r) for r in rows]

    def attempts_for(self, seqs: Sequence[int]) -> dict[int, list[Attempt]]:
        """Every attempt of these events, oldest first, by event seq."""
        out: dict[int, list[Attempt]] = {}
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for r in self._read(f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE seq IN "
                                f"({marks}) ORDER BY id", chunk):
                out.setdefault(r[1], []).append(_attempt_of(r))
        return out

    def answers_for(self, seqs: Sequence[int]) -> dict[int, Answer]:
        """The stored (custom) answers of these events; the others got the default one."""
        out: dict[int, Answer] = {}
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for seq, headers, body in self._read(
                    f"SELECT seq, headers, body FROM answers WHERE seq IN ({marks})", chunk):
                out[seq] = Answer(_pairs(headers), bytes(body))
        return out

    def iter_events(self, seqs: Iterable[int], chunk: int = 200) -> Iterator[Event]:
        """Whole events (bodies included) in the order given, read `chunk` at a time, so an
        export of 100k events never holds more than one chunk of bodies."""
        batch: list[int] = []
        for seq in seqs:
            batch.append(seq)
            if len(batch) == chunk:
                yield from self._events(batch)
                batch = []
        if batch:
            yield from self._events(batch)

    def _events(self, seqs: list[int]) -> Iterator[Event]:
        marks = ",".join("?" * len(seqs))
        rows = {r[0]: r for r in self._read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq IN ({marks})", seqs)}
        bodies = {r[0]: bytes(r[1]) for r in self._read(
            f"SELECT seq, body FROM bodies WHERE seq IN ({marks})", seqs)}
        for seq in seqs:
            if seq in rows:
                yield _event_of(rows[seq], bodies.get(seq, b""))

    def indexed_upto(self) -> int:
        """The seq up to which the free-text index covers the events (0: none yet)."""
        conn = self._reader()
        if not self._local.searchable:
            return 0
        conn.execute("BEGIN")
        try:
            return search.indexed_upto(conn)
        finally:
            conn.execute("COMMIT")

    def search(self, query: Query | str, *, after: int = 0, now: float | None = None
               ) -> list[int]:
        """Seqs of the events matching a filter (see inspector.core.store.filter), oldest first.

        `after`: only events with a greater seq (to filter newly committed ones). A string
        is parsed first (FilterError when it cannot be).
        """
        if isinstance(query, str):
            query = parse(query)
        conn = self._reader()
        try:
            # One snapshot for the index state and the query (see search.indexed_upto).
            conn.execute("BEGIN")
            try:
                upto = search.indexed_upto(conn) if self._local.searchable else 0
                compiled = compile_query(
                    query, now, indexed_upto=upto,
                    use_index=lambda term: search.worth_using(conn, term, upto))
                join = " LEFT JOIN bodies b ON b.seq = e.seq" if compiled.needs_body else ""
                # Without `after`, no seq condition: it would steer SQLite off the indexes.
                where = f"e.seq > {int(after)} AND " if after else ""
                rows = conn.execute(
                    f"SELECT e.seq FROM events e{join} WHERE {where}{compiled.where} "
                    "ORDER BY e.seq", compiled.params).fetchall()
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from exc
        return [r[0] for r in rows]


# -- operations run by the writer thread (each gets the connection first) ------------------


def _add_event(conn: sqlite3.Connection, event: Event) -> Event:
    """Marks a new event in the queue; the writer inserts runs of them together."""
    raise AssertionError("handled by Store._apply")


def _insert_many(
    conn: sqlite3.Connection, events: list[Event], prepare: Callable[[Event], Any] | None
) -> list[Event]:
    """Analyse and insert events, assigning seqs in order (one executemany per table)."""
    # Seqs are never reused, even after the newest events were deleted (see top_seq).
    top = conn.execute(_TOP_SQL).fetchone()[0]
    rows = []
    bodies = []
    answers = []
    for seq, event in enumerate(events, top + 1):
        if prepare is not None:
            try:
                prepare(event)
            except Exception as exc:  # analysis must never cost us the event
                event.notes.append(f"analysis failed: {type(exc).__name__}: {exc}")
        event.seq = seq
        if event.answer is not None:  # a custom answer; the default one is rebuilt
            answers.append((seq, json.dumps(event.answer.headers), event.answer.body))
        rows.append((
            seq, event.id, event.received_at, event.method, event.path, event.query,
            event.http_version, event.client, event.scheme, json.dumps(event.headers),
            event.body_size, event.status, event.refused,
            json.dumps(event.notes) if event.notes else "[]",
            event.provider, event.kind, event.summary, event.verdict, event.reason,
        ))
        bodies.append((seq, event.body))
    _insert_rows(conn, "events", _EVENT_INSERT_COLUMNS, rows)
    _insert_rows(conn, "bodies", "seq, body", bodies)
    if answers:
        _insert_rows(conn, "answers", "seq, headers, body", answers)
    return events


_TOP_SQL = (
    "SELECT max(coalesce((SELECT max(seq) FROM events), 0), "
    "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'top_seq'), 0))"
)
_EVENT_INSERT_COLUMNS = (
    "seq, id, received_at, method, path, query, http_version, client, scheme, headers, "
    "body_size, status, refused, notes, provider, kind, summary, verdict, reason"
)
_CHUNKS = (64, 16, 4, 1)  # statement sizes: a few SQL strings, all kept prepared


def _insert_rows(
    conn: sqlite3.Connection, table: str, columns: str, rows: list[tuple[Any, ...]]
) -> None:
    """Multi-row INSERTs: one sqlite3 call per chunk rather than per row.

    Each call releases and retakes the GIL; per-row calls made the writer thread fight the
    event loop for it thousands of times a second.
    """
    width = columns.count(",") + 1
    one = "(" + ",".join("?" * width) + ")"
    start = 0
    while start < len(rows):
        size = next(c for c in _CHUNKS if c <= len(rows) - start)
        chunk = rows[start : start + size]
        params = [value for row in chunk for value in row]
        conn.execute(f"INSERT INTO {table} ({columns}) VALUES {','.join([one] * size)}", params)
        start += size


def insert_events(conn: sqlite3.Connection, events: list[Event]) -> list[Event]:
    """Insert already-analysed events (imports), keeping their ids; duplicates are skipped."""
    return _insert_many(conn, _fresh(conn, events, lambda e: e), None)


def insert_imported(
    conn: sqlite3.Connection, items: list[tuple[Event, list[Attempt]]],
    prepare: Callable[[Event], Any] | None = None,
) -> list[Event]:
    """Insert imported events with their replay/forward attempts, keeping ids; events
    already present (same id) are skipped with their attempts. `prepare` analyses each new
    one, as the writer does live events. Returns the new events."""
    fresh = _fresh(conn, items, lambda item: item[0])
    events = _insert_many(conn, [event for event, _ in fresh], prepare)
    for event, attempts in fresh:
        for attempt in attempts:
            attempt.event_seq = event.seq
            insert_attempt(conn, attempt)
    return events


def _fresh(conn: sqlite3.Connection, items: list[T], event_of: Callable[[T], Event]) -> list[T]:
    """Items whose event id is neither stored nor repeated earlier in `items`."""
    seen: set[str] = set()
    out = []
    for item in items:
        event_id = event_of(item).id
        if event_id in seen:
            continue
        seen.add(event_id)
        if not conn.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone():
            out.append(item)
    return out


def insert_attempt(conn: sqlite3.Connection, attempt: Attempt) -> Attempt:
    cur = conn.execute(
        "INSERT INTO attempts (seq, kind, at, method, url, status, elapsed_ms, error, "
        "response_headers, response_body, resigned, edited, forced, note) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            attempt.event_seq, attempt.kind, attempt.at, attempt.method, attempt.url,
            attempt.status, attempt.elapsed_ms, attempt.error,
            json.dumps(attempt.response_headers), attempt.response_body,
            int(attempt.resigned), int(attempt.edited), int(attempt.forced), attempt.note,
        ),
    )
    attempt.id = cur.lastrowid or 0
    conn.execute(
        "UPDATE events SET result_status = ?, result_ms = ? WHERE seq = ?",
        (attempt.status or 0, attempt.elapsed_ms, attempt.event_seq),
    )
    return attempt


def delete_events(conn: sqlite3.Connection, seqs: list[int]) -> int:
    _keep_top(conn)
    deleted = 0
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        marks = ",".join("?" * len(chunk))
        deleted += conn.execute(f"DELETE FROM events WHERE seq IN ({marks})", chunk).rowcount
        conn.execute(f"DELETE FROM bodies WHERE seq IN ({marks})", chunk)
        conn.execute(f"DELETE FROM attempts WHERE seq IN ({marks})", chunk)
        conn.execute(f"DELETE FROM answers WHERE seq IN ({marks})", chunk)
    return deleted


def clear_events(conn: sqlite3.Connection) -> int:
    _keep_top(conn)
    deleted = conn.execute("DELETE FROM events").rowcount
    conn.execute("DELETE FROM bodies")
    conn.execute("DELETE FROM attempts")
    conn.execute("DELETE FROM answers")
    # Ask the search indexer to drop what it holds (see inspector.core.store.search).
    conn.execute("INSERT INTO meta (key, value) VALUES ('search_reset', '1') "
                 "ON CONFLICT (key) DO UPDATE SET "
                 "value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)")
    return deleted


def _keep_top(conn: sqlite3.Connection) -> None:
    """Remember the highest seq ever used, so deleting the newest events never frees their
    seqs for new events (the UI and the search index take a seq to mean one event)."""
    conn.execute(
        "INSERT INTO meta (key, value) SELECT 'top_seq', CAST(top AS TEXT) FROM "
        "(SELECT max(seq) AS top FROM events) WHERE top IS NOT NULL "
        "ON CONFLICT (key) DO UPDATE SET value = "
        "CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)"
    )


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def update_verdicts(
    conn: sqlite3.Connection, changes: list[tuple[int, str, str, str]]
) -> int:
    """(seq, provider, verdict, reason) for re-verified events."""
    conn.executemany(
        "UPDATE events SET provider = ?, verdict = ?, reason = ? WHERE seq = ?",
        [(p, v, r, s) for s, p, v, r in changes],
    )
    return len(changes)


# -- helpers ---------------------------------------------------------------------------------


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


def _pairs(text: str) -> HeaderList:
    return [(str(k), str(v)) for k, v in json.loads(text)]


_ATTEMPT_COLUMNS = (
    "id, seq, kind, at, method, url, status, elapsed_ms, error, response_headers, "
    "response_body, resigned, edited, forced, note"
)


def _attempt_of(r: Sequence[Any]) -> Attempt:
    return Attempt(
        id=r[0], event_seq=r[1], kind=r[2], at=r[3], method=r[4], url=r[5], status=r[6],
        elapsed_ms=r[7], error=r[8], response_headers=_pairs(r[9]),
        response_body=bytes(r[10]), resigned=bool(r[11]), edited=bool(r[12]),
        forced=bool(r[13]), note=r[14],
    )


def _event_of(r: Sequence[Any], body: bytes) -> Event:
    return Event(
        seq=r[0], id=r[1], received_at=r[2], method=r[3], path=r[4], query=r[5],
        http_version=r[6], client=r[7], scheme=r[8], headers=_pairs(r[9]), body_size=r[10],
        status=r[11], refused=r[12], notes=list(json.loads(r[13])), provider=r[14], kind=r[15],
        summary=r[16], verdict=r[17], reason=r[18], body=body,
    )


def _create_v1(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_v2(conn: sqlite3.Connection) -> None:
    """The id that ties the search index's side file to this database.

    No indexes on `received_at` or `result_status`: each one costs every insert on the ingest
    path (~15% of the store's throughput, measured), while a scan of 100k rows for `since:` or
    `status:` stays well under the 200 ms a filter may take."""
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('search_id', "
                 "lower(hex(randomblob(8))))")


def _migrate_v3(conn: sqlite3.Connection) -> None:
    """Attempts say whether a person forced a re-sign of an event that did not arrive valid,
    and why an attempt was sent as it arrived (a note)."""
    conn.execute("ALTER TABLE attempts ADD COLUMN forced INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE attempts ADD COLUMN note TEXT NOT NULL DEFAULT ''")


def _migrate_v4(conn: sqlite3.Connection) -> None:
    """What each sender was answered, when it was not the default answer (a custom body or
    headers, --reject-invalid, --respond-with-downstream): the HAR export's `response`."""
    conn.execute("CREATE TABLE IF NOT EXISTS answers (seq INTEGER PRIMARY KEY, "
                 "headers TEXT NOT NULL, body BLOB NOT NULL)")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _create_v1, _migrate_v2, _migrate_v3, _migrate_v4]
