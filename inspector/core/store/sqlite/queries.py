"""The SQL of the reads, and the filter grammar compiled into SQL.

Models are built by column name: each SELECT names its columns as the model's fields
(`body_size AS size`), and rows become keyword arguments.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspector.core.model import Answer, Attempt, Event, HeaderList, Row
from inspector.core.store.filter import Query, Term, since_seconds, status_range
from inspector.core.store.sqlite import search as text_index

_ROW = ("seq, id, received_at, method, path, query, kind, summary, body_size AS size, "
        "verdict, status, refused, provider, result_status AS result, result_ms, rule, "
        "answer_note, related, retry_of, retry, since_first")
_EVENT = ("seq, id, received_at, method, path, query, http_version, client, scheme, headers, "
          "body_size, status, refused, notes, provider, kind, summary, verdict, reason, rule, "
          "answer_note, related, delivery, retry_of, retry, since_first")
_ATTEMPT = ("id, seq AS event_seq, kind, at, method, url, status, elapsed_ms, error, "
            "response_headers, response_body, resigned, edited, forced, note")
CHUNK = 500  # seqs per IN (...) list, well under SQLite's limit on parameters


def _named(cur: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    for values in cur:
        yield dict(zip(names, values, strict=True))


def _pairs(text: str) -> HeaderList:
    return [(str(k), str(v)) for k, v in json.loads(text)]


def chunks(seqs: Sequence[int]) -> Iterator[tuple[list[int], str]]:
    """`seqs` a chunk at a time, with the chunk's `?,?,...` placeholders."""
    for start in range(0, len(seqs), CHUNK):
        chunk = list(seqs[start : start + CHUNK])
        yield chunk, ",".join("?" * len(chunk))


