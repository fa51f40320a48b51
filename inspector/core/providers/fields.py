"""Reading fields out of a parsed JSON body that may have any shape: never raises."""

from __future__ import annotations

from typing import Any

from inspector.core.sanitize import clip

PIECE = 80  # characters of one text (a message, a name) in a summary
FACT = 500  # characters of one fact's value (a row of the Overview)


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


def short(value: Any) -> str:
    """A value as text for a summary, cut to PIECE characters."""
    if isinstance(value, str) and len(value) <= PIECE:  # the usual case, kept cheap
        return value
    return "" if value is None else clip(as_text(value), PIECE)


def quoted(text: str) -> str:
    return f'"{text}"' if text else "(no text)"


def labelled(label: str, value: Any) -> str:
    """"payload 1", or "" when there is no value."""
    text = short(value)
    return f"{label} {text}" if text else ""


def add(rows: list[tuple[str, str]], label: str, value: Any) -> None:
    """A fact row (label, value cut to FACT characters), unless the value is empty."""
    text = clip(as_text(value), FACT)
    if text:
        rows.append((label, text))
