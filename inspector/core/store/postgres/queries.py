"""The SQL of the reads in PostgreSQL, and the filter grammar compiled into it.

Models are built by column name with the SQLite backend's builders (the SELECTs name their
columns as the model's fields). Free text is matched as SQLite does, on the stored columns:
the target and the headers case-insensitively, the body on its bytes (`encode(body,
'escape')` keeps ASCII as it is and spells every other byte `\\nnn`, so a term in the same
spelling matches exactly, with ASCII case folded). Searches scan: no index on the ingest
path (a trigram index on bodies cut COPY's rate by 6 in the spike).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from inspector.core.model import Answer, Attempt, Event, Row
from inspector.core.store.filter import Query, Term, since_seconds, status_range
from inspector.core.store.postgres import search as text_index
from inspector.core.store.postgres.writes import clean
from inspector.core.store.sqlite.queries import (
    _ATTEMPT,
    _EVENT,
    _ROW,
    _attempt_of,
    _event_of,
    _pairs,
)


def _named(cur: Any) -> Iterator[dict[str, Any]]:
    names = [d.name for d in cur.description]
    for values in cur:
        yield dict(zip(names, values, strict=True))


def scalar(conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
    found = conn.execute(sql, params).fetchone()
    return None if found is None else found[0]


def seqs(conn: Any) -> list[int]:
    return [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]


def rows(conn: Any, wanted: Sequence[int]) -> dict[int, Row]:
    cur = conn.execute(f"SELECT {_ROW} FROM events WHERE seq = ANY(%s)", (list(wanted),))
    return {fields["seq"]: Row(**fields) for fields in _named(cur)}


def events(conn: Any, wanted: Sequence[int]) -> list[Event]:
    """Whole events, in the order of `wanted` (missing ones left out)."""
    seqs = list(wanted)
    found = {f["seq"]: f for f in _named(conn.execute(
        f"SELECT {_EVENT} FROM events WHERE seq = ANY(%s)", (seqs,)))}
    bodies = {seq: bytes(body) for seq, body in conn.execute(
        "SELECT seq, body FROM bodies WHERE seq = ANY(%s)", (seqs,))}
    return [_event_of(found[seq], bodies.get(seq, b"")) for seq in seqs if seq in found]


def attempts_for(conn: Any, wanted: Sequence[int]) -> dict[int, list[Attempt]]:
    out: dict[int, list[Attempt]] = {}
    for fields in _named(conn.execute(
            f"SELECT {_ATTEMPT} FROM attempts WHERE seq = ANY(%s) ORDER BY id",
            (list(wanted),))):
        attempt = _attempt_of(fields)
        out.setdefault(attempt.event_seq, []).append(attempt)
    return out


def answers_for(conn: Any, wanted: Sequence[int]) -> dict[int, Answer]:
    return {seq: Answer(_pairs(headers), bytes(body)) for seq, headers, body in conn.execute(
        "SELECT seq, headers, body FROM answers WHERE seq = ANY(%s)", (list(wanted),))}


def search(conn: Any, query: Query, *, after: int, now: float | None, indexed: bool
           ) -> list[int]:
    """`indexed`: the trigram index of search.py exists (free text narrows through it)."""
    # Read first: documents are written before search_upto moves past them.
    upto = text_index.indexed_upto(conn) if indexed and query.texts else None
    where, params, needs_body = compile_query(query, now, indexed_upto=upto)
    join = " LEFT JOIN bodies b ON b.seq = e.seq" if needs_body else ""
    return [r[0] for r in conn.execute(
        f"SELECT e.seq FROM events e{join} WHERE e.seq > %s AND {where} ORDER BY e.seq",
        [after, *params])]


# -- the filter grammar in SQL -----------------------------------------------------------------

TARGET_SQL = "e.path || CASE WHEN e.query <> '' THEN '?' || e.query ELSE '' END"
_TEXT_SQL = (f"({TARGET_SQL}) ILIKE %s ESCAPE '!' OR e.headers ILIKE %s ESCAPE '!' "
             "OR lower(encode(b.body, 'escape')) LIKE %s ESCAPE '!'")
RELATED_SQL = ("e.related = %s OR e.delivery = %s OR e.id = %s "
               "OR e.related = (SELECT related FROM events WHERE id = %s) "
               "OR e.delivery = (SELECT delivery FROM events WHERE id = %s)")


def compile_query(query: Query, now: float | None = None, *, indexed_upto: int | None = None
                  ) -> tuple[str, list[Any], bool]:
    """SQL for a query over `events e LEFT JOIN bodies b`: (where, params, needs_body).
    `indexed_upto`: narrow free text through the trigram index, which covers the events up
    to this seq (search.CANDIDATES); None: scan."""
    now = time.time() if now is None else now
    parts: list[str] = []
    params: list[Any] = []
    needs_body = False
    for term in query.terms:
        args: list[Any]
        if term.field == "text":
            sql, args = _TEXT_SQL, list(_text_patterns(term.value))
            if indexed_upto is not None and not term.negated:
                sql, args = f"{text_index.CANDIDATES} AND ({sql})", [
                    args[0], args[2], indexed_upto, *args]
            needs_body = True
        else:
            sql, args = _field_clause(term, now)
        if term.negated:
            # NULL (never replayed) counts as "does not match", so its negation matches.
            sql = f"NOT coalesce(({sql}), false)"
        parts.append(f"({sql})")
        params.extend(args)
    return (" AND ".join(parts) if parts else "true"), params, needs_body


def _like(text: str) -> str:
    """`text` taken literally in LIKE ... ESCAPE '!'."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def escape_bytes(data: bytes) -> str:
    """`data` as PostgreSQL's encode(data, 'escape') spells it."""
    return "".join(f"\\{b:03o}" if b == 0 or b >= 0x80 else "\\\\" if b == 0x5C else chr(b)
                   for b in data)


def _text_patterns(term: str) -> list[str]:
    text = f"%{_like(clean(term))}%"
    body = f"%{_like(escape_bytes(term.encode('utf-8', 'surrogateescape').lower()))}%"
    return [text, text, body]


def _glob(pattern: str) -> str:
    """A glob (`*`, `?`) as a LIKE pattern (ESCAPE '!'), case-sensitive as SQLite's GLOB."""
    return _like(clean(pattern)).replace("*", "%").replace("?", "_")


def _field_clause(term: Term, now: float) -> tuple[str, list[Any]]:
    name, value = term.field, term.value
    if name == "method":
        return "e.method = ANY(%s)", [value.split(",")]
    if name in ("verdict", "provider", "kind", "id"):
        return f"e.{name} = %s", [clean(value)]
    if name in ("path", "rule"):
        return f"e.{name} LIKE %s ESCAPE '!'", [_glob(value)]
    if name == "result":
        if value == "failed":
            return "e.result_status = 0", []
        if value == "none":
            return "e.result_status IS NULL", []
        return _status_clause("e.result_status", value)
    if name == "answered":
        if value == "none":  # a fault: closed, reset or timed out without an answer
            return "e.status = 0", []
        return _status_clause("e.status", value)
    if name == "related":
        return RELATED_SQL, [clean(value)] * 5
    if name == "retry":
        return ("e.retry > 0" if value == "yes" else "e.retry = 0"), []
    if name == "since":
        return "e.received_at >= %s", [since_seconds(value, now)]
    raise AssertionError(name)


def _status_clause(column: str, value: str) -> tuple[str, list[Any]]:
    """`column` matching 4xx (a class) or 413 (a code)."""
    return f"{column} BETWEEN %s AND %s", list(status_range(value))
