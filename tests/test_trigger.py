"""`inspector trigger`: signed sample Connectly events, sent to a real running receiver."""

from __future__ import annotations

import asyncio
import calendar
import json
import socket
import time

import pytest
from click.testing import CliRunner, Result

from inspector.core.model import Event
from inspector.core.providers.connectly import events as connectly_events
from inspector.core.providers.connectly.samples import (
    KINDS,
    SampleError,
    build,
    parse_set,
    set_path,
)
from inspector.core.session import Session
from inspector.faces.cli.commands.trigger import trigger
from tests.conftest import SECRET

# {reply}: the id of the message a reply answers; {expires}: when a report's URL expires.
CAMPAIGN = " · to +16315555500 · campaign spring_sale"
EXPECTED = {
    "text": ("message", '+16315555500 → "Hello! Is my order on its way?"'),
    "reply": ("message", '+16315555500 → "Yes, the blue one please" · reply to {reply}'),
    "media": ("media", "+16315555500 → image"),
    "button": ("button", '+16315555500 → "Yes, confirm my order" · payload confirm_order · '
               "reply to {reply}"),
    "button-legacy": ("button", '+16315555500 → "Yes, confirm my order"'),
    "list": ("list", '+16315555500 → "Medium" · id size_m · reply to {reply}'),
    "reaction": ("reaction", "+16315555500 → \N{THUMBS UP SIGN} · on {reply}"),
    "referral": ("referral", '+16315555500 → "Hi, I saw your ad" (ad: Spring sale)'),
    "bsuid": ("message", 'US.13491208655302741918 → "Hi, it\'s me without a phone number"'),
    "sent": ("delivery_status", "sent" + CAMPAIGN),
    "delivery_status": ("delivery_status", "delivered" + CAMPAIGN),
    "read": ("delivery_status", "read" + CAMPAIGN),
    "delivery_failed": ("delivery_status",
                        "delivery_failed: Message template inputs invalid" + CAMPAIGN),
    "report": ("report", "Daily Campaign Report: completed · URL expires {expires}"),
}
NO_ENV = {"CONNECTLY_WEBHOOK_SECRET": None, "INSPECTOR_SECRET": None}


async def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """The command in a thread: the receiver keeps serving on this loop meanwhile."""
    runner = CliRunner(env={**NO_ENV, **(env or {})})
    return await asyncio.to_thread(runner.invoke, trigger, list(args), catch_exceptions=False)


def events(runtime: Session) -> list[Event]:
    return [e for e in (runtime.store.event(s) for s in runtime.store.seqs()) if e]


