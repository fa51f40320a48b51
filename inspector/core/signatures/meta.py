"""Meta (WhatsApp Cloud API, Messenger, Instagram): `X-Hub-Signature-256: sha256=<hex>`,
HMAC-SHA256 of the raw body with the app secret; GitHub's scheme and headers (github.py).

Meta signs the body as sent, where non-ASCII characters travel as `\\u00e4` escapes: an app
that re-serialises the parsed JSON gets other bytes (the diagnosis says so). What tells a
Meta request from GitHub's: Meta's user agent, or the body's shape
(`{"object": "whatsapp_business_account", "entry": [...]}`).
"""

from __future__ import annotations

import re

from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.github import GitHub

USER_AGENT = "facebookexternalua"
# The first bytes of every Graph API webhook body: {"object":"page","entry":[...
_SHAPE = re.compile(rb'\s*\{\s*"object"\s*:\s*"[a-z_]{1,40}"\s*,\s*"entry"\s*:')
SHAPE_WINDOW = 128  # bytes of the body looked at


class Meta(GitHub):
    name = "meta"
    title = "Meta"
    secret_envs = ("META_APP_SECRET", "WHATSAPP_APP_SECRET", "FACEBOOK_APP_SECRET")
    hint = "pass --secret (the app secret: App settings, Basic)"

    def claims(self, req: SignedRequest) -> bool:
        agent = (req.header("user-agent") or "").lower()
        return USER_AGENT in agent or _SHAPE.match(req.body[:SHAPE_WINDOW]) is not None
