"""The SQL of each write operation in PostgreSQL, run by the writer inside its transaction.

New events go in with multi-row INSERTs. The writer runs a batch in pipeline mode, so the
whole batch costs two round trips to the server: one that takes the seqs (and reads what
retries need), one that sends every INSERT, the NOTIFY and the COMMIT. Round trips matter
more than statements here: each one hands the GIL back to the event loop, and taking it
again can wait a whole switch interval (5 ms) while the loop is busy; measured in a
receiver under load, one round trip per statement made a batch take 14 ms.

Several writers get seqs that never collide, though their commits may land out of seq
order (the feed copes: see feed.py). The transaction takes its xid before its seqs (the
first column of the same row is evaluated first), so that a follower can tell when no
transaction can still commit a seq below one it saw.

PostgreSQL's `text` rejects U+0000: text columns get U+FFFD in its place (`clean`); JSON text
keeps it escaped, and bodies (`bytea`) stay byte-exact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from inspector.core.model import Attempt, Event
from inspector.core.store import derive, ops
from inspector.core.store.base import Prepare
from inspector.core.store.postgres import feed

# Event fields stored as they are; headers and notes are stored as JSON text.
_EVENT_PLAIN = ("seq", "id", "received_at", "method", "path", "query", "http_version",
                "client", "scheme", "body_size", "status", "refused", "provider", "kind",
                "summary", "verdict", "reason", "rule", "answer_note", "related", "delivery",
                "retry_of", "retry", "since_first")
_EVENT_COLUMNS = ", ".join((*_EVENT_PLAIN, "headers", "notes"))
_event_plain = attrgetter(*_EVENT_PLAIN)
_ATTEMPT_PLAIN = ("kind", "at", "method", "url", "status", "elapsed_ms", "error",
                  "response_body", "resigned", "edited", "forced", "note")
_ATTEMPT_COLUMNS = ", ".join(("seq", *_ATTEMPT_PLAIN, "response_headers"))
_attempt_plain = attrgetter(*_ATTEMPT_PLAIN)
_CHUNKS = (64, 16, 4, 1)  # rows per INSERT: a few statement shapes, each prepared once
NUL = "\x00"
SEQS = ("SELECT pg_current_xact_id(), nextval('events_seq') "
         "FROM generate_series(1, %s)")
# The latest stored event of each delivery key (what derive.link needs).
# The latest stored event of each delivery key (what derive.link needs), and the latest whose
# signature was not invalid (needed only when a forgery came last).
_LATEST = ("SELECT DISTINCT ON (delivery) delivery, id, received_at, retry_of, retry, "
           "since_first, verdict = 'invalid' FROM events WHERE delivery = ANY(%s) "
           "ORDER BY delivery, seq DESC")
_GENUINE = ("SELECT id, received_at, retry_of, retry, since_first FROM events "
            "WHERE delivery = %s AND verdict <> 'invalid' ORDER BY seq DESC LIMIT 1")


def clean(value: Any) -> Any:
    """A text value PostgreSQL accepts: U+0000 becomes U+FFFD (anything else as it is)."""
    if type(value) is str and NUL in value:
        return value.replace(NUL, "\ufffd")
    return value


def _row(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if any(type(v) is str and NUL in v for v in values):
        return tuple(clean(v) for v in values)
    return values


def set_meta(conn: Any, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                 "DO UPDATE SET value = excluded.value", (key, clean(value)))


def insert_many(conn: Any, events: list[Event], prepare: Prepare | None) -> list[Event]:
    """Analyse and insert events, assigning seqs in order: one round trip for the seqs and
    the retries' latest deliveries (in pipeline mode), then multi-row INSERTs."""
    derive.analyse(events, prepare)
    wanted = list({clean(e.delivery) for e in events if e.delivery is not None})
    seqs = conn.execute(SEQS, (len(events),))
    found = conn.execute(_LATEST, (wanted,)) if wanted else None
    for (_, seq), event in zip(sorted(seqs.fetchall(), key=lambda r: r[1]), events,
                               strict=True):
        event.seq = seq
    if found is not None:
        def genuine(key: str) -> derive.Delivery | None:
            row = conn.execute(_GENUINE, (key,)).fetchone()
            return None if row is None else derive.Delivery._make((*row, False))

        derive.link(events, {key: derive.Delivery._make(rest) for key, *rest in found.fetchall()},
                    genuine)
    _insert_events(conn, events)
    return events


