"""Free-text search: a trigram index kept in a side file and built in the background.

The receiver's writer never pays for it. `<db>-search` holds an FTS5 trigram index
(contentless, detail=none) of each event's target (path?query), headers (as stored) and
body (as text; bodies over INDEX_BODY_LIMIT are listed in `big` instead, and always
checked). An `Indexer` thread adds events in batches while traffic is calm (below
CALM_RATE events/s) and pauses during a flood; it writes only the side file, so it never
holds the event database's write lock, and it runs at the lowest CPU priority (Linux).

A search is exact whatever the index holds: the index only narrows the candidates among
events it covers (seq <= upto), every candidate is checked with LIKE on the real columns,
and events it does not cover yet are scanned. Seqs are never reused (meta top_seq), so an
indexed seq always means the same event; deleted events leave harmless stale entries, and
a clear asks for a rebuild through the `search_reset` meta key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any

from inspector.core.store.thread import StoreThread

log = logging.getLogger("inspector")

SUFFIX = "-search"
INDEX_BODY_LIMIT = 1024 * 1024  # bigger bodies are always scanned
MAX_TRIGRAMS = 24  # a long phrase narrows enough with this many
BATCH = 1000  # events per indexing transaction (~40 ms of SQLite work, GIL released)
INTERVAL = 0.25  # seconds between looks at the backlog
START_DELAY = 1.0  # let the app start first
CALM_RATE = 500.0  # events/s of live traffic above which indexing waits
SCAN_BELOW = 2000  # candidates the index may always return before a scan is preferred

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    search_id TEXT NOT NULL DEFAULT '',
    reset TEXT NOT NULL DEFAULT '0',
    upto INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO state (id) VALUES (1);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    target, headers, body, tokenize = 'trigram', detail = none, content = ''
);
CREATE TABLE IF NOT EXISTS big (seq INTEGER PRIMARY KEY);
"""

# What a free-text term is matched against, in SQL over events e LEFT JOIN bodies b. The
# body first: most terms are found there, and OR stops at the first match (a term in a tenth
# of a million events: 20% faster than checking the headers' JSON first).
TARGET_SQL = "e.path || CASE WHEN e.query != '' THEN '?' || e.query ELSE '' END"
_VERIFY = (
    f"CAST(b.body AS TEXT) LIKE ? ESCAPE '\\' OR ({TARGET_SQL}) LIKE ? ESCAPE '\\' "
    "OR e.headers LIKE ? ESCAPE '\\'"
)


def path_for(db_path: str) -> str:
    return db_path + SUFFIX


