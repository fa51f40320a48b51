"""Reading fields out of a parsed JSON body that may have any shape: never raises."""

from __future__ import annotations

from typing import Any


def get(value: Any, *path: str) -> Any:
    """value[path[0]][path[1]]…, or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def as_text(value: Any) -> str:
    """A string as it is; None as ""; anything else as str() (numbers, booleans)."""
    return value if isinstance(value, str) else ("" if value is None else str(value))


def join(*parts: str) -> str:
    """The non-empty parts, joined by a middle dot."""
    return " · ".join(p for p in parts if p)


def first_line(value: Any) -> str:
    return as_text(value).strip().split("\n", 1)[0]
