"""Typeform: `Typeform-Signature: sha256=<base64>`, HMAC-SHA256 of the raw body (base64, not
hex, after a hex-looking prefix)."""

from __future__ import annotations

from inspector.core.signatures.scheme import BodyHmac

HEADER = "Typeform-Signature"


class Typeform(BodyHmac):
    name = "typeform"
    title = "Typeform"
    signature_headers = (HEADER,)
    secret_envs = ("TYPEFORM_WEBHOOK_SECRET",)
    header = HEADER
    prefix = "sha256="
    encoding = "base64"
    hint = "pass --secret (the secret set on the webhook)"
