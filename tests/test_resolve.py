"""One resolver decides an event's provider, secret and scheme traits: verification,
re-signing, the replay editor and the detail pane agree (issue 11)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.config import Route
from inspector.core.delivery.resign import signer_for
from inspector.core.model import Event, new_id
from inspector.core.signatures import PROVIDERS, Secrets, SignedRequest, mask
from inspector.core.signatures.generic import Generic, HmacSpec
from inspector.core.signatures.resolve import Resolver
from inspector.faces.tui.widgets.detail import DetailPane, signature
from tests.conftest import SECRET, connectly_event, running_app, wait_for
from tests.test_app_replay import shown

ROUTE_SECRET = "a-route-secret-that-is-not-the-global-one"
TWILIO_TOKEN = "twilio-auth-token-12345"
STRIPE_SECRET = "whsec_stripe-secret-for-the-label-test"


def request(headers: dict[str, str], body: bytes = b"{}") -> SignedRequest:
    return SignedRequest("POST", "https://example.test/x", list(headers.items()), body)


def test_traits_come_from_the_schemes() -> None:
    stamped = {name for name, p in PROVIDERS.items() if p.timestamped}
    assert stamped == {"stripe", "slack", "standard-webhooks", "svix", "clerk", "resend",
                       "gitlab", "calendly", "zoom", "hubspot", "paddle", "twitch",
                       "mailgun"}  # not Twilio
    # The private key stays with the sender; Mailgun's signature is inside the body.
    assert {n for n, p in PROVIDERS.items() if not p.resignable} == {
        "discord", "sendgrid", "mailgun"}
    assert {(n, p.tolerance) for n, p in PROVIDERS.items() if p.timestamped
            and p.tolerance != 300} == {("calendly", 180), ("zoom", 0), ("paddle", 5),
                                        ("twitch", 600), ("mailgun", 900)}
    with_stamp = Generic(HmacSpec(header="X-Sig", timestamp_header="X-Ts", tolerance=60))
    assert with_stamp.timestamped and with_stamp.tolerance == 60
    without = Generic(HmacSpec(header="X-Sig", tolerance=60))
    assert not without.timestamped and without.tolerance == 0


def test_a_route_pins_provider_and_secret_and_says_what_to_set() -> None:
    routes = [Route("/pinned", PROVIDERS["github"], (ROUTE_SECRET,)),
              Route("/missing", PROVIDERS["stripe"], (), "STRIPE_X", "inspector.toml:7"),
              Route("/auto", None, (ROUTE_SECRET,))]
    resolver = Resolver(routes, Secrets(default="global", by_provider={"slack": "slack-s"}))
    slack = request({"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "1"})
    pinned = resolver.resolve(slack, "/pinned")
    assert (pinned.provider, pinned.secret) == (PROVIDERS["github"], ROUTE_SECRET)
    assert pinned.secret_note() == mask(ROUTE_SECRET) and ROUTE_SECRET not in repr(pinned)
    missing = resolver.resolve(slack, "/missing")
    assert missing.provider is PROVIDERS["stripe"] and missing.secret == "global"
    assert missing.hint == "set STRIPE_X (inspector.toml:7)"
    auto = resolver.resolve(slack, "/auto")  # detected, with the route's secret
    assert (auto.provider, auto.secret) == (PROVIDERS["slack"], ROUTE_SECRET)
    plain = resolver.resolve(slack, "/elsewhere")
    assert (plain.provider, plain.secret) == (PROVIDERS["slack"], "slack-s")
    assert plain.timestamped and plain.tolerance == 300 and plain.can_resign
    assert resolver.resolve(slack, "/pinned", "shopify").provider is PROVIDERS["shopify"]
    nothing = resolver.resolve(request({}), "/elsewhere")
    assert nothing.provider is None and not nothing.can_resign and not nothing.timestamped
    assert nothing.hint == "pass --secret"


def test_verification_and_re_signing_use_the_same_secret() -> None:
    case = connectly_event("text")
    event = Event(new_id(), time.time(), "POST", "/hooks/a", "", list(case["headers"].items()),
                  case["body"].encode())
    analyzer = Analyzer(Secrets(default="wrong"),
                        routes=[Route("/hooks/*", PROVIDERS["connectly"], (SECRET,))])
    analyzer.analyze(event)
    assert event.verdict == "valid"
    signer = signer_for(analyzer, event)
    assert signer.ok and signer.secret == SECRET
    assert analyzer.resolver.resolve_event(event).secret_note() == mask(SECRET)


async def test_the_signature_tab_names_a_route_secret(tmp_path: Path) -> None:
    """A route's secret verifies the event: the Signature tab said "not set" beside ✓ valid,
    because the detail pane looked at the global secrets only."""
    case = connectly_event("text")
    digest = hmac.new(ROUTE_SECRET.encode(), case["body"].encode(), hashlib.sha256).digest()
    headers = {**case["headers"], "x-connectly-hmac-sha256": base64.b64encode(digest).decode()}
    route = Route("/webhooks/*", PROVIDERS["connectly"], (ROUTE_SECRET,), "", "inspector.toml:2")
    async with running_app(tmp_path, secrets=Secrets(), routes=[route]) as (app, pilot, base), \
            httpx.AsyncClient() as client:
        await client.post(base + case["path"], content=case["body"].encode(), headers=headers)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail, what="detail")
        assert pane.detail is not None and pane.detail.check.ok
        await pilot.press("5")
        text = shown(signature(pane.detail))
        assert "✓ valid" in text
        assert mask(ROUTE_SECRET) in text and "not set" not in text


def twilio_form(url: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"From": "+15005550006", "Body": "hi", "SmsStatus": "received"}).encode()
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        url, dict(parse_qsl(body.decode())))
    return body, {"X-Twilio-Signature": signature,
                  "content-type": "application/x-www-form-urlencoded"}


def stripe_json(now: int) -> tuple[bytes, dict[str, str]]:
    body = b'{"type": "charge.succeeded"}'
    mac = hmac.new(STRIPE_SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256)
    return body, {"Stripe-Signature": f"t={now},v1={mac.hexdigest()}",
                  "content-type": "application/json"}


@pytest.mark.parametrize(("scheme", "label"), [
    ("twilio", "Re-sign (Twilio) with the configured secret"),
    ("stripe", "Re-sign (Stripe) with the configured secret, fresh timestamp"),
])
async def test_the_editor_offers_a_fresh_timestamp_only_to_schemes_that_sign_one(
        tmp_path: Path, scheme: str, label: str) -> None:
    """The editor decided from the provider's title, so Twilio (which signs no timestamp)
    was offered a fresh one."""
    secrets = Secrets(by_provider={"twilio": TWILIO_TOKEN, "stripe": STRIPE_SECRET})
    async with running_app(tmp_path, secrets=secrets) as (app, pilot, base), \
            httpx.AsyncClient() as client:
        path = f"/{scheme}/hook"
        if scheme == "twilio":
            body, headers = twilio_form(base + path)
        else:
            body, headers = stripe_json(int(time.time()))
        await client.post(base + path, content=body, headers=headers)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail, what="detail")
        assert pane.detail is not None and pane.detail.check.ok, pane.detail.check.reason
        await pilot.press("R")
        await wait_for(lambda: app.screen.query("ReplayEditor #resign"), what="editor")
        assert str(app.screen.query_one("#resign").label) == label
