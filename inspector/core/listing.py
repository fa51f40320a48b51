"""The filtered list model: which stored events a list shows, and the counts it gives.

A face keeps one `Listing` beside its list widget. It holds the active filter, checks newly
committed events against it (one indexed query per frame, never one per event), counts the
events in the store, and keeps the events deleted from the list but not yet from the store
(the undo window), so that neither a filter nor a count brings them back early.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.core.model import Event
from inspector.core.store import EventStore, StoreError
from inspector.core.store.filter import FilterError, Query


@dataclass(frozen=True, slots=True)
class Found:
    """A search's answer: the matching seqs, and the newest seq it could have seen."""

    query: Query
    seqs: list[int]
    top: int


class Listing:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.query: Query | None = None  # the active filter; None shows every event
        self._after = 0  # seqs up to here were checked against the filter
        self._loaded = 0  # seqs up to here were counted when everything was loaded
        self.total = 0  # events in the store, less those waiting to be deleted
        # Deleted from the list, not yet from the store: seq -> (deadline, filter then).
        self._doomed: dict[int, tuple[float, Query | None]] = {}

    def everything(self) -> list[int]:
        """Every stored event not waiting to be deleted (start-up, clear, a reload of the
        feed); resets the count. A follower may report some of these again as inserted
        (they were committed while this read): `admit` knows them."""
        stored = self.store.seqs()
        seqs = self._undoomed(stored)
        self.total = len(seqs)
        self._loaded = self._after = max(self._loaded, stored[-1] if stored else 0)
        return seqs

    # -- the filter ----------------------------------------------------------------------------

    def search(self, query: Query) -> Found:
        """Run a filter (a blocking read: call it off the event loop). Raises FilterError or
        StoreError with a message a person can act on."""
        top = self.store.last_seq()
        seqs = self.store.search(query) if query.terms else self.store.seqs()
        return Found(query, seqs, top)

    def show(self, found: Found) -> list[int]:
        """Make a search's answer the active filter; returns the seqs to list. Events
        committed during the search are checked by `arrived`, from `found.top` on."""
        self.query = found.query if found.query.terms else None
        self._after = found.top
        return self._undoomed(found.seqs)

    def _undoomed(self, seqs: list[int]) -> list[int]:
        """`seqs` less the deletes in their undo window (a million seqs: no copy when
        there are none)."""
        if not self._doomed:
            return seqs
        return [s for s in seqs if s not in self._doomed]

    def arrived(self, events: list[Event]) -> list[Event]:
        """Newly committed events (counted), and of those the ones the filter lets through."""
        keep = set(self.admit([e.seq for e in events]))
        return [e for e in events if e.seq in keep]

    def admit(self, seqs: list[int]) -> list[int]:
        """New events, by seq (counted), and of those the ones the filter lets through: one
        indexed query, for the newest seqs only. Seqs loaded already are skipped."""
        counted = [s for s in seqs if s > self._loaded]
        self.total += len(counted)
        if self.query is None:
            return counted
        fresh = [s for s in counted if s > self._after]
        if not fresh:
            return []
        try:
            keep = set(self.store.search(self.query, after=min(fresh) - 1))
        except (FilterError, StoreError):
            keep = set()
        return [s for s in fresh if s in keep]

    def gone(self, seqs: list[int], *, upto: int = 0) -> None:
        """Events deleted from the store (`seqs`, and every one up to `upto`), by this face,
        another process or retention: counted again (the store counts cheaply). One of ours
        still in its undo window can no longer be brought back."""
        for seq in seqs:
            self._doomed.pop(seq, None)
        for seq in [s for s in self._doomed if s <= upto]:
            del self._doomed[seq]
        self.total = self.store.count() - len(self._doomed)

    def shown(self, listed: int) -> int | None:
        """What the header says beside the total: the list's length, when filtered."""
        return listed if self.query is not None else None

    # -- deleting with an undo window ----------------------------------------------------------

    def hide(self, seq: int, deadline: float) -> None:
        """Deleted from the list; the store forgets it once `expired` passes `deadline`."""
        self._doomed[seq] = (deadline, self.query)
        self.total -= 1

    def unhide(self) -> tuple[int, bool] | None:
        """Take back the last delete: its seq, and whether the filter is the one it was
        deleted under (else the filter has to decide whether it shows). None: nothing."""
        if not self._doomed:
            return None
        seq, (_, query) = self._doomed.popitem()  # the newest entry: the last delete
        self.total += 1
        return seq, query == self.query

    def expired(self, now: float) -> list[int]:
        """Deletes past their undo window, forgotten here: the caller deletes them."""
        past = [seq for seq, (deadline, _) in self._doomed.items() if deadline <= now]
        for seq in past:
            del self._doomed[seq]
        return past

    def doomed(self) -> list[int]:
        """Every delete still in its undo window, forgotten here (quitting ends them)."""
        seqs, self._doomed = list(self._doomed), {}
        return seqs
