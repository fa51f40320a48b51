"""Who receives into a database: a lock that only a live receiver holds, and its record.

The receiver of `events.db` holds an exclusive `flock` on `events.db-receiver` for as long as
it runs, and writes there where it listens and where its control channel is (`Record`). The
kernel drops the lock when the process ends, however it ends (kill -9 included), so a lock
that can be taken means nobody receives, whatever the file still says: a record left by a
dead receiver is stale and ignored. A pid alone could not tell that: pids are reused.

The file is never deleted (a receiver that deleted it could race another one that had just
opened the old file and would lock a file nobody else sees); a receiver empties it on a
clean stop.

    claim = claim_database(db)   # a receiver, before it binds its port (Taken: someone does)
    claim.publish(Record(...))   # once it listens
    find(db)                     # a viewer: the live receiver's record, or None
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SUFFIX = "-receiver"
# A viewer looking (find) holds a shared lock for microseconds; a receiver starting at that
# moment tries again for this long before it believes someone else holds the database.
CLAIM_PATIENCE = 2.0


@dataclass(frozen=True, slots=True)
class Record:
    """Where the receiver of a database can be reached."""

    pid: int
    url: str  # where it receives: "http://127.0.0.1:8765/"
    control: str  # its control channel: a unix socket only the same user can open
    started: float  # time.time() when it began receiving

    def describe(self) -> str:
        return f"{self.url} (pid {self.pid})"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Record | None:
        """The record in `text`, or None when it is empty or not one (being written)."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["url"]), str(data["control"]),
                       float(data["started"]))
        except (ValueError, TypeError, KeyError):
            return None


class Taken(Exception):
    """Another process receives into this database."""

    def __init__(self, db: str, record: Record | None) -> None:
        who = (f"pid {record.pid}, receiving on {record.url}" if record is not None
               else "it is starting")
        super().__init__(f"another inspector is receiving into {db} ({who})")
        self.record = record


def path_for(db: str) -> str:
    return db + SUFFIX


class Claim:
    """This process receives into the database: the lock, held until `release`."""

    def __init__(self, db: str, fd: int) -> None:
        self.db = db
        self.path = path_for(db)
        self._fd: int | None = fd
        self.stale = _read(fd)  # what a receiver that died left (its control socket, say)

    def publish(self, record: Record) -> None:
        """Say where this receiver listens (viewers read it)."""
        if self._fd is None:
            return
        data = record.to_json().encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def withdraw(self) -> None:
        """Stop telling viewers where this receiver is (it is stopping); the database stays
        held until `release`."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)

    def release(self) -> None:
        """Empty the record and let go of the database (a viewer sees no receiver)."""
        self.withdraw()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the lock

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def claim_database(db: str, patience: float = CLAIM_PATIENCE) -> Claim:
    """Take the database for this process. Raises Taken when a live receiver holds it, and
    OSError when the lock file cannot be made (its folder is missing or read-only: the
    database check says so better)."""
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path_for(db), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return Claim(db, fd)
        except BlockingIOError:
            record = _read(fd)
            # A record: a live receiver. None: one starting, or a viewer looking right now.
            if record is not None or time.monotonic() > deadline:
                os.close(fd)
                raise Taken(db, record) from None
            time.sleep(0.02)
        except BaseException:
            os.close(fd)
            raise


def find(db: str) -> Record | None:
    """The live receiver's record, or None when nobody receives into `db` (no lock file, a
    free lock: a stale record, or a receiver still starting that has not said where yet)."""
    try:
        fd = os.open(path_for(db), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)  # held: a live receiver
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EINVAL):
                return None  # a file system without locks: no receiver can be known
            raise
        return None  # nobody holds it: any record is stale
    finally:
        os.close(fd)  # drops our shared lock at once


def _read(fd: int) -> Record | None:
    try:
        data = os.pread(fd, 64 * 1024, 0)
    except OSError:
        return None
    return Record.from_json(data.decode("utf-8", "replace"))
