"""Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body."""

from __future__ import annotations

from inspector.core.signatures.scheme import BodyHmac

HEADER = "X-Shopify-Hmac-Sha256"


class Shopify(BodyHmac):
    name = "shopify"
    title = "Shopify"
    signature_headers = (HEADER,)
    secret_envs = ("SHOPIFY_WEBHOOK_SECRET", "SHOPIFY_API_SECRET")
    header = HEADER
    encoding = "base64"
    hint = "pass --secret (the app's client secret, or the store's webhook signing key)"
