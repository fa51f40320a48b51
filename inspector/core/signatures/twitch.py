"""Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>`, HMAC-SHA256 of the
message id, the timestamp and the raw body (`Twitch-Eventsub-Message-Id` +
`Twitch-Eventsub-Message-Timestamp` + body, as sent) with the subscription's secret.

The timestamp is RFC 3339 (nanoseconds); Twitch asks receivers to refuse messages older than
10 minutes. A re-sign keeps the message id (receivers deduplicate on it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.diagnose import wire
from inspector.core.signatures.scheme import HmacProvider, Reading

HEADER = "Twitch-Eventsub-Message-Signature"
ID = "Twitch-Eventsub-Message-Id"
TIMESTAMP = "Twitch-Eventsub-Message-Timestamp"
PREFIX = "sha256="


class Twitch(HmacProvider):
    name = "twitch"
    title = "Twitch"
    signature_headers = (HEADER,)
    secret_envs = ("TWITCH_EVENTSUB_SECRET",)
    header = HEADER
    timestamped = True
    tolerance = 600
    covers = "message id, timestamp and body"
    stamp_form = "an RFC 3339 time"
    hint = "pass --secret (the secret given when the subscription was created)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        ident, stamp = req.header(ID), req.header(TIMESTAMP)
        if ident is None or stamp is None:
            return f"no {ID if ident is None else TIMESTAMP} header"
        text = value.strip()
        if text.startswith(PREFIX):
            return Reading([text[len(PREFIX):]], stamp=stamp, ident=ident)
        return Reading([text], stamp=stamp, ident=ident,
                       problem=f"{header} lacks the {PREFIX} prefix")

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [wire(reading.ident) + wire(reading.stamp) + body]

    def render(self, reading: Reading, digest: bytes) -> str:
        return PREFIX + digest.hex()

    def unix(self, stamp: str) -> int | None:
        try:
            when = datetime.fromisoformat(stamp.strip()[:64])
        except ValueError:
            return None
        return int(when.timestamp()) if when.tzinfo is not None else None

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        ident = req.header(ID) or ""
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="microseconds")
        stamp = stamp.replace("+00:00", "Z")
        value = self.signed_value(req, Reading([], stamp=stamp, ident=ident), secret)
        return [(ID, ident), (TIMESTAMP, stamp), (HEADER, value)]
