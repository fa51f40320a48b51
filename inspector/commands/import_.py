"""`inspector import FILE`: add the events of a JSON lines or HAR file to the database."""

from __future__ import annotations

from typing import BinaryIO

import click

from inspector import plural
from inspector.config import default_db
from inspector.export import ImportFailed, import_file
from inspector.store import Store, StoreError


@click.command("import", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.File("rb"))
@click.option("--db", default=None, metavar="PATH",
              help="Event database [default: yours; created if missing].")
def import_command(file: BinaryIO, db: str | None) -> None:
    """Import events from FILE (JSON lines from `inspector export`, or HAR; - reads stdin).

    Ids are kept, so importing a file twice adds its events once. Imported events can be
    replayed like any other.
    """
    path = db or str(default_db())
    try:
        store = Store(path, index=False)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from exc
    try:
        result = import_file(store, file)
    except ImportFailed as exc:
        raise click.ClickException(f"{file.name}: {exc}") from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    skipped = result.read - result.added
    click.echo(f"imported {result.added:,} of {plural.count(result.read, 'event')} "
               f"({result.format}) "
               f"into {path}" + (f"; {skipped:,} were already there" if skipped else ""))
