"""A worker that failed is an error shown to the user, never an exit: one bad event (or a
database gone bad) must not take the app down, again at every restart."""

from __future__ import annotations

from typing import Any

from textual.worker import Worker

from inspector.core.sanitize import clip, visible_line
from inspector.core.store import StoreError

# What a failure is called, by worker group.
TITLES = {
    "detail": "Could not show this event",
    "compare": "Could not compare the events",
    "filter": "Could not filter",
    "export": "Export failed",
    "reverify": "Re-verifying failed",
    "replay": "Replay failed",
    "register": "Registering with Connectly failed",
    "sample": "Could not send the sample",
    "delete": "Deleting failed",
}


def describe(worker: Worker[Any]) -> tuple[str, str]:
    """(title, reason) for a failed worker; the reason is one inert line."""
    error = worker.error
    # The store words its errors for a person; anything else is a bug: named by its type.
    said = str(error) if isinstance(error, StoreError) else f"{type(error).__name__}: {error}"
    reason = clip(visible_line(said), 300)
    return TITLES.get(worker.group, f"{worker.name or worker.group} failed"), reason
