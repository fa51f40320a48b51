"""Options that several commands share (the TUI, `serve`, `import`): one definition each."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from inspector.core.capture.receiver import DEFAULT_MAX_BODY
from inspector.core.settings import OptionError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)\s*$", re.IGNORECASE)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

secret_option = click.option(
    "--secret", "-s", default=None, envvar=None, metavar="SECRET",
    help="Webhook signing secret [env: CONNECTLY_WEBHOOK_SECRET, INSPECTOR_SECRET].")
provider_secret_option = click.option(
    "--provider-secret", "provider_secrets", multiple=True, metavar="NAME=SECRET",
    help="A secret (or public key) for one provider; repeat, also for the same provider "
         "during a rotation. Also read from STRIPE_WEBHOOK_SECRET, GITHUB_WEBHOOK_SECRET, "
         "DISCORD_PUBLIC_KEY, … (several separated by spaces) by default.")
public_url_option = click.option(
    "--public-url", default="", metavar="URL",
    help="The URL senders call, when a tunnel sits in front (Twilio signs it).")
config_option = click.option(
    "--config", "config", default=None, metavar="PATH",
    help="Routes file pinning provider, secret and answer per path [default: "
         "./inspector.toml if present, whose @files must then be in its own folder].")
max_body_option = click.option(
    "--max-body", default=str(DEFAULT_MAX_BODY), show_default=True, metavar="SIZE",
    help="Largest body accepted (bigger deliveries get 413; `import` skips bigger events).")


def parse_size(value: str) -> int:
    """10485760, 10M, 10MiB, 512k ... (binary units)."""
    match = _SIZE.match(value)
    if not match:
        raise click.BadParameter(f"{value!r} is not a size (examples: 1048576, 512k, 10MiB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])


def usage_error(exc: OptionError) -> click.BadParameter:
    """A bad option value (from core/settings.py) as click's usage error (exit status 2)."""
    return click.BadParameter(str(exc), param_hint=exc.option)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr ("error: ..."), then exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
