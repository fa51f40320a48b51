"""Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 of `t.body`.

The `whsec_` secret is the key as UTF-8 bytes, exactly as given. Any `v1` may match (during
a secret's rotation Stripe sends one per secret); `v0` (test mode, HMAC-SHA1 of old) never
counts. Only timestamps older than 300 s are rejected, as Stripe's libraries do. Calendly
signs the same way under its own header (calendly.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest, b64decode_strict
from inspector.core.signatures.diagnose import WHSEC, entries, utf8, wire
from inspector.core.signatures.scheme import HmacProvider, Reading

HEADER = "Stripe-Signature"
PREFIX = "whsec_"
TOLERANCE = 300


class Stripe(HmacProvider):
    name = "stripe"
    title = "Stripe"
    signature_headers = (HEADER,)
    secret_envs = ("STRIPE_WEBHOOK_SECRET",)
    header = HEADER
    timestamped = True
    tolerance = TOLERANCE
    future_ok = True
    covers = "timestamp and body"
    hint = "pass --secret (the endpoint's whsec_ signing secret)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        stamp: str | None = None
        v1: list[str] = []
        for key, text in entries(value, ","):
            key = key.lstrip()  # "t=…, v1=…": a space after the comma is forgiven
            if key == "t" and stamp is None:
                stamp = text.rstrip()
            elif key == "v1":
                v1.append(text.rstrip())
        if stamp is None:
            return f"{header} has no t= timestamp"
        problem = "" if v1 else f"{header} has no v1= signature (v0 never counts)"
        return Reading(v1, stamp=stamp, problem=problem)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [wire(reading.stamp) + b"." + body]

    def render(self, reading: Reading, digest: bytes) -> str:
        return f"t={reading.stamp},v1={digest.hex()}"

    def other_keys(self, secret: str) -> Iterator[tuple[bytes, str]]:
        if secret.startswith(PREFIX):
            key = b64decode_strict(secret.removeprefix(PREFIX))
            if key:
                yield key, f"signature matches the secret base64-decoded: {WHSEC}"
        else:
            yield utf8(PREFIX + secret), (
                "signature matches the secret with whsec_ in front: Stripe's key is the whole "
                "secret, prefix included")

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        return [(self.header, self.signed_value(req, Reading([], stamp=str(int(now))), secret))]
