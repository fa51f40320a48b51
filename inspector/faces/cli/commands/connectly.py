"""`inspector connectly register`: tell Connectly where to send webhooks."""

from __future__ import annotations

import asyncio

import click
import httpx

from inspector.core import redact
from inspector.core.providers.connectly.api import (
    API_BASE_ENV,
    BUSINESS_ENV,
    DEFAULT_API_BASE,
    KEY_ENV,
    TOPICS,
    RegistrationError,
    address_for,
    register,
    registration_curl,
)
from inspector.core.settings import env_value


def _or_env(ctx: click.Context, param: click.Parameter, value: str | None, name: str) -> str:
    """The option's value when given, else the variable's (read by core/settings.py), else
    its default; an option with no default is then missing."""
    source = ctx.get_parameter_source(param.name or "")
    if value and source is not click.core.ParameterSource.DEFAULT:
        return value
    value = env_value(name) or value
    if not value:
        raise click.MissingParameter(ctx=ctx, param=param)
    return value


@click.group("connectly", context_settings={"help_option_names": ["-h", "--help"]})
def connectly() -> None:
    """Connectly (WhatsApp Business) helpers."""


@connectly.command("register")
@click.option("--business-id", metavar="ID",
              callback=lambda c, p, v: _or_env(c, p, v, BUSINESS_ENV),
              help=f"Your Connectly business id [env: {BUSINESS_ENV}].  [required]")
@click.option("--topic", "topics", multiple=True, required=True, type=click.Choice(TOPICS),
              help="What to receive; repeat for both.")
@click.option("--address", default=None, metavar="URL",
              help="The public URL Connectly calls. A bare https://host (a tunnel's URL) gets "
                   "/webhooks/connectly appended.")
@click.option("--api-key", default=None, metavar="KEY",
              help=f"Connectly API key [default: from --api-key-env, ${KEY_ENV}].")
@click.option("--api-key-env", default=KEY_ENV, show_default=True, metavar="NAME",
              help="Environment variable holding the API key.")
@click.option("--api-base", default=DEFAULT_API_BASE, show_default=True, metavar="URL",
              callback=lambda c, p, v: _or_env(c, p, v, API_BASE_ENV),
              help="Connectly API base URL.")
@click.option("--print-curl", is_flag=True,
              help="Print the equivalent curl command (key read from the env var) instead.")
def register_command(business_id: str, topics: tuple[str, ...], address: str | None,
                     api_key: str | None, api_key_env: str, api_base: str,
                     print_curl: bool) -> None:
    """Register a webhook address with Connectly (POST /v1/businesses/ID/create/webhooks).

    \b
    inspector connectly register --business-id ID --topic messages \\
        --topic delivery_status --address https://abc.trycloudflare.com

    Without a running tunnel there is no URL to guess, so --address is required here;
    the TUI started with --tunnel registers its tunnel URL from the command palette.
    """
    if not address:
        raise click.UsageError(
            "give --address: the public URL Connectly should call, such as your tunnel's "
            "https://… URL (a bare host gets /webhooks/connectly). `inspector --tunnel "
            "cloudflared` prints one, and its command palette can register it for you.")
    try:
        target = address_for(address)
        if print_curl:
            for topic in topics:
                click.echo(registration_curl(business_id=business_id, topic=topic,
                                             address=target, api_base=api_base,
                                             key_env=api_key_env))
            return
        key = api_key or env_value(api_key_env)
        redact.remember(key)
        if not key:
            raise RegistrationError(f"no API key: pass --api-key or set {api_key_env}")
        asyncio.run(_register_all(business_id, topics, target, key, api_base))
    except RegistrationError as exc:
        raise click.ClickException(str(exc)) from exc


async def _register_all(business_id: str, topics: tuple[str, ...], address: str, key: str,
                        api_base: str) -> None:
    async with httpx.AsyncClient() as client:
        for topic in topics:
            done = await register(client, business_id=business_id, topic=topic,
                                  address=address, api_key=key, api_base=api_base)
            click.echo(f"registered {topic} → {address} ({done.status})")
            if done.answer.strip():
                click.echo(done.answer)
