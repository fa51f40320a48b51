"""`inspector connectly webhooks list|create|update|delete`: manage where Connectly sends
webhooks. `inspector connectly register` is the older name of `create`, kept working.

Connectly keeps one address per topic: `create` on a topic that has one says so and prints
the `update` command for that registration.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from inspector.core import redact
from inspector.core.providers.connectly.api import (
    ALL_TOPICS,
    API_BASE_ENV,
    BUSINESS_ENV,
    DEFAULT_API_BASE,
    KEY_ENV,
    TYPES,
    Configuration,
    Conflict,
    RegistrationError,
    Webhooks,
    address_for,
    check_update,
    create_call,
    curl,
    delete_call,
    list_call,
    parse_filter,
    update_call,
)
from inspector.core.settings import env_value

T = TypeVar("T")
Command = Callable[..., Any]


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


business_id_option = click.option(
    "--business-id", metavar="ID", callback=lambda c, p, v: _or_env(c, p, v, BUSINESS_ENV),
    help=f"Your Connectly business id [env: {BUSINESS_ENV}].  [required]")
api_key_env_option = click.option(
    "--api-key-env", default=KEY_ENV, show_default=True, metavar="NAME",
    help="Environment variable holding the API key.")
api_base_option = click.option(
    "--api-base", default=DEFAULT_API_BASE, show_default=True, metavar="URL",
    callback=lambda c, p, v: _or_env(c, p, v, API_BASE_ENV),
    help=f"Connectly API base URL [env: {API_BASE_ENV}].")


@click.group("connectly", context_settings={"help_option_names": ["-h", "--help"]})
def connectly() -> None:
    """Connectly (WhatsApp Business) helpers."""


@connectly.group("webhooks")
def webhooks() -> None:
    """List, create, update and delete Connectly webhook registrations.

    \b
    inspector connectly webhooks list --business-id ID
    inspector connectly webhooks create --business-id ID --topic messages \\
        --topic delivery_status --address https://abc.trycloudflare.com
    inspector connectly webhooks update --business-id ID --topic messages \\
        --address https://new.trycloudflare.com
    inspector connectly webhooks delete --business-id ID wh_01ARZ3NDEKTSV4RRFFQ69G5FAV

    The API key comes from $CONNECTLY_API_KEY (or --api-key-env NAME); it is never printed.
    """


def api_options(fn: Command) -> Command:
    """Which business, which API, and where the key is."""
    for option in reversed([business_id_option, api_key_env_option, api_base_option]):
        fn = option(fn)
    return fn


def config_options(fn: Command) -> Command:
    """The registration's optional configuration."""
    for option in reversed([
        click.option("--echo/--no-echo", default=None,
                     help="Echo outbound messages back to this webhook (or not)."),
        click.option("--channel-type", "channel_types", multiple=True, metavar="TYPE",
                     help="A channel type to receive, e.g. whatsapp (repeat)."),
        click.option("--filter", "filters", multiple=True, metavar="FIELD=EXPR",
                     help="A filter, e.g. campaign_name=prod-* (repeat)."),
    ]):
        fn = option(fn)
    return fn


def target_options(fn: Command) -> Command:
    """The registration to change: its id, or its topic (looked up)."""
    fn = click.option("--topic", type=click.Choice(ALL_TOPICS), default=None,
                      help="The topic whose registration to change (looked up with list).")(fn)
    return click.argument("webhook_id", required=False, metavar="[WEBHOOK_ID]")(fn)


topics_option = click.option(
    "--topic", "topics", multiple=True, required=True, type=click.Choice(ALL_TOPICS),
    help="What to receive; repeat for several.")
ADDRESS_HELP = ("The public URL Connectly calls. A bare https://host (a tunnel's URL) gets "
                "/webhooks/connectly appended.")
print_curl_option = click.option(
    "--print-curl", is_flag=True,
    help="Print the equivalent curl command (key read from the env var) instead.")


@webhooks.command("list", short_help="List the registrations.")
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print Connectly's answer as it is.")
def list_command(business_id: str, api_key_env: str, api_base: str, as_json: bool) -> None:
    """List the business's webhook registrations: id, topic, address, configuration."""
    key = _key(api_key_env)

    async def run(hooks: Webhooks) -> None:
        if as_json:
            _echo((await hooks.send(list_call(api_base, business_id))).text)
            return
        found = await hooks.list()
        for hook in found:
            click.echo(hook.line())
        if not found:
            click.echo(f"no webhooks are registered for business {business_id}")

    _run(run, business_id, key, api_base, api_key_env)


