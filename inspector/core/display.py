"""Counted nouns for every face: "1 event", "2 events", "12,000 events"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str = "") -> str:
    """`n` with thousands separators, then `noun`, or `plural` (default noun + "s")."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
