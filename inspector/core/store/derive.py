"""What every backend works out for new events before inserting them, in its writer: the
analysis (`prepare`), and which earlier delivery each one repeats (`link`). Only how the
latest event of each delivery key is read differs between backends."""

from __future__ import annotations

from typing import NamedTuple

from inspector.core.model import Event, Verdict
from inspector.core.providers.correlate import retry_window
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


class Delivery(NamedTuple):
    """The latest event of one delivery key: what a retry of it needs to know."""

    id: str
    received_at: float
    retry_of: str | None
    retry: int
    since_first: float


# An event whose signature is invalid is kept apart from those that are not: a forgery that
# reuses a genuine delivery id is no retry of it (nor the genuine one a retry of a forgery),
# while deliveries checked with a wrong secret, all invalid, still link to one another.
Latest = dict[tuple[str, bool], Delivery]  # (delivery key, invalid) -> the latest event
FORGED_NOTE = ("the delivery id of {} (its signature valid) with an invalid signature: not "
               "counted as a retry of it")


def link(events: list[Event], latest: Latest) -> None:
    """Mark each event that repeats an earlier delivery (the same delivery key, see
    providers.correlate) as a retry of the first one: its id, the retry's number, the time
    since. `latest`: the stored latest event of each key the events have, for invalid
    signatures and for the rest (updated here). Earlier means stored before it (or earlier in
    `events`) and received no later; a body hash counts only within its window of the
    previous delivery."""
    for event in events:
        key = event.delivery
        if key is None:
            continue
        invalid = event.verdict == Verdict.INVALID
        prior = latest.get((key, invalid))
        if prior is not None:
            gap = event.received_at - prior.received_at
            window = retry_window(key)
            if gap >= 0 and (window is None or gap <= window):
                event.retry_of = prior.retry_of or prior.id
                event.retry = prior.retry + 1
                event.since_first = gap + prior.since_first
        elif invalid and (genuine := latest.get((key, False))) is not None:
            event.notes.append(FORGED_NOTE.format(genuine.retry_of or genuine.id))
        latest[key, invalid] = Delivery(event.id, event.received_at, event.retry_of,
                                        event.retry, event.since_first)
