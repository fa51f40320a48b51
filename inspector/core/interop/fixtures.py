"""Events as test fixtures for the app being built: a folder per event, ready to commit.

    DIR/0001-delivery_status/
        body.json      the body exactly as it arrived (.json, .xml, .txt, .form or .bin)
        headers.json   [["content-type", "text/plain; charset=utf-8"], ...] as received:
                       in order, duplicates kept
        event.json     the rest of the lossless record (id, time, method, path, query, what
                       the sender was answered, the verdict, every replay and forward)
        replay.sh      one curl command that sends it again: sh replay.sh [BASE_URL]

`inspector export --format fixtures DIR` writes them, `inspector import DIR` reads them back
byte-exact. A folder is untrusted input like any import file: each event goes through the
same checks and the same fresh analysis (importing.py); links are not followed (a fixture
cannot make the import read a file outside it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from inspector.core import display
from inspector.core.analysis import decoding
from inspector.core.delivery.curl import curl_command, shell_word
from inspector.core.interop.export import b64, events_with_attempts, record
from inspector.core.interop.importing import (
    Bad,
    Entry,
    ImportFailed,
    Limits,
    entry,
    from_record,
    loads,
)
from inspector.core.model import Attempt, Event
from inspector.core.sanitize import clip, visible_line
from inspector.core.store import EventStore

FORMAT = "fixtures"
HEADERS = "headers.json"
EVENT = "event.json"
SCRIPT = "replay.sh"
BODY = "body"
_SUFFIXES = {"json": ".json", "xml": ".xml", "text": ".txt", "form": ".form"}
_SLUG = re.compile(r"[^a-z0-9_.-]+")


class FixturesError(OSError):
    """A folder that cannot be written; the message says why."""


def write(store: EventStore, seqs: list[int], folder: Path, base: str) -> int:
    """A fixture folder per event, in `folder` (missing, made with its parents, or empty).
    Written
    next to it first, then moved into place: a failed export leaves nothing half done.
    `base`: the URL the replay scripts send to unless given another."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FixturesError(f"{folder} is not an empty folder: name a new one")
    parent = folder.parent if str(folder.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    try:
        count = 0
        for count, (event, attempts) in enumerate(events_with_attempts(store, seqs), 1):
            _write_one(temp / _name(count, event), event, attempts, base)
        if folder.exists():
            folder.rmdir()
        temp.chmod(0o755)  # mkdtemp's 0700 is for while it is written
        os.replace(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return count


def _name(n: int, event: Event) -> str:
    """"0001-delivery_status": the kind (a stranger's text) cut to a safe file name."""
    slug = _SLUG.sub("-", (event.kind or event.method).lower()).strip(".-")[:40]
    return f"{n:04d}-{slug or 'event'}"


def body_name(event: Event) -> str:
    """body.json, body.txt, ... from what the body is, so an editor shows it well."""
    kind = decoding.decode(event.body, event.headers).kind
    return BODY + _SUFFIXES.get(kind, ".bin")


def _write_one(folder: Path, event: Event, attempts: list[Attempt], base: str) -> None:
    folder.mkdir()
    body = body_name(event)
    (folder / body).write_bytes(event.body)
    data = record(event, attempts)
    headers = data.pop("headers")
    del data["body_base64"]
    pairs = ",\n".join("  " + json.dumps(pair, ensure_ascii=True) for pair in headers)
    (folder / HEADERS).write_text(f"[\n{pairs}\n]\n" if pairs else "[]\n", encoding="ascii")
    (folder / EVENT).write_text(_json(data), encoding="ascii")
    (folder / SCRIPT).write_text(script(event, body, base), encoding="utf-8")
    (folder / SCRIPT).chmod(0o755)


def _json(value: Any) -> str:
    # ASCII: control characters and odd bytes stay escaped in a file people will open.
    return json.dumps(value, ensure_ascii=True, indent=2) + "\n"


def script(event: Event, body: str, base: str) -> str:
    """A shell script with one curl command that sends the event again, byte-exact, to
    BASE_URL (its first argument, else `base`) followed by the event's path and query."""
    title = visible_line(clip(f"{event.method} {event.target}, "
                              f"{event.kind or 'unknown kind'}", 200))
    verdict = display.verdict_label(event.verdict) or "not checked"
    command = curl_command(event, base, base_word='"$BASE"', body_file=body, one_line=True)
    # -sS: no progress meter in a test's output, but errors still said.
    command = "curl -sS " + command.removeprefix("curl ")
    return (f"#!/bin/sh\n"
            f"# Event {event.id} ({title}; signature {verdict}), received "
            f"{display.utc_iso(event.received_at)}.\n"
            f"# Usage: sh {SCRIPT} [BASE_URL]  (the event's path is appended)\n"
            f"BASE=${{1:-{shell_word(base.rstrip('/').encode('latin-1'))}}}\n"
            f'cd "$(dirname "$0")" && {command}\n')


# -- reading ---------------------------------------------------------------------------------


def read(folder: Path, limits: Limits) -> Iterator[Entry]:
    """The events of a fixtures folder, each checked as an import entry (Bad ones carry
    their problem). ImportFailed when the folder holds no fixture at all."""
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    if not any((p / EVENT).exists() for p in subfolders):
        raise ImportFailed(f"no fixtures in {folder}: each event is a folder with {EVENT}, "
                           f"{HEADERS} and its body (see `inspector export --format fixtures`)")
    for sub in subfolders:
        yield entry(f"fixture {sub.name}", partial(_from_folder, sub, limits))


def _from_folder(folder: Path, limits: Limits) -> tuple[Event, list[Attempt]]:
    data = loads(_read(folder / EVENT, limits.max_line))
    if not isinstance(data, dict):
        raise Bad(f"{EVENT}: expected an object")
    bodies = [p for p in folder.iterdir() if p.name == BODY or p.name.startswith(BODY + ".")]
    if len(bodies) != 1:
        raise Bad(f"expected one body file ({BODY}.json, {BODY}.bin, …), found {len(bodies)}")
    body = _read(bodies[0], limits.max_body, "--max-body")
    headers = loads(_read(folder / HEADERS, limits.max_line))
    # The lossless record again, so that every check of an import applies.
    return from_record({**data, "headers": headers, "body_base64": b64(body)}, limits)


def _read(path: Path, limit: int, flag: str = "") -> bytes:
    """A regular file's bytes, up to `limit` (Bad otherwise: missing, a link, too big)."""
    try:
        info = path.lstat()
    except OSError:
        raise Bad(f"{path.name} is missing") from None
    if not stat.S_ISREG(info.st_mode):
        raise Bad(f"{path.name} is not a regular file (links are not followed)")
    if info.st_size > limit:
        over = f" (raise it with {flag})" if flag else ""
        raise Bad(f"{path.name} holds {info.st_size:,} bytes; the limit is {limit:,}{over}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise Bad(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew since
        raise Bad(f"{path.name} holds more than {limit:,} bytes")
    return data
