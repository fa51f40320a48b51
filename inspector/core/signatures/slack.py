"""Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{timestamp}:{body}`.

The timestamp travels in `X-Slack-Request-Timestamp`; Slack allows 5 minutes either way.
Zoom signs the same way under its own header names (zoom.py).
"""

from __future__ import annotations

from typing import ClassVar

from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.diagnose import wire
from inspector.core.signatures.scheme import HmacProvider, Reading

HEADER = "X-Slack-Signature"
TIMESTAMP = "X-Slack-Request-Timestamp"


class Slack(HmacProvider):
    name = "slack"
    title = "Slack"
    signature_headers: ClassVar[tuple[str, ...]] = (HEADER,)
    secret_envs: ClassVar[tuple[str, ...]] = ("SLACK_SIGNING_SECRET",)
    header = HEADER
    timestamp_header = TIMESTAMP
    timestamped = True
    tolerance = 300
    covers = "timestamp and body"
    hint = "pass --secret (the app's signing secret)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        stamp = req.header(self.timestamp_header)
        if stamp is None:
            return f"no {self.timestamp_header} header"
        text = value.strip()
        problem = ""
        if text.startswith("v0="):
            text = text[3:]
        else:
            problem = f"{header} lacks the v0= prefix"
        return Reading([text], stamp=stamp, problem=problem)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [b"v0:" + wire(reading.stamp) + b":" + body]

    def render(self, reading: Reading, digest: bytes) -> str:
        return f"v0={digest.hex()}"

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        stamp = str(int(now))
        return [(self.timestamp_header, stamp),
                (self.header, self.signed_value(req, Reading([], stamp=stamp), secret))]
