"""Re-signing: an edited or stale request verifies again, with our verifier and with a real
server that checks the signature itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.capture.server import bind
from inspector.core.capture.serving import Running, make_server
from inspector.core.config import Route as ConfigRoute
from inspector.core.delivery import replay
from inspector.core.delivery.resign import (
    Expired,
    ResignError,
    Signer,
    expired,
    resign_headers,
    signer_for,
)
from inspector.core.model import Event, Verdict, new_id
from inspector.core.signatures import PROVIDERS, Secrets, SignedRequest, check
from inspector.core.signatures.generic import Generic, HmacSpec
from tests.conftest import SECRET, VECTORS, connectly_event

STRIPE_SECRET = "whsec_test_resign"

# Twilio's JSON vector signs a URL that carries the body's SHA-256: a new body needs a new
# URL, which is the sender's to choose, not ours.
RESIGNABLE = [v for v in VECTORS if v["expected_valid"] and v["id"] != "twilio-json-bodySHA256"]


def event_of(case: dict[str, Any], body: bytes | None = None, at: float = 0.0) -> Event:
    """The event as the receiver stores it: analysed (with the fixtures' secret) on arrival."""
    headers = [("host", "inspector.example"), *case["headers"].items()]
    event = Event(new_id(), at, "POST", case.get("path", "/hook"), "", headers,
                  case["body"].encode() if body is None else body, seq=1)
    Analyzer(Secrets(default=SECRET)).analyze(event)
    return event


@pytest.mark.parametrize("vector", RESIGNABLE, ids=[v["id"] for v in RESIGNABLE])
def test_an_edited_body_verifies_after_resigning(vector: dict[str, Any]) -> None:
    provider = PROVIDERS[vector["provider"]]
    body = vector["body"].encode() + b" (edited)"
    url = vector["url"] or ""
    headers = list(vector["headers"].items())
    now = time.time()
    stale = check(SignedRequest("POST", url, headers, body), Secrets(default=vector["secret"]),
                  provider.name, now)
    assert stale.verdict is Verdict.INVALID
    fresh = resign_headers(provider, vector["secret"], "POST", url, headers, body, now)
    result = check(SignedRequest("POST", url, fresh, body), Secrets(default=vector["secret"]),
                   provider.name, now)
    assert result.verdict is Verdict.VALID, result.reason


def test_replaced_headers_keep_their_place_and_spelling() -> None:
    headers = [("Content-Type", "application/json"), ("stripe-signature", "t=1,v1=00"),
               ("X-After", "1")]
    out = resign_headers(PROVIDERS["stripe"], STRIPE_SECRET, "POST", "", headers, b"{}",
                         now=1_700_000_000)
    assert [k for k, _ in out] == ["Content-Type", "stripe-signature", "X-After"]
    assert out[1][1].startswith("t=1700000000,v1=")


def test_slack_gets_a_fresh_timestamp_header() -> None:
    vector = next(v for v in VECTORS if v["id"] == "slack-docs-example")
    headers = list(vector["headers"].items())
    now = time.time()
    out = dict(resign_headers(PROVIDERS["slack"], vector["secret"], "POST", "", headers,
                              vector["body"].encode(), now))
    stamps = [v for k, v in out.items() if k.lower() == "x-slack-request-timestamp"]
    assert stamps == [str(int(now))]
    assert len(out) == len(headers)  # replaced, not added


def test_standard_webhooks_keeps_the_message_id() -> None:
    vector = next(v for v in VECTORS if v["id"] == "stdwebhooks-official-sign-vector")
    headers = list(vector["headers"].items())
    ident = next(v for k, v in headers if k.lower() == "webhook-id")
    out = resign_headers(PROVIDERS["standard-webhooks"], vector["secret"], "POST", "", headers,
                         b'{"edited": true}', time.time())
    assert next(v for k, v in out if k.lower() == "webhook-id") == ident
    assert sum(k.lower() == "webhook-signature" for k, _ in out) == 1


def test_signer_uses_the_events_provider_and_configured_secret() -> None:
    event = event_of(connectly_event("text"))
    event.provider = "connectly"
    signer = signer_for(Analyzer(Secrets(default=SECRET)), event)
    assert signer.ok and signer.title == "Connectly"
    assert SECRET not in repr(signer)


def test_no_secret_is_a_clear_error() -> None:
    event = event_of(connectly_event("text"))
    signer = signer_for(Analyzer(Secrets()), event)  # provider detected from the headers
    assert not signer.ok
    assert signer.problem == ("cannot re-sign: no secret for Connectly: pass --secret or set "
                              "CONNECTLY_WEBHOOK_SECRET")
    with pytest.raises(ResignError, match="no secret for Connectly"):
        signer.sign("POST", "", event.headers, event.body)


def test_no_known_provider_is_a_clear_error() -> None:
    event = Event(new_id(), 0.0, "POST", "/x", "", [("content-type", "text/plain")], b"hi")
    signer = signer_for(Analyzer(Secrets(default="s")), event)
    assert not signer.ok and "no known provider's signature headers" in signer.problem


def test_a_key_the_scheme_cannot_use_is_a_clear_error() -> None:
    signer = Signer(PROVIDERS["standard-webhooks"], "whsec_not base64!")
    with pytest.raises(ResignError, match=r"cannot re-sign for Standard Webhooks: .*base64"):
        signer.sign("POST", "", [("webhook-id", "msg_1")], b"{}")


def test_an_event_that_verifies_under_another_scheme_is_not_vouched_for() -> None:
    """A stored provider (an import may say anything) that is not the scheme that verifies
    the event: re-signing with it would sign what nobody signed that way."""
    event = event_of(connectly_event("text"))
    assert event.verdict == "valid"
    event.provider = "github"
    signer = signer_for(Analyzer(Secrets(default=SECRET)), event)
    assert signer.ok and signer.title == "GitHub"
    assert signer.doubt == ("it arrived with an invalid signature (it verified as connectly, "
                            "but would be re-signed as GitHub)")


def test_a_route_pins_the_scheme_and_secret() -> None:
    spec = HmacSpec(header="X-Sig", prefix="sha256=", template="{timestamp}.{body}",
                    timestamp_header="X-Ts")
    route = ConfigRoute("/linear/*", Generic(spec), ("route-secret",))
    analyzer = Analyzer(Secrets(default="global"), routes=[route])
    event = Event(new_id(), 0.0, "POST", "/linear/1", "", [("X-Sig", "sha256=00"),
                                                          ("X-Ts", "1")], b'{"a":1}')
    signer = signer_for(analyzer, event)
    assert signer.ok and signer.secret == "route-secret"
    headers = signer.sign("POST", "", event.headers, event.body)
    edited = Event(event.id, time.time(), "POST", "/linear/1", "", headers, event.body)
    assert analyzer.verify(edited).verdict is Verdict.VALID


# -- expired timestamps: from the schemes' own traits ---------------------------------------------

STAMPED = [v for v in VECTORS if v["now"] is not None and v["expected_valid"]]


@pytest.mark.parametrize("vector", STAMPED, ids=[v["id"] for v in STAMPED])
def test_a_signed_timestamp_expires_after_the_schemes_tolerance(vector: dict[str, Any]) -> None:
    provider = PROVIDERS[vector["provider"]]
    req = SignedRequest("POST", vector["url"] or "", list(vector["headers"].items()),
                        vector["body"].encode())
    stamp = provider.signed_at(req)
    assert stamp is not None and provider.tolerance == 300
    assert expired(provider, req, stamp + 300) is None
    assert expired(provider, req, stamp + 780) == Expired(provider.title, 780, 300)


def test_schemes_without_a_timestamp_never_expire() -> None:
    for vector in VECTORS:
        provider = PROVIDERS[vector["provider"]]
        if vector["now"] is None:
            req = SignedRequest("POST", vector["url"] or "", list(vector["headers"].items()),
                                vector["body"].encode())
            assert provider.signed_at(req) is None and not provider.tolerance
            assert expired(provider, req, 10**10) is None


def test_a_generic_route_expires_only_with_a_timestamp_header_and_a_tolerance() -> None:
    headers = [("X-Sig", "00"), ("X-Ts", "1700000000")]
    req = SignedRequest("POST", "", headers, b"{}")
    timed = Generic(HmacSpec(header="X-Sig", timestamp_header="X-Ts", tolerance=60))
    assert expired(timed, req, 1700000061) == Expired("generic HMAC", 61, 60)
    unbounded = Generic(HmacSpec(header="X-Sig", timestamp_header="X-Ts", tolerance=0))
    assert expired(unbounded, req, 1800000000) is None
    assert expired(Generic(HmacSpec(header="X-Sig")), req, 1800000000) is None


def test_how_old_and_the_tolerance_are_said() -> None:
    assert Expired("Slack", 780, 300).text() == (
        "This Slack signature is 13 min old (780 s); Slack accepts 300 s, so a replay with "
        "the original signature will be refused.")
    assert Expired("Stripe", 301, 300).text().startswith(
        "This Stripe signature is 5 min old (301 s);")
    assert Expired("generic HMAC", 61, 60).text().startswith(
        "This generic HMAC signature is 61 s old; generic HMAC accepts 60 s")


# -- a real server that verifies signatures itself --------------------------------------------


def verifier_app() -> Starlette:
    """What a user's app does: check Connectly's HMAC, or Stripe's with a 5-minute window."""

    async def connectly(request: Request) -> JSONResponse:
        body = await request.body()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        given = request.headers.get("x-connectly-hmac-sha256", "")
        ok = hmac.compare_digest(base64.b64encode(digest).decode(), given)
        return JSONResponse({"verified": ok}, 200 if ok else 401)

    async def stripe(request: Request) -> JSONResponse:
        body = await request.body()
        parts = dict(p.split("=", 1) for p in request.headers["stripe-signature"].split(","))
        signed = parts["t"].encode() + b"." + body
        digest = hmac.new(STRIPE_SECRET.encode(), signed, hashlib.sha256).hexdigest()
        ok = (hmac.compare_digest(digest, parts.get("v1", ""))
              and abs(time.time() - int(parts["t"])) <= 300)
        return JSONResponse({"verified": ok}, 200 if ok else 401)

    return Starlette(routes=[Route("/webhooks/connectly", connectly, methods=["POST"]),
                             Route("/webhooks/stripe", stripe, methods=["POST"])])


@pytest.fixture
async def verifier() -> AsyncIterator[str]:
    sock = bind("127.0.0.1", 0)
    running = Running(make_server(verifier_app(), http="h11"), sock)
    running.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    await running.stop()


async def test_an_edited_event_is_accepted_by_a_verifying_server_once_resigned(
        verifier: str) -> None:
    event = event_of(connectly_event("text"))
    body = event.body.replace(b"TEST 11", b"TEST 99")
    signer = signer_for(Analyzer(Secrets(default=SECRET)), event)
    url = verifier + "/webhooks/connectly"
    edit = replay.Edit("POST", url, replay.replay_headers(event.headers), body, edited=True)
    async with replay.new_client() as client:
        original = await replay.send_edit(client, event, edit, signer)
        resigned = await replay.send_edit(client, event, replay.Edit(
            "POST", url, edit.headers, body, resign=True, edited=True), signer)
    assert original.status == 401 and not original.resigned
    assert resigned.status == 200 and resigned.resigned and resigned.edited
    assert json.loads(resigned.response_body) == {"verified": True}


async def test_a_stale_stripe_event_is_accepted_once_resigned(verifier: str) -> None:
    body = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
    then = time.time() - 3600
    headers = [("content-type", "application/json"),
               *PROVIDERS["stripe"].sign(SignedRequest("POST", "", [], body), STRIPE_SECRET,
                                         then)]
    event = Event(new_id(), then, "POST", "/webhooks/stripe", "", headers, body, seq=3)
    analyzer = Analyzer(Secrets(by_provider={"stripe": STRIPE_SECRET}))
    analyzer.analyze(event)  # an hour ago, when it arrived: valid
    assert event.verdict == "valid"
    signer = signer_for(analyzer, event)
    async with replay.new_client() as client:
        stale = await replay.send(client, event, verifier + "/webhooks/stripe")
        fresh = await replay.send_resigned(client, event, verifier + "/webhooks/stripe", signer)
    assert stale.status == 401
    assert fresh.status == 200 and fresh.resigned


async def test_resign_without_a_secret_sends_nothing_and_says_why(verifier: str) -> None:
    event = event_of(connectly_event("text"))
    signer = signer_for(Analyzer(Secrets()), event)
    edit = replay.Edit("POST", verifier + "/webhooks/connectly", event.headers, event.body,
                       resign=True)
    async with replay.new_client() as client:
        attempt = await replay.send_edit(client, event, edit, signer)
    assert attempt.status is None and "no secret for Connectly" in attempt.error
