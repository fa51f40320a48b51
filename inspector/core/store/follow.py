"""Follow a store that another process writes: the viewer's side of the change feed.

A `Follower` polls the store's `data_version()` (microseconds, on the loop) a few times a
second; only when it moved does it read the feed (`changes_since`, in a thread: a clear of
100k events is a long read) and hand the `Changes` to its callback, on the loop. Every face
that watches a capture it does not write (a viewer TUI, a browser tab, `inspector wait`, the
MCP server) follows it this way, so none of them polls on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from inspector.core.background import Background
from inspector.core.store.base import Changes, Cursor, EventStore
from inspector.core.store.errors import StoreError

INTERVAL = 0.1  # seconds between polls: a commit is seen ~50 ms later on average

OnChanges = Callable[[Changes], object]
OnError = Callable[[str | None], object]


class Follower(Background):
    """Tells `on_changes` what changed in `store` after `cursor` (default: now)."""

    name = "follow"

    def __init__(self, store: EventStore, on_changes: OnChanges, *,
                 cursor: Cursor | None = None, interval: float = INTERVAL,
                 on_error: OnError | None = None) -> None:
        self.store = store
        self.on_changes = on_changes
        self.on_error = on_error
        self.interval = interval
        self.cursor = store.cursor() if cursor is None else cursor
        self._seen = -1  # data_version at the last read (-1: read at the first poll)
        self._failure: str | None = None  # what on_error heard last (None: reading works)
        self._wake = asyncio.Event()
        # One read of the feed at a time: two from the same cursor would tell the same
        # changes twice (the loop's poll, and one a caller awaits).
        self._reading = asyncio.Lock()

    def poke(self) -> None:
        """Poll now rather than at the next tick (after a local write, say)."""
        self._wake.set()

    async def poll(self) -> Changes | None:
        """One poll: the changes since the cursor, if the store moved (also told to
        `on_changes`). Raises StoreError when the store cannot be read."""
        async with self._reading:
            version = self.store.data_version()
            if version == self._seen:
                return None
            changes = await asyncio.to_thread(self.store.changes_since, self.cursor)
            self._seen = version
            self.cursor = changes.cursor
            if changes:
                self.on_changes(changes)
                return changes
            return None

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except StoreError as exc:
                self._failed(str(exc))
            else:
                self._failed(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    def _failed(self, message: str | None) -> None:
        """Tell `on_error` of a new failure, or of the recovery; not again at every poll
        (a receiver's `serve` prints each)."""
        if message == self._failure:
            return
        self._failure = message
        if self.on_error is not None:
            self.on_error(message)