@webhooks.command("create", short_help="Register an address for topics.")
@api_options
@topics_option
@click.option("--address", required=True, metavar="URL", help=ADDRESS_HELP)
@click.option("--type", "kind", type=click.Choice(TYPES), default=None,
              help="Integration type [Connectly's default: custom].")
@config_options
@print_curl_option
def create_command(business_id: str, api_key_env: str, api_base: str, topics: tuple[str, ...],
                   address: str, kind: str | None, echo: bool | None,
                   channel_types: tuple[str, ...], filters: tuple[str, ...],
                   print_curl: bool) -> None:
    """Register an address for one or more topics (POST …/create/webhooks)."""
    _create(business_id, api_key_env, api_base, topics, address, print_curl, kind=kind or "",
            configuration=_configuration(echo, channel_types, filters))


@webhooks.command("update", short_help="Change an address or configuration.")
@api_options
@target_options
@click.option("--address", default="", metavar="URL",
              help="The new public URL (a bare https://host gets /webhooks/connectly).")
@config_options
@print_curl_option
def update_command(business_id: str, api_key_env: str, api_base: str, webhook_id: str | None,
                   topic: str | None, address: str, echo: bool | None,
                   channel_types: tuple[str, ...], filters: tuple[str, ...],
                   print_curl: bool) -> None:
    """Change a registration's address or configuration (PUT …/update/webhooks/ID).

    Give the webhook id, or --topic to change the registration of that topic. Fields left
    out keep their values; the topic itself cannot change (delete, then create).
    """
    _check_target(webhook_id, topic)
    configuration = _configuration(echo, channel_types, filters)
    target = _call(lambda: address_for(address)) if address else ""
    try:
        check_update(target, configuration)
    except RegistrationError as exc:
        raise click.UsageError(str(exc)) from exc
    if print_curl and webhook_id:  # nothing to look up: no key needed
        click.echo(_call(lambda: curl(update_call(api_base, business_id, webhook_id,
                                                  address=target, configuration=configuration),
                                      api_key_env)))
        return
    key = _key(api_key_env)

    async def run(hooks: Webhooks) -> None:
        hook_id, topic_of = await _resolve(hooks, webhook_id, topic)
        call = update_call(api_base, business_id, hook_id, address=target,
                           configuration=configuration)
        if print_curl:
            click.echo(curl(call, api_key_env))
            return
        done = await hooks.send(call)
        what = " → ".join(p for p in (topic_of, target) if p)
        click.echo(f"updated {hook_id}{f' ({what})' if what else ''} ({done.status})")
        _answer(done.text)

    _run(run, business_id, key, api_base, api_key_env)


@webhooks.command("delete", short_help="Remove a registration.")
@api_options
@target_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
@print_curl_option
def delete_command(business_id: str, api_key_env: str, api_base: str, webhook_id: str | None,
                   topic: str | None, yes: bool, print_curl: bool) -> None:
    """Remove a registration (DELETE …/delete/webhooks/ID): its events stop at once.

    Give the webhook id, or --topic to remove the registration of that topic. To move a
    topic to a new address, `update` avoids the gap a delete and a create would leave.
    """
    _check_target(webhook_id, topic)
    if print_curl and webhook_id:  # nothing to look up: no key needed
        click.echo(_call(lambda: curl(delete_call(api_base, business_id, webhook_id),
                                      api_key_env)))
        return
    key = _key(api_key_env)

    async def run(hooks: Webhooks) -> None:
        hook_id, topic_of = await _resolve(hooks, webhook_id, topic)
        call = delete_call(api_base, business_id, hook_id)
        if print_curl:
            click.echo(curl(call, api_key_env))
            return
        what = f"{hook_id} ({topic_of})" if topic_of else hook_id
        if not yes and not click.confirm(f"Delete webhook {what}? Its events stop at once",
                                         default=False, err=True):
            raise click.ClickException("not deleted")
        done = await hooks.send(call)
        click.echo(f"deleted {what} ({done.status})")

    _run(run, business_id, key, api_base, api_key_env)


