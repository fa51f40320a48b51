"""Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the raw body with the app's client
secret. GitHub's legacy header (github.py): Intercom's user agent or body shape
(`{"type": "notification_event", ...}`) tell its requests apart.
"""

from __future__ import annotations

import re

from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.scheme import BodyHmac

HEADER = "X-Hub-Signature"
USER_AGENT = "Intercom-Webhooks"
_SHAPE = re.compile(rb'\s*\{\s*"type"\s*:\s*"notification_event"')


class Intercom(BodyHmac):
    name = "intercom"
    title = "Intercom"
    signature_headers = (HEADER,)
    secret_envs = ("INTERCOM_CLIENT_SECRET",)
    header = HEADER
    prefix = "sha1="
    digest = "sha1"
    hint = "pass --secret (the app's client secret, in the Developer Hub's Basic Info)"

    def claims(self, req: SignedRequest) -> bool:
        return ((req.header("user-agent") or "").startswith(USER_AGENT)
                or _SHAPE.match(req.body[:64]) is not None)