@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_arrives_signed_and_described(runtime: Session, kind: str) -> None:
    result = await run(kind, "--to", runtime.url, "--secret", SECRET)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{kind} → 200 OK in ")
    (event,) = events(runtime)
    assert json.loads(result.stdout.splitlines()[1]) == {"ok": True, "id": event.id}
    assert event.path == "/webhooks/connectly"
    assert (event.verdict, event.reason) == ("valid", "HMAC-SHA256 of the body matches")
    body = json.loads(event.body)
    expected_kind, summary = EXPECTED[kind]
    summary = summary.format(reply=body.get("context", {}).get("replyToId"),
                             expires=body.get("report", {}).get("last_run", {}).get(
                                 "result", {}).get("expires_at"))
    assert (event.kind, event.summary) == (expected_kind, summary)
    assert event.header("user-agent") == "go-resty/2.6.0 (https://github.com/go-resty/resty)"
    assert event.header("content-type") == "text/plain; charset=utf-8"
    if kind == "report":  # ISO 8601 here, Unix seconds as a string elsewhere
        sent = calendar.timegm(time.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
    else:
        sent = int(body["timestamp"])
    assert abs(sent - event.received_at) < 60  # fresh


def test_samples_cover_every_connectly_kind() -> None:
    assert set(KINDS) == set(EXPECTED)
    assert {kind for kind, _summary in EXPECTED.values()} == set(connectly_events.KINDS)
    assert "button-legacy" in KINDS and "report" in KINDS


async def test_set_edits_fields_and_parses_json_values(runtime: Session) -> None:
    result = await run("text", "--to", runtime.url + "custom/path", "--secret", SECRET,
                       "--set", "message.text=hi", "--set", "sender.id=+15550001111",
                       "--set", 'metadata={"n": 1, "ok": true}', "--set", "count=3")
    assert result.exit_code == 0, result.output
    (event,) = events(runtime)
    body = json.loads(event.body)
    assert event.path == "/custom/path"
    assert event.summary == '+15550001111 → "hi"' and event.verdict == "valid"
    assert body["metadata"] == {"n": 1, "ok": True} and body["count"] == 3


async def test_repeat_sends_n(runtime: Session) -> None:
    result = await run("delivery_status", "--to", runtime.url, "--secret", SECRET,
                       "--repeat", "3")
    assert result.exit_code == 0, result.output
    assert [line.split(" → ")[0] for line in result.stdout.splitlines()[::2]] == [
        "[1/3] delivery_status", "[2/3] delivery_status", "[3/3] delivery_status"]
    stored = events(runtime)
    assert len(stored) == 3 and {e.verdict for e in stored} == {"valid"}
    assert len({json.loads(e.body)["statusUpdate"]["id"] for e in stored}) == 3


async def test_secret_from_the_environment(runtime: Session) -> None:
    result = await run("button", "--to", runtime.url, env={"CONNECTLY_WEBHOOK_SECRET": SECRET})
    assert result.exit_code == 0 and "warning" not in result.stderr
    assert events(runtime)[0].verdict == "valid"


async def test_without_a_secret_it_warns_and_sends_unsigned(runtime: Session) -> None:
    result = await run("text", "--to", runtime.url)
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: no secret")
    event = events(runtime)[0]
    assert event.verdict == "unsigned" and event.header("x-connectly-hmac-sha256") is None


def test_connection_failure_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner(env=NO_ENV).invoke(trigger, ["text", "--to", f"http://127.0.0.1:{port}",
                                                    "--secret", "s"])
    assert result.exit_code == 1
    assert result.stderr == (f"error: cannot connect to http://127.0.0.1:{port}/webhooks/"
                             "connectly: connection refused (is the inspector or your app "
                             "running?)\n")


@pytest.mark.parametrize(("args", "fragment"), [
    (["text", "--to", "localhost:8765"], "not an http(s) URL"),
    (["text", "--to", "http://x/", "--set", "message.text"], "is not path=value"),
    (["text", "--to", "http://x/", "--set", "message.text.more=1"],
     "message.text is \"Hello! Is my order on its way?\", not an object"),
    (["sticker", "--to", "http://x/"], "'sticker' is not one of"),
    (["text", "--to", "http://x/", "--repeat", "0"], "0 is not in the range"),
])
def test_usage_errors(args: list[str], fragment: str) -> None:
    result = CliRunner(env=NO_ENV).invoke(trigger, args)
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr


# -- samples on their own ----------------------------------------------------------------------


def test_set_path_indexes_lists_and_creates_objects() -> None:
    value = {"message": {"attachments": [{"type": "video"}]}}
    set_path(value, "message.attachments.0.type", "image")
    set_path(value, "message.attachments.1", {"type": "audio"})
    set_path(value, "a.b.c", 1)
    assert value == {"message": {"attachments": [{"type": "image"}, {"type": "audio"}]},
                     "a": {"b": {"c": 1}}}
    with pytest.raises(SampleError, match="is a list of 2; use an index from 0 to 2"):
        set_path(value, "message.attachments.5", 1)


def test_parse_set_values() -> None:
    assert parse_set("a=hi") == ("a", "hi")
    assert parse_set('a="123"') == ("a", "123")
    assert parse_set("a=123") == ("a", 123)
    assert parse_set("a=null") == ("a", None)
    assert parse_set("a=x=y") == ("a", "x=y")
    with pytest.raises(SampleError):
        parse_set("a..b=1")


def test_samples_are_signed_only_with_a_secret() -> None:
    assert build("text", secret=SECRET).signed
    unsigned = build("text")
    assert not unsigned.signed
    assert all(k != "x-connectly-hmac-sha256" for k, _ in unsigned.headers)
