"""What every backend works out for new events before inserting them, in its writer: the
analysis (`prepare`), and which earlier delivery each one repeats (`link`). Only how the
latest event of each delivery key is read differs between backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from inspector.core.model import Event, Verdict, id_of
from inspector.core.providers.correlate import retry_window
from inspector.core.store import ops
from inspector.core.store.base import Prepare


def analyse(events: list[Event], prepare: Prepare | None) -> None:
    """Run `prepare` on each event; a failure becomes a note, never the loss of the event."""
    if prepare is None:
        return
    for event in events:
        try:
            prepare(event)
        except Exception as exc:  # analysis must never cost us the event
            event.notes.append(f"analysis failed: {type(exc).__name__}: {exc}")


def doomed(conn: Any, op: ops.Prune, count: Callable[[], int], mark: str) -> list[int]:
    """What retention deletes (EventStore.prune), oldest first, at most `op.limit`: the
    events past the newest `op.keep` (of `count()`, asked only then), and those received before
    `op.older_than` (found through the id index, since an id begins with the time it was
    received, and each checked against `received_at`, so an event is never deleted early
    whatever its id says). `mark`: the backend's placeholder ("?" or "%s")."""
    found: list[int] = []
    excess = count() - op.keep if op.keep is not None else 0
    if excess > 0:
        found = [r[0] for r in conn.execute(
            f"SELECT seq FROM events ORDER BY seq LIMIT {mark}", (min(excess, op.limit),))]
    if op.older_than is not None and len(found) < op.limit:
        before = id_of(max(0, int(op.older_than * 1000)), bytes(10))
        found += [r[0] for r in conn.execute(
            f"SELECT seq FROM events WHERE id < {mark} AND received_at < {mark} "
            f"ORDER BY id LIMIT {mark}", (before, op.older_than, op.limit))]
        found = sorted(set(found))[: op.limit]
    return found


class Delivery(NamedTuple):
    """The latest event of one delivery key: what a retry of it needs to know."""

    id: str
    received_at: float
    retry_of: str | None
    retry: int
    since_first: float
    invalid: bool  # its signature was invalid


# An event whose signature is invalid is kept apart from those that are not: a forgery that
# reuses a genuine delivery id is no retry of it (nor the genuine one a retry of a forgery),
# while deliveries checked with a wrong secret, all invalid, still link to one another.
FORGED_NOTE = ("the delivery id of {} (its signature valid) with an invalid signature: not "
               "counted as a retry of it")
Genuine = Callable[[str], "Delivery | None"]  # the latest stored not-invalid event of a key


def link(events: list[Event], latest: dict[str, Delivery], genuine: Genuine) -> None:
    """Mark each event that repeats an earlier delivery (the same delivery key, see
    providers.correlate) as a retry of the first one: its id, the retry's number, the time
    since. `latest`: the stored latest event of each key the events have (updated here);
    `genuine` looks up the latest one whose signature was not invalid, needed only when a
    forgery came last. Earlier means stored before it (or earlier in `events`) and received
    no later; a body hash counts only within its window of the previous delivery."""
    known: dict[str, Delivery | None] = {}  # the latest not-invalid event of a key
    for event in events:
        key = event.delivery
        if key is None:
            continue
        invalid = event.verdict == Verdict.INVALID
        prior = latest.get(key)
        if prior is not None and prior.invalid != invalid:
            if invalid:
                note = FORGED_NOTE.format(prior.retry_of or prior.id)
                if note not in event.notes:  # an import links again what it reads
                    event.notes.append(note)
                prior = None
            else:
                if key not in known:
                    known[key] = genuine(key)
                prior = known[key]
        if prior is not None:
            gap = event.received_at - prior.received_at
            window = retry_window(key)
            if gap >= 0 and (window is None or gap <= window):
                event.retry_of = prior.retry_of or prior.id
                event.retry = prior.retry + 1
                event.since_first = gap + prior.since_first
        latest[key] = Delivery(event.id, event.received_at, event.retry_of, event.retry,
                               event.since_first, invalid)
        if not invalid:
            known[key] = latest[key]
