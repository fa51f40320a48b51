"""Standard Webhooks, and Svix (the same scheme under `svix-*` header names).

`webhook-signature: v1,<base64> [v1,<base64> ...]`, HMAC-SHA256 of `{id}.{timestamp}.{body}`
keyed with the base64-decoded part of a `whsec_<base64>` secret. Any `v1` may match; the
timestamp may be 5 minutes off either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from inspector.core.model import HeaderList, new_id
from inspector.core.signatures.base import SignedRequest, b64decode_strict
from inspector.core.signatures.diagnose import MAX_SIGNATURES, WHSEC, utf8, wire
from inspector.core.signatures.scheme import HmacProvider, Reading

PREFIX = "whsec_"


class StandardWebhooks(HmacProvider):
    name = "standard-webhooks"
    title = "Standard Webhooks"
    prefix = "webhook"  # header names: {prefix}-id, {prefix}-timestamp, {prefix}-signature
    signature_headers = ("webhook-signature",)
    header = "webhook-signature"
    encoding = "base64"
    timestamped = True
    tolerance = 300
    covers = "id, timestamp and body"
    hint = "pass --secret (the endpoint's whsec_ secret)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        ident = req.header(f"{self.prefix}-id")
        stamp = req.header(f"{self.prefix}-timestamp")
        if ident is None or stamp is None:
            missing = f"{self.prefix}-id" if ident is None else f"{self.prefix}-timestamp"
            return f"no {missing} header"
        v1 = []
        for item in islice(value.split(), 4 * MAX_SIGNATURES):
            version, _, text = item.partition(",")
            if version == "v1":
                v1.append(text)
        problem = "" if v1 else f"{header} has no v1, signature"
        return Reading(v1, stamp=stamp, ident=ident, problem=problem)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [wire(reading.ident) + b"." + wire(reading.stamp) + b"." + body]

    def render(self, reading: Reading, digest: bytes) -> str:
        return f"v1,{super().render(reading, digest)}"

    def key(self, secret: str) -> bytes | None:
        return b64decode_strict(secret.removeprefix(PREFIX)) or None

    def key_fault(self, secret: str) -> str:
        return f"secret is not base64: a {self.title} secret is {PREFIX} followed by base64"

    def other_keys(self, secret: str) -> Iterator[tuple[bytes, str]]:
        why = WHSEC if secret.startswith(PREFIX) else "the sender did not base64-decode it"
        yield utf8(secret), f"signature matches the secret used as plain text: {why}"

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        # Keep the message id: receivers deduplicate on it, and a replay is the same message.
        ident = req.header(f"{self.prefix}-id") or f"msg_{new_id(now)}"
        stamp = str(int(now))
        value = self.signed_value(req, Reading([], stamp=stamp, ident=ident), secret)
        return [(f"{self.prefix}-id", ident), (f"{self.prefix}-timestamp", stamp),
                (f"{self.prefix}-signature", value)]


class Svix(StandardWebhooks):
    name = "svix"
    title = "Svix"
    prefix = "svix"
    signature_headers = ("svix-signature",)
    header = "svix-signature"
