"""The event store's interface: named write operations, reads, and the change feed.

Writes are called on the event loop and return a future that resolves once the change is
committed: a delivery is acknowledged only after its `add` resolves. A backend queues them to
one writer that applies everything queued in one transaction (group commit), so the loop
never waits on the disk. Code without a loop (CLI commands, worker threads) uses the
blocking twins (`*_sync`).

Seqs are never reused: a seq always names one event, even after it was deleted.

The change feed lets another process (a viewer) follow the store:

    cursor = store.cursor()          # first, then load everything (seqs, rows)
    ...
    if store.data_version() != seen:  # cheap: poll it a few times a second
        changes = store.changes_since(cursor)
        if changes.reload: reload everything
        else: drop changes.deleted and every seq <= changes.deleted_upto,
              refresh changes.updated, put changes.restored back in their places,
              append changes.inserted
        cursor = changes.cursor

Inserts cost the feed nothing (they are the events past `cursor.seq`); updates, deletes,
restores and clears are recorded by the named operations in the same transaction. The feed keeps a
bounded number of records: a cursor older than what is kept gets `reload`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from inspector.core.model import Answer, Attempt, Event, Row
from inspector.core.store import ops
from inspector.core.store.filter import Query
from inspector.core.store.ops import VerdictChange

T = TypeVar("T")

CommitListener = Callable[[list[Event]], None]
# Analysis of a new event before it is stored (in the writer, off the loop): fills the
# derived fields, and may set the status and answer. Its result is not used.
Prepare = Callable[[Event], object]
# Change records the feed keeps. A follower polling a few times a second is never more than a
# handful behind; one that slept longer than this many changes reloads.
KEEP_CHANGES = 10_000
# Events one `prune` deletes at most: SQLite, a million events stored: 2-12 ms, so the
# receiver's commits queued behind it are never held up for long.
PRUNE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Cursor:
    """A point in the store's history, as far as one follower has seen it."""

    seq: int = 0  # every event up to this seq was reported (or is gone)
    change: int = 0  # the last change record reported
    # A backend whose commits land out of seq order (PostgreSQL, several writers): the
    # events past `seq` already reported, while an earlier seq may still commit.
    seen: frozenset[int] = frozenset()
    # That backend's own note of when such a gap can no longer fill (see its feed).
    probe: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since a cursor. Seqs the follower could not know of are left out: an
    event both inserted and updated (or deleted) since the cursor is only `inserted` (or
    absent)."""

    cursor: Cursor  # ask from here next time
    inserted: list[int] = field(default_factory=list)  # new events, oldest first
    updated: list[int] = field(default_factory=list)  # rows to refresh: an attempt, a
    #   re-verified verdict, what the sender was answered
    deleted: list[int] = field(default_factory=list)
    deleted_upto: int = 0  # every event with a seq up to this one is gone (a clear, retention)
    cleared: bool = False  # the store was emptied (everything before `inserted` is gone)
    reload: bool = False  # the feed no longer reaches back to the cursor (it is bounded),
    #   or the cursor is from another database: reload everything (cursor() first)
    restored: list[int] = field(default_factory=list)  # deleted events put back (an undo),
    #   with their old seqs: list them again, in their places

    def __bool__(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted or self.deleted_upto
                    or self.cleared or self.reload or self.restored)


class EventStore(abc.ABC):
    """Where events, their attempts and answers are kept. `open_store` picks the backend."""

    path: str  # where it is, for messages (a file, or a URL without its password)
    listeners: list[CommitListener]  # told of committed `add`s, on the loop, once a batch

    @property
    @abc.abstractmethod
    def prepare(self) -> Prepare | None: ...

    @prepare.setter
    @abc.abstractmethod
    def prepare(self, prepare: Prepare | None) -> None: ...

    # -- lifecycle --------------------------------------------------------------------------

    @abc.abstractmethod
    def start(self) -> None:
        """Start the writer (writes start it too)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Finish queued writes, stop the writer, close everything."""

    # -- writes: on the loop, resolved after commit -------------------------------------------

    def add(self, event: Event) -> asyncio.Future[Event]:
        """Store a live event: analysed by `prepare`, given its seq. The hot path."""
        return self._submit(ops.Add(event))

    def import_events(self, items: Sequence[tuple[Event, Sequence[Attempt]]]
                      ) -> asyncio.Future[list[Event]]:
        """Store already analysed events with their attempts, keeping their ids. Events
        whose id is stored already (or repeated in `items`) are skipped with their
        attempts. Resolves to the events added."""
        return self._submit(ops.ImportEvents(items))

    def record_attempt(self, attempt: Attempt) -> asyncio.Future[Attempt]:
        """Store a replay or forward of `attempt.event_seq`; it becomes the row's result."""
        return self._submit(ops.RecordAttempt(attempt))

    def delete(self, seqs: Sequence[int]) -> asyncio.Future[int]:
        """Delete events with their bodies, attempts and answers; resolves to how many."""
        return self._submit(ops.Delete(seqs))

    def restore(self, items: Sequence[tuple[Event, Sequence[Attempt]]]
                ) -> asyncio.Future[list[Event]]:
        """Put deleted events back as they were (an undo): each with its seq, id, body,
        answer (`event.answer`) and attempts (their ids kept when free). One whose seq or
        id is taken is skipped. Recorded in the change feed (`Changes.restored`), so every
        follower lists them again. Resolves to the events put back."""
        return self._submit(ops.Restore(items))

    def clear(self) -> asyncio.Future[int]:
        """Delete every event; resolves to how many."""
        return self._submit(ops.Clear())

    def prune(self, keep: int | None = None, older_than: float | None = None, *,
              limit: int = PRUNE_BATCH) -> asyncio.Future[int]:
        """Retention: delete at most `limit` of the oldest events, with their bodies,
        attempts and answers; resolves to how many. Call it again while it returns `limit`:
        each call is one short transaction, so the receiver's writes go on in between.

        - `keep`: the newest `keep` events stay; older ones, in the order they were stored
          (seq order), go.
        - `older_than` (a Unix time): events whose `received_at` is earlier go, oldest
          first. An event received at or after it is never deleted, whatever else its
          fields say (an imported event keeps the time it was first received).
        - Both: an event goes when either says so. Neither: nothing is deleted.

        The change feed records the deletion like `delete` does, so followers drop the
        events: `Changes.deleted_upto` below the oldest event left (when the deletion
        leaves no older event, which `keep` always does), and the other seqs deleted in
        `Changes.deleted`. Seqs stay unused afterwards, as for `delete`."""
        return self._submit(ops.Prune(keep, older_than, limit))

    def set_verdicts(self, changes: Sequence[VerdictChange]) -> asyncio.Future[int]:
        """Store re-verified verdicts; resolves to how many."""
        return self._submit(ops.SetVerdicts(changes))

    def set_answer(self, seq: int, status: int, answer: Answer | None,
                   note: str | None = None) -> asyncio.Future[None]:
        """What the sender was answered, when known only after the insert (a mirrored
        downstream answer, a held request's answer, a fault's outcome): the status, the
        answer (None: the default one) and how (`note`; None leaves it)."""
        return self._submit(ops.SetAnswer(seq, status, answer, note))

    def set_meta(self, key: str, value: str) -> asyncio.Future[None]:
        """Save a small setting (never a secret), such as the last replay target."""
        return self._submit(ops.SetMeta(key, value))

    # -- the same, blocking, for code without a loop ------------------------------------------

    def import_events_sync(self, items: Sequence[tuple[Event, Sequence[Attempt]]]
                           ) -> list[Event]:
        return self._submit_sync(ops.ImportEvents(items))

    def record_attempt_sync(self, attempt: Attempt) -> Attempt:
        return self._submit_sync(ops.RecordAttempt(attempt))

    def restore_sync(self, items: Sequence[tuple[Event, Sequence[Attempt]]]) -> list[Event]:
        return self._submit_sync(ops.Restore(items))

    def set_verdicts_sync(self, changes: Sequence[VerdictChange]) -> int:
        return self._submit_sync(ops.SetVerdicts(changes))

    def prune_sync(self, keep: int | None = None, older_than: float | None = None, *,
                   limit: int = PRUNE_BATCH) -> int:
        return self._submit_sync(ops.Prune(keep, older_than, limit))

    @abc.abstractmethod
    def _submit(self, op: ops.Op[T]) -> asyncio.Future[T]:
        """Queue `op` for the writer (call on the loop)."""

    @abc.abstractmethod
    def _submit_sync(self, op: ops.Op[T]) -> T:
        """Queue `op` and wait for its commit (call off the loop)."""

    # -- reads ------------------------------------------------------------------------------

    @abc.abstractmethod
    def last_seq(self) -> int:
        """The newest event's seq (0 when empty)."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many events are stored: cheap (a face calls it after every deletion), never a
        scan of a million rows."""

    @abc.abstractmethod
    def seqs(self) -> list[int]:
        """Every event's seq, oldest first: what a face lists at start-up, so a million must
        come back in a fraction of a second (never a scan of the events)."""

    @abc.abstractmethod
    def rows(self, seqs: Iterable[int]) -> dict[int, Row]:
        """List rows for these seqs (missing ones are left out)."""

    @abc.abstractmethod
    def event(self, seq: int) -> Event | None: ...

    @abc.abstractmethod
    def event_by_id(self, event_id: str) -> Event | None: ...

    @abc.abstractmethod
    def iter_events(self, seqs: Iterable[int], chunk: int = 200) -> Iterator[Event]:
        """Whole events (bodies included) in the order given, read `chunk` at a time, so an
        export of 100k events never holds more than one chunk of bodies."""

    @abc.abstractmethod
    def attempts(self, seq: int) -> list[Attempt]:
        """An event's attempts, oldest first."""

    @abc.abstractmethod
    def attempts_for(self, seqs: Sequence[int]) -> dict[int, list[Attempt]]:
        """Every attempt of these events, oldest first, by event seq."""

    @abc.abstractmethod
    def answers_for(self, seqs: Sequence[int]) -> dict[int, Answer]:
        """The stored (custom) answers of these events; the others got the default one."""

    @abc.abstractmethod
    def meta(self, key: str, default: str = "") -> str:
        """A small saved setting (never a secret), such as the last replay target."""

    @abc.abstractmethod
    def search(self, query: Query | str, *, after: int = 0, now: float | None = None
               ) -> list[int]:
        """Seqs of the events matching a filter (inspector.core.store.filter), oldest first.

        `after`: only events with a greater seq (to filter newly committed ones). A string
        is parsed first (FilterError when it cannot be).
        """

    @abc.abstractmethod
    def related(self, key: str) -> list[int]:
        """Seqs of the events about the object `key` names, oldest first: its related key
        (what the event is about), a delivery id (its retries), or an event's id (that
        event and what it is about). The Timeline, and the filter `related:`."""

    @abc.abstractmethod
    def indexed_upto(self) -> int:
        """The seq up to which the free-text index covers the events (0: none yet)."""

    # -- the change feed --------------------------------------------------------------------

    @abc.abstractmethod
    def cursor(self) -> Cursor:
        """The present point: take it before loading everything, then follow from it."""

    @abc.abstractmethod
    def changes_since(self, cursor: Cursor) -> Changes:
        """What changed after `cursor` (see Changes; `reload` when it reaches too far back)."""

    @abc.abstractmethod
    def data_version(self) -> int:
        """A number that changes when anything may have changed: cheap enough to poll."""

    @abc.abstractmethod
    def foreign(self, inserted: Sequence[int], upto: int) -> list[int]:
        """Of the seqs a follower found inserted (`Changes.inserted`), those another process
        stored: a receiver hears of its own events when they commit and follows the feed
        for everything else. `upto`: the follower's cursor; what this store remembers of
        its own inserts up to there is forgotten."""
