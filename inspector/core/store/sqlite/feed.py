"""The change feed in SQLite: what another process needs to follow this database.

Inserts need no record: one writer at a time assigns seqs in commit order, so the events
past a cursor's seq are the new ones, and ingest does no extra work. Every other change is
one row of `changes`, written by the named operation in its own transaction:

    kind      seqs (JSON list)       upto
    update    the events changed     0
    delete    the events deleted     every event with seq <= upto is gone too
    restore   deleted events back    0 (an undo: their old seqs, so no insert shows them)
    clear     []                     the newest seq when cleared

A bulk deletion of the oldest events (retention) is one `delete` record with `upto`, however
many events it removes. The table is trimmed as it grows, keeping the last `keep` records;
meta `changes_trimmed` says up to which id records are gone, and a cursor from before that
gets `reload`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from inspector.core.store import records
from inspector.core.store.base import Changes, Cursor
from inspector.core.store.records import CLEAR, DELETE, RESTORE, UPDATE

__all__ = ["CLEAR", "DELETE", "RESTORE", "UPDATE", "note", "present", "since"]

# The highest seq ever used: seqs are never reused, even after the newest events were
# deleted (meta `top_seq`, see writes.keep_top).
TOP_SQL = (
    "SELECT max(coalesce((SELECT max(seq) FROM events), 0), "
    "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'top_seq'), 0))"
)


def note(conn: sqlite3.Connection, kind: str, seqs: Sequence[int] = (), *, upto: int = 0,
         keep: int) -> None:
    """Record a change in the writer's transaction; trim old records now and then."""
    cur = conn.execute("INSERT INTO changes (kind, seqs, upto) VALUES (?, ?, ?)",
                       (kind, json.dumps(list(seqs)), upto))
    last = cur.lastrowid or 0
    if last > keep and last % max(1, keep // 10) == 0:
        conn.execute("DELETE FROM changes WHERE id <= ?", (last - keep,))
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('changes_trimmed', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = "
            "CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
            (str(last - keep),))


def present(conn: sqlite3.Connection) -> Cursor:
    """The present point, read from one snapshot."""
    conn.execute("BEGIN")
    try:
        return _head(conn)
    finally:
        conn.execute("COMMIT")


def _head(conn: sqlite3.Connection) -> Cursor:
    """The present point (call inside a transaction: both parts from one snapshot)."""
    seq = conn.execute(TOP_SQL).fetchone()[0]
    change = conn.execute("SELECT coalesce(max(id), 0) FROM changes").fetchone()[0]
    return Cursor(int(seq), int(change))


def since(conn: sqlite3.Connection, cursor: Cursor) -> Changes:
    """What changed after `cursor`, read from one snapshot."""
    conn.execute("BEGIN")
    try:
        now = _head(conn)
        found = conn.execute("SELECT value FROM meta WHERE key = 'changes_trimmed'").fetchone()
        trimmed = int(found[0]) if found else 0
        if cursor.change < trimmed or cursor.change > now.change or cursor.seq > now.seq:
            return Changes(now, reload=True)
        found_records = conn.execute("SELECT kind, seqs, upto FROM changes WHERE id > ? "
                                     "ORDER BY id", (cursor.change,)).fetchall()
        inserted = [r[0] for r in conn.execute(
            "SELECT seq FROM events WHERE seq > ? ORDER BY seq", (cursor.seq,))]
    finally:
        conn.execute("COMMIT")
    # Only what the follower can know of: events up to its cursor, not gone already.
    return records.changes(now, inserted,
                           ((kind, json.loads(seqs), upto) for kind, seqs, upto in found_records),
                           lambda seq: seq <= cursor.seq, cursor.seq)
