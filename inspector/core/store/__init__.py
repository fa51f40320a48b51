"""The event store: an interface with named operations (base.EventStore) and its backends.

    store = open_store(path)        # SQLite: a file, or ":memory:"
    await store.add(event)          # acknowledged once committed
    store.rows(store.search("verdict:invalid"))

No SQL lives outside this package, and callers never hand the store functions: they call
its named operations. The filter grammar (filter.py) is shared by every backend; each one
compiles it into its own SQL.
"""

from __future__ import annotations

import os

from inspector.core.store.base import (
    KEEP_CHANGES,
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
    "Changes",
    "CommitListener",
    "Cursor",
    "EventStore",
    "Prepare",
    "StoreError",
    "VerdictChange",
    "explain",
    "open_store",
]


def open_store(
    path: str | os.PathLike[str],
    *,
    prepare: Prepare | None = None,
    synchronous: str = "NORMAL",
    index: bool = True,
    keep_changes: int = KEEP_CHANGES,
) -> EventStore:
    """The store at `path` (StoreError when it cannot be used).

    `prepare`: the analysis of each new event, run by the writer before the insert.
    `synchronous`: SQLite's durability setting. `index`: keep the free-text search index
    up to date in the background (searches are exact without it, only slower).
    `keep_changes`: how many change records the feed keeps (a follower further behind
    reloads).
    """
    # Imported here: the backend imports this package's modules.
    from inspector.core.store.sqlite import SqliteStore

    return SqliteStore(path, prepare=prepare, synchronous=synchronous, index=index,
                       keep_changes=keep_changes)
