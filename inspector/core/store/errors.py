"""Storage failures, worded for a person: what went wrong and what to do about it."""

from __future__ import annotations


class StoreError(Exception):
    """A storage failure, worded for a person."""


def explain(exc: BaseException, path: str) -> StoreError:
    """Turn a database or OS error into a message a person can act on."""
    text = str(exc).lower()
    if "disk is full" in text or "no space" in text:
        return StoreError(f"disk full: cannot write to {path}; free some space")
    if "readonly" in text or "read-only" in text or "permission denied" in text:
        return StoreError(f"{path} is read-only: use --db with a writable path")
    if "locked" in text or "busy" in text:
        return StoreError(
            f"{path} is locked by another process (another inspector?): "
            "close it, or use --db with another file"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"{path} is corrupt or not an inspector database: move it away, or use --db "
            "with another file"
        )
    if "unable to open" in text or "not a directory" in text or "no such file" in text:
        return StoreError(f"cannot open {path}: check that its folder exists and is writable")
    return StoreError(f"database error on {path}: {exc}")
