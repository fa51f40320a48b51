"""The store's write operations, as data.

`EventStore`'s named operations (add, record_attempt, delete, ...) turn their arguments into
one of these and hand it to the backend's writer, which applies queued operations in group
commits. They are the contract between the interface and a backend: no caller builds one,
and none carries a function or SQL. `Op[T]`: the operation's result is a T. (Not frozen:
one is built per delivery on the loop, and a frozen dataclass is slower to build.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from inspector.core.model import Answer, Attempt, Event

T = TypeVar("T")


class VerdictChange(NamedTuple):
    """A re-verified event's new provider, verdict and reason."""

    seq: int
    provider: str
    verdict: str
    reason: str


class Op(Generic[T]):
    __slots__ = ()


@dataclass(slots=True)
class Add(Op[Event]):
    """A live event, analysed by the store's `prepare` hook; runs of them go in together."""

    event: Event


@dataclass(slots=True)
class ImportEvents(Op[list[Event]]):
    """Already analysed events with their attempts, keeping ids; known ids are skipped."""

    items: Sequence[tuple[Event, Sequence[Attempt]]]


@dataclass(slots=True)
class RecordAttempt(Op[Attempt]):
    attempt: Attempt


@dataclass(slots=True)
class Delete(Op[int]):
    seqs: Sequence[int]


@dataclass(slots=True)
class Restore(Op[list[Event]]):
    """Deleted events put back with their seqs and ids (an undo); taken ones are skipped."""

    items: Sequence[tuple[Event, Sequence[Attempt]]]


@dataclass(slots=True)
class Clear(Op[int]):
    pass


@dataclass(slots=True)
class Prune(Op[int]):
    keep: int | None
    older_than: float | None
    limit: int


@dataclass(slots=True)
class SetVerdicts(Op[int]):
    changes: Sequence[VerdictChange]


@dataclass(slots=True)
class SetAnswer(Op[None]):
    seq: int
    status: int
    answer: Answer | None
    note: str | None = None


@dataclass(slots=True)
class SetMeta(Op[None]):
    key: str
    value: str


Items = Sequence[tuple[Event, Sequence[Attempt]]]


class Writes(Protocol):
    """What a backend's writes module provides: one function per operation other than `Add`
    (the writers insert runs of those themselves). `conn` is the backend's connection."""

    def record_attempt(self, conn: Any, attempt: Attempt, keep: int) -> Attempt: ...
    def import_events(self, conn: Any, items: Items) -> list[Event]: ...
    def delete(self, conn: Any, seqs: Sequence[int], keep: int) -> int: ...
    def restore(self, conn: Any, items: Items, keep: int) -> list[Event]: ...
    def clear(self, conn: Any, keep: int) -> int: ...
    def prune(self, conn: Any, op: Prune, keep: int) -> int: ...
    def set_verdicts(self, conn: Any, changes: Sequence[VerdictChange], keep: int) -> int: ...
    def set_answer(self, conn: Any, op: SetAnswer, keep: int) -> None: ...
    def set_meta(self, conn: Any, key: str, value: str) -> None: ...


def apply(writes: Writes, conn: Any, op: Op[Any], keep: int) -> Any:
    """Run one operation other than `Add` with a backend's `writes`. `keep`: change records
    the feed keeps."""
    if isinstance(op, RecordAttempt):
        return writes.record_attempt(conn, op.attempt, keep)
    if isinstance(op, ImportEvents):
        return writes.import_events(conn, op.items)
    if isinstance(op, Delete):
        return writes.delete(conn, op.seqs, keep)
    if isinstance(op, Restore):
        return writes.restore(conn, op.items, keep)
    if isinstance(op, Clear):
        return writes.clear(conn, keep)
    if isinstance(op, Prune):
        return writes.prune(conn, op, keep)
    if isinstance(op, SetVerdicts):
        return writes.set_verdicts(conn, op.changes, keep)
    if isinstance(op, SetAnswer):
        return writes.set_answer(conn, op, keep)
    if isinstance(op, SetMeta):
        return writes.set_meta(conn, op.key, op.value)
    raise TypeError(f"not a store operation: {op!r}")
