"""`inspector wait`: block until events that match a filter have arrived, for CI scripts.

It follows the database as a viewer does (core/waiting.py, through the store's Follower) and
prints each matching event as it comes; the exit status says whether enough came.
"""

from __future__ import annotations

import asyncio
import sys

import click

from inspector.core import display
from inspector.core.interop import jsonview
from inspector.core.store import EventStore, StoreError
from inspector.core.store.filter import FilterError, Query
from inspector.core.waiting import Start, UnknownEvent, Watch, describe, start_of
from inspector.faces.cli.commands.options import fail
from inspector.faces.cli.commands.reading import (
    DATABASE,
    NOT_FOUND,
    USAGE,
    db_option,
    query_of,
    reader,
)
from inspector.faces.serve import row_line


@click.command("wait", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--filter", "expr", required=True, metavar="EXPR",
              help="What to wait for, e.g. 'kind:delivery_status delivered' (the `/` grammar).")
@click.option("--count", "-n", default=1, show_default=True, type=click.IntRange(min=1),
              help="How many matching events to wait for.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0),
              metavar="SECONDS", help="Give up after this long.")
@click.option("--since", default="", metavar="TIME|ID",
              help="Count events from this point instead of from now: an event id (those "
                   "after it), or a time such as 2026-11-27T12:00:00Z, 10m or 2h (those "
                   "received since).")
@click.option("--json", "as_json", is_flag=True,
              help="Print each event as a JSON line (the `events list --json` schema).")
@db_option
def wait_command(expr: str, count: int, timeout: float, since: str, as_json: bool,
                 db: str | None) -> None:
    """Wait until COUNT events matching the filter have arrived, print them and exit 0.

    \b
    inspector wait --filter 'kind:delivery_status delivered' --timeout 60
    inspector wait --filter 'path:/webhooks/stripe result:2xx' --since "$START" --count 3

    An event counts as soon as it matches: when it arrives, or when it later comes to match
    (`result:2xx` once its forward is answered). Exit status: 0 they came; 1 the timeout
    passed first (the message says how many came); 2 a bad filter or option; 3 the database
    cannot be read.
    """
    query = query_of(expr)
    store = reader(db)
    try:
        try:
            start = start_of(store, since)
        except FilterError as exc:
            fail(f"--since: {str(exc).replace('since:', '', 1)}", USAGE)
        except UnknownEvent as exc:
            fail(f"--since: no event {str(exc)!r} in {store.path}", NOT_FOUND)
        matched = asyncio.run(_wait(store, query, start, count, timeout, as_json))
    except StoreError as exc:
        fail(str(exc), DATABASE)
    except KeyboardInterrupt:  # Ctrl+C: stopped by a person, quietly
        sys.exit(130)
    finally:
        store.close()
    if len(matched) < count:
        fail(f"timed out after {timeout:g} s: {display.count(len(matched), 'event')} "
             f"matching {describe(query, start)} arrived, of the {count:,} awaited",
             NOT_FOUND)


async def _wait(store: EventStore, query: Query, start: Start, count: int, timeout: float,
                as_json: bool) -> list[int]:
    def show(seqs: list[int]) -> None:
        rows = store.rows(seqs)
        for seq in seqs:
            row = rows.get(seq)
            if row is not None:  # deleted as soon as it came
                click.echo(jsonview.line(jsonview.summary(row)) if as_json
                           else row_line(row, display.DATE_TIME))

    def failing(message: str | None) -> None:  # told once per new failure (follow.py)
        if message is not None:
            click.echo(f"warning: {message} (still waiting)", err=True)

    watch = Watch(store, query, start, on_error=failing)
    click.echo(f"waiting for {display.count(count, 'event')} matching "
               f"{describe(query, start)} (timeout {timeout:g} s)…", err=True)
    return await watch.wait(count, timeout, show)