def scalar(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row (None when there is none)."""
    found = conn.execute(sql, params).fetchone()
    return None if found is None else found[0]


def seqs(conn: sqlite3.Connection) -> list[int]:
    """Every stored seq, oldest first: the range from the oldest to the newest less the
    gaps (schema v8), never a read of the events table (a million events: 20-50 ms)."""
    with _snapshot(conn):
        oldest, newest = conn.execute(_ENDS).fetchone()
        gaps = [r[0] for r in conn.execute(
            "SELECT seq FROM gaps WHERE seq > ? AND seq < ? ORDER BY seq", (oldest, newest))]
    out: list[int] = []
    if oldest is None:
        return out
    start = oldest
    for gap in gaps:
        out.extend(range(start, gap))
        start = gap + 1
    out.extend(range(start, newest + 1))
    return out


def count(conn: sqlite3.Connection) -> int:
    """How many events are stored, from the ends and the gaps (see `seqs`)."""
    with _snapshot(conn):
        oldest, newest = conn.execute(_ENDS).fetchone()
        if oldest is None:
            return 0
        gaps = conn.execute("SELECT count(*) FROM gaps WHERE seq > ? AND seq < ?",
                            (oldest, newest)).fetchone()[0]
    return int(newest - oldest + 1 - gaps)


@contextlib.contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Reads from one snapshot: a transaction of their own, unless one is open (the
    writer's)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


# Two lookups at the ends of the seq index (a single min() or max() is one lookup).
_ENDS = "SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events)"


def rows(conn: sqlite3.Connection, wanted: Sequence[int]) -> dict[int, Row]:
    out: dict[int, Row] = {}
    for chunk, marks in chunks(wanted):
        for fields in _named(conn.execute(
                f"SELECT {_ROW} FROM events WHERE seq IN ({marks})", chunk)):
            out[fields["seq"]] = Row(**fields)
    return out


def events(conn: sqlite3.Connection, wanted: Sequence[int]) -> list[Event]:
    """Whole events, in the order of `wanted` (missing ones left out)."""
    found: dict[int, dict[str, Any]] = {}
    bodies: dict[int, bytes] = {}
    for chunk, marks in chunks(wanted):
        for fields in _named(conn.execute(
                f"SELECT {_EVENT} FROM events WHERE seq IN ({marks})", chunk)):
            found[fields["seq"]] = fields
        for seq, body in conn.execute(f"SELECT seq, body FROM bodies WHERE seq IN ({marks})",
                                      chunk):
            bodies[seq] = bytes(body)
    return [_event_of(found[seq], bodies.get(seq, b"")) for seq in wanted if seq in found]


def _event_of(fields: dict[str, Any], body: bytes) -> Event:
    fields["headers"] = _pairs(fields["headers"])
    fields["notes"] = list(json.loads(fields["notes"]))
    return Event(**fields, body=body)


def attempts_for(conn: sqlite3.Connection, wanted: Sequence[int]) -> dict[int, list[Attempt]]:
    out: dict[int, list[Attempt]] = {}
    for chunk, marks in chunks(wanted):
        for fields in _named(conn.execute(
                f"SELECT {_ATTEMPT} FROM attempts WHERE seq IN ({marks}) ORDER BY id", chunk)):
            attempt = _attempt_of(fields)
            out.setdefault(attempt.event_seq, []).append(attempt)
    return out


def _attempt_of(fields: dict[str, Any]) -> Attempt:
    fields["response_headers"] = _pairs(fields["response_headers"])
    fields["response_body"] = bytes(fields["response_body"])
    for flag in ("resigned", "edited", "forced"):
        fields[flag] = bool(fields[flag])
    return Attempt(**fields)


def answers_for(conn: sqlite3.Connection, wanted: Sequence[int]) -> dict[int, Answer]:
    out: dict[int, Answer] = {}
    for chunk, marks in chunks(wanted):
        for fields in _named(conn.execute(
                f"SELECT seq, headers, body FROM answers WHERE seq IN ({marks})", chunk)):
            out[fields["seq"]] = Answer(_pairs(fields["headers"]), bytes(fields["body"]))
    return out


def search(conn: sqlite3.Connection, query: Query, *, after: int, now: float | None,
           searchable: bool) -> list[int]:
    """Seqs matching `query`; `searchable`: the trigram side file is attached."""
    # One snapshot for the index state and the query (see search.indexed_upto).
    conn.execute("BEGIN")
    try:
        upto = text_index.indexed_upto(conn) if searchable else 0
        compiled = compile_query(
            query, now, indexed_upto=upto,
            use_index=lambda term: text_index.worth_using(conn, term, upto))
        join = " LEFT JOIN bodies b ON b.seq = e.seq" if compiled.needs_body else ""
        # Without `after`, no seq condition: it would steer SQLite off the indexes.
        where = f"e.seq > {int(after)} AND " if after else ""
        found = conn.execute(
            f"SELECT e.seq FROM events e{join} WHERE {where}{compiled.where} "
            "ORDER BY e.seq", compiled.params).fetchall()
    finally:
        conn.execute("COMMIT")
    return [r[0] for r in found]


def indexed_upto(conn: sqlite3.Connection) -> int:
    conn.execute("BEGIN")
    try:
        return text_index.indexed_upto(conn)
    finally:
        conn.execute("COMMIT")


# -- the filter grammar in SQL -----------------------------------------------------------------


@dataclass(slots=True)
class Compiled:
    where: str  # "1" when there is nothing to filter
    params: list[Any] = field(default_factory=list)
    needs_body: bool = False  # the SQL refers to b.body (join bodies b)



def compile_query(query: Query, now: float | None = None, *, indexed_upto: int = 0,
                  use_index: Callable[[str], bool] | None = None) -> Compiled:
    """SQL for a query over `events e LEFT JOIN bodies b`.

    `indexed_upto`: the free-text index covers events up to this seq (0: no index; search
    everything by scanning). `use_index(term)`: whether to use it for that term.
    """
    now = time.time() if now is None else now
    parts: list[str] = []
    params: list[Any] = []
    needs_body = False
    for term in query.terms:
        if term.field == "text":
            wanted = use_index is None or use_index(term.value)
            sql, args = text_index.text_clause(term.value, indexed_upto if wanted else 0)
            needs_body = True
        else:
            sql, args = _field_clause(term, now)
        if term.negated:
            # NULL (never replayed) counts as "does not match", so its negation matches.
            sql = f"NOT coalesce(({sql}), 0)"
        parts.append(f"({sql})")
        params.extend(args)
    return Compiled(" AND ".join(parts) if parts else "1", params, needs_body)


def _field_clause(term: Term, now: float) -> tuple[str, list[Any]]:
    name, value = term.field, term.value
    if name == "method":
        methods = value.split(",")
        return f"e.method IN ({','.join('?' * len(methods))})", list(methods)
    if name in ("verdict", "provider", "kind", "id"):
        return f"e.{name} = ?", [value]
    if name in ("path", "rule"):
        # GLOB: * and ? are wildcards, case-sensitive; '[' is taken literally.
        return f"e.{name} GLOB ?", [value.replace("[", "[[]")]
    if name == "result":
        if value == "failed":
            return "e.result_status = 0", []
        if value == "none":
            return "+e.result_status IS NULL", []  # '+': most rows; a scan beats the index
        return _status_clause("e.result_status", value)
    if name == "answered":
        if value == "none":  # a fault: closed, reset or timed out without an answer
            return "e.status = 0", []
        return _status_clause("e.status", value)
    if name == "related":
        return RELATED_SQL, [value] * 5
    if name == "retry":
        return ("e.retry > 0" if value == "yes" else "e.retry = 0"), []
    if name == "since":
        # Two-sided, so SQLite expects few rows and uses the received_at index.
        return "e.received_at BETWEEN ? AND 1e15", [since_seconds(value, now)]
    raise AssertionError(name)


# The events about the object `?` names: its key, a delivery id, or an event's id (that
# event, and what it is about). Each term is indexed (partial indexes: `= ?` implies NOT
# NULL; the subqueries run once), so SQLite unions index lookups instead of scanning.
RELATED_SQL = ("e.related = ? OR e.delivery = ? OR e.id = ? "
               "OR e.related = (SELECT related FROM events WHERE id = ?) "
               "OR e.delivery = (SELECT delivery FROM events WHERE id = ?)")


def _status_clause(column: str, value: str) -> tuple[str, list[Any]]:
    """`column` matching 4xx (a class) or 413 (a code)."""
    return f"{column} BETWEEN ? AND ?", list(status_range(value))
