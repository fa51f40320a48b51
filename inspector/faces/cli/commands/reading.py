"""What the commands that read a capture share (`events`, `wait`): the --db option, a
read-only store, and one exit status for each way they can fail.

They read while a receiver (the TUI or `serve`) writes to the same database, so they open it
read-only (store `read_only`): in WAL mode a reader never waits for the writer, nor makes it
wait. Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import click

from inspector.core.model import Event
from inspector.core.settings import DB_ENV, database, default_db
from inspector.core.store import EventStore, StoreError, open_store
from inspector.core.store.filter import FilterError, Query, parse
from inspector.faces.cli.commands.options import fail

NOT_FOUND = 1  # no event with that id; `wait`: fewer events than asked for arrived in time
USAGE = 2  # a bad filter or option (click's own usage errors exit 2 too)
DATABASE = 3  # the database is missing, locked, corrupt or of another schema

db_option = click.option(
    "--db", default=None, metavar="PATH|URL",
    help="Event database (a file, or postgresql://…), read while a receiver writes to it "
         f"[default: ${DB_ENV}, else {default_db()}].")
filter_option = click.option(
    "--filter", "expr", default="", metavar="EXPR",
    help="Only matching events, e.g. 'kind:delivery_status verdict:invalid' (the `/` "
         "grammar).")


def reader(db: str | None) -> EventStore:
    """The database at `db` (default: the user's), opened read-only; exits when it cannot."""
    try:
        return open_store(database(db), read_only=True)
    except StoreError as exc:
        fail(str(exc), DATABASE)


def query_of(expr: str) -> Query:
    """The parsed filter; a bad one exits with its error."""
    try:
        return parse(expr)
    except FilterError as exc:
        fail(f"--filter: {exc}", USAGE)


def stored(store: EventStore, event_id: str) -> Event:
    """The event with this id (ids are case-insensitive); exits when there is none."""
    try:
        event = store.event_by_id(event_id.strip().upper())
    except StoreError as exc:
        fail(str(exc), DATABASE)
    if event is None:
        fail(f"no event {event_id!r} in {store.path}", NOT_FOUND)
    return event
