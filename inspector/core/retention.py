"""Retention: keeps a long-running capture bounded (`--keep N`, `--keep-days D`).

A `Retention` task on the receiver's loop asks the store, every INTERVAL seconds, to prune
the oldest events past the bound (EventStore.prune). The work happens in the store's
writer thread, a batch at a time: each batch is one short transaction, so deliveries queued
meanwhile are committed between batches, and the loop only awaits. Nothing runs on the
ingest path. The change feed records each deletion (Changes.deleted_upto), so the faces'
lists and every viewer drop the events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from inspector.core.background import Background
from inspector.core.store import PRUNE_BATCH, EventStore, StoreError

INTERVAL = 1.0  # seconds between looks at the bound
DAY = 86_400.0


class Retention(Background):
    """Prunes `store` to its newest `keep` events (0: any number) and to the events received
    in the last `keep_days` days (0: any age)."""

    name = "retention"

    def __init__(self, store: EventStore, keep: int, keep_days: float, *,
                 on_pruned: Callable[[int], object] | None = None,
                 on_error: Callable[[str | None], object] | None = None,
                 interval: float = INTERVAL, batch: int = PRUNE_BATCH) -> None:
        self.store = store
        self.keep = keep
        self.keep_days = keep_days
        self.on_pruned = on_pruned  # told how many went, after each batch that deleted some
        self.on_error = on_error  # why pruning fails (None: it works again)
        self.interval = interval
        self.batch = batch
        self._failing = False

    async def prune(self) -> int:
        """Prune down to the bound now, batch after batch; returns how many went."""
        keep = self.keep or None
        total = 0
        while True:
            older_than = time.time() - self.keep_days * DAY if self.keep_days else None
            deleted = await self.store.prune(keep, older_than, limit=self.batch)
            total += deleted
            if deleted and self.on_pruned is not None:
                self.on_pruned(deleted)
            if deleted < self.batch:
                return total

    async def _run(self) -> None:
        while True:
            try:
                await self.prune()
            except StoreError as exc:
                self._failed(str(exc))
            else:
                if self._failing:
                    self._failed(None)
            await asyncio.sleep(self.interval)

    def _failed(self, message: str | None) -> None:
        self._failing = message is not None
        if self.on_error is not None:
            self.on_error(message)
