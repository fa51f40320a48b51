"""The filtered list model: which stored events a list shows, and the counts it gives.

A face keeps one `Listing` beside its list widget. It holds the active filter, checks newly
committed events against it (one indexed query per frame, never one per event), counts the
events in the store, and keeps the events this face deleted, whole, for an undo: a delete
leaves the store at once (so every viewer drops it), and an undo puts it back as it was
(`EventStore.restore`, which every viewer hears of too).
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.core.model import Attempt, Event
from inspector.core.store import EventStore, StoreError
from inspector.core.store.filter import FilterError, Query

Whole = tuple[Event, list[Attempt]]  # an event with its body, answer and attempts


@dataclass(frozen=True, slots=True)
class Found:
    """A search's answer: the matching seqs, and the newest seq it could have seen."""

    query: Query
    seqs: list[int]
    top: int


@dataclass(frozen=True, slots=True)
class Deleted:
    """Events this face deleted, kept whole until `deadline` for an undo."""

    items: list[Whole]
    deadline: float  # time.monotonic()
    query: Query | None  # the filter they were deleted under


def whole(store: EventStore, seqs: list[int]) -> list[Whole]:
    """The stored events with everything a restore needs (a blocking read)."""
    answers = store.answers_for(seqs)
    attempts = store.attempts_for(seqs)
    out = []
    for event in store.iter_events(seqs):
        event.answer = answers.get(event.seq)
        out.append((event, attempts.get(event.seq, [])))
    return out


class Listing:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.query: Query | None = None  # the active filter; None shows every event
        self._after = 0  # seqs up to here were checked against the filter
        self._loaded = 0  # seqs up to here were counted when everything was loaded
        self.total = 0  # events in the store
        self._undo: list[Deleted] = []  # what this face deleted, the last delete last

    def everything(self) -> list[int]:
        """Every stored event (start-up, clear, a reload of the feed); resets the count. A
        follower may report some of these again as inserted (they were committed while
        this read): `admit` knows them."""
        seqs = self.store.seqs()
        self.total = len(seqs)
        self._loaded = self._after = max(self._loaded, seqs[-1] if seqs else 0)
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
        return found.seqs

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
        return self._matching([s for s in counted if s > self._after])

    def _matching(self, seqs: list[int]) -> list[int]:
        """Those of `seqs` the filter lets through (one indexed query)."""
        if self.query is None or not seqs:
            return seqs
        try:
            keep = set(self.store.search(self.query, after=min(seqs) - 1))
        except (FilterError, StoreError):
            keep = set()
        return [s for s in seqs if s in keep]

    def recount(self) -> None:
        """Events were deleted from the store, by this face or another process: count them
        again (once per deletion: they are rare)."""
        self.total = self.store.count()

    def restored(self, seqs: list[int]) -> list[int]:
        """Deleted events put back (an undo, here or in another process): counted again, and
        of those the ones the filter lets through."""
        self.recount()
        return self._matching(seqs)

    def shown(self, listed: int) -> int | None:
        """What the header says beside the total: the list's length, when filtered."""
        return listed if self.query is not None else None

    # -- the undo window ----------------------------------------------------------------------

    def kept(self, deleted: Deleted) -> None:
        """Remember what this face just deleted, for an undo until its deadline."""
        self._undo.append(deleted)

    def take_back(self, now: float) -> Deleted | None:
        """The last delete still in its undo window, forgotten here; None: nothing."""
        self.expire(now)
        return self._undo.pop() if self._undo else None

    def expire(self, now: float) -> None:
        """Forget the deletes past their undo window (their bodies leave memory)."""
        self._undo = [d for d in self._undo if d.deadline > now]

    def forget(self) -> None:
        """Nothing can be undone any more (a clear)."""
        self._undo = []
