"""Times for people, from stored Unix times that may be out of any calendar's range.

A database can hold a time no date function accepts (1e308 came in through an old import,
and killed the TUI on every start): these never raise, and keep the width of the format.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def local(stamp: float, fmt: str = "%H:%M:%S") -> str:
    """`stamp` in local time as `fmt`; question marks in place of digits when it has none."""
    try:
        return time.strftime(fmt, time.localtime(stamp))
    except (OverflowError, ValueError, OSError, TypeError):
        return _unknown(fmt)


def millis(stamp: float) -> str:
    """".123": the milliseconds of `stamp`, for a time shown to the millisecond."""
    try:
        return f".{int(stamp * 1000) % 1000:03d}"
    except (OverflowError, ValueError, TypeError):
        return ".???"


def utc_iso(stamp: float) -> str:
    """"2026-11-27T12:00:00.250Z", or the same shape in question marks."""
    try:
        when = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return "????-??-??T??:??:??.???Z"
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unknown(fmt: str) -> str:
    return "".join("?" if c.isdigit() else c for c in time.strftime(fmt, time.gmtime(0)))
