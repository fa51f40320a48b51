"""Linear: `Linear-Signature: <hex>`, HMAC-SHA256 of the raw body with the webhook's secret.

The time is inside the signed body: `webhookTimestamp`, in milliseconds, which Linear's SDK
accepts for 60 s either way (the `Linear-Timestamp` header only when the body has none). A
re-sign cannot refresh it without editing the body, so a stale event is not offered one
(`signed_at` gives None); edit `webhookTimestamp` in the replay editor instead.
"""

from __future__ import annotations

import re

from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.scheme import BodyHmac, Reading

HEADER = "Linear-Signature"
TIMESTAMP = "Linear-Timestamp"
# One C pass over the body; the last match is the top-level field Linear appends.
_FIELD = re.compile(rb'"webhookTimestamp"\s*:\s*([0-9]{1,16})')


class Linear(BodyHmac):
    name = "linear"
    title = "Linear"
    signature_headers = (HEADER,)
    secret_envs = ("LINEAR_WEBHOOK_SECRET",)
    header = HEADER
    tolerance = 60
    stamp_form = "a Unix time in milliseconds"
    hint = "pass --secret (the webhook's signing secret)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading:
        stamps = [m.group(1) for m in _FIELD.finditer(req.body)]
        stamp = stamps[-1].decode() if stamps else (req.header(TIMESTAMP) or "").strip()
        return Reading([value.strip()], stamp=stamp)

    def unix(self, stamp: str) -> int | None:
        return int(stamp) // 1000 if stamp.isdigit() and stamp.isascii() else None

    def late(self, reading: Reading, now: float) -> str:
        if not reading.stamp:
            return ""  # older webhooks carry no time: nothing to judge
        return super().late(reading, now)

    def signed_at(self, req: SignedRequest) -> int | None:
        return None  # in the body: a re-sign cannot make it fresh