def _insert_events(conn: Any, events: list[Event]) -> None:
    """Events with their seqs, bodies and answers (a custom one; the default is rebuilt)."""
    rows = []
    bodies = []
    answers = []
    for event in events:
        rows.append(_row((*_event_plain(event), json.dumps(event.headers),
                          json.dumps(event.notes) if event.notes else "[]")))
        bodies.append((event.seq, event.body))
        if event.answer is not None:  # a custom answer; the default one is rebuilt
            answers.append((event.seq, json.dumps(event.answer.headers), event.answer.body))
    _insert_rows(conn, "events", _EVENT_COLUMNS, rows)
    _insert_rows(conn, "bodies", "seq, body", bodies)
    if answers:
        _insert_rows(conn, "answers", "seq, headers, body", answers)


def _insert_rows(conn: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Multi-row INSERTs, a chunk at a time (queued, in pipeline mode)."""
    one = "(" + ",".join(["%s"] * len(rows[0])) + ")" if rows else ""
    start = 0
    while start < len(rows):
        size = next(c for c in _CHUNKS if c <= len(rows) - start)
        params = [value for row in rows[start : start + size] for value in row]
        conn.execute(f"INSERT INTO {table} ({columns}) VALUES {','.join([one] * size)}",
                     params)
        start += size


def import_events(conn: Any, items: Sequence[tuple[Event, Sequence[Attempt]]]) -> list[Event]:
    """Insert analysed events with their attempts, keeping ids; events already present
    (same id, or earlier in `items`) are skipped with their attempts."""
    ids = list({clean(event.id) for event, _ in items})
    known = {r[0] for r in conn.execute("SELECT id FROM events WHERE id = ANY(%s)", (ids,))}
    fresh = []
    for event, attempts in items:
        if clean(event.id) not in known:
            known.add(clean(event.id))
            fresh.append((event, attempts))
    if not fresh:
        return []
    events = insert_many(conn, [event for event, _ in fresh], None)
    for event, attempts in fresh:
        for attempt in attempts:
            attempt.event_seq = event.seq
            _insert_attempt(conn, attempt)
    return events


def restore(conn: Any, items: Sequence[tuple[Event, Sequence[Attempt]]], keep: int
            ) -> list[Event]:
    """Deleted events back with their seqs, ids, bodies, answers and attempts (an undo).
    One whose seq or id is taken (restored already) is skipped. Their seqs are old, so the
    feed records them (followers list them again)."""
    seqs = [event.seq for event, _ in items]
    taken = conn.execute("SELECT seq, id FROM events WHERE seq = ANY(%s) OR id = ANY(%s)",
                         (seqs, [clean(event.id) for event, _ in items])).fetchall()
    seen = {seq for seq, _ in taken}
    ids = {ident for _, ident in taken}
    fresh = []
    for event, attempts in items:
        if event.seq in seen or clean(event.id) in ids:
            continue
        seen.add(event.seq)
        fresh.append((event, attempts))
    events = [event for event, _ in fresh]
    if not events:
        return []
    _insert_events(conn, events)
    for event, attempts in fresh:
        for attempt in attempts:
            attempt.event_seq = event.seq
            _insert_attempt(conn, attempt, keep_id=True)
    feed.note(conn, feed.RESTORE, [event.seq for event in events], keep=keep)
    return events


def record_attempt(conn: Any, attempt: Attempt, keep: int) -> Attempt:
    _insert_attempt(conn, attempt)
    feed.note(conn, feed.UPDATE, [attempt.event_seq], keep=keep)
    return attempt


def _insert_attempt(conn: Any, attempt: Attempt, *, keep_id: bool = False) -> None:
    """The attempt, and the event's row result (its latest status, 0 for a failure).
    `keep_id`: under its own id when that is free (a restore: the sequence gave it once,
    so it never gives it again), else a new one."""
    values = _row((attempt.event_seq, *_attempt_plain(attempt),
                   json.dumps(attempt.response_headers)))
    marks = ", ".join(["%s"] * len(values))
    if keep_id and attempt.id:
        found = conn.execute(
            f"INSERT INTO attempts (id, {_ATTEMPT_COLUMNS}) VALUES (%s, {marks}) "
            "ON CONFLICT (id) DO NOTHING RETURNING id", (attempt.id, *values)).fetchone()
        if found is not None:
            conn.execute("UPDATE events SET result_status = %s, result_ms = %s WHERE seq = %s",
                         (attempt.status or 0, attempt.elapsed_ms, attempt.event_seq))
            return
    attempt.id = conn.execute(f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}) VALUES ({marks}) "
                              "RETURNING id", values).fetchone()[0]
    conn.execute("UPDATE events SET result_status = %s, result_ms = %s WHERE seq = %s",
                 (attempt.status or 0, attempt.elapsed_ms, attempt.event_seq))


def delete(conn: Any, seqs: Sequence[int], keep: int) -> int:
    wanted = list(seqs)
    deleted = _remove(conn, wanted)
    if deleted:
        feed.note(conn, feed.DELETE, wanted, keep=keep)
    return deleted


def _remove(conn: Any, seqs: list[int]) -> int:
    """Delete these events with their bodies, attempts and answers; how many were there."""
    deleted: int = conn.execute("WITH gone AS (DELETE FROM events WHERE seq = ANY(%s) "
                                "RETURNING 1) SELECT count(*) FROM gone", (seqs,)).fetchone()[0]
    for table in ("bodies", "attempts", "answers"):
        conn.execute(f"DELETE FROM {table} WHERE seq = ANY(%s)", (seqs,))
    return deleted


def prune(conn: Any, op: ops.Prune, keep: int) -> int:
    """Retention (EventStore.prune): delete what derive.doomed picks. The feed gets one
    record: `upto` below the oldest event left, and the seqs deleted above it."""
    doomed = derive.doomed(
        conn, op, lambda: conn.execute("SELECT count(*) FROM events").fetchone()[0], "%s")
    if not doomed:
        return 0
    deleted = _remove(conn, doomed)
    oldest = conn.execute("SELECT min(seq) FROM events").fetchone()[0]
    upto = max(doomed) if oldest is None else oldest - 1
    feed.note(conn, feed.DELETE, [s for s in doomed if s > upto], upto=upto, keep=keep)
    return deleted


def clear(conn: Any, keep: int) -> int:
    """Delete every event this transaction sees (one a writer commits meanwhile stays)."""
    # One statement, one snapshot: what goes with the events is exactly theirs.
    deleted, upto = conn.execute(
        "WITH gone AS (DELETE FROM events RETURNING seq), "
        "b AS (DELETE FROM bodies WHERE seq IN (SELECT seq FROM gone)), "
        "t AS (DELETE FROM attempts WHERE seq IN (SELECT seq FROM gone)), "
        "a AS (DELETE FROM answers WHERE seq IN (SELECT seq FROM gone)) "
        "SELECT count(*), coalesce(max(seq), 0) FROM gone").fetchone()
    feed.note(conn, feed.CLEAR, upto=upto, keep=keep)
    return int(deleted)


def set_verdicts(conn: Any, changes: Sequence[ops.VerdictChange], keep: int) -> int:
    """Re-verified events' provider, verdict and reason."""
    if not changes:
        return 0
    cur = conn.cursor()
    cur.executemany("UPDATE events SET provider = %s, verdict = %s, reason = %s "
                    "WHERE seq = %s",
                    [_row((c.provider, c.verdict, c.reason, c.seq)) for c in changes])
    feed.note(conn, feed.UPDATE, [c.seq for c in changes], keep=keep)
    return len(changes)


def set_answer(conn: Any, op: ops.SetAnswer, keep: int) -> None:
    """What the sender got, once known after the insert (see EventStore.set_answer)."""
    conn.execute("UPDATE events SET status = %s, answer_note = coalesce(%s, answer_note) "
                 "WHERE seq = %s", (op.status, clean(op.note), op.seq))
    if op.answer is None:
        conn.execute("DELETE FROM answers WHERE seq = %s", (op.seq,))
    else:
        conn.execute("INSERT INTO answers (seq, headers, body) VALUES (%s, %s, %s) "
                     "ON CONFLICT (seq) DO UPDATE SET headers = excluded.headers, "
                     "body = excluded.body",
                     (op.seq, json.dumps(op.answer.headers), op.answer.body))
    feed.note(conn, feed.UPDATE, [op.seq], keep=keep)
