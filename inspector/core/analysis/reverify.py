"""Re-verification: check stored events again with the secrets known now.

A person sets a secret while events are on screen; those should change first. `visible_first`
orders the work, `reverify` does it in chunks (blocking reads and writes: run it in a thread),
writes only the verdicts that changed, and hands each chunk's changed rows to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.model import Row
from inspector.core.store import EventStore, VerdictChange

CHUNK = 500  # events per write: progress shows in steps, and a stop is heard between them


def visible_first(seqs: Sequence[int], top: int, page: int) -> list[int]:
    """The `page + 1` seqs from index `top` first, then those above them nearest first,
    then the rest below."""
    top = max(top, 0)
    end = top + page + 1
    return [*seqs[top:end], *reversed(seqs[:top]), *seqs[end:]]


def reverify(
    store: EventStore,
    analyzer: Analyzer,
    order: Sequence[int],
    *,
    changed: Callable[[list[Row]], object] = lambda rows: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Verify the events in `order` again; store each changed verdict (provider, verdict,
    reason) and pass the changed rows to `changed`, a chunk at a time. Returns how many
    changed. Stops between chunks once `cancelled()`; events deleted meanwhile are skipped."""
    total = 0
    for start in range(0, len(order), CHUNK):
        if cancelled():
            break
        updates = []
        for event in store.iter_events(order[start : start + CHUNK]):
            result = analyzer.verify(event)
            if (result.provider, result.verdict.value, result.reason) != (
                    event.provider, event.verdict, event.reason):
                updates.append(VerdictChange(event.seq, result.provider,
                                             result.verdict.value, result.reason))
        if updates:
            store.set_verdicts_sync(updates)
            total += len(updates)
            changed(list(store.rows([u.seq for u in updates]).values()))
    return total
