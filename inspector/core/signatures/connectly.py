"""Connectly: base64 HMAC-SHA256 of the raw body in `x-connectly-hmac-sha256`."""

from __future__ import annotations

from inspector.core.signatures.scheme import BodyHmac

HEADER = "x-connectly-hmac-sha256"
SECRET_HINT = "pass --secret or set CONNECTLY_WEBHOOK_SECRET"


class Connectly(BodyHmac):
    name = "connectly"
    title = "Connectly"
    signature_headers = (HEADER,)
    secret_envs = ("CONNECTLY_WEBHOOK_SECRET",)
    header = HEADER
    encoding = "base64"
    hint = SECRET_HINT