@connectly.command("register")
@business_id_option
@topics_option
@click.option("--address", default=None, metavar="URL", help=ADDRESS_HELP)
@click.option("--api-key", default=None, metavar="KEY",
              help=f"Connectly API key [default: from --api-key-env, ${KEY_ENV}].")
@api_key_env_option
@api_base_option
@print_curl_option
def register_command(business_id: str, topics: tuple[str, ...], address: str | None,
                     api_key: str | None, api_key_env: str, api_base: str,
                     print_curl: bool) -> None:
    """Register a webhook address with Connectly: the older name of `webhooks create`.

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
    _create(business_id, api_key_env, api_base, topics, address, print_curl,
            api_key=api_key or "")  # "": this command has --api-key, the message says so


# -- shared --------------------------------------------------------------------------------------


def _create(business_id: str, api_key_env: str, api_base: str, topics: tuple[str, ...],
            address: str, print_curl: bool, *, kind: str = "",
            configuration: Configuration | None = None, api_key: str | None = None) -> None:
    try:
        target = address_for(address)
        calls = [create_call(api_base, business_id, topic, target, type=kind,
                             configuration=configuration) for topic in topics]
        if print_curl:
            for call in calls:
                click.echo(curl(call, api_key_env))
            return
    except RegistrationError as exc:
        raise click.ClickException(str(exc)) from exc
    key = _key(api_key_env, api_key)

    async def run(hooks: Webhooks) -> None:
        for topic in topics:
            try:
                done = await hooks.create(topic, target, type=kind,
                                          configuration=configuration)
            except Conflict as exc:
                raise click.ClickException(_conflict(exc, business_id, target)) from None
            click.echo(f"registered {topic} → {target} ({done.status})")
            _answer(done.text)

    _run(run, business_id, key, api_base, api_key_env)


def _conflict(exc: Conflict, business_id: str, address: str) -> str:
    """The 409, and the command that updates the topic's registration instead."""
    hook = exc.existing
    which = shlex.quote(hook.id) if hook else f"--topic {exc.topic}"
    return (f"{exc}\nTo send {exc.topic} to {address} instead, update it:\n"
            f"  inspector connectly webhooks update {which} --business-id "
            f"{shlex.quote(business_id)} --address {shlex.quote(address)}")


def _check_target(webhook_id: str | None, topic: str | None) -> None:
    if bool(webhook_id) == bool(topic):
        raise click.UsageError("give the webhook id or --topic (one of them): "
                               "`inspector connectly webhooks list` shows both")


async def _resolve(hooks: Webhooks, webhook_id: str | None,
                   topic: str | None) -> tuple[str, str]:
    """(webhook id, its topic if known) from the id given, or from --topic via list."""
    if webhook_id or topic is None:
        return webhook_id or "", ""
    hook = await hooks.for_topic(topic)
    return hook.id, topic


def _configuration(echo: bool | None, channel_types: tuple[str, ...],
                   filters: tuple[str, ...]) -> Configuration:
    try:
        parsed = tuple(parse_filter(text) for text in filters)
    except RegistrationError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from exc
    return Configuration(echo, tuple(t for t in channel_types if t), parsed)


def _key(env: str, given: str | None = None) -> str:
    key = given or env_value(env)
    redact.remember(key)
    if not key:
        how = "pass --api-key or set" if given is not None else "set"
        raise click.ClickException(f"no API key: {how} {env}")
    return key


def _call(step: Callable[[], T]) -> T:
    """A local step that can refuse its input: one clear line, exit status 1."""
    try:
        return step()
    except RegistrationError as exc:
        raise click.ClickException(str(exc)) from exc


def _run(body: Callable[[Webhooks], Awaitable[None]], business_id: str, key: str,
         api_base: str, key_env: str) -> None:
    import httpx  # here, not at start-up: every command would pay for its import

    async def main() -> None:
        async with httpx.AsyncClient() as http:
            await body(Webhooks(http, business_id=business_id, api_key=key, api_base=api_base,
                                key_env=key_env))

    try:
        asyncio.run(main())
    except RegistrationError as exc:
        raise click.ClickException(redact.redact(str(exc))) from exc


def _answer(text: str) -> None:
    """Connectly's answer, unless it says nothing."""
    if text.strip() not in ("", "{}"):
        _echo(text)


def _echo(text: str) -> None:
    click.echo(redact.redact(text))  # stdout is not redacted for us: an answer could echo it
