"""The command line: a thin click layer over the session, the TUI and the tools. Options
become Settings (core/settings.py, which also reads the environment); nothing here reads it."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, NoReturn

import click
from click.core import ParameterSource

from inspector.core import redact
from inspector.core.capture.handshakes import META_TOKEN_ENV, META_TOKEN_FLAG
from inspector.core.capture.receiver import DEFAULT_MAX_BODY
from inspector.core.capture.server import BindError, bind, check_parser, exposure_warning
from inspector.core.control import presence
from inspector.core.rules.rule import MAX_RETRIES
from inspector.core.settings import (
    DB_ENV,
    DEFAULT_HOST,
    DEFAULT_PORT,
    OptionError,
    Settings,
    default_db,
    secrets_in_env,
)
from inspector.core.store import StoreError, is_url
from inspector.faces import terminal
from inspector.faces.cli.commands.options import (
    config_option,
    fail,
    max_body_option,
    parse_size,
    provider_secret_option,
    public_url_option,
    secret_option,
    usage_error,
)

# What only the process that receives uses: given to a TUI that opens as a viewer, said to
# be ignored.
DEFAULT_WEB_PORT = 8080
DEFAULT_TABS = 8
RECEIVER_ONLY = frozenset({
    "host", "port", "max_body", "public_url", "http", "rate_limit", "reset_db", "tunnel",
    "forward_to", "respond_with_downstream", "status", "response_body", "response_headers",
    "delay", "reject_invalid", "keep", "keep_days", "meta_verify_token", "no_handshakes"})

# The commands in their own modules, imported when named (or listed by --help): the TUI,
# started with no command, waits for none of their imports. Name: module:attribute.
COMMANDS = {
    "connectly": "connectly:connectly", "events": "events:events",
    "export": "export:export_command", "import": "import_:import_command",
    "mcp": "mcp:mcp_command", "trigger": "trigger:trigger", "verify": "verify:verify",
    "wait": "wait:wait_command",
}


class Commands(click.Group):
    """A group whose COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, name = COMMANDS[cmd_name].split(":")
            found = importlib.import_module(f"inspector.faces.cli.commands.{module}")
            self.add_command(getattr(found, name), cmd_name)
        return super().get_command(ctx, cmd_name)


db_option = click.option(
    "--db", default=None, metavar="PATH|URL",
    help=f"Event database: a file, ':memory:' (keeps nothing), or postgresql://USER:PASSWORD@"
         f"HOST/DB shared by a team [default: ${DB_ENV}, else {default_db()}].")


