"""`inspector export`: write stored events as JSON lines, HAR or curl commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from inspector.core import display
from inspector.core.delivery.replay import ReplayError, check_target
from inspector.core.interop import fixtures
from inspector.core.interop.export import DEFAULT_CURL_TARGET, FORMATS, export, export_to_file
from inspector.core.settings import database
from inspector.core.store import EventStore, StoreError, is_url, open_store
from inspector.core.store.filter import FilterError, parse


def open_existing(db: str | None) -> EventStore:
    """The store at `db` (default: the user's), which must exist; click errors otherwise."""
    path = database(db)
    if path != ":memory:" and not is_url(path) and not Path(path).is_file():
        raise click.BadParameter(f"no database at {path}", param_hint="--db")
    try:
        return open_store(path, index=False)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from exc


@click.command("export", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", default=None, metavar="PATH", help="Event database [default: yours].")
@click.option("--format", "fmt", type=click.Choice([*FORMATS, fixtures.FORMAT]), required=True,
              help="jsonl: lossless, re-importable; har: for browser devtools; "
                   "curl: one command per event; fixtures: a folder per event (body, "
                   "headers.json, replay.sh) to commit as test fixtures, re-importable.")
@click.option("--filter", "expr", default="", metavar="EXPR",
              help="Only matching events, e.g. 'verdict:invalid since:1h' (the `/` grammar).")
@click.argument("destination", required=False, metavar="[DEST]")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Where to write [default: stdout]; the same as DEST. fixtures: the folder "
                   "to create (missing or empty).")
@click.option("--target", default=None, metavar="URL",
              help="curl: send to this URL (a URL ending in / gets the event's path); "
                   "fixtures: the base URL the replay scripts send to by default "
                   f"[default: {DEFAULT_CURL_TARGET}, where the inspector listens by default; "
                   "never the Host header a sender chose].")
def export_command(db: str | None, fmt: str, expr: str, destination: str | None,
                   output: str | None, target: str | None) -> None:
    """Export stored events (oldest first). Secrets are never stored, so never exported.

    \b
    inspector export --format jsonl -o events.jsonl
    inspector export --format har --filter 'provider:connectly since:1d' -o today.har
    inspector export --format curl --filter 'id:01J...' --target http://localhost:3000/
    inspector export --format fixtures --filter 'kind:delivery_status' tests/fixtures/hooks
    """
    try:
        query = parse(expr)
    except FilterError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from exc
    if destination is not None and output is not None:
        raise click.UsageError("give the destination once: DEST or -o")
    output = destination or output or "-"
    if fmt == fixtures.FORMAT and output == "-":
        raise click.UsageError("--format fixtures writes a folder: name it (DEST)")
    if target is not None:
        if fmt not in ("curl", fixtures.FORMAT):
            raise click.UsageError("--target is for --format curl and fixtures")
        try:
            target = check_target(target)
        except ReplayError as exc:
            raise click.BadParameter(str(exc), param_hint="--target") from exc
    target = target or DEFAULT_CURL_TARGET
    store = open_existing(db)
    try:
        seqs = store.search(query)
        if fmt == fixtures.FORMAT:
            count = _to_folder(store, seqs, Path(output), target)
        elif output == "-":
            count = export(store, seqs, fmt, sys.stdout, target)
        else:
            count = _to_file(store, seqs, fmt, Path(output), target)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    where = "stdout" if output == "-" else output
    click.echo(f"exported {display.count(count, 'event')} to {where}", err=True)


def _to_file(store: EventStore, seqs: list[int], fmt: str, path: Path, target: str) -> int:
    try:
        return export_to_file(store, seqs, fmt, path, target)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


def _to_folder(store: EventStore, seqs: list[int], folder: Path, base: str) -> int:
    try:
        return fixtures.write(store, seqs, folder, base)
    except OSError as exc:  # FixturesError says it all; others, what failed
        message = str(exc) if isinstance(exc, fixtures.FixturesError) else (
            f"cannot write {folder}: {exc.strerror or exc}")
        raise click.ClickException(message) from exc
