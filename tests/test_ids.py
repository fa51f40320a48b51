"""Event ids: sortable by time, and never repeated (they are made from a block of random
bytes, refilled as it runs out, and forgotten in a forked child)."""

from __future__ import annotations

import os

from inspector.core.model import new_id


def test_ids_are_unique_across_refills_and_sort_by_time() -> None:
    ids = [new_id(1_800_000_000 + i / 1000) for i in range(2000)]  # several blocks
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)


def test_a_forked_child_does_not_repeat_the_parent_s_ids() -> None:
    new_id()  # the parent has a block in use
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, " ".join(new_id(1.0) for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [new_id(1.0) for _ in range(5)]
    assert len(child) == 5
    assert not set(child) & set(parent)
