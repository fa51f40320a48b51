"""The SQL of each write operation, run by the writer thread inside its transaction.

Values are taken from the model by column name (`attrgetter` over the column list), so a
column list and its values cannot drift apart. Updates, deletes, restores and clears are
recorded in the change feed in the same transaction (feed.note).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from inspector.core.model import Attempt, Event
from inspector.core.store import derive, ops
from inspector.core.store.base import Prepare
from inspector.core.store.sqlite import feed, queries

# Event fields stored as they are; headers and notes are stored as JSON.
_EVENT_PLAIN = ("seq", "id", "received_at", "method", "path", "query", "http_version",
                "client", "scheme", "body_size", "status", "refused", "provider", "kind",
                "summary", "verdict", "reason", "rule", "answer_note", "related", "delivery",
                "retry_of", "retry", "since_first")
_EVENT_COLUMNS = (*_EVENT_PLAIN, "headers", "notes")
_event_plain = attrgetter(*_EVENT_PLAIN)
_ATTEMPT_PLAIN = ("kind", "at", "method", "url", "status", "elapsed_ms", "error",
                  "response_body", "resigned", "edited", "forced", "note")
_ATTEMPT_COLUMNS = ("seq", *_ATTEMPT_PLAIN, "response_headers")
_attempt_plain = attrgetter(*_ATTEMPT_PLAIN)
_CHUNKS = (64, 16, 4, 1)  # statement sizes: a few SQL strings, all kept prepared
STALE_FLOOR = 10_000  # deleted events the search index may keep entries for, at least


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def insert_many(conn: sqlite3.Connection, events: list[Event], prepare: Prepare | None
                ) -> list[Event]:
    """Analyse and insert events, assigning seqs in order (one executemany per table)."""
    # Seqs are never reused, even after the newest events were deleted (see keep_top).
    top = conn.execute(feed.TOP_SQL).fetchone()[0]
    derive.analyse(events, prepare)
    for seq, event in enumerate(events, top + 1):
        event.seq = seq
    link_retries(conn, events)
    _insert_events(conn, events)
    return events


def _insert_events(conn: sqlite3.Connection, events: list[Event]) -> None:
    """Events with their seqs, bodies and answers (a custom one; the default is rebuilt)."""
    rows = []
    bodies = []
    answers = []
    for event in events:
        seq = event.seq
        if event.answer is not None:  # a custom answer; the default one is rebuilt
            answers.append((seq, json.dumps(event.answer.headers), event.answer.body))
        rows.append((*_event_plain(event), json.dumps(event.headers),
                     json.dumps(event.notes) if event.notes else "[]"))
        bodies.append((seq, event.body))
    _insert_rows(conn, "events", _EVENT_COLUMNS, rows)
    _insert_rows(conn, "bodies", ("seq", "body"), bodies)
    if answers:
        _insert_rows(conn, "answers", ("seq", "headers", "body"), answers)


# The latest stored event of each delivery key in a VALUES list: one indexed probe per key
# (max(seq) of a key is the last entry of its run in the delivery index).
_LATEST = ("SELECT k.column1, e.id, e.received_at, e.retry_of, e.retry, e.since_first, "
           "e.verdict = 'invalid' FROM (VALUES {}) k JOIN events e ON e.seq = "
           "(SELECT max(seq) FROM events WHERE delivery = k.column1)")
# The latest of a key whose signature was not invalid: back along the key's run, past the
# forgeries since (needed only when a forgery came last).
_GENUINE = ("SELECT id, received_at, retry_of, retry, since_first FROM events "
            "WHERE delivery = ? AND verdict != 'invalid' ORDER BY seq DESC LIMIT 1")


def link_retries(conn: sqlite3.Connection, events: list[Event]) -> None:
    """Mark each event that repeats an earlier delivery as a retry of it (derive.link)."""
    wanted = list({e.delivery for e in events if e.delivery is not None})
    if not wanted:
        return
    latest: dict[str, derive.Delivery] = {}
    start = 0
    while start < len(wanted):
        size = next(c for c in _CHUNKS if c <= len(wanted) - start)
        chunk = wanted[start : start + size]
        for key, *found, invalid in conn.execute(_LATEST.format(",".join(["(?)"] * size)),
                                                 chunk):
            latest[key] = derive.Delivery._make((*found, bool(invalid)))
        start += size

    def genuine(key: str) -> derive.Delivery | None:
        row = conn.execute(_GENUINE, (key,)).fetchone()
        return None if row is None else derive.Delivery._make((*row, False))

    derive.link(events, latest, genuine)


def _insert_rows(conn: sqlite3.Connection, table: str, columns: Sequence[str],
                 rows: list[tuple[Any, ...]]) -> None:
    """Multi-row INSERTs: one sqlite3 call per chunk rather than per row.

    Each call releases and retakes the GIL; per-row calls made the writer thread fight the
    event loop for it thousands of times a second.
    """
    one = "(" + ",".join("?" * len(columns)) + ")"
    names = ", ".join(columns)
    start = 0
    while start < len(rows):
        size = next(c for c in _CHUNKS if c <= len(rows) - start)
        chunk = rows[start : start + size]
        params = [value for row in chunk for value in row]
        conn.execute(f"INSERT INTO {table} ({names}) VALUES {','.join([one] * size)}", params)
        start += size


def import_events(conn: sqlite3.Connection, items: Sequence[tuple[Event, Sequence[Attempt]]]
                  ) -> list[Event]:
    """Insert analysed events with their attempts, keeping ids; events already present
    (same id, or earlier in `items`) are skipped with their attempts. Returns the new ones.
    New events are inserts: the feed finds them by seq, so nothing is recorded."""
    seen: set[str] = set()
    fresh = []
    for event, attempts in items:
        if event.id in seen:
            continue
        seen.add(event.id)
        if not conn.execute("SELECT 1 FROM events WHERE id = ?", (event.id,)).fetchone():
            fresh.append((event, attempts))
    events = insert_many(conn, [event for event, _ in fresh], None)
    for event, attempts in fresh:
        for attempt in attempts:
            attempt.event_seq = event.seq
            _insert_attempt(conn, attempt)
    return events


def restore(conn: sqlite3.Connection, items: Sequence[tuple[Event, Sequence[Attempt]]],
            keep: int) -> list[Event]:
    """Deleted events back with their seqs, ids, bodies, answers and attempts (an undo).
    One whose seq or id is taken (restored already) is skipped. Their seqs are old, so the
    feed records them (followers list them again); the search index still holds them (an
    indexed seq always means the same event)."""
    seen: set[int] = set()
    fresh = []
    for event, attempts in items:
        if event.seq in seen or conn.execute("SELECT 1 FROM events WHERE seq = ? OR id = ?",
                                             (event.seq, event.id)).fetchone():
            continue
        seen.add(event.seq)
        fresh.append((event, attempts))
    events = [event for event, _ in fresh]
    oldest = conn.execute("SELECT min(seq) FROM events").fetchone()[0]
    _insert_events(conn, events)
    for event, attempts in fresh:
        for attempt in attempts:
            attempt.event_seq = event.seq
            _insert_attempt(conn, attempt, keep_id=True)
    if events:
        _restore_gaps(conn, [event.seq for event in events], oldest)
        feed.note(conn, feed.RESTORE, [event.seq for event in events], keep=keep)
    return events


def _restore_gaps(conn: sqlite3.Connection, seqs: list[int], oldest: int | None) -> None:
    """Restored seqs are no longer gaps; below the oldest event before the restore (`oldest`,
    None: the store was empty) the gaps were forgotten, so the seqs there that stay deleted
    become gaps again (queries.seqs)."""
    for chunk, marks in queries.chunks(seqs):
        conn.execute(f"DELETE FROM gaps WHERE seq IN ({marks})", chunk)
    below = conn.execute(feed.TOP_SQL).fetchone()[0] + 1 if oldest is None else oldest
    back = set(seqs)
    missing = [s for s in range(min(seqs), below) if s not in back]
    _add_gaps(conn, missing)


def record_attempt(conn: sqlite3.Connection, attempt: Attempt, keep: int) -> Attempt:
    _insert_attempt(conn, attempt)
    feed.note(conn, feed.UPDATE, [attempt.event_seq], keep=keep)
    return attempt


def _insert_attempt(conn: sqlite3.Connection, attempt: Attempt, *, keep_id: bool = False
                    ) -> None:
    """The attempt, and the event's row result (its latest status, 0 for a failure).
    `keep_id`: under its own id when that is free (a restore), else a new one."""
    given = attempt.id if keep_id and attempt.id and not conn.execute(
        "SELECT 1 FROM attempts WHERE id = ?", (attempt.id,)).fetchone() else None
    values = (given, attempt.event_seq, *_attempt_plain(attempt),
              json.dumps(attempt.response_headers))
    cur = conn.execute(f"INSERT INTO attempts (id, {', '.join(_ATTEMPT_COLUMNS)}) VALUES "
                       f"({','.join('?' * (len(_ATTEMPT_COLUMNS) + 1))})", values)
    attempt.id = cur.lastrowid or 0
    conn.execute(
        "UPDATE events SET result_status = ?, result_ms = ? WHERE seq = ?",
        (attempt.status or 0, attempt.elapsed_ms, attempt.event_seq),
    )


def delete(conn: sqlite3.Connection, seqs: Sequence[int], keep: int) -> int:
    keep_top(conn)
    deleted = _remove(conn, seqs)
    if deleted:
        _add_gaps(conn, seqs)
        feed.note(conn, feed.DELETE, seqs, keep=keep)
    return deleted


def _remove(conn: sqlite3.Connection, seqs: Sequence[int]) -> int:
    """Delete events with their bodies, attempts and answers; returns how many."""
    deleted = 0
    for chunk, marks in queries.chunks(seqs):
        deleted += conn.execute(f"DELETE FROM events WHERE seq IN ({marks})", chunk).rowcount
        conn.execute(f"DELETE FROM bodies WHERE seq IN ({marks})", chunk)
        conn.execute(f"DELETE FROM attempts WHERE seq IN ({marks})", chunk)
        conn.execute(f"DELETE FROM answers WHERE seq IN ({marks})", chunk)
    return deleted


def _add_gaps(conn: sqlite3.Connection, seqs: Sequence[int]) -> None:
    """Note deleted seqs as gaps (queries.seqs), then forget the gaps before the oldest
    event left (all of them once the store is empty: the next seq is past every one)."""
    for chunk, _ in queries.chunks(seqs):
        conn.execute(f"INSERT OR IGNORE INTO gaps (seq) VALUES {','.join(['(?)'] * len(chunk))}",
                     chunk)
    conn.execute("DELETE FROM gaps WHERE seq < coalesce((SELECT min(seq) FROM events), "
                 "(SELECT max(seq) + 1 FROM gaps))")


def clear(conn: sqlite3.Connection, keep: int) -> int:
    keep_top(conn)
    deleted = conn.execute("DELETE FROM events").rowcount
    conn.execute("DELETE FROM bodies")
    conn.execute("DELETE FROM attempts")
    conn.execute("DELETE FROM answers")
    conn.execute("DELETE FROM gaps")
    _reset_search(conn)
    feed.note(conn, feed.CLEAR, upto=conn.execute(feed.TOP_SQL).fetchone()[0], keep=keep)
    return deleted


def _reset_search(conn: sqlite3.Connection) -> None:
    """Ask the search indexer to drop what it holds and start again (see search.py)."""
    conn.execute("INSERT INTO meta (key, value) VALUES ('search_reset', '1') "
                 "ON CONFLICT (key) DO UPDATE SET "
                 "value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)")


def prune(conn: sqlite3.Connection, op: ops.Prune, keep: int) -> int:
    """Retention (EventStore.prune): delete what derive.doomed picks. The feed gets one
    record: `upto` below the oldest event left, and the seqs deleted above it."""
    doomed = derive.doomed(conn, op, lambda: queries.count(conn), "?")
    if not doomed:
        return 0
    keep_top(conn)
    deleted = _remove(conn, doomed)
    oldest = conn.execute("SELECT min(seq) FROM events").fetchone()[0]
    upto = conn.execute(feed.TOP_SQL).fetchone()[0] if oldest is None else oldest - 1
    above = [s for s in doomed if s > upto]
    _add_gaps(conn, above)
    _count_stale(conn, deleted)
    feed.note(conn, feed.DELETE, above, upto=upto, keep=keep)
    return deleted


def _count_stale(conn: sqlite3.Connection, deleted: int) -> None:
    """The search index keeps an entry for each deleted event (harmless, see search.py);
    under retention they would pile up for ever. Once they outnumber the events kept (and
    10,000), the indexer is asked to start again: its side file stays in proportion to the
    store, for one re-indexing (in the background) per that many deletions."""
    found = conn.execute("SELECT value FROM meta WHERE key = 'search_stale'").fetchone()
    stale = (int(found[0]) if found else 0) + deleted
    if stale > max(queries.count(conn), STALE_FLOOR):
        _reset_search(conn)
        stale = 0
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('search_stale', ?)",
                 (str(stale),))


def keep_top(conn: sqlite3.Connection) -> None:
    """Remember the highest seq ever used, so deleting the newest events never frees their
    seqs for new events (the UI, the search index and the change feed take a seq to mean
    one event)."""
    # max(seq) alone is one look at the end of the table; inside INSERT ... SELECT FROM
    # (SELECT max(seq)) SQLite scanned all of it (64 ms at a million events).
    top = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
    if top is not None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('top_seq', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = "
            "CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
            (str(top),))


def set_verdicts(conn: sqlite3.Connection, changes: Sequence[ops.VerdictChange], keep: int
                 ) -> int:
    """Re-verified events' provider, verdict and reason."""
    conn.executemany(
        "UPDATE events SET provider = ?, verdict = ?, reason = ? WHERE seq = ?",
        [(c.provider, c.verdict, c.reason, c.seq) for c in changes],
    )
    if changes:
        feed.note(conn, feed.UPDATE, [c.seq for c in changes], keep=keep)
    return len(changes)


def set_answer(conn: sqlite3.Connection, op: ops.SetAnswer, keep: int) -> None:
    """What the sender got, once known after the insert: a mirrored downstream answer, a
    held request's, a fault's outcome. `answer` None: the default one (rebuilt from the
    status); `note` None: unchanged."""
    conn.execute("UPDATE events SET status = ?, answer_note = coalesce(?, answer_note) "
                 "WHERE seq = ?", (op.status, op.note, op.seq))
    if op.answer is None:
        conn.execute("DELETE FROM answers WHERE seq = ?", (op.seq,))
    else:
        conn.execute("INSERT OR REPLACE INTO answers (seq, headers, body) VALUES (?, ?, ?)",
                     (op.seq, json.dumps(op.answer.headers), op.answer.body))
    feed.note(conn, feed.UPDATE, [op.seq], keep=keep)
