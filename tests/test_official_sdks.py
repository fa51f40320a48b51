"""Cross-check with the providers' official SDKs (stripe, standardwebhooks, slack_sdk, twilio).

Everything goes through the real inspector (the TUI app or `serve`'s runtime, on port 0) into a
tiny local Starlette app that verifies each request with the provider's own SDK and answers 200
or 400, as a user's app would:
- what an SDK signs, we call valid; signed with another secret, invalid;
- a valid event forwarded, replayed and re-signed is accepted by the SDK;
- a forged event (tampered body, wrong secret) never leaves the inspector with a signature the
  SDK accepts: not by forward with --resign, replay, replay-many, `s`, nor the `R` editor
  without confirmation;
- an event whose signed timestamp has expired: the Replay tab says so (how old, the
  tolerance), the SDK refuses the original, and `s` re-signs it into one the SDK accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import standardwebhooks
import stripe
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from textual.pilot import Pilot
from textual.widgets import Checkbox
from twilio.request_validator import RequestValidator

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.server import bind
from inspector.core.capture.serving import Running, make_server
from inspector.core.config import Route as ConfigRoute
from inspector.core.model import Event, new_id
from inspector.core.signatures import Secrets
from inspector.core.signatures.generic import Generic, HmacSpec
from inspector.core.store import open_store
from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.screens.prompt import Confirm
from inspector.faces.tui.screens.replay_editor import ReplayEditor
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from tests.conftest import running_app, wait_for

STRIPE_SECRET = "whsec_sdk_crosscheck_stripe"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks docs' key
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's docs example
TWILIO_TOKEN = "12345"  # Twilio's docs example
SECRETS = Secrets(by_provider={"stripe": STRIPE_SECRET, "standard-webhooks": STANDARD_SECRET,
                               "slack": SLACK_SECRET, "twilio": TWILIO_TOKEN})
WRONG = {"stripe": "whsec_someone_else", "standard-webhooks": "whsec_c29tZW9uZSBlbHNl",
         "slack": "not-the-signing-secret", "twilio": "54321"}
STALE = 13 * 60  # slack_sdk refused a 13-minute-old replay (issue 10)


# -- a user's app that verifies with the official SDKs ------------------------------------------


@dataclass
class Verified:
    path: str
    body: bytes
    status: int


Check = Callable[[Request, bytes], object]  # an SDK's verdict: False or an exception is "no"


@dataclass
class SdkApp:
    """Answers 200 when the provider's SDK accepts the request, 400 when it refuses it. Each
    check serves /{name}/...; `checks` replaces the four of this module."""

    url: str = ""
    seen: list[Verified] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=dict)

    def starlette(self) -> Starlette:
        def judge(check: Check) -> Callable[..., Any]:
            async def endpoint(request: Request) -> PlainTextResponse:
                body = await request.body()
                try:
                    ok = check(request, body) is not False
                except Exception:  # each SDK says "no" with its own exception
                    ok = False
                self.seen.append(Verified(request.url.path, body, 200 if ok else 400))
                return PlainTextResponse("accepted" if ok else "refused", 200 if ok else 400)

            return endpoint

        def stripe_check(request: Request, body: bytes) -> object:
            return stripe.Webhook.construct_event(body, request.headers.get("stripe-signature"),
                                                  STRIPE_SECRET)

        def standard_check(request: Request, body: bytes) -> object:
            return standardwebhooks.Webhook(STANDARD_SECRET).verify(body, dict(request.headers))

        def slack_check(request: Request, body: bytes) -> object:
            return SignatureVerifier(SLACK_SECRET).is_valid_request(body, dict(request.headers))

        def twilio_check(request: Request, body: bytes) -> object:
            params = dict(parse_qsl(body.decode(), keep_blank_values=True))
            return RequestValidator(TWILIO_TOKEN).validate(
                str(request.url), params, request.headers.get("x-twilio-signature", ""))

        checks = self.checks or {"stripe": stripe_check, "standard": standard_check,
                                 "slack": slack_check, "twilio": twilio_check}
        return Starlette(routes=[Route(f"/{name}/{{rest:path}}", judge(check), methods=["POST"])
                                 for name, check in checks.items()])

    def statuses(self, body: bytes) -> list[int]:
        return [v.status for v in self.seen if v.body == body]


@pytest.fixture
async def sdk_app() -> AsyncIterator[SdkApp]:
    async with serving(SdkApp()) as app:
        yield app


@asynccontextmanager
async def serving(app: SdkApp) -> AsyncIterator[SdkApp]:
    """`app` on a loopback port, for the time of the block."""
    sock = bind("127.0.0.1", 0)
    running = Running(make_server(app.starlette(), http="h11"), sock)
    running.start()
    app.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    await wait_for(lambda: running.server.started, what="SDK app start")
    yield app
    await running.stop()


# -- requests signed by the SDKs ----------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    name: str  # ours
    path: str  # on the inspector, and (path rule) on the SDK app
    content_type: str
    body: bytes
    sign: Callable[[str, str, bytes, int], dict[str, str]]  # (secret, url, body, when)
    timestamped: bool = True

    def tampered(self, body: bytes) -> bytes:
        return body.replace(b"1999", b"9999")


def stripe_sign(secret: str, url: str, body: bytes, when: int) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, when)
    return {"Stripe-Signature": header}


def standard_sign(secret: str, url: str, body: bytes, when: int) -> dict[str, str]:
    ident = f"msg_{new_id()}"
    at = datetime.fromtimestamp(when, UTC)
    value = standardwebhooks.Webhook(secret).sign(ident, at, body.decode())
    return {"webhook-id": ident, "webhook-timestamp": str(when), "webhook-signature": value}


def slack_sign(secret: str, url: str, body: bytes, when: int) -> dict[str, str]:
    value = SignatureVerifier(secret).generate_signature(timestamp=str(when), body=body)
    assert value is not None
    return {"X-Slack-Request-Timestamp": str(when), "X-Slack-Signature": value}


def twilio_sign(secret: str, url: str, body: bytes, when: int) -> dict[str, str]:
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {"X-Twilio-Signature": RequestValidator(secret).compute_signature(url, params)}


PROVIDERS = [
    Provider("stripe", "/stripe/hooks", "application/json",
             b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", '
             b'"data": {"object": {"id": "pi_1", "amount": 1999}}}', stripe_sign),
    Provider("standard-webhooks", "/standard/hooks", "application/json",
             b'{"type": "invoice.paid", "data": {"amount": 1999}}', standard_sign),
    Provider("slack", "/slack/events", "application/json",
             b'{"type": "event_callback", "event": {"type": "message", "text": "1999"}}',
             slack_sign),
    Provider("twilio", "/twilio/sms", "application/x-www-form-urlencoded",
             urlencode({"MessageSid": "SM1", "From": "+15551234567", "To": "+15557654321",
                        "Body": "pay 1999", "SmsStatus": "received"}).encode(), twilio_sign,
             timestamped=False),
]
IDS = [p.name for p in PROVIDERS]


def signed(provider: Provider, base: str, *, secret: str | None = None, body: bytes | None = None,
           when: int | None = None) -> tuple[bytes, dict[str, str]]:
    """(body, headers) as the provider sends them to `base` + its path, signed by its SDK."""
    url = base.rstrip("/") + provider.path
    key = secret or next(iter(SECRETS.for_provider(provider.name)), "")
    data = provider.body if body is None else body
    headers = provider.sign(key, url, data, int(time.time()) if when is None else when)
    return data, {"content-type": provider.content_type, **headers}


async def post(base: str, provider: Provider, body: bytes, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(base + provider.path, content=body, headers=headers)
    return str(response.headers["x-inspector-event-id"])


def forgeries(provider: Provider, base: str) -> list[tuple[bytes, dict[str, str]]]:
    """A tampered body under a genuine signature, and a body signed with another secret."""
    body, headers = signed(provider, base)
    other = provider.body.replace(b"1999", b"2999")
    return [(provider.tampered(body), headers),
            signed(provider, base, secret=WRONG[provider.name], body=other)]


# -- what the SDKs sign, we call valid ------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_what_the_sdk_signs_is_valid_here(tmp_path: Path, provider: Provider) -> None:
    async with running_app(tmp_path, secrets=SECRETS) as (app, _pilot, base):
        body, headers = signed(provider, base)
        valid = await post(base, provider, body, headers)
        verdicts = {valid: "valid"}
        for forged_body, forged_headers in forgeries(provider, base):
            verdicts[await post(base, provider, forged_body, forged_headers)] = "invalid"
        for ident, verdict in verdicts.items():
            event = app.store.event_by_id(ident)
            assert event is not None and event.provider == provider.name
            assert event.verdict == verdict, event.reason


# -- valid events: forwarded, replayed and re-signed, the SDK accepts them ------------------------


async def select(app: InspectorApp, pilot: Pilot[int], ident: str) -> Event:
    """Move the cursor to the event with this id (g, then j), and wait for its detail."""
    event = app.store.event_by_id(ident)
    assert event is not None
    events = app.query_one(EventList)
    await wait_for(lambda: event.seq in events.seqs, what="the event listed")
    await pilot.press("g", *["j"] * events.seqs.index(event.seq))
    assert events.selected == event.seq
    pane = app.query_one(DetailPane)
    await wait_for(lambda: pane.detail is not None and pane.detail.event.seq == event.seq,
                   what="the event's detail")
    return event


def told(app: InspectorApp) -> list[str]:
    """Every notification the app has shown, oldest first."""
    return [n.message for n in app._notifications]


async def settled(app: Any) -> None:
    """Nothing in flight: no forward queued or sending, no replay worker running."""
    forwarder = app.session.forwarder
    await wait_for(lambda: forwarder is None or forwarder.waiting == 0, what="forwards done")
    # A detail load cancelled by the next key is not a failure: wait until none runs.
    await wait_for(lambda: not any(w.is_running for w in app.workers), what="workers done")


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_a_valid_event_forwarded_replayed_and_resigned_is_accepted_by_the_sdk(
        tmp_path: Path, sdk_app: SdkApp, provider: Provider) -> None:
    """Forwarded and replayed as they arrived (byte-exact), then re-signed with `s`. Twilio
    signs the URL it called, so only a re-signed replay verifies at another URL."""
    async with running_app(tmp_path, secrets=SECRETS, forward_to=sdk_app.url,
                           replay_to=sdk_app.url) as (app, pilot, base):
        body, headers = signed(provider, base)
        ident = await post(base, provider, body, headers)
        await wait_for(lambda: len(sdk_app.statuses(body)) == 1, what="the forward")
        await select(app, pilot, ident)
        await pilot.press("r")
        await wait_for(lambda: len(sdk_app.statuses(body)) == 2, what="the replay")
        await pilot.press("s")
        await wait_for(lambda: len(sdk_app.statuses(body)) == 3, what="the re-signed replay")
        await settled(app)
        attempts = app.store.attempts(app.store.event_by_id(ident).seq)
    expected = [200, 200, 200] if provider.timestamped else [400, 400, 200]
    assert sdk_app.statuses(body) == expected
    assert [(a.kind, a.resigned) for a in attempts] == [
        ("forward", False), ("replay", False), ("replay", True)]


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_a_forgery_never_leaves_with_a_signature_the_sdk_accepts(
        tmp_path: Path, sdk_app: SdkApp, provider: Provider) -> None:
    """With --resign (and --reject-invalid): forward, replay-many, `s`, and the R editor
    without confirmation. The genuine event, re-signed on the same paths, is the control."""
    from inspector.core.capture.answers import ResponsePolicy

    async with running_app(tmp_path, secrets=SECRETS, forward_to=sdk_app.url,
                           replay_to=sdk_app.url, resign=True,
                           policy=ResponsePolicy(reject_invalid=True)) as (app, pilot, base):
        genuine = signed(provider, base)
        forged = forgeries(provider, base)
        ids = [await post(base, provider, *genuine)]
        ids += [await post(base, provider, *f) for f in forged]
        bodies = [genuine[0]] + [f[0] for f in forged]
        await wait_for(lambda: all(sdk_app.statuses(b) for b in bodies), what="3 forwards")

        # Replay many: all three marked, r (re-signing what it may).
        await pilot.press("g", "space", "space", "space", "r")
        await wait_for(lambda: all(len(sdk_app.statuses(b)) == 2 for b in bodies),
                       what="3 replays")
        await settled(app)
        for ident in ids[1:]:
            # s: refused, with the reason; nothing is sent.
            await select(app, pilot, ident)
            app.clear_notifications()
            await pilot.press("s")
            await wait_for(lambda: any("arrived with an invalid signature" in m
                                       for m in told(app)), what="the refusal")
            # R, tick Re-sign, Send: the dialog names the verdict; cancelling sends nothing.
            await pilot.press("R")
            await wait_for(lambda: isinstance(app.screen, ReplayEditor), what="the editor")
            await pilot.pause()
            app.screen.query_one("#resign", Checkbox).value = True
            await pilot.press("ctrl+s")
            await wait_for(lambda: isinstance(app.screen, Confirm), what="the confirmation")
            assert "✗ invalid" in str(app.screen.query_one("Label").render())
            await pilot.press("escape")  # the dialog
            await wait_for(lambda: isinstance(app.screen, ReplayEditor), what="back")
            assert "Not sent" in str(app.screen.query_one("#error").render())
            await pilot.press("escape")  # the editor
            await settled(app)
        attempts = [app.store.attempts(app.store.event_by_id(i).seq) for i in ids]
    assert sdk_app.statuses(genuine[0]) == [200, 200]
    for body in bodies[1:]:
        assert sdk_app.statuses(body) == [400, 400]  # forward and replay, nothing more
    assert [a.resigned for a in attempts[0]] == [True, True]
    for forged_attempts in attempts[1:]:
        assert len(forged_attempts) == 2
        for attempt in forged_attempts:
            assert not attempt.resigned and not attempt.forced
            assert attempt.note.startswith("not re-signed: it arrived with an invalid signature")


async def test_serve_forwards_with_resign_only_what_the_sdk_should_accept(
        tmp_path: Path, sdk_app: SdkApp) -> None:
    """The headless runtime (what `inspector serve --forward-to … --resign` runs)."""
    from tests.conftest import make_runtime, make_settings

    provider = PROVIDERS[0]
    runtime = make_runtime(make_settings(tmp_path, secrets=SECRETS, forward_to=sdk_app.url,
                                         resign=True))
    await runtime.start()
    try:
        base = runtime.url.rstrip("/")
        genuine = signed(provider, base)
        forged = forgeries(provider, base)
        for body, headers in [genuine, *forged]:
            await post(base, provider, body, headers)
        bodies = [genuine[0]] + [f[0] for f in forged]
        await wait_for(lambda: all(sdk_app.statuses(b) for b in bodies), what="3 forwards")
    finally:
        await runtime.stop()
    assert [sdk_app.statuses(b) for b in bodies] == [[200], [400], [400]]


# -- a signed timestamp that has expired -----------------------------------------------------------


LINEAR_SECRET = "linear-route-secret"
LINEAR = ConfigRoute("/linear/*", Generic(HmacSpec(
    header="Linear-Signature", template="{timestamp}.{body}", timestamp_header="Linear-Ts",
    tolerance=600)), (LINEAR_SECRET,))


def linear_sign(secret: str, url: str, body: bytes, when: int) -> dict[str, str]:
    digest = hmac.new(secret.encode(), str(when).encode() + b"." + body, hashlib.sha256)
    return {"Linear-Ts": str(when), "Linear-Signature": digest.hexdigest()}


def arrived_long_ago(db: Path, provider: Provider, *, host: str, tampered: bool = False) -> str:
    """Store an event that arrived STALE seconds ago, signed then (the store and the analysis
    are the real ones; only the clock is in the past). Returns its id."""
    when = int(time.time()) - STALE
    body, headers = signed(provider, f"http://{host}", when=when,
                           secret=LINEAR_SECRET if provider.name == "generic" else None)
    if tampered:
        body = provider.tampered(body)
    event = Event(new_id(when), when + 0.5, "POST", provider.path, "",
                  [("host", host), *headers.items()], body)
    Analyzer(SECRETS, routes=[LINEAR]).analyze(event)
    assert event.verdict == ("invalid" if tampered else "valid"), event.reason
    store = open_store(db)
    store.import_events_sync([(event, [])])
    store.close()
    return event.id


STALE_CASES = [*PROVIDERS[:3], Provider("generic", "/linear/issues", "application/json",
                                        b'{"action": "create", "amount": 1999}', linear_sign)]


@pytest.mark.parametrize("provider", STALE_CASES, ids=[p.name for p in STALE_CASES])
async def test_an_expired_timestamp_is_said_before_replaying_and_s_resigns_it(
        tmp_path: Path, sdk_app: SdkApp, provider: Provider) -> None:
    ident = arrived_long_ago(tmp_path / "events.db", provider, host="127.0.0.1:8765")
    async with running_app(tmp_path, secrets=SECRETS, routes=[LINEAR],
                           replay_to=sdk_app.url) as (app, pilot, _base):
        await select(app, pilot, ident)
        await pilot.press("6")
        advice = app.query_one(DetailPane).detail.advice
        tolerance = 600 if provider.name == "generic" else 300
        age = re.search(r"signature is 13 min old \((\d+) s\)", advice)
        assert age is not None and STALE <= int(age.group(1)) < STALE + 60, advice
        assert (f"accepts {tolerance} s, so a replay with the original signature will be "
                "refused") in advice
        assert advice.endswith("Press s to re-sign it with a fresh timestamp and replay.")
        if provider.name == "generic":
            return  # no SDK: the route's own traits are what this case checks
        body = app.store.event_by_id(ident).body
        await pilot.press("r")  # as it arrived: the SDK refuses it, as the tab said
        await wait_for(lambda: sdk_app.statuses(body) == [400], what="the stale replay")
        await pilot.press("s")
        await wait_for(lambda: sdk_app.statuses(body) == [400, 200], what="the re-signed one")


async def test_an_expired_forgery_is_not_offered_a_resign(tmp_path: Path, sdk_app: SdkApp) -> None:
    provider = PROVIDERS[0]
    ident = arrived_long_ago(tmp_path / "events.db", provider, host="127.0.0.1:8765",
                             tampered=True)
    async with running_app(tmp_path, secrets=SECRETS, replay_to=sdk_app.url) as (app, pilot, _):
        await select(app, pilot, ident)
        advice = app.query_one(DetailPane).detail.advice
        assert "13 min old" in advice
        assert "It is not re-signed without asking: it arrived with an invalid signature" in advice
        assert "Press s" not in advice
        await pilot.press("s")
        await wait_for(lambda: any("arrived with an invalid signature" in m for m in told(app)),
                       what="the refusal")
        await settled(app)
    assert sdk_app.seen == []


async def test_no_timestamp_no_expiry_advice(tmp_path: Path) -> None:
    """Twilio signs no timestamp: however old, nothing to say."""
    ident = arrived_long_ago(tmp_path / "events.db", PROVIDERS[3], host="127.0.0.1:8765")
    async with running_app(tmp_path, secrets=SECRETS) as (app, pilot, _):
        await select(app, pilot, ident)
        assert app.query_one(DetailPane).detail.advice == ""
