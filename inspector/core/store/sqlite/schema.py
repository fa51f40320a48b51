"""The SQLite schema and its migrations (PRAGMA user_version says which one a file has)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from inspector.core.store.errors import StoreError, explain
from inspector.core.store.sqlite.feed import TOP_SQL

SCHEMA_VERSION = 8

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


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the database at `conn` to SCHEMA_VERSION, in WAL mode (StoreError if it cannot)."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _newer(path, version)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise explain(exc, path) from exc


def check_readable(conn: sqlite3.Connection, path: str) -> None:
    """What a read-only connection needs: an inspector database of this very schema (a
    reader cannot migrate one). StoreError saying what to do otherwise."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _newer(path, version)
        if version == 0 or not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        ).fetchone():
            raise StoreError(f"{path} is not an inspector database: use --db with the file "
                             "`inspector serve` writes")
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{path} has the schema of an older webhook-inspector ({version}; this one "
                f"reads {SCHEMA_VERSION}): start `inspector serve --db {path}` once to upgrade it")
    except sqlite3.Error as exc:
        raise explain(exc, path) from exc


def _newer(path: str, version: int) -> StoreError:
    return StoreError(f"{path} was written by a newer webhook-inspector (schema {version}, this "
                      f"one knows {SCHEMA_VERSION}): upgrade, or use --db with another file")


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


def _migrate_v5(conn: sqlite3.Connection) -> None:
    """The change feed's records (see feed.py): updates, deletes and clears, so that another
    process can follow them. Inserts need none: they are the events past a cursor's seq.
    AUTOINCREMENT: a record's id is never reused after old records are trimmed."""
    conn.execute("CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                 "kind TEXT NOT NULL, seqs TEXT NOT NULL DEFAULT '[]', "
                 "upto INTEGER NOT NULL DEFAULT 0)")


def _migrate_v6(conn: sqlite3.Connection) -> None:
    """Answer rules: the rule that decided each event's answer, and how it was answered when
    that needs saying (a sequence's step, a fault, a breakpoint). No index: `rule:` scans,
    and ingest pays nothing more."""
    conn.execute("ALTER TABLE events ADD COLUMN rule TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE events ADD COLUMN answer_note TEXT NOT NULL DEFAULT ''")


def _migrate_v7(conn: sqlite3.Connection) -> None:
    """What each event is about (`related`), which delivery it is (`delivery`), and whether
    it repeats an earlier delivery (`retry_of`: the first one's id, `retry`: its number,
    `since_first`: seconds after the first). NULL when not known: events stored before this
    version have no keys (an export and import computes them).

    Partial indexes: an event without a key costs no index write. A lookup `related = ?`
    implies `related IS NOT NULL`, so SQLite uses them."""
    for column in ("related TEXT", "delivery TEXT", "retry_of TEXT",
                   "retry INTEGER NOT NULL DEFAULT 0", "since_first REAL NOT NULL DEFAULT 0"):
        conn.execute(f"ALTER TABLE events ADD COLUMN {column}")
    conn.execute("CREATE INDEX IF NOT EXISTS events_related ON events(related) "
                 "WHERE related IS NOT NULL")
    conn.execute("CREATE INDEX IF NOT EXISTS events_delivery ON events(delivery) "
                 "WHERE delivery IS NOT NULL")


def _migrate_v8(conn: sqlite3.Connection) -> None:
    """The seqs deleted after the oldest stored event (`gaps`, kept up to date by
    writes.py), so that every stored seq is known without reading the events table: a
    million events' seqs are `range(oldest, newest + 1)` minus a few gaps, read in
    milliseconds, where a scan of the table reads all of it (a gigabyte) before the first
    paint. The gaps are found once here, by that scan.

    And indexes for the field filters people use most, `verdict:`, `kind:` and `path:`
    (a GLOB with a fixed prefix uses it too): at a million events a scan of the table takes
    about a second, the index 80-160 ms. Each costs the writer a few µs per event (three:
    about 8 µs in batches of 64, measured with bench/filter_speed.py's writer timing, against
    ~430 µs of CPU per delivery end to end). The other fields scan, as before."""
    for column in ("verdict", "kind", "path"):
        conn.execute(f"CREATE INDEX IF NOT EXISTS events_{column} ON events({column})")
    conn.execute("CREATE TABLE IF NOT EXISTS gaps (seq INTEGER PRIMARY KEY)")
    top = conn.execute(TOP_SQL).fetchone()[0]
    expected: int | None = None
    missing: list[tuple[int]] = []
    for (seq,) in conn.execute("SELECT seq FROM events ORDER BY seq"):
        if expected is not None and seq > expected:
            missing.extend((s,) for s in range(expected, seq))
        expected = seq + 1
    if expected is not None:
        missing.extend((s,) for s in range(expected, top + 1))
    conn.executemany("INSERT INTO gaps (seq) VALUES (?)", missing)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _create_v1, _migrate_v2, _migrate_v3, _migrate_v4, _migrate_v5, _migrate_v6,
    _migrate_v7, _migrate_v8]
