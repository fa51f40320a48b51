"""The change feed in PostgreSQL: what a viewer, or another receiver, needs to follow the
database that several receivers write.

Updates, deletes and clears are rows of `changes`, as in SQLite (see sqlite/feed.py). Their
ids are taken under a transaction-level advisory lock, so they commit in id order and a
follower reading `id > cursor.change` misses none.

Inserts need no record, but with several writers seqs commit out of order: seq 7 may become
visible after seq 8 (a spike measured 225 events missed in 74,816 by a follower reading
`seq > last`). So a cursor says `seq` (every event up to it reported, or gone for good) plus
`seen` (events past it reported already), and each read reports every visible event past
`seq` not in `seen`. A gap (a seq handed out, not visible) closes when no transaction can
still commit it: every writer takes its xid before its seqs (writes.SEQS), and a look
reads the sequence's top, then takes an xid of its own (`mark`), then its snapshot. Every
transaction holding a seq up to `top` has an xid below `mark`; once the oldest running xid
(the snapshot's xmin) is past `mark`, they have all ended, and the seqs up to `top` that are
not visible never will be (a rolled back batch, an event deleted before it was seen). When
that is not so yet, the cursor keeps the look as its `probe` and a later look settles it. An
unrelated long transaction elsewhere on the server would keep xmin back: after GAP_WAIT a
gap is taken as final anyway. (A snapshot's xmax cannot serve: since PostgreSQL 14 it is
the newest completed xid plus one, and running transactions past it are not listed.)

Promptness: every writing transaction sends NOTIFY on CHANNEL, delivered at its commit; a
`Listener` thread counts them, and `data_version()` is that count: cheap to poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from inspector.core.store import records
from inspector.core.store.base import Changes, Cursor
from inspector.core.store.errors import StoreError
from inspector.core.store.postgres import connect as pg
from inspector.core.store.postgres.schema import CHANGES_LOCK
from inspector.core.store.records import CLEAR, DELETE, RESTORE, UPDATE
from inspector.core.store.thread import StoreThread

__all__ = ["CLEAR", "DELETE", "RESTORE", "UPDATE", "Listener", "note", "present", "since"]
CHANNEL = "inspector_changes"
GAP_WAIT = 10.0  # seconds after which a gap is final whatever the snapshot says
PRESENT_WAIT = 2.0  # seconds `present` waits for the writes in flight to end
READY_WAIT = 1.0  # seconds a first `data_version` waits for LISTEN (a local server: ~5 ms)


def note(conn: Any, kind: str, seqs: Sequence[int] = (), *, upto: int = 0, keep: int) -> None:
    """Record a change in the writer's transaction; trim old records now and then."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGES_LOCK,))
    last = conn.execute("INSERT INTO changes (kind, seqs, upto) VALUES (%s, %s, %s) "
                        "RETURNING id", (kind, list(seqs), upto)).fetchone()[0]
    if last > keep and last % max(1, keep // 10) == 0:
        conn.execute("DELETE FROM changes WHERE id <= %s", (last - keep,))
        conn.execute("INSERT INTO meta (key, value) VALUES ('changes_trimmed', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = greatest("
                     "meta.value::bigint, excluded.value::bigint)::text", (str(last - keep),))


class _Look:
    """One consistent look at the database: the sequence's top, then an xid (`mark`: every
    transaction holding a seq up to `top` has a smaller one), then the snapshot."""

    def __init__(self, conn: Any, after: int, change: int | None) -> None:
        top, called, self.mark = conn.execute(
            "SELECT last_value, is_called, pg_current_xact_id()::text::bigint "
            "FROM events_seq").fetchone()
        self.top = int(top) if called else 0
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            self.xmin = conn.execute(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone()[0]
            self.change, trimmed = conn.execute(
                "SELECT coalesce(max(id), 0), (SELECT value::bigint FROM meta "
                "WHERE key = 'changes_trimmed') FROM changes").fetchone()
            self.trimmed = int(trimmed or 0)
            self.records: list[tuple[str, list[int], int]] = [] if change is None else \
                conn.execute("SELECT kind, seqs, upto FROM changes WHERE id > %s ORDER BY id",
                             (change,)).fetchall()
            self.visible: list[int] = [r[0] for r in conn.execute(
                "SELECT seq FROM events WHERE seq > %s ORDER BY seq", (after,))]
        finally:
            conn.execute("COMMIT")

    @property
    def quiet(self) -> bool:
        """Every transaction that held a seq up to `top` has ended: they are final."""
        return bool(self.xmin >= self.mark)


def present(conn: Any) -> Cursor:
    """The present point: waits (briefly) for the writes in flight to end, so that every
    seq up to the cursor's is final; the events already visible past it are `seen`."""
    top, called = conn.execute("SELECT last_value, is_called FROM events_seq").fetchone()
    top = int(top) if called else 0
    look = _Look(conn, top, None)
    deadline = time.monotonic() + PRESENT_WAIT
    mark = look.mark  # above the xid of any transaction holding a seq up to `top`
    while look.xmin < mark and time.monotonic() < deadline:
        time.sleep(0.005)
        look = _Look(conn, top, None)
    return _cursor(top, look.change, frozenset(look.visible), look, ())


def _cursor(seq: int, change: int, seen: frozenset[int], look: _Look,
            probe: tuple[float, ...]) -> Cursor:
    """A cursor at `seq`, with a probe for the seqs past it that may still commit."""
    if look.top > seq and not probe:
        probe = (float(look.top), float(look.mark), time.time())
    elif look.top <= seq:
        probe = ()
    return Cursor(seq, change, seen, probe)


def since(conn: Any, cursor: Cursor) -> Changes:
    """What changed after `cursor`."""
    look = _Look(conn, cursor.seq, cursor.change)
    if cursor.change < look.trimmed or cursor.change > look.change or cursor.seq > look.top:
        return Changes(present(conn), reload=True)
    old_seen = cursor.seen
    inserted = [s for s in look.visible if s not in old_seen]
    reported = set(old_seen).union(look.visible)
    # How far every seq is final: all of them when nothing runs; up to the probe's top once
    # the transactions running at the probe have ended (or it is too old).
    final = cursor.seq
    probe = cursor.probe
    if look.quiet:
        final = look.top
    elif probe and (look.xmin >= probe[1] or time.time() - probe[2] > GAP_WAIT):
        final = int(probe[0])
    if probe and final >= probe[0]:
        probe = ()
    seq = max(cursor.seq, final)
    while seq + 1 in reported:
        seq += 1
    seen = frozenset(s for s in reported if s > seq)
    now = _cursor(seq, look.change, seen, look, probe)
    # The other changes: only what the follower can know of.
    return records.changes(now, inserted, look.records,
                           lambda s: s <= cursor.seq or s in old_seen,
                           max(cursor.seq, max(old_seen, default=0)))


class Listener(StoreThread):
    """Counts NOTIFYs on CHANNEL in a thread of its own (a connection that only listens);
    reconnects by itself. `version` moves at every notification and every reconnection."""

    name = "store-listen"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.version = 0
        self.error: str | None = None  # why it is not listening now (None: it is)
        self._ready = threading.Event()

    def start(self) -> None:
        """Start listening; wait (a moment, at most READY_WAIT) until it listens, so that
        a commit right after is heard. `version` moves again once it listens."""
        super().start()
        self._ready.wait(READY_WAIT)

    def _run(self) -> None:
        psycopg = pg.driver()
        while not self._stop.is_set():
            conn = None
            try:
                conn = pg.connect(self.url, autocommit=True)
                conn.execute(f"LISTEN {CHANNEL}")
                self.error = None
                self.version += 1  # anything may have happened while it was not listening
                self._ready.set()
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=0.25):
                        self.version += 1
            except (StoreError, psycopg.Error) as exc:
                self.error = str(exc if isinstance(exc, StoreError)
                                 else pg.explain(exc, self.url))
                self.version += 1
                self._ready.set()
                self._stop.wait(0.5)
            finally:
                if conn is not None:
                    conn.close()
