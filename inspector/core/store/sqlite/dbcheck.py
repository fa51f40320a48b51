"""Check the event database before anything starts, and offer a way out (`--reset-db`).

The store explains errors as they happen; this module looks for them up front, so that
`inspector` and `inspector serve` can say in one line what is wrong with the database and what
to do, before a port is taken or a screen drawn:

- locked by another process (a write lock held: another program in a long transaction);
- read-only (file, folder or file system);
- corrupt, or some other program's SQLite file, or not SQLite at all;
- written by a newer webhook-inspector (a schema version this one does not know).

`reset` moves a corrupt or too-new database aside (it is kept, renamed) so that a new one
can start: the `--reset-db` option.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from inspector.core.store.errors import explain
from inspector.core.store.sqlite.schema import SCHEMA_VERSION

# Files that belong to a database at PATH: SQLite's PATH-wal and PATH-shm, and the search
# index's side file (search.SUFFIX).
COMPANIONS = ("-wal", "-shm", "-search", "-search-wal", "-search-shm")
_RESET = "start a new one with --reset-db (the old file is kept, renamed)"
# quick_check reads every page (about 1 ms per MB, more from a cold disk): past this size it
# would delay the first paint by seconds (a million events: 1.1 GB), so a bigger database
# is checked as far as its header, schema and lock, and a page broken further in is
# reported when it is read (the store words every error for a person).
THOROUGH_LIMIT = 64 * 2**20


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # "locked", "read-only", "corrupt", "foreign", "newer", "unopenable", "full"
    message: str  # one line: what is wrong, and what to do
    resettable: bool = False  # --reset-db would get the inspector going


def check(path: str, *, lock_wait: float = 1.0, thorough: bool = True) -> Problem | None:
    """What stops the store from using `path`, or None. `thorough` adds SQLite's
    quick_check on a database up to THOROUGH_LIMIT: corruption past the first pages is
    found up front."""
    if path == ":memory:":
        return None
    file = Path(path)
    if file.is_dir():
        return Problem("unopenable", f"{path} is a folder, not a database: use --db with a "
                                     "file path")
    if not file.exists():
        return _check_folder(file)
    read_only = _read_only(file)
    if read_only is not None:
        return read_only
    uri = f"file:{quote(str(file.resolve()))}?mode=rw"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=lock_wait, isolation_level=None)
    except sqlite3.Error as exc:
        return problem_of(exc, path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            return Problem(
                "newer",
                f"{path} was written by a newer webhook-inspector (schema {version}, this one "
                f"knows {SCHEMA_VERSION}): upgrade webhook-inspector, {_RESET}, or use --db "
                "with another file", resettable=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "events" not in tables:
            return Problem(
                "foreign",
                f"{path} is another program's SQLite database, not an inspector's: use --db "
                "with another file")
        if thorough and file.stat().st_size <= THOROUGH_LIMIT:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                return _corrupt(path)
        # Can we write? A write lock held elsewhere, or a read-only file, shows here.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return problem_of(exc, path)
    finally:
        conn.close()
    return None


def problem_of(exc: BaseException, path: str) -> Problem:
    """A problem from a real sqlite3/OS error (the store's wording, plus the option)."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return _corrupt(path)
    message = str(explain(exc, path))
    if "disk full" in message:
        return Problem("full", message)
    if "read-only" in message:
        return Problem("read-only", message)
    if "locked by another process" in message:
        return Problem("locked", message)
    return Problem("unopenable", message)


def _corrupt(path: str) -> Problem:
    return Problem("corrupt", f"{path} is corrupt or not an inspector database: {_RESET}, "
                              "or use --db with another file", resettable=True)


def _check_folder(file: Path) -> Problem | None:
    """A new database: its folder must exist (or be creatable) and take new files."""
    folder = file.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".{file.name}.{os.getpid()}.probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return problem_of(exc, str(file))
    return None


_WHY = {errno.EROFS: "read-only file system", errno.EACCES: "no write permission",
        errno.EPERM: "immutable, or writing is not permitted"}


def _read_only(file: Path) -> Problem | None:
    """The file, or its folder (SQLite creates -wal and -shm files there), cannot be
    written: root writes through permissions, so ask the system rather than the mode bits."""
    try:
        os.close(os.open(file, os.O_RDWR))
    except OSError as exc:
        if exc.errno in _WHY:
            return Problem("read-only", f"{file} is read-only ({_WHY[exc.errno]}): use --db "
                                        "with a writable path")
        return None  # anything else: SQLite says it better below
    probe = file.parent / f".{file.name}.{os.getpid()}.probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if exc.errno in _WHY:
            return Problem("read-only", f"the folder of {file} is read-only ({_WHY[exc.errno]}; "
                                        "SQLite writes files beside the database): use --db "
                                        "with a path in a writable folder")
    return None


def reset(path: str) -> Path:
    """Move the database and its companion files aside; returns the new name of the
    database. The next store opened at `path` starts empty."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = Path(f"{path}.broken-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = Path(f"{path}.broken-{stamp}-{n}")
    os.replace(path, target)
    for suffix in COMPANIONS:
        if os.path.exists(path + suffix):
            os.replace(path + suffix, f"{target}{suffix}")
    return target
