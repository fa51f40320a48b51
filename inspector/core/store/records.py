"""The change feed's records, as every backend keeps them, and what a follower is told.

A record is (kind, seqs, upto): an update of `seqs`, their delete (`upto`: and of every
event up to it), their restore (an undo), or a clear. `changes` folds the records after a
cursor, in order, into the `Changes` a follower applies: only what it can know of (the
events it was told of, not gone already), a restore undoing a delete before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from inspector.core.store.base import Changes, Cursor

UPDATE, DELETE, RESTORE, CLEAR = "update", "delete", "restore", "clear"

Record = tuple[str, Iterable[int], int]


def changes(now: Cursor, inserted: list[int], records: Iterable[Record],
            known: Callable[[int], bool], known_upto: int) -> Changes:
    """`known(seq)`: the follower was told of that event; `known_upto`: the highest one."""
    updated: set[int] = set()
    deleted: set[int] = set()
    restored: set[int] = set()
    upto = 0
    cleared = False
    for kind, seqs, record_upto in records:  # in order: a restore undoes a delete before it
        touched = list(seqs)
        if kind == UPDATE:
            updated.update(touched)
        elif kind == RESTORE:
            for seq in touched:
                if seq in deleted and seq > upto:  # gone and back: the follower still has it
                    updated.add(seq)
                else:
                    restored.add(seq)
                deleted.discard(seq)
        else:
            deleted.update(touched)
            upto = max(upto, int(record_upto))
            restored = {s for s in restored.difference(touched) if s > int(record_upto)}
            cleared = cleared or kind == CLEAR
    known_deleted = sorted(s for s in deleted if s > upto and known(s))
    gone = set(known_deleted)
    known_updated = sorted(s for s in updated if s > upto and known(s) and s not in gone)
    return Changes(now, inserted, known_updated, known_deleted, min(upto, known_upto), cleared,
                   restored=sorted(s for s in restored if known(s)))
