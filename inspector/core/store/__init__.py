"""The event store: an interface with named operations (base.EventStore) and its backends.

    store = open_store(path)        # SQLite: a file, or ":memory:"; or postgresql://…
    await store.add(event)          # acknowledged once committed
    store.rows(store.search("verdict:invalid"))

No SQL lives outside this package, and callers never hand the store functions: they call
its named operations. The filter grammar (filter.py) is shared by every backend; each one
compiles it into its own SQL.
"""

from __future__ import annotations

import os
from typing import TypedDict, Unpack

from inspector.core.store.base import (
    KEEP_CHANGES,
    PRUNE_BATCH,
    Changes,
    CommitListener,
    Cursor,
    EventStore,
    Prepare,
)
from inspector.core.store.errors import StoreError, explain
from inspector.core.store.ops import VerdictChange

__all__ = [
    "KEEP_CHANGES",
    "PRUNE_BATCH",
    "Changes",
    "CommitListener",
    "Cursor",
    "EventStore",
    "Options",
    "Prepare",
    "StoreError",
    "VerdictChange",
    "explain",
    "is_url",
    "open_store",
]


class Options(TypedDict, total=False):
    """What every backend takes besides where the store is."""

    prepare: Prepare | None  # the analysis of each new event, run by the writer before the
    #   insert (off the loop; it may also set the status and answer)
    index: bool  # keep the free-text search index up to date in the background (searches
    #   are exact without it, only slower); default True
    keep_changes: int  # change records the feed keeps (a follower further behind reloads);
    #   default KEEP_CHANGES
    read_only: bool  # only read (scripts, agents): never write, migrate or index, never make
    #   the receiver wait; the database must exist with this schema (StoreError otherwise)


def is_url(db: str | os.PathLike[str]) -> bool:
    """Whether `db` names a PostgreSQL database (postgresql://…) rather than a file."""
    return str(db).startswith(("postgresql://", "postgres://"))


def open_store(path: str | os.PathLike[str], **options: Unpack[Options]) -> EventStore:
    """The store at `path` (StoreError when it cannot be used): a PostgreSQL URL
    (postgresql://USER:PASSWORD@HOST/DB, the `postgres` extra), else SQLite: a file or
    ":memory:"."""
    # Imported here: the backends import this package's modules.
    if is_url(path):
        from inspector.core.store.postgres import PostgresStore

        return PostgresStore(str(path), **options)
    from inspector.core.store.sqlite import SqliteStore

    return SqliteStore(path, **options)
