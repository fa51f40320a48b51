"""`inspector mcp`: serve the capture to a coding agent over MCP (stdio); see faces/mcp."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from inspector.core import redact
from inspector.core.settings import OptionError, Settings
from inspector.core.store import StoreError
from inspector.faces import terminal
from inspector.faces.cli.commands.options import (
    config_option,
    fail,
    provider_secret_option,
    public_url_option,
    secret_option,
    usage_error,
)
from inspector.faces.cli.commands.reading import DATABASE, USAGE, db_option, reader


@click.command("mcp", context_settings={"help_option_names": ["-h", "--help"]})
@db_option
@secret_option
@provider_secret_option
@config_option
@public_url_option
def mcp_command(db: str | None, **options: Any) -> None:
    """Serve the capture to a coding agent (Claude Code, Cursor, ...) over the Model
    Context Protocol, on stdin and stdout.

    \b
    claude mcp add webhook-inspector -- inspector mcp --db ~/capture.db

    Tools: list_events, get_event, wait_for_event, replay_event, verify_signature,
    send_sample_event. The secrets (--secret, --provider-secret, the usual variables) sign
    samples and re-sign replays; they are never returned to the agent.
    """
    try:
        from inspector.faces.mcp.server import serve
    except ImportError as exc:
        fail(f"the MCP server needs the `mcp` package ({exc.name} is missing): "
             "pip install 'webhook-inspector[mcp]'", USAGE)
    from inspector.core.session import Session

    reader(db).close()  # exists, readable, this schema: else one line, and exit
    try:
        settings = Settings.build(db=db, **options)
    except OptionError as exc:
        raise usage_error(exc) from exc
    redact.remember(*settings.secret_values())
    try:
        session = Session(settings, None)  # no receiver: the capture's own writes the events
    except StoreError as exc:
        fail(str(exc), DATABASE)
    # The protocol is JSON on stdout, not text for a terminal; the SDK moves stray prints
    # to stderr while it serves.
    sys.stdout = terminal.original(sys.stdout)
    try:
        asyncio.run(serve(session))
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        session.close()
