-- The event database at schema version 4 (before the change feed), as webhook-inspector
-- created it, frozen here so that the upgrade path from it stays tested whatever the current
-- schema becomes.
CREATE TABLE events (
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
CREATE TABLE bodies (
    seq INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE TABLE attempts (
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
, forced INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '');
CREATE INDEX attempts_seq ON attempts(seq);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE answers (seq INTEGER PRIMARY KEY, headers TEXT NOT NULL, body BLOB NOT NULL);
