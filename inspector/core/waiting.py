"""Wait for events that match a filter: `inspector wait` and the MCP server's wait_for_event.

A `Watch` counts the events that arrive after a point (now, or an event or a time given with
`since`) and match a filter. It follows the store as a viewer does, through a `Follower`
(store/follow.py), and polls nothing itself: each batch of changes the follower reports is
matched with one search, off the loop. An event counts once, as soon as it matches: when it
is inserted, or later when an update makes it match (`result:2xx` once its forward is
answered, say).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from inspector.core import display
from inspector.core.store import Changes, EventStore
from inspector.core.store.filter import FilterError, Query, Term, since_seconds
from inspector.core.store.follow import INTERVAL, Follower, OnError

ID_LENGTH = 26  # model.new_id
OnMatch = Callable[[list[int]], object]


class UnknownEvent(LookupError):
    """`since` names an event id the store does not hold."""


@dataclass(frozen=True, slots=True)
class Start:
    """Where counting starts: events with a greater seq, received at or after `time`."""

    seq: int
    time: float | None = None


def start_of(store: EventStore, since: str, now: float | None = None) -> Start:
    """The point `since` names: "" for now, an event id (the events after it), or a time
    as `since:` takes it (10m, 2h, 2026-11-27T12:00:00Z). FilterError for a time that is
    not one, UnknownEvent for an id the store does not hold."""
    text = since.strip()
    if not text:
        return Start(store.cursor().seq)
    if len(text) == ID_LENGTH and text.isalnum():
        event = store.event_by_id(text.upper())
        if event is None:
            raise UnknownEvent(text)
        return Start(event.seq)
    when = since_seconds(text, time.time() if now is None else now)
    if display.utc_iso(when).startswith("?"):  # before year 1 or after 9999
        raise FilterError(f"since:{text} is out of range (before year 1 or after 9999)")
    return Start(0, when)


def with_start(query: Query, start: Start) -> Query:
    """`query` narrowed to events received at or after the start's time (a fixed point, so
    "10m" does not slide while we wait)."""
    if start.time is None:
        return query
    return Query((*query.terms, Term("since", display.utc_iso(start.time))), query.source)


class Watch:
    """The events after `start` that match `query`, in the order they matched."""

    def __init__(self, store: EventStore, query: Query, start: Start, *,
                 interval: float = INTERVAL, on_error: OnError | None = None) -> None:
        """`on_error(message)` hears when the store cannot be read (None: it can again);
        the watch goes on."""
        self.store = store
        self.query = with_start(query, start)
        self.start = start
        self.interval = interval
        self.on_error = on_error
        self.matched: list[int] = []
        self._seen: set[int] = set()
        self._checked = start.seq  # inserts up to this seq were matched already

    async def wait(self, count: int, timeout: float,
                   on_match: OnMatch | None = None) -> list[int]:
        """Seqs of the first `count` matching events, or of those that arrived within
        `timeout` seconds. `on_match(seqs)` hears of each batch as it matches."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cursor = self.store.cursor()
        queue: asyncio.Queue[Changes] = asyncio.Queue()
        follower = Follower(self.store, queue.put_nowait, cursor=cursor,
                            interval=self.interval, on_error=self.on_error)
        if cursor.seq > self.start.seq:  # what is stored already (`since` reaches back)
            self._take(await asyncio.to_thread(self._match, None, cursor.seq), count, on_match)
        follower.start()
        try:
            while len(self.matched) < count:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    changes = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                found = await asyncio.to_thread(self._match, changes, cursor.seq)
                self._take(found, count, on_match)
        finally:
            await follower.stop()
        return self.matched

    def _take(self, found: list[int], count: int, on_match: OnMatch | None) -> None:
        new = found[: max(count - len(self.matched), 0)]
        self.matched += new
        if new and on_match is not None:
            on_match(new)

    def _match(self, changes: Changes | None, upto: int) -> list[int]:
        """The newly matching seqs among what changed (None: everything stored up to
        `upto`, the cursor the follower started from)."""
        checked = self._checked
        if changes is None or changes.reload:
            # Everything after the start, once; what matched already is left out below.
            updated: set[int] = set()
            inserted: set[int] = set()
            after = self.start.seq
            checked = self.start.seq
            self._checked = max(self._checked, upto if changes is None else changes.cursor.seq)
        else:
            # A restored event (an undone delete) may match where it never was seen.
            updated = {s for s in (*changes.updated, *changes.restored)
                       if s > self.start.seq} - self._seen
            # With several writers (PostgreSQL) an insert may commit below a seq checked.
            inserted = {s for s in changes.inserted if s > self.start.seq}
            lows = [s - 1 for s in updated]
            if changes.inserted:
                lows.append(min(changes.inserted) - 1)
                self._checked = max(self._checked, changes.inserted[-1])
            if not lows:
                return []
            after = min(lows)
        # Events up to `checked` were matched when they arrived: only an update changes them.
        out = [s for s in self.store.search(self.query, after=after)
               if s not in self._seen and (s > checked or s in updated or s in inserted)]
        self._seen.update(out)
        return out


def describe(query: Query, start: Start) -> str:
    """"'kind:delivery_status' since 2026-11-27T12:00:00.000Z" for messages."""
    text = repr(query.source or "")
    if start.time is not None:
        text += f" since {display.utc_iso(start.time)}"
    return text

