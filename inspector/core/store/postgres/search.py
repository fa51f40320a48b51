"""Free-text search through pg_trgm, with the index kept off the ingest path.

A GIN trigram index on the bodies cut the rate of COPY by six in the spike, so the writer
never touches one. `search_docs` holds one document per event (target, headers and body as
queries.py matches them; a body over INDEX_BODY_LIMIT is left out and the event marked not
`whole`, so it is always checked), with a GIN `gin_trgm_ops` index on it. An `Indexer` thread
in a receiver fills it while traffic is calm: it follows the change feed like a viewer (so
events that commit out of seq order are indexed too), and records in meta `search_upto` the
seq up to which every event is indexed. One receiver indexes at a time (an advisory lock).

A search stays exact whatever the index holds: the index only narrows the candidates among
the events it covers (seq <= search_upto), each candidate is checked on the real columns,
and the events past it are scanned. Without pg_trgm (it needs CREATE on the database; it is
a trusted extension since PostgreSQL 13) searches scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from inspector.core.store.base import Changes, Cursor
from inspector.core.store.errors import StoreError
from inspector.core.store.postgres import connect as pg
from inspector.core.store.postgres.schema import SEARCH_LOCK
from inspector.core.store.thread import StoreThread

log = logging.getLogger("inspector")

INDEX_BODY_LIMIT = 1024 * 1024  # bigger bodies are always checked, never indexed
BATCH = 1000  # events per indexing statement
INTERVAL = 0.25  # seconds between looks at the feed
START_DELAY = 1.0  # let the receiver start first
CALM_RATE = 500.0  # events/s of live traffic above which indexing waits
RETRY = 5.0  # seconds before trying again after a failure, or for the lock

TARGET_SQL = "e.path || CASE WHEN e.query <> '' THEN '?' || e.query ELSE '' END"
_INDEX = (
    "INSERT INTO search_docs (seq, doc, whole) "
    f"SELECT e.seq, ({TARGET_SQL}) || chr(1) || e.headers || chr(1) || "
    "CASE WHEN length(b.body) <= %(limit)s THEN encode(b.body, 'escape') ELSE '' END, "
    "coalesce(length(b.body), 0) <= %(limit)s "
    "FROM events e LEFT JOIN bodies b ON b.seq = e.seq WHERE e.seq = ANY(%(seqs)s) "
    "ON CONFLICT (seq) DO NOTHING")
# The candidates for one free-text term (its text and body patterns, as queries.py makes
# them, then search_upto): indexed events whose document matches, bodies too big to index,
# and everything past the index, each branch on an index. The trigram index answers ILIKE
# on the document; the real check follows.
CANDIDATES = ("e.seq IN (SELECT seq FROM search_docs WHERE doc ILIKE %s ESCAPE '!' "
              "UNION ALL SELECT seq FROM search_docs WHERE doc ILIKE %s ESCAPE '!' "
              "UNION ALL SELECT seq FROM search_docs WHERE NOT whole "
              "UNION ALL SELECT seq FROM events WHERE seq > %s)")


def enable(conn: Any) -> bool:
    """Create pg_trgm and the document index if they can be (then commits); False when
    the database does not allow it (searches scan)."""
    psycopg = pg.driver()
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE INDEX IF NOT EXISTS search_docs_trgm ON search_docs "
                     "USING gin (doc gin_trgm_ops)")
        conn.execute("CREATE INDEX IF NOT EXISTS search_docs_partial ON search_docs (seq) "
                     "WHERE NOT whole")
        conn.commit()
        return True
    except psycopg.Error as exc:
        conn.rollback()
        log.info("pg_trgm unavailable (%s): searches will scan", exc)
        return False


def indexed_upto(conn: Any) -> int:
    """The seq up to which every event has its document (0: none yet)."""
    found = conn.execute("SELECT value FROM meta WHERE key = 'search_upto'").fetchone()
    return int(found[0]) if found else 0


def available(conn: Any) -> bool:
    return bool(conn.execute("SELECT to_regclass('search_docs_trgm') IS NOT NULL").fetchone()[0])


def forget(conn: Any, upto: int) -> None:
    """Drop the documents of every event up to `upto` (cleared). A deleted event keeps its
    document, harmlessly (seqs are never reused), so an undo finds it indexed."""
    if upto:
        conn.execute("DELETE FROM search_docs WHERE seq <= %s", (upto,))


class Indexer(StoreThread):
    """The background thread that indexes what the feed reports while traffic is calm."""

    name = "search-indexer"

    def __init__(self, url: str, changes_since: Callable[[Cursor], Changes],
                 seqs: Callable[[], list[int]], committed: Callable[[], int]) -> None:
        super().__init__()
        self.url = url
        self.changes_since = changes_since  # the store's, on this thread's connection
        self.seqs = seqs
        self.committed = committed  # live events committed so far (the traffic gauge)

    def _run(self) -> None:
        psycopg = pg.driver()
        if self._stop.wait(START_DELAY):
            return
        while not self._stop.is_set():
            conn = None
            try:
                conn = pg.connect(self.url, autocommit=True)
                if conn.execute("SELECT pg_try_advisory_lock(%s)", (SEARCH_LOCK,)).fetchone()[0]:
                    self._follow(conn)  # until stopped, or a failure
            except (StoreError, psycopg.Error) as exc:
                log.info("search indexing paused: %s", exc)
            finally:
                if conn is not None:
                    conn.close()  # and the lock with it
            self._stop.wait(RETRY)

    def _follow(self, conn: Any) -> None:
        cursor = Cursor()  # from the start: what is indexed already is skipped
        last = self.committed()
        while not self._stop.wait(INTERVAL):
            now = self.committed()
            calm = now - last <= CALM_RATE * INTERVAL
            last = now
            if not calm:
                continue
            changes = self.changes_since(cursor)
            if not changes.reload:
                forget(conn, changes.deleted_upto)
            if not self._index(conn, self.seqs() if changes.reload else changes.inserted):
                return  # stopped
            cursor = changes.cursor
            conn.execute("INSERT INTO meta (key, value) VALUES ('search_upto', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = greatest("
                         "meta.value::bigint, excluded.value::bigint)::text",
                         (str(cursor.seq),))

    def _index(self, conn: Any, seqs: list[int]) -> bool:
        """Index these events, BATCH at a time; False when stopped first."""
        for start in range(0, len(seqs), BATCH):
            if self._stop.is_set():
                return False
            conn.execute(_INDEX, {"limit": INDEX_BODY_LIMIT,
                                  "seqs": seqs[start : start + BATCH]})
        return True

