"""Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 of `t.body` with the
webhook signing key: Stripe's scheme (stripe.py) under Calendly's header, and its documented
three-minute window."""

from __future__ import annotations

from collections.abc import Iterator

from inspector.core.signatures.stripe import Stripe

HEADER = "Calendly-Webhook-Signature"


class Calendly(Stripe):
    name = "calendly"
    title = "Calendly"
    signature_headers = (HEADER,)
    secret_envs = ("CALENDLY_WEBHOOK_SIGNING_KEY",)
    header = HEADER
    tolerance = 180
    hint = "pass --secret (the webhook signing key given when the subscription was made)"

    def other_keys(self, secret: str) -> Iterator[tuple[bytes, str]]:
        return iter(())  # Stripe's whsec_ slips do not apply
