"""Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>]`, HMAC-SHA256 of
`{ts}:{body}` with the notification destination's secret key as text.

Any `h1` may match (one per secret during a rotation). Paddle's SDK refuses any other key in
the header and, by default, a timestamp more than 5 seconds old (never a future one): the
same here, so a replay goes stale at once and `s` re-signs it.
"""

from __future__ import annotations

from inspector.core.model import HeaderList
from inspector.core.sanitize import clip
from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.diagnose import entries, wire
from inspector.core.signatures.scheme import HmacProvider, Reading

HEADER = "Paddle-Signature"


class Paddle(HmacProvider):
    name = "paddle"
    title = "Paddle"
    signature_headers = (HEADER,)
    secret_envs = ("PADDLE_WEBHOOK_SECRET", "PADDLE_NOTIFICATION_SECRET")
    header = HEADER
    timestamped = True
    tolerance = 5
    future_ok = True
    covers = "timestamp and body"
    hint = "pass --secret (the notification destination's secret key, pdl_ntfset_…)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        stamp: str | None = None
        h1: list[str] = []
        problem = ""
        for key, text in entries(value, ";"):
            if key == "ts" and stamp is None:
                stamp = text
            elif key == "h1":
                h1.append(text)
            elif not problem:
                problem = (f"{header} has a key {clip(key, 20)!r} besides ts and h1, which "
                           "Paddle's SDK refuses")
        if stamp is None:
            return f"{header} has no ts= timestamp"
        problem = problem or ("" if h1 else f"{header} has no h1= signature")
        return Reading(h1, stamp=stamp, problem=problem)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [wire(reading.stamp) + b":" + body]

    def render(self, reading: Reading, digest: bytes) -> str:
        return f"ts={reading.stamp};h1={digest.hex()}"

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        return [(HEADER, self.signed_value(req, Reading([], stamp=str(int(now))), secret))]
