"""Providers that share a signature header are told apart (issue 16): GitHub, Meta and Intercom
use X-Hub-Signature(-256); Svix, Clerk and Resend the svix-* headers; GitLab signs with the
webhook-* headers of Standard Webhooks. What decides: the provider's own headers, user agent
or body shape; then which of them has its own secret; then the first, and the verdict says
it was a guess. A config route always pins the provider."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.config import Route
from inspector.core.model import Event, new_id
from inspector.core.signatures import PROVIDERS, Secrets, SignedRequest, identify
from inspector.core.signatures.mailgun import Mailgun

BODY = b'{"zen": "Keep it logically awesome."}'


def hub(body: bytes = BODY, secret: str = "s", **extra: str) -> SignedRequest:
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = [("X-Hub-Signature-256", sig), *((k.replace("_", "-"), v) for k, v in extra.items())]
    return SignedRequest("POST", "", headers, body)


@pytest.mark.parametrize(("req", "expected"), [
    (hub(X_GitHub_Event="push"), "github"),
    (hub(User_Agent="GitHub-Hookshot/abc123"), "github"),
    (hub(User_Agent="facebookexternalua"), "meta"),
    (hub(b'{"object":"whatsapp_business_account","entry":[]}'), "meta"),
    (hub(b'{ "object": "page", "entry": [{"id": "1"}]}'), "meta"),
    (SignedRequest("POST", "", [("X-Hub-Signature", "sha1=00"),
                                ("User-Agent", "Intercom-Webhooks/1.0")], b"{}"), "intercom"),
    (SignedRequest("POST", "", [("X-Hub-Signature", "sha1=00")],
                   b'{"type":"notification_event","topic":"ping"}'), "intercom"),
    (SignedRequest("POST", "", [("svix-signature", "v1,x")],
                   b'{"data":{},"object":"event","type":"user.created"}'), "clerk"),
    (SignedRequest("POST", "", [("svix-signature", "v1,x")],
                   b'{"type":"email.bounced","data":{}}'), "resend"),
    (SignedRequest("POST", "", [("webhook-signature", "v1,x"), ("X-Gitlab-Event", "Push Hook")],
                   b"{}"), "gitlab"),
    (SignedRequest("POST", "", [("webhook-signature", "v1,x")], b"{}"), "standard-webhooks"),
    (SignedRequest("POST", "", [("X-Gitlab-Token", "t")], b"{}"), "gitlab"),
])
def test_what_else_the_request_says_decides(req: SignedRequest, expected: str) -> None:
    provider, doubt = identify(req)
    assert provider is not None and provider.name == expected
    assert doubt == ""


def test_a_guess_is_said_in_the_verdict() -> None:
    event = Event(new_id(), 1.0, "POST", "/hook", "", list(hub(secret="gh").headers), BODY)
    result = Analyzer(Secrets(default="gh")).verify(event)
    assert result.ok and result.provider == "github"
    assert result.reason == (
        "HMAC-SHA256 of the body matches (the headers fit GitHub and Meta and nothing else told "
        "them apart: assumed GitHub; a config route can pin the provider)")


def test_the_provider_with_its_own_secret_is_chosen_and_it_says_so() -> None:
    event = Event(new_id(), 1.0, "POST", "/hook", "", list(hub(secret="app").headers), BODY)
    result = Analyzer(Secrets(by_provider={"meta": "app"})).verify(event)
    assert result.ok and result.provider == "meta"
    assert result.reason.endswith("(the headers fit GitHub and Meta; Meta is the one with a "
                                  "secret set)")


def test_a_route_pins_the_provider_without_doubt() -> None:
    event = Event(new_id(), 1.0, "POST", "/meta", "", list(hub(secret="app").headers), BODY)
    analyzer = Analyzer(routes=[Route("/meta", PROVIDERS["meta"], ("app",))])
    result = analyzer.verify(event)
    assert result.ok and result.provider == "meta" and "fit" not in result.reason


def test_mailgun_is_found_in_the_body_only_when_nothing_else_signed() -> None:
    signature = {"timestamp": "1", "token": "t" * 50, "signature": "ab" * 32}
    body = json.dumps({"signature": signature, "event-data": {}}).encode()
    plain = SignedRequest("POST", "", [("content-type", "application/json")], body)
    assert identify(plain)[0] is PROVIDERS["mailgun"]
    stripe = SignedRequest("POST", "", [("Stripe-Signature", "t=1,v1=00")], body)
    assert identify(stripe)[0] is PROVIDERS["stripe"]
    hostile = [b"signature token", b'{"signature": "token"}', b'{"signature": {"token": 1}}',
               b'{"signature": {"timestamp": "1", "token": "a b", "signature": "c"}}',
               b"signature=%ff&token=\x00", b"[" * 100_000 + b"signature token"]
    for data in hostile:
        req = SignedRequest("POST", "", [("content-type", "application/json")], data)
        assert not Mailgun().detect(req), data[:40]