def like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def trigram_query(term: str) -> str | None:
    """An FTS5 query every row containing `term` matches (None: shorter than 3 characters).

    The tokenizer folds case on both sides, so this is a superset of the LIKE matches.
    """
    grams: list[str] = []
    for i in range(len(term) - 2):
        gram = term[i : i + 3]
        if gram not in grams:
            grams.append(gram)
            if len(grams) == MAX_TRIGRAMS:
                break
    if not grams:
        return None
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def worth_using(conn: sqlite3.Connection, term: str, indexed_upto: int) -> bool:
    """Whether the index narrows `term` enough to beat a scan: candidates are looked up one
    by one, so a term many events contain is faster to scan (the break-even measured by
    bench/filter_speed.py is near 1 event in 8). Counts at most that many (a few ms)."""
    query = trigram_query(term)
    if query is None or indexed_upto <= 0:
        return False
    limit = max(SCAN_BELOW, indexed_upto // 8)
    found = conn.execute("SELECT count(*) FROM (SELECT rowid FROM search.fts WHERE fts MATCH ? "
                         "LIMIT ?)", (query, limit + 1)).fetchone()[0]
    return int(found) <= limit


def text_clause(term: str, indexed_upto: int) -> tuple[str, list[Any]]:
    """SQL true when `term` appears in the event's target, headers or body."""
    pattern = like_pattern(term)
    query = trigram_query(term)
    if indexed_upto <= 0 or query is None:
        return f"({_VERIFY})", [pattern] * 3
    # The candidates drive the query (rowid lookups); the LIKE check makes it exact.
    candidates = ("e.seq IN (SELECT rowid FROM search.fts WHERE fts MATCH ? "
                  "UNION ALL SELECT seq FROM search.big "
                  "UNION ALL SELECT seq FROM main.events WHERE seq > ?)")
    return f"{candidates} AND ({_VERIFY})", [query, indexed_upto, pattern, pattern, pattern]


# -- the side file -----------------------------------------------------------------------------


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 3000")
    return conn


def indexer_connection(db_path: str) -> sqlite3.Connection:
    """A connection on the side file with the event database attached as `ev`."""
    conn = connect(path_for(db_path))
    conn.execute("ATTACH DATABASE ? AS ev", (db_path,))
    return conn


def prepare(path: str) -> bool:
    """Create the side file if needed; False when it cannot be used (search then scans)."""
    for attempt in range(2):
        try:
            conn = connect(path)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.executescript(_SCHEMA)
            finally:
                conn.close()
            return True
        except sqlite3.Error as exc:
            log.info("search index %s unusable (%s); searches will scan", path, exc)
            text = str(exc).lower()
            if attempt or not ("not a database" in text or "malformed" in text
                               or "corrupt" in text):
                return False
            # It is only a cache: a corrupt file is removed and rebuilt.
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.remove(path + suffix)
    return False


def indexed_upto(conn: sqlite3.Connection) -> int:
    """How far the index covers the database `conn` reads (0: not usable). Call inside the
    transaction that runs the search, so both are read from one snapshot."""
    try:
        state = conn.execute("SELECT search_id, reset, upto FROM search.state").fetchone()
    except sqlite3.Error:
        return 0
    if state is None:
        return 0
    search_id, reset, upto = state
    if search_id != _meta(conn, "main", "search_id") or reset != _meta(conn, "main",
                                                                      "search_reset", "0"):
        return 0
    return int(upto)


def _meta(conn: sqlite3.Connection, schema: str, key: str, default: str = "") -> str:
    row = conn.execute(f"SELECT value FROM {schema}.meta WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else default


def index_batch(conn: sqlite3.Connection, limit: int = BATCH) -> int:
    """Index up to `limit` events past the covered seq; returns how many were added.

    `conn` is open on the side file with the event database attached as `ev`.
    """
    conn.execute("BEGIN")  # deferred: writes only the side file, reads `ev` from a snapshot
    try:
        search_id, reset, upto = conn.execute(
            "SELECT search_id, reset, upto FROM state").fetchone()
        main_id = _meta(conn, "ev", "search_id")
        main_reset = _meta(conn, "ev", "search_reset", "0")
        if search_id != main_id or reset != main_reset:
            conn.execute("INSERT INTO fts (fts) VALUES ('delete-all')")
            conn.execute("DELETE FROM big")
            conn.execute("UPDATE state SET search_id = ?, reset = ?, upto = 0",
                         (main_id, main_reset))
            upto = 0
        top = conn.execute(
            "SELECT count(*), max(seq) FROM (SELECT seq FROM ev.events WHERE seq > ? "
            "ORDER BY seq LIMIT ?)", (upto, limit)).fetchone()
        if top[0]:
            conn.execute(
                "INSERT INTO fts (rowid, target, headers, body) "
                f"SELECT e.seq, {TARGET_SQL}, e.headers, "
                "CASE WHEN length(b.body) <= ? THEN CAST(b.body AS TEXT) ELSE '' END "
                "FROM ev.events e LEFT JOIN ev.bodies b ON b.seq = e.seq "
                "WHERE e.seq > ? AND e.seq <= ?",
                (INDEX_BODY_LIMIT, upto, top[1]))
            conn.execute(
                "INSERT OR IGNORE INTO big (seq) SELECT b.seq FROM ev.bodies b "
                "WHERE b.seq > ? AND b.seq <= ? AND length(b.body) > ?",
                (upto, top[1], INDEX_BODY_LIMIT))
            conn.execute("UPDATE state SET upto = ?", (top[1],))
        conn.execute("COMMIT")
        return int(top[0])
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


class Indexer(StoreThread):
    """The background thread that keeps the index caught up while traffic is calm."""

    name = "search-indexer"

    def __init__(self, db_path: str, committed: Callable[[], int]) -> None:
        super().__init__()
        self.db_path = db_path
        self.path = path_for(db_path)
        self.committed = committed  # live events committed so far (the traffic gauge)

    def _run(self) -> None:
        _lower_priority()
        try:
            conn = indexer_connection(self.db_path)
        except sqlite3.Error as exc:
            log.info("search indexer cannot start: %s", exc)
            return
        try:
            if self._stop.wait(START_DELAY):
                return
            last = self.committed()
            while not self._stop.wait(INTERVAL):
                now = self.committed()
                calm = now - last <= CALM_RATE * INTERVAL
                last = now
                if calm:
                    self._catch_up(conn)
        finally:
            conn.close()

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        start = self.committed()
        while not self._stop.is_set():
            try:
                added = index_batch(conn)
            except sqlite3.Error as exc:
                log.info("search indexing paused: %s", exc)
                self._stop.wait(5.0)
                return
            # Stop early when a flood starts: the writer needs the CPU more.
            if added < BATCH or self.committed() - start > CALM_RATE * INTERVAL:
                return


def _lower_priority() -> None:
    """Linux: nice this thread (only), so the UI and the receiver get the CPU first."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
