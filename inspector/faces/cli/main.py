"""The command line: a thin click layer over the session, the TUI and the tools. Options
become Settings (core/settings.py, which also reads the environment); nothing here reads it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from inspector.core import redact
from inspector.core.capture.server import BindError, bind, exposure_warning, protocol_class
from inspector.core.settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    OptionError,
    Settings,
    default_db,
    secrets_in_env,
)
from inspector.core.store import StoreError
from inspector.faces import terminal
from inspector.faces.cli.commands.connectly import connectly
from inspector.faces.cli.commands.export import export_command
from inspector.faces.cli.commands.import_ import import_command
from inspector.faces.cli.commands.options import (
    config_option,
    max_body_option,
    parse_size,
    provider_secret_option,
    public_url_option,
    secret_option,
    usage_error,
)
from inspector.faces.cli.commands.trigger import trigger
from inspector.faces.cli.commands.verify import verify


def receiver_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the TUI and `serve`."""
    options = [
        click.option("--host", default=DEFAULT_HOST, show_default=True,
                     help="Address to listen on (0.0.0.0 exposes it to your network)."),
        click.option("--port", "-p", default=DEFAULT_PORT, show_default=True,
                     type=click.IntRange(0, 65535),
                     help="Port to listen on (0 picks a free one)."),
        click.option("--db", default=None, metavar="PATH",
                     help=f"Event database [default: {default_db()}]; ':memory:' keeps nothing."),
        secret_option,
        provider_secret_option,
        click.option("--replay-to", default="", metavar="URL",
                     help="TUI: where `r` sends events (a URL ending in / gets the event's "
                          "path)."),
        max_body_option,
        public_url_option,
        config_option,
        click.option("--http", type=click.Choice(["auto", "h11", "httptools"]), default="auto",
                     show_default=True, help="uvicorn's HTTP parser."),
        click.option("--rate-limit", type=click.FloatRange(min=0), default=0.0, metavar="N",
                     help="Answer 429 past N requests a second, all senders together "
                          "[default: off]."),
        click.option("--reset-db", is_flag=True,
                     help="If the database is corrupt or from a newer version, move it aside "
                          "(kept as PATH.broken-TIME) and start a new one."),
        click.option("--tunnel", default=None, metavar="TOOL",
                     help="Start a tunnel to this port: ngrok, cloudflared, localtunnel, ssh or "
                          "ssh:HOST; its public URL shows in the header (serve: on stderr)."),
        click.option("--forward-to", default="", metavar="URL",
                     help="Forward every incoming event to your app as it arrives, byte-exact "
                          "and in order (a URL ending in / gets the event's path)."),
        click.option("--resign", is_flag=True,
                     help="Re-sign forwarded and replayed events with the configured secret "
                          "(fresh timestamp), if they arrived with a valid signature; others "
                          "go as they arrived."),
        click.option("--respond-with-downstream", is_flag=True,
                     help="Answer each sender with what the --forward-to app answered (502 "
                          "when it fails), as a proxy would."),
        click.option("--status", type=int, default=None, metavar="CODE",
                     help="Answer deliveries with this status [default: 200]."),
        click.option("--response-body", default=None, metavar="TEXT|@FILE",
                     help="Answer with this body instead of our JSON (the event id is then "
                          "only in the X-Inspector-Event-Id header)."),
        click.option("--response-header", "response_headers", multiple=True,
                     metavar="'NAME: VALUE'", help="Add a header to the answer (repeat)."),
        click.option("--delay", type=float, default=None, metavar="SECONDS",
                     help="Answer this long after the event is stored."),
        click.option("--reject-invalid", is_flag=True,
                     help="Answer 401 to events whose signature is invalid, as a production "
                          "endpoint would, to watch the provider retry."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def make_settings(max_body: str, **options: Any) -> Settings:
    """The receiver's options, as Settings; a bad value is a usage error naming its flag."""
    try:
        settings = Settings.build(max_body=parse_size(max_body), **options)
    except OptionError as exc:
        raise usage_error(exc) from exc
    redact.remember(*settings.secret_values())
    return settings


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@receiver_options
@click.option("--no-follow", is_flag=True, help="Start with follow mode off.")
@click.version_option(package_name="webhook-inspector")
@click.pass_context
def cli(ctx: click.Context, /, no_follow: bool, **options: Any) -> None:
    """Receive webhooks, see their signature verdicts, read them, replay them.

    With no command, starts the terminal UI.
    """
    if ctx.invoked_subcommand is not None:
        return
    run_tui(make_settings(follow=not no_follow, **options))


def open_session(settings: Settings) -> Any:
    """Open the store and bind the port before any UI: failures are one clear line."""
    from inspector.core.session import Session
    from inspector.core.store.sqlite import dbcheck

    notices: list[str] = []
    if settings.config_note:  # which file decides routes, secrets and answers
        notices.append(settings.config_note)
        click.echo(settings.config_note, err=True)
    for unusable in settings.warnings:  # a secret its provider cannot use
        notices.append(f"warning: {unusable}")
        click.echo(notices[-1], err=True)
    problem = dbcheck.check(settings.db)
    if problem is not None:
        if not (settings.reset_db and problem.resettable):
            fail(problem.message)
        moved = dbcheck.reset(settings.db)
        notices.append(f"moved {settings.db} aside to {moved}; starting a new database")
        click.echo(notices[-1], err=True)
    warning = exposure_warning(settings.host)
    if warning:
        click.echo(warning, err=True)  # the TUI also shows it as a notification
    try:
        protocol_class(settings.http)  # a parser that is not installed: say so before binding
    except BindError as exc:
        fail(str(exc), 2)
    try:
        sock = bind(settings.host, settings.port)
    except BindError as exc:
        fail(str(exc))
    try:
        session = Session(settings, sock)
    except StoreError as exc:
        sock.close()
        fail(str(exc))
    redact.watch(session.secret_values)  # a secret set in the TUI is one too
    for notice in notices:  # before any face: the TUI shows them when it starts
        session.notice(notice)
    return session


def run_tui(settings: Settings) -> None:
    session = open_session(settings)
    from inspector.faces.tui.app import InspectorApp

    app = InspectorApp(session)
    try:
        app.run()
    finally:
        session.close()
    sys.exit(app.return_code or 0)


@cli.command()
@receiver_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")
def serve(as_json: bool, **options: Any) -> None:
    """Run the receiver without the TUI: one line per event on stdout."""
    import asyncio

    from inspector.faces.serve import serve as run_headless

    session = open_session(make_settings(**options))
    try:
        asyncio.run(run_headless(session, as_json=as_json))
    finally:
        session.close()


for command in (verify, trigger, export_command, import_command, connectly):
    cli.add_command(command)


def main() -> None:
    terminal.install()  # before anything is printed: every byte goes through it
    redact.remember(*secrets_in_env())  # flags and config files add theirs as they are read
    cli(prog_name="inspector")


if __name__ == "__main__":
    main()
