"""The official SDKs of issue 16's providers as a second opinion (tests/test_official_sdks.py
does the same for Stripe, Standard Webhooks, Slack and Twilio).

SDKs that sign (svix, standardwebhooks for GitLab, hubspot-api-client) sign the requests sent
here; SDKs that only verify (squareup, sendgrid, discord-interactions, mailgun, resend) first
accept what this test signs with the documented algorithm (a test key pair for the
public-key schemes), so the requests are the ones the provider would send. Then, through the
real TUI app and receiver:
- what the provider signs is valid here; a tampered body or another key is invalid;
- forwarded and replayed as it arrived, the SDK of a local app accepts it (a scheme that signs
  the URL refuses it at another URL, as it should); re-signed with `s`, the SDK accepts it;
  where re-signing is impossible (the private key is the sender's; Mailgun's signature is in
  the body) `s` says why and sends nothing;
- with --resign, a forgery is never forwarded with a signature the SDK accepts.
paddle-python-sdk is not used: it installs a top-level `tests` package that shadows ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import resend
import standardwebhooks
import svix.webhooks
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from discord_interactions import verify_key
from hubspot.utils.signature import Signature
from mailgun.security import SecurityGuard
from sendgrid.helpers.eventwebhook import EventWebhook
from square.utils.webhooks_helper import verify_signature
from starlette.requests import Request

from inspector.core.model import new_id
from inspector.core.signatures import Secrets
from tests.conftest import running_app, wait_for
from tests.test_official_sdks import Check, SdkApp, select, serving, settled, told

SVIX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # Svix's documented key
CLERK_SECRET = "whsec_" + base64.b64encode(b"clerk-signing-secret-for-tests!!").decode()
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-signing-secret-for-test!!").decode()
GITLAB_TOKEN = "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q="  # GitLab's MR example
HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # HubSpot's docs example
SQUARE_KEY = "Ibxx_5AKakO-3qeNVR61Dw"  # Square's SDK tests
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"  # Mailgun's SDK tests
DISCORD_KEY = Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)
DISCORD_PUBLIC = DISCORD_KEY.public_key().public_bytes_raw().hex()
SENDGRID_KEY = ec.derive_private_key(0x5E9D, ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(SENDGRID_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

SECRETS = Secrets(by_provider={
    "svix": SVIX_SECRET, "clerk": CLERK_SECRET, "resend": RESEND_SECRET, "gitlab": GITLAB_TOKEN,
    "hubspot": HUBSPOT_SECRET, "square": SQUARE_KEY, "mailgun": MAILGUN_KEY,
    "discord": DISCORD_PUBLIC, "sendgrid": SENDGRID_PUBLIC})
OTHER_ED25519 = Ed25519PrivateKey.from_private_bytes(b"\x03" * 32)
OTHER_ECDSA = ec.derive_private_key(0xBAD, ec.SECP256R1())

# (secret or key, url, body, when) -> headers; Mailgun's go in the body instead.
Sign = Callable[[object, str, bytes, int], dict[str, str]]


# -- how each provider signs, by its SDK where it has a signer -----------------------------------


def svix_sign(secret: object, url: str, body: bytes, when: int) -> dict[str, str]:
    ident = f"msg_{new_id()}"
    value = svix.webhooks.Webhook(str(secret)).sign(ident, datetime.fromtimestamp(when, UTC),
                                                    body.decode())
    return {"svix-id": ident, "svix-timestamp": str(when), "svix-signature": value}


def gitlab_sign(secret: object, url: str, body: bytes, when: int) -> dict[str, str]:
    ident = f"{new_id()}"
    value = standardwebhooks.Webhook(str(secret)).sign(ident, datetime.fromtimestamp(when, UTC),
                                                       body.decode())
    return {"webhook-id": ident, "webhook-timestamp": str(when), "webhook-signature": value,
            "X-Gitlab-Event": "Push Hook", "Idempotency-Key": ident}


def hubspot_sign(secret: object, url: str, body: bytes, when: int) -> dict[str, str]:
    stamp = str(when * 1000)
    value = Signature.get_signature(str(secret), body.decode(), "v3", url, "POST", stamp)
    return {"X-HubSpot-Signature-v3": value, "X-HubSpot-Request-Timestamp": stamp}


def square_sign(secret: object, url: str, body: bytes, when: int) -> dict[str, str]:
    digest = hmac.new(str(secret).encode(), url.encode() + body, hashlib.sha256).digest()
    return {"x-square-hmacsha256-signature": base64.b64encode(digest).decode()}


def discord_sign(key: object, url: str, body: bytes, when: int) -> dict[str, str]:
    assert isinstance(key, Ed25519PrivateKey)
    signature = key.sign(str(when).encode() + body).hex()
    return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": str(when)}


def sendgrid_sign(key: object, url: str, body: bytes, when: int) -> dict[str, str]:
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(str(when).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(when)}


def mailgun_body(key: str, when: int, event: str = "delivered") -> bytes:
    token = hashlib.sha256(f"{when}{event}".encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), f"{when}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": str(when), "token": token,
                                     "signature": signature},
                       "event-data": {"event": event, "amount": 1999}}).encode()


# -- what each SDK says about a request the local app received -----------------------------------


def svix_check(secret: str) -> Check:
    def check(request: Request, body: bytes) -> object:
        svix.webhooks.Webhook(secret).verify(body, dict(request.headers))  # raises to refuse
        return True
    return check


def gitlab_check(request: Request, body: bytes) -> object:
    return standardwebhooks.Webhook(GITLAB_TOKEN).verify(body, dict(request.headers))


def resend_check(request: Request, body: bytes) -> object:
    headers = request.headers
    return resend.Webhooks.verify({
        "payload": body.decode(), "webhook_secret": RESEND_SECRET,
        "headers": {"id": headers["svix-id"], "timestamp": headers["svix-timestamp"],
                    "signature": headers["svix-signature"]}})


def hubspot_check(request: Request, body: bytes) -> object:
    return Signature.is_valid(request.headers.get("x-hubspot-signature-v3", ""), HUBSPOT_SECRET,
                              body.decode(), str(request.url), request.method, "v3",
                              request.headers.get("x-hubspot-request-timestamp"))


def square_check(request: Request, body: bytes) -> object:
    return verify_signature(request_body=body.decode(), notification_url=str(request.url),
                            signature_header=request.headers.get(
                                "x-square-hmacsha256-signature", ""),
                            signature_key=SQUARE_KEY)


def discord_check(request: Request, body: bytes) -> object:
    return verify_key(body, request.headers.get("x-signature-ed25519", ""),
                      request.headers.get("x-signature-timestamp", ""), DISCORD_PUBLIC)


def sendgrid_check(request: Request, body: bytes) -> object:
    webhook = EventWebhook()
    return webhook.verify_signature(
        body.decode(), request.headers.get("x-twilio-email-event-webhook-signature", ""),
        request.headers.get("x-twilio-email-event-webhook-timestamp", ""),
        webhook.convert_public_key_to_ecdsa(SENDGRID_PUBLIC))


def mailgun_check(request: Request, body: bytes) -> object:
    fields = json.loads(body)["signature"]
    return SecurityGuard.verify_webhook(MAILGUN_KEY, fields["token"], fields["timestamp"],
                                        fields["signature"])


@dataclass(frozen=True)
class Provider:
    name: str  # ours
    path: str  # on the inspector and (path rule) on the SDK app: /{check name}/...
    body: bytes
    sign: Sign | None  # None: the signature is in the body (Mailgun)
    key: object  # what signs (a secret, or the sender's private key)
    wrong: object  # another secret or key: a forgery
    check: Check
    resignable: bool = True
    signs_url: bool = False  # a replay to another URL carries a signature for the old one

    def signed(self, base: str, *, key: object = None, body: bytes | None = None,
               when: int | None = None) -> tuple[bytes, dict[str, str]]:
        at = int(time.time()) if when is None else when
        data = self.body if body is None else body
        signer = self.key if key is None else key
        if self.sign is None:
            return mailgun_body(str(signer), at, "delivered" if body is None else "forged"), {
                "content-type": "application/json"}
        headers = self.sign(signer, base.rstrip("/") + self.path, data, at)
        return data, {"content-type": "application/json", **headers}

    def forgeries(self, base: str) -> list[tuple[bytes, dict[str, str]]]:
        """A tampered body under a genuine signature (Mailgun's body is not signed: a
        signature made with another key instead), and a body signed with another key."""
        body, headers = self.signed(base)
        tampered = body.replace(b"1999", b"9999")
        first = ((tampered, headers) if self.sign is not None
                 else self.signed(base, key="key-someone-else"))
        return [first, self.signed(base, key=self.wrong, body=self.body.replace(b"1999", b"2"))]


PROVIDERS = [
    Provider("svix", "/svix/hooks", b'{"type": "invoice.paid", "amount": 1999}', svix_sign,
             SVIX_SECRET, "whsec_c29tZW9uZSBlbHNl", svix_check(SVIX_SECRET)),
    Provider("clerk", "/clerk/hooks",
             b'{"data": {"id": "user_1", "amount": 1999}, "object": "event", '
             b'"type": "user.created"}', svix_sign, CLERK_SECRET, "whsec_c29tZW9uZSBlbHNl",
             svix_check(CLERK_SECRET)),
    Provider("resend", "/resend/hooks",
             b'{"type": "email.sent", "data": {"email_id": "e_1", "amount": 1999}}', svix_sign,
             RESEND_SECRET, "whsec_c29tZW9uZSBlbHNl", resend_check),
    Provider("gitlab", "/gitlab/hooks", b'{"object_kind": "push", "total_commits_count": 1999}',
             gitlab_sign, GITLAB_TOKEN, "whsec_c29tZW9uZSBlbHNl", gitlab_check),
    Provider("hubspot", "/hubspot/hooks", b'[{"eventId": 1, "objectId": 1999}]', hubspot_sign,
             HUBSPOT_SECRET, "not-the-client-secret", hubspot_check, signs_url=True),
    Provider("square", "/square/hooks", b'{"type": "payment.created", "amount": 1999}',
             square_sign, SQUARE_KEY, "not-the-signature-key", square_check, signs_url=True),
    Provider("discord", "/discord/interactions", b'{"type": 2, "id": "1999"}', discord_sign,
             DISCORD_KEY, OTHER_ED25519, discord_check, resignable=False),
    Provider("sendgrid", "/sendgrid/events", b'[{"event": "delivered", "amount": 1999}]',
             sendgrid_sign, SENDGRID_KEY, OTHER_ECDSA, sendgrid_check, resignable=False),
    Provider("mailgun", "/mailgun/events", b"", None, MAILGUN_KEY, "key-someone-else",
             mailgun_check, resignable=False),
]
IDS = [p.name for p in PROVIDERS]
CHECKS = {p.path.split("/")[1]: p.check for p in PROVIDERS}


@pytest.fixture
async def sdk_app() -> AsyncIterator[SdkApp]:
    async with serving(SdkApp(checks=CHECKS)) as app:
        yield app


async def post(base: str, provider: Provider, body: bytes, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(base + provider.path, content=body, headers=headers)
    return str(response.headers["x-inspector-event-id"])


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_what_the_provider_signs_is_valid_here_and_for_its_sdk(
        tmp_path: Path, sdk_app: SdkApp, provider: Provider) -> None:
    async with running_app(tmp_path, secrets=SECRETS) as (app, _pilot, base):
        genuine = provider.signed(base)
        verdicts = {await post(base, provider, *genuine): "valid"}
        for forged in provider.forgeries(base):
            verdicts[await post(base, provider, *forged)] = "invalid"
        for ident, verdict in verdicts.items():
            event = app.store.event_by_id(ident)
            assert event is not None and event.provider == provider.name, event
            assert event.verdict == verdict, event.reason
    # The SDK agrees on the same requests, sent to it at the URL they were signed for.
    async with httpx.AsyncClient() as client:
        for body, headers in [provider.signed(sdk_app.url), *provider.forgeries(sdk_app.url)]:
            await client.post(sdk_app.url.rstrip("/") + provider.path, content=body,
                              headers=headers)
    assert [v.status for v in sdk_app.seen] == [200, 400, 400]


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_forwarded_replayed_and_resigned_the_sdk_accepts_it(
        tmp_path: Path, sdk_app: SdkApp, provider: Provider) -> None:
    async with running_app(tmp_path, secrets=SECRETS, forward_to=sdk_app.url,
                           replay_to=sdk_app.url) as (app, pilot, base):
        body, headers = provider.signed(base)
        ident = await post(base, provider, body, headers)
        await wait_for(lambda: len(sdk_app.statuses(body)) == 1, what="the forward")
        await select(app, pilot, ident)
        await pilot.press("r")
        await wait_for(lambda: len(sdk_app.statuses(body)) == 2, what="the replay")
        app.clear_notifications()
        await pilot.press("s")
        if provider.resignable:
            await wait_for(lambda: len(sdk_app.statuses(body)) == 3, what="the re-signed one")
        else:
            await wait_for(lambda: any("cannot re-sign" in m for m in told(app)),
                           what="why it cannot be re-signed")
        await settled(app)
        attempts = app.store.attempts(app.store.event_by_id(ident).seq)
        said = told(app)
    as_sent = [400, 400] if provider.signs_url else [200, 200]
    assert sdk_app.statuses(body) == as_sent + ([200] if provider.resignable else [])
    assert [a.resigned for a in attempts] == [False, False] + (
        [True] if provider.resignable else [])
    if not provider.resignable:
        assert any("private key" in m or "inside the body" in m for m in said), said


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_a_forgery_is_never_forwarded_with_a_signature_the_sdk_accepts(
        tmp_path: Path, sdk_app: SdkApp, provider: Provider) -> None:
    async with running_app(tmp_path, secrets=SECRETS, forward_to=sdk_app.url,
                           resign=True) as (_app, _pilot, base):
        genuine = provider.signed(base)
        forged = provider.forgeries(base)
        for body, headers in [genuine, *forged]:
            await post(base, provider, body, headers)
        bodies = [genuine[0]] + [f[0] for f in forged]
        await wait_for(lambda: all(sdk_app.statuses(b) for b in bodies), what="3 forwards")
    genuine_status = 400 if provider.signs_url and not provider.resignable else 200
    assert [sdk_app.statuses(b) for b in bodies] == [[genuine_status], [400], [400]]
