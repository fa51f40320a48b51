"""Vercel: `x-vercel-signature: <hex>`, HMAC-SHA1 of the raw body with the webhook's secret
(an integration's client secret for integration webhooks)."""

from __future__ import annotations

from inspector.core.signatures.scheme import BodyHmac

HEADER = "x-vercel-signature"


class Vercel(BodyHmac):
    name = "vercel"
    title = "Vercel"
    signature_headers = (HEADER,)
    secret_envs = ("VERCEL_WEBHOOK_SECRET",)
    header = HEADER
    digest = "sha1"
    hint = "pass --secret (the webhook's secret, shown once when it was created)"
