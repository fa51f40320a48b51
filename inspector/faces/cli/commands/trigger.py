"""`inspector trigger KIND --to URL`: send a signed sample Connectly webhook and print the
answer.

Exit status: 0 when every request got an answer (whatever its status), 1 when the target
could not be reached, 2 for a usage error.
"""

from __future__ import annotations

import time

import click

from inspector.core import redact
from inspector.core.providers.connectly.samples import (
    KINDS,
    PATH,
    SampleError,
    address,
    build,
    parse_set,
)
from inspector.core.sanitize import clip, visible, visible_line
from inspector.core.settings import secret_from_env
from inspector.faces.cli.commands.options import fail

SHOWN = 2000  # characters of a response body printed


def target(url: str) -> str:
    """The URL as given; one with no path (or just /) gets Connectly's usual path."""
    import httpx  # here, not at start-up: every command would pay for its import

    from inspector.core.delivery.replay import ReplayError, check_target

    try:
        url = check_target(url)
        httpx.URL(url)  # what httpx refuses to send (a control character, a bad port)
    except (ReplayError, httpx.InvalidURL) as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from exc
    return address(url)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--to", "to", required=True, metavar="URL",
              help=f"Where to send it (a URL with no path gets {PATH}).")
@click.option("--secret", "-s", default=None, metavar="SECRET",
              help="Signing secret [env: CONNECTLY_WEBHOOK_SECRET, INSPECTOR_SECRET]; "
                   "without one the request goes unsigned.")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
              help="Change a field, e.g. --set message.text=hi (the value is JSON when it "
                   "parses, else text; repeat for more).")
@click.option("--repeat", "-n", default=1, show_default=True, type=click.IntRange(1, 100_000),
              help="Send it this many times, each built afresh (timestamp, status ids). A "
                   "message has no id and its timestamp is whole seconds: repeated within a "
                   "second it is the same body, which the inspector lists as a retry.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="Seconds to wait for each answer.")
def trigger(kind: str, to: str, secret: str | None, sets: tuple[str, ...], repeat: int,
            timeout: float) -> None:
    """Send a correctly signed sample Connectly event and print the response.

    \b
    KIND, in the shapes of Connectly's current docs:
      messages: text, reply (quotes a message), media, button, button-legacy (the old
        message.isButtonResponse shape), list, reaction, referral, bsuid (a phone-less
        customer)
      delivery_status: sent, delivery_status (delivered), read, delivery_failed
      report: report
    inspector trigger text --to http://127.0.0.1:8765/ --set message.text=hi
    inspector trigger read --to http://127.0.0.1:8765/ --set statusUpdate.id=01H…
    """
    url = target(to)
    try:
        for text in sets:
            parse_set(text)
        build(kind, sets=sets)  # a bad --set fails before anything is sent
    except SampleError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from exc
    secret = secret or secret_from_env()
    redact.remember(secret)
    if not secret:
        click.echo("warning: no secret (--secret, CONNECTLY_WEBHOOK_SECRET or INSPECTOR_SECRET):"
                   " sending it unsigned", err=True)
    import httpx

    with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        for n in range(1, repeat + 1):
            sample = build(kind, secret=secret, sets=sets)
            started = time.perf_counter()
            try:
                response = client.post(url, content=sample.body, headers=sample.headers)
            except httpx.ConnectError:
                fail(f"cannot connect to {url}: connection refused (is the inspector or your "
                     "app running?)")
            except httpx.TimeoutException:
                fail(f"no answer from {url} within {timeout:g} s")
            except httpx.HTTPError as exc:
                fail(f"request to {url} failed: {type(exc).__name__}: {exc}")
            ms = (time.perf_counter() - started) * 1000
            count = f"[{n}/{repeat}] " if repeat > 1 else ""
            status = f"{response.status_code} {response.reason_phrase or ''}".strip()
            # The reason phrase is the target's text: h11 lets ESC and BEL through.
            click.echo(f"{count}{kind} → {visible_line(clip(status, 200))} in {ms:.0f} ms")
            body = response.content.decode("utf-8", "replace")
            if body:
                click.echo(visible(clip(body, SHOWN)) if repeat == 1
                           else visible_line(clip(body, 200)))
