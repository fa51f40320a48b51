"""Zoom: `x-zm-signature: v0=<hex>`, HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's
secret token: Slack's scheme under Zoom's header names.

Zoom documents no timestamp window (its samples check none), so none is enforced here; a
re-sign still gives a fresh timestamp. Zoom checks an endpoint first with a signed
`endpoint.url_validation` event, which verifies here like any other; the receiver answers
it with the token's HMAC only when it verifies (core/capture/handshakes.py).
"""

from __future__ import annotations

from inspector.core.signatures.slack import Slack

HEADER = "x-zm-signature"
TIMESTAMP = "x-zm-request-timestamp"


class Zoom(Slack):
    name = "zoom"
    title = "Zoom"
    signature_headers = (HEADER,)
    secret_envs = ("ZOOM_WEBHOOK_SECRET_TOKEN", "ZOOM_SECRET_TOKEN")
    header = HEADER
    timestamp_header = TIMESTAMP
    tolerance = 0
    hint = "pass --secret (the app's Secret Token, under Features, Access)"

