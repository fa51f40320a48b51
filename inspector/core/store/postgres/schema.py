"""The PostgreSQL schema and its migrations (meta `schema_version` says which one a database
has). Migrations run in one transaction under an advisory lock, so receivers starting at
once on a new database do not race; every database reaches the same schema by the same steps.

Text columns are `text`, JSON (headers, notes) is stored as text, not `jsonb`: PostgreSQL's
`text` and `jsonb` reject U+0000, and JSON text keeps it escaped. Bodies are `bytea`, exact.
Seqs come from one sequence, so several writers never collide.
"""

from __future__ import annotations

from typing import Any

from inspector.core.store.errors import StoreError

MIGRATE_LOCK = 0x1A5EC7_0001  # pg_advisory_xact_lock keys (any constant of our own)
CHANGES_LOCK = 0x1A5EC7_0002
SEARCH_LOCK = 0x1A5EC7_0003

_V1 = """
CREATE SEQUENCE IF NOT EXISTS events_seq;
CREATE TABLE IF NOT EXISTS events (
    seq bigint PRIMARY KEY,
    id text NOT NULL UNIQUE,
    received_at double precision NOT NULL,
    method text NOT NULL,
    path text NOT NULL,
    query text NOT NULL DEFAULT '',
    http_version text NOT NULL DEFAULT '',
    client text NOT NULL DEFAULT '',
    scheme text NOT NULL DEFAULT 'http',
    headers text NOT NULL,
    body_size bigint NOT NULL,
    status integer NOT NULL,
    refused text NOT NULL DEFAULT '',
    notes text NOT NULL DEFAULT '[]',
    provider text NOT NULL DEFAULT '',
    kind text NOT NULL DEFAULT '',
    summary text NOT NULL DEFAULT '',
    verdict text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    result_status integer,
    result_ms double precision,
    rule text NOT NULL DEFAULT '',
    answer_note text NOT NULL DEFAULT '',
    related text,
    delivery text,
    retry_of text,
    retry integer NOT NULL DEFAULT 0,
    since_first double precision NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_related ON events (related) WHERE related IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_delivery ON events (delivery, seq)
    WHERE delivery IS NOT NULL;
CREATE TABLE IF NOT EXISTS bodies (
    seq bigint PRIMARY KEY,
    body bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id bigserial PRIMARY KEY,
    seq bigint NOT NULL,
    kind text NOT NULL,
    at double precision NOT NULL,
    method text NOT NULL,
    url text NOT NULL,
    status integer,
    elapsed_ms double precision NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    response_headers text NOT NULL DEFAULT '[]',
    response_body bytea NOT NULL DEFAULT '',
    resigned boolean NOT NULL DEFAULT false,
    edited boolean NOT NULL DEFAULT false,
    forced boolean NOT NULL DEFAULT false,
    note text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS attempts_seq ON attempts (seq);
CREATE TABLE IF NOT EXISTS answers (
    seq bigint PRIMARY KEY,
    headers text NOT NULL,
    body bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    seqs bigint[] NOT NULL DEFAULT '{}',
    upto bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (
    key text PRIMARY KEY,
    value text NOT NULL
)
"""

# The free-text documents (search.py); the trigram index on them is made when pg_trgm can be.
_V2 = """
CREATE TABLE IF NOT EXISTS search_docs (
    seq bigint PRIMARY KEY,
    doc text NOT NULL,
    whole boolean NOT NULL
)
"""

# Each entry brings a database from version n to n + 1.
MIGRATIONS: list[str] = [_V1, _V2]
SCHEMA_VERSION = len(MIGRATIONS)



def migrate(conn: Any, where: str) -> None:
    """Bring the database to SCHEMA_VERSION (StoreError when it is not ours, or newer).
    `conn` is not in autocommit mode; this commits."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
    version = _version(conn, where)
    if version > SCHEMA_VERSION:
        raise _newer(where, version)
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step].split(";"):
            if statement.strip():
                conn.execute(statement)
    if version < SCHEMA_VERSION:
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (str(SCHEMA_VERSION),))
    conn.commit()


def check_readable(conn: Any, where: str) -> None:
    """What a read-only store needs: an inspector database of this very schema."""
    version = _version(conn, where)
    if version == 0:
        raise StoreError(f"{where} has no inspector events yet: start `inspector serve --db "
                         "URL` on it first")
    if version > SCHEMA_VERSION:
        raise _newer(where, version)
    if version < SCHEMA_VERSION:
        raise StoreError(f"{where} has the schema of an older webhook-inspector ({version}; "
                         f"this one reads {SCHEMA_VERSION}): start `inspector serve` on it "
                         "once to upgrade it")


def _version(conn: Any, where: str) -> int:
    has_meta, has_events = conn.execute("SELECT to_regclass('meta') IS NOT NULL, "
                                        "to_regclass('events') IS NOT NULL").fetchone()
    value = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
        if has_meta else None
    if value is None:
        if has_events:
            raise StoreError(f"{where} has an `events` table that is not an inspector's: use "
                             "a database of its own (createdb inspector)")
        return 0
    return int(value[0])


def _newer(where: str, version: int) -> StoreError:
    return StoreError(f"{where} was written by a newer webhook-inspector (schema {version}, "
                      f"this one knows {SCHEMA_VERSION}): upgrade webhook-inspector")
