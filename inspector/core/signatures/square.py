"""Square: `x-square-hmacsha256-signature: <base64>`, HMAC-SHA256 of the notification URL
followed by the raw body, with the subscription's signature key as text.

The URL must be the one registered with Square, byte for byte (a trailing slash is another
URL): it is the URL senders call (`--public-url`) plus the path. The legacy
`x-square-signature` (HMAC-SHA1 of the same) only decides when the first is absent.
"""

from __future__ import annotations

from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.diagnose import near_urls
from inspector.core.signatures.scheme import HmacProvider, Reading

HEADER = "x-square-hmacsha256-signature"
LEGACY = "x-square-signature"


class Square(HmacProvider):
    name = "square"
    title = "Square"
    signature_headers = (HEADER, LEGACY)  # in this order: sha256 decides
    secret_envs = ("SQUARE_WEBHOOK_SIGNATURE_KEY",)
    header = HEADER
    encoding = "base64"
    covers = "notification URL and body"
    hint = "pass --secret (the subscription's signature key)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        if not req.url:
            return "the notification URL is unknown, and Square signs it: pass --public-url"
        if header == LEGACY:
            return Reading([value], digest="sha1", note="only a legacy sha1 signature is present")
        return Reading([value])

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [req.url.encode("utf-8", "replace") + body]

    def more_causes(self, req: SignedRequest, reading: Reading, key: bytes,
                    pool: list[bytes]) -> str:
        for url in near_urls(req.url):
            if self.matches(key, [url.encode("utf-8", "replace") + req.body], pool, reading):
                return (f"signature matches the URL {url}: Square signs the notification URL "
                        "exactly as registered; pass --public-url")
        return ""

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        if not req.url:
            raise ValueError("Square signs the notification URL: it is needed to re-sign")
        return [(HEADER, self.signed_value(req, Reading([]), secret))]
