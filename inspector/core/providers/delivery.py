"""Which deliveries are the same delivery sent again: the delivery key.

A provider that retries sends the same delivery id (Standard Webhooks and Svix `webhook-id`,
GitHub `X-GitHub-Delivery`, Shopify `X-Shopify-Webhook-Id`, GitLab `X-Gitlab-Event-UUID`,
Twilio `I-Twilio-Idempotency-Token`); the others (Connectly, Stripe, Slack) send the same
body again, so without an id the key is the body's hash. Answer rules count a sequence
("503, 503, then 200") per key, and forward retries keep each key's order.
"""

from __future__ import annotations

import hashlib

from inspector.core.headers import HeaderList, header_value

DELIVERY_HEADERS = ("webhook-id", "svix-id", "x-github-delivery", "x-shopify-webhook-id",
                    "x-gitlab-event-uuid", "i-twilio-idempotency-token")
BODY = "body"


def delivery_key(headers: HeaderList, body: bytes) -> tuple[str, str]:
    """(what the key is, the key): ("webhook-id", "msg_2Lh…"), or ("body", its sha256)."""
    for name in DELIVERY_HEADERS:
        value = header_value(headers, name)
        if value:
            return name, value
    return BODY, hashlib.sha256(body).hexdigest()
