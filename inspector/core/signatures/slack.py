"""Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{timestamp}:{body}`.

The timestamp travels in `X-Slack-Request-Timestamp`; Slack allows 5 minutes either way.
"""

from __future__ import annotations

from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.diagnose import wire
from inspector.core.signatures.scheme import HmacProvider, Reading

HEADER = "X-Slack-Signature"
TIMESTAMP = "X-Slack-Request-Timestamp"


class Slack(HmacProvider):
    name = "slack"
    title = "Slack"
    signature_headers = (HEADER,)
    header = HEADER
    timestamped = True
    tolerance = 300
    covers = "timestamp and body"
    hint = "pass --secret (the app's signing secret)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        stamp = req.header(TIMESTAMP)
        if stamp is None:
            return f"no {TIMESTAMP} header"
        text = value.strip()
        problem = ""
        if text.startswith("v0="):
            text = text[3:]
        else:
            problem = f"{HEADER} lacks the v0= prefix"
        return Reading([text], stamp=stamp, problem=problem)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [b"v0:" + wire(reading.stamp) + b":" + body]

    def render(self, reading: Reading, digest: bytes) -> str:
        return f"v0={digest.hex()}"

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        stamp = str(int(now))
        return [(TIMESTAMP, stamp),
                (HEADER, self.signed_value(req, Reading([], stamp=stamp), secret))]
