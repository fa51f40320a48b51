"""`inspector import FILE`: add the events of a JSON lines or HAR file to the database."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from inspector.core import display, redact
from inspector.core.analysis.analyzer import Analyzer
from inspector.core.interop import fixtures
from inspector.core.interop.importing import (
    MAX_SHOWN_PROBLEMS,
    Imported,
    ImportFailed,
    Limits,
    import_entries,
    import_file,
)
from inspector.core.settings import OptionError, database, read_secrets
from inspector.core.store import EventStore, StoreError, open_store
from inspector.faces.cli.commands.options import (
    config_option,
    max_body_option,
    parse_size,
    provider_secret_option,
    public_url_option,
    secret_option,
    usage_error,
)
from inspector.faces.cli.commands.verify import load as load_config


@click.command("import", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", metavar="FILE|DIR", type=click.Path(allow_dash=True))
@click.option("--db", default=None, metavar="PATH",
              help="Event database [default: yours; created if missing].")
@secret_option
@provider_secret_option
@config_option
@public_url_option
@max_body_option
def import_command(source: str, db: str | None, secret: str | None,
                   provider_secrets: tuple[str, ...], config: str | None, public_url: str,
                   max_body: str) -> None:
    """Import events from FILE (JSON lines from `inspector export`, or HAR; - reads stdin),
    or from a DIR of fixtures (`inspector export --format fixtures`).

    Every field is checked as a live request is; verdicts, kinds and summaries are never
    taken from the file but computed again from the bytes, with the secrets given here (as
    to the TUI). Entries that fail a check are skipped and listed, the rest imported; the
    exit status is then 1.

    Ids are kept, so importing a file twice adds its events once. Imported events can be
    replayed like any other.
    """
    try:
        secrets = read_secrets(secret, provider_secrets)
    except OptionError as exc:
        raise usage_error(exc) from exc
    redact.remember(*secrets.values())  # config's: in load
    analyzer = Analyzer(secrets=secrets, public_url=public_url,
                        routes=load_config(config).routes)
    limits = Limits(max_body=parse_size(max_body))
    path = database(db)
    try:
        store = open_store(path, index=False)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from exc
    try:
        result = _import(store, source, analyzer, limits)
    except ImportFailed as exc:
        raise click.ClickException(f"{source}: {exc}") from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    there = result.read - result.added
    click.echo(f"imported {result.added:,} of {display.count(result.read, 'event')} "
               f"({result.format}) into {path}"
               + (f"; {there:,} were already there" if there else ""))
    if result.skipped:
        skipped = len(result.skipped)
        click.echo(f"error: skipped {display.count(skipped, 'bad entry', 'bad entries')} of "
                   f"{source}:", err=True)
        for problem in result.skipped[:MAX_SHOWN_PROBLEMS]:
            click.echo(f"  {problem}", err=True)
        if skipped > MAX_SHOWN_PROBLEMS:
            click.echo(f"  … and {skipped - MAX_SHOWN_PROBLEMS:,} more", err=True)
        sys.exit(1)


def _import(store: EventStore, source: str, analyzer: Analyzer, limits: Limits) -> Imported:
    """A fixtures folder, or a file (- for stdin)."""
    if source != "-" and Path(source).is_dir():
        entries = fixtures.read(Path(source), limits)
        return import_entries(store, fixtures.FORMAT, entries, analyzer)
    try:
        with click.open_file(source, "rb") as data:
            return import_file(store, data, analyzer, limits=limits)
    except OSError as exc:
        raise click.ClickException(f"cannot read {source}: {exc.strerror or exc}") from exc
