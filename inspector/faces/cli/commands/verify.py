"""`inspector verify`: check one request's signature offline, or re-check a stored event.

Exit status: 0 valid, 1 invalid / unsigned / no secret, 2 usage error.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import click

from inspector.core import redact
from inspector.core.analysis.analyzer import Analyzer
from inspector.core.config import Config
from inspector.core.display import verdict_label
from inspector.core.headers import HeaderLineError, parse_header_line
from inspector.core.model import Event, HeaderList
from inspector.core.sanitize import clip, visible_line
from inspector.core.settings import OptionError, database, read_config, read_secrets
from inspector.core.signatures import PROVIDERS, Check, SignedRequest
from inspector.faces.cli.commands.options import provider_secret_option, usage_error

SHOWN = 400  # characters of a header value printed; hostile values can be 100 KB
# Reasons name the receiver's flags (`inspector`, `serve`); here the same thing is another.
FLAGS_HERE = {"--public-url": "--url"}


def parse_header(text: str) -> tuple[str, str]:
    """'Name: value' as it would arrive (headers.parse_header_line); a usage error if not."""
    try:
        return parse_header_line(text, received=True)
    except HeaderLineError as exc:
        raise click.BadParameter(str(exc), param_hint="--header") from exc


def load(config: str | None) -> Config:
    """The --config file, else ./inspector.toml if any; a usage error when it is wrong."""
    try:
        found = read_config(config)
    except OptionError as exc:
        raise usage_error(exc) from exc
    redact.remember(*(s for route in found.routes for s in route.secrets))
    return found


def stored(event_id: str, db: str | None) -> Event:
    from inspector.core.store import StoreError, is_url, open_store

    path = database(db)
    if not is_url(path) and not Path(path).is_file():
        raise click.BadParameter(f"no database at {path}", param_hint="--db")
    try:
        store = open_store(path)
        try:
            event = store.event_by_id(event_id)
        finally:
            store.close()
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from exc
    if event is None:
        raise click.BadParameter(f"no event {event_id!r} in {path}", param_hint="--event")
    return event


def here(reason: str) -> str:
    """A reason written for the receiver's flags, with this command's flags instead."""
    for theirs, ours in FLAGS_HERE.items():
        reason = reason.replace(theirs, ours)
    return reason


def report(result: Check) -> None:
    title = PROVIDERS[result.provider].title if result.provider in PROVIDERS else result.provider
    click.echo(f"verdict:  {verdict_label(result.verdict)}"
               + (f" ({title})" if title else ""))
    click.echo(f"reason:   {visible_line(here(result.reason))}")
    for label, value in (("header", result.header), ("received", result.received),
                         ("expected", result.expected)):
        if value:
            click.echo(f"{label + ':':<9} {visible_line(clip(value, SHOWN))}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--provider", default="auto", show_default=True,
              type=click.Choice(["auto", *PROVIDERS]),
              help="The signing scheme; auto detects it from the headers.")
@click.option("--secret", "-s", "secrets", multiple=True, metavar="SECRET",
              help="Signing secret or public key; repeat for a rotation (valid when any "
                   "matches) [env: CONNECTLY_WEBHOOK_SECRET, INSPECTOR_SECRET, several "
                   "separated by spaces].")
@provider_secret_option
@click.option("--header", "-H", "headers", multiple=True, metavar="'NAME: VALUE'",
              help="A request header, as received (repeat for each).")
@click.option("--body-file", type=click.File("rb"), default=None, metavar="PATH",
              help="The exact body bytes; - reads stdin.")
@click.option("--url", default="", metavar="URL",
              help="The full URL the sender called (Twilio, Square and HubSpot sign it).")
@click.option("--method", default="POST", show_default=True, metavar="METHOD",
              help="The request's method (HubSpot signs it).")
@click.option("--now", type=float, default=None, metavar="UNIX",
              help="Judge timestamps at this Unix time [default: now; for --event, when it "
                   "arrived].")
@click.option("--event", "event_id", default=None, metavar="ID",
              help="Re-check a stored event instead of --header/--body-file.")
@click.option("--db", default=None, metavar="PATH", help="Event database for --event.")
@click.option("--config", default=None, metavar="PATH",
              help="Routes file that pins providers and secrets by path "
                   "[default: ./inspector.toml if present].")
def verify(provider: str, secrets: tuple[str, ...], provider_secrets: tuple[str, ...],
           headers: tuple[str, ...], body_file: BinaryIO | None, url: str, method: str,
           now: float | None, event_id: str | None, db: str | None, config: str | None
           ) -> None:
    """Check a webhook's signature offline and say why it fails.

    \b
    inspector verify --provider stripe --secret whsec_... \\
        --header 'Stripe-Signature: t=...,v1=...' --body-file body.json
    inspector verify --event ID

    Exit status: 0 valid; 1 invalid, unsigned or no secret; 2 usage error.
    """
    routes = load(config).routes
    if secrets:  # explicit secrets beat the routes' secrets
        routes = [dataclasses.replace(r, secrets=()) for r in routes]
    try:  # as the receiver reads them: each provider's own variables too
        given = read_secrets(secrets, provider_secrets)
    except OptionError as exc:
        raise usage_error(exc) from exc
    redact.remember(*given.values())
    analyzer = Analyzer(given, routes=routes)
    if event_id is not None:
        if headers or body_file is not None:
            raise click.UsageError("--event re-checks a stored event: leave out --header and "
                                   "--body-file")
        event = stored(event_id, db)
        req = analyzer.resolver.request_of(event)
        if url:
            req = dataclasses.replace(req, url=url)
        path = event.path
        when = event.received_at if now is None else now
    else:
        if body_file is None:
            raise click.UsageError("give --body-file (- for stdin), or --event ID")
        pairs: HeaderList = [parse_header(h) for h in headers]
        req = SignedRequest(method, url, pairs, body_file.read())
        try:
            path = urlsplit(url).path or "/"
        except ValueError as exc:
            raise click.BadParameter(f"{url!r} is not a URL ({exc})", param_hint="--url") from exc
        when = time.time() if now is None else now
    pinned = None if provider == "auto" else provider
    result = analyzer.verify_request(req, path, pinned, now=when)
    report(result)
    click.get_current_context().exit(0 if result.ok else 1)