def receiver_options(fn: Callable[..., Any], *, host: str = "--host", port: str = "--port"
                     ) -> Callable[..., Any]:
    """Options shared by the TUI, `serve` and `web` (which names the receiver's address
    --receiver-host and --receiver-port: its own --host and --port are the web UI's)."""
    options = [
        click.option(host, "host", default=DEFAULT_HOST, show_default=True,
                     help="Address to listen on (0.0.0.0 exposes it to your network)."),
        click.option(port, *(["-p"] if port == "--port" else []), "port",
                     default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
                     help="Port to listen on (0 picks a free one)."),
        db_option,
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
        click.option("--keep", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Keep the newest N events: older ones are deleted in the background "
                          "as new ones arrive [default: keep everything]."),
        click.option("--keep-days", type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="DAYS", help="Delete events received more than DAYS ago (1.5: "
                     "36 hours), in the background [default: keep everything]."),
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
        click.option("--forward-retries", type=click.IntRange(0, MAX_RETRIES), default=0,
                     metavar="N", help="Retry a failed forward (no answer, 5xx, 429) up to N "
                     "times, on --forward-retry-schedule, in arrival order per delivery "
                     "[default: 0]."),
        click.option("--forward-retry-schedule", default="", metavar="SECONDS,…",
                     help="Seconds before each forward retry, the last repeating "
                          "[default: 1,5,30]."),
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
        click.option(META_TOKEN_FLAG, "meta_verify_token", multiple=True, metavar="TOKEN",
                     help=f"Answer Meta's (WhatsApp Cloud API) endpoint check when its "
                          f"hub.verify_token is this one, 403 otherwise [default: "
                          f"${META_TOKEN_ENV}, safer: not shown in the process list]."),
        click.option("--no-handshakes", is_flag=True,
                     help="Do not answer providers' endpoint checks (Slack url_verification, "
                          "Zoom url_validation, Twitch, Discord PING, Meta hub.challenge): "
                          "they get the usual answer."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def make_settings(max_body: str = str(DEFAULT_MAX_BODY), **options: Any) -> Settings:
    """The receiver's options, as Settings; a bad value is a usage error naming its flag."""
    try:
        settings = Settings.build(max_body=parse_size(max_body), **options)
    except OptionError as exc:
        raise usage_error(exc) from exc
    redact.remember(*settings.secret_values())
    return settings


@click.group(cls=Commands, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@receiver_options
@click.option("--no-follow", is_flag=True, help="Start with follow mode off.")
@click.version_option(package_name="webhook-inspector")
@click.pass_context
def cli(ctx: click.Context, /, no_follow: bool, **options: Any) -> None:
    """Receive webhooks, see their signature verdicts, read them, replay them.

    With no command, starts the terminal UI. On a database another inspector is receiving
    into, it opens as a viewer of that one (see `inspector view`).
    """
    if ctx.invoked_subcommand is not None:
        gc.enable()  # off while starting (start.py): only the TUI paints first
        misplaced = flags_given(ctx)
        if misplaced:  # they would be dropped without a word: `inspector --db X events`
            raise click.UsageError(
                f"{', '.join(misplaced)} before `{ctx.invoked_subcommand}` would be ignored: "
                f"put {'it' if len(misplaced) == 1 else 'them'} after the command "
                f"(inspector {ctx.invoked_subcommand} {misplaced[0]} …)")
        return
    run_tui(open_session(make_settings(follow=not no_follow, **options),
                         ignored=flags_given(ctx, RECEIVER_ONLY)))


def flags_given(ctx: click.Context, among: frozenset[str] | None = None) -> list[str]:
    """The flags given on the command line (of those named `among`, when given)."""
    return [param.opts[0] for param in ctx.command.params
            if isinstance(param, click.Option) and param.name
            and (among is None or param.name in among)
            and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE]


def open_session(settings: Settings, *, ignored: list[str] | None = None,
                 claim: presence.Claim | None = None) -> Any:
    """Take the database, open the store and bind the port before any UI: failures are one
    clear line. When another inspector receives into the database, the TUI (`ignored`: the
    receiver flags it was given) opens as its viewer; `serve` and `web` (None) stop. `claim`:
    a lock of its own, for a receiver into a shared database that local viewers follow."""
    from inspector.core.session import Session
    from inspector.core.store.sqlite import dbcheck

    shared = is_url(settings.db)  # PostgreSQL: several receivers may write to it at once
    if settings.db != ":memory:" and not shared:
        try:
            claim = presence.claim_database(settings.db)
        except presence.Taken as taken:
            if ignored is None:
                fail(f"{taken}: `inspector view --db {settings.db}` shows it live; give this "
                     "one another --db to receive separately")
            note = f"{taken}: this one opens as its viewer"
            return open_viewer(settings, [note + (f" (ignored: {', '.join(ignored)})"
                                                  if ignored else "")])
        except OSError:
            pass  # a missing or read-only folder: the database check says it better
    notices: list[str] = []
    if settings.config_note:  # which file decides routes, secrets and answers
        notices.append(settings.config_note)
        click.echo(settings.config_note, err=True)
    if settings.secret_note:  # a stale variable in the shell makes every event invalid
        notices.append(settings.secret_note)  # after `listening on`, which scripts read first
    for unusable in settings.warnings:  # a secret its provider cannot use
        notices.append(f"warning: {unusable}")
        click.echo(notices[-1], err=True)
    problem = None if shared else dbcheck.check(settings.db)
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
        check_parser(settings.http)  # a parser that is not installed: say so before binding
    except BindError as exc:
        fail(str(exc), 2)
    try:
        sock = bind(settings.host, settings.port)
    except BindError as exc:
        fail(str(exc))
    try:
        session = Session(settings, sock, claim=claim)
    except (StoreError, presence.Taken, OSError) as exc:
        sock.close()
        fail(str(exc))
    return _ready(session, notices)


def open_viewer(settings: Settings, notices: list[str]) -> Any:
    """A viewer of the database: no port, no search indexer, no tunnel."""
    from inspector.core.session import Session
    from inspector.core.store.sqlite import dbcheck

    db = settings.db
    if db == ":memory:":
        fail("a ':memory:' database lives inside the process that receives into it: there "
             "is nothing to view; give the --db that receiver uses", 2)
    shared = is_url(db)
    if not shared and not os.path.exists(db):
        fail(f"{db} does not exist yet: start the receiver first (`inspector serve --db "
             f"{db}` or `inspector --db {db}`), then view it")
    problem = None if shared else dbcheck.check(db, thorough=False)
    if problem is not None:
        fail(problem.message)
    if settings.config_note:  # its routes decide this viewer's verdicts
        notices.append(settings.config_note)
    for notice in notices:
        click.echo(notice, err=True)
    try:
        session = Session(settings, None, view=True)
    except StoreError as exc:
        fail(str(exc))
    return _ready(session, notices)


def _ready(session: Any, notices: list[str]) -> Any:
    redact.watch(session.secret_values)  # a secret set in the TUI is one too
    for notice in notices:  # before any face: the TUI shows them when it starts
        session.notice(notice)
    return session


def run_tui(session: Any) -> NoReturn:
    from inspector.faces.tui.app import InspectorApp

    app = InspectorApp(session)
    try:
        app.run()
    finally:
        session.close()
    sys.exit(app.return_code or 0)


@cli.command()
@db_option
@secret_option
@provider_secret_option
@config_option
@click.option("--replay-to", default="", metavar="URL",
              help="Where `r` sends events (a URL ending in / gets the event's path).")
@click.option("--resign", is_flag=True,
              help="Re-sign replayed events that arrived valid (fresh timestamp).")
@click.option("--no-follow", is_flag=True, help="Start with follow mode off.")
# The tabs of `inspector web` on a shared database: the receiver to follow is that process.
@click.option("--receiver", default="", hidden=True)
def view(no_follow: bool, **options: Any) -> None:
    """The terminal UI as a viewer of a database another inspector receives into.

    It follows every event, replay, re-verification and delete within a fraction of a
    second, and shows whose capture it is (the receiver's URL and pid). It runs no receiver
    of its own: the answer, the secrets and the tunnel belong to the receiver, and the
    command palette changes them there. With no receiver running it shows what is stored,
    and picks up one that starts. `inspector` on such a database does the same.
    """
    run_tui(open_viewer(make_settings(follow=not no_follow, **options), []))


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


@cli.command()
@partial(receiver_options, host="--receiver-host", port="--receiver-port")
@click.option("--host", "web_host", default=DEFAULT_HOST, show_default=True,
              help="Address of the web UI (bound wider, anyone with the link sees your "
                   "events).")
@click.option("--port", "web_port", default=DEFAULT_WEB_PORT, show_default=True,
              type=click.IntRange(0, 65535), help="Port of the web UI (0 picks a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the web UI in a browser.")
@click.option("--max-tabs", default=DEFAULT_TABS, show_default=True,
              type=click.IntRange(1, 100),
              help="Browser tabs open at once (each one runs a viewer process).")
def web(web_host: str, web_port: int, open_browser: bool, max_tabs: int,
        **options: Any) -> None:
    """Run the receiver (headless, as `serve` does) and the inspector's UI in a browser.

    Each browser tab is a viewer of this receiver. The printed URL carries a token: open
    it (or pass --open); the page then keeps a cookie instead. Anything else gets 401.
    """
    import asyncio

    from inspector.faces.web.server import Tabs, run_web

    settings = make_settings(**options)
    config = options.get("config")
    claim = own_claim() if is_url(settings.db) else None
    tabs = Tabs(settings.db, max_tabs, config=os.path.abspath(config) if config else None,
                replay_to=settings.replay_to, resign=settings.resign,
                receiver=claim.db if claim is not None else "")
    try:
        session = open_session(settings, claim=claim)
        try:
            sock = bind(web_host, web_port)
        except BindError as exc:
            session.close()
            fail(str(exc))
        try:
            asyncio.run(run_web(session, sock, tabs, host=web_host,
                                open_browser=open_browser))
        finally:
            session.close()
            sock.close()
    finally:
        if claim is not None:  # its own, named for this process: nobody else opens it
            claim.release()
            with contextlib.suppress(OSError):
                os.unlink(claim.path)


def own_claim() -> presence.Claim | None:
    """On a shared database the tabs of `inspector web` cannot find their receiver by the
    database (others write to it too, from other hosts): it holds a lock of its own, named
    for this process, and tells them where. None when there is no private folder for it:
    the tabs then view the database alone, as a laptop's viewer does."""
    from inspector.core.control.protocol import ControlError
    from inspector.core.control.server import control_dir

    try:
        return presence.claim_database(str(control_dir() / f"web-{os.getpid()}"))
    except (ControlError, OSError, presence.Taken):
        return None


def main() -> None:
    terminal.install()  # before anything is printed: every byte goes through it
    redact.remember(*secrets_in_env())  # flags and config files add theirs as they are read
    cli(prog_name="inspector")


if __name__ == "__main__":
    main()
