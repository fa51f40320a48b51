"""HubSpot, in its three versions.

- v3: `X-HubSpot-Signature-v3: <base64>`, HMAC-SHA256 of method + URI + body + timestamp
  (`X-HubSpot-Request-Timestamp`, in milliseconds; 5 minutes, and HubSpot's SDK accepts any
  future time), with the app's client secret.
- v2 (`X-HubSpot-Signature-Version: v2`): `X-HubSpot-Signature: <hex>`, a plain SHA-256
  (not an HMAC) of client secret + method + URI + body.
- v1 (the default): the same header, SHA-256 of client secret + body.

The URI is the full URL HubSpot called (`--public-url` plus the path and query). HubSpot's
docs decode a few percent-escapes (%3A, %2F, ...) before signing v3; its SDKs do not, so
either form passes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import replace

from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.diagnose import near_urls, wire
from inspector.core.signatures.scheme import HmacProvider, Reading

V3 = "X-HubSpot-Signature-v3"
TIMESTAMP = "X-HubSpot-Request-Timestamp"
SIGNATURE = "X-HubSpot-Signature"
VERSION = "X-HubSpot-Signature-Version"
# The escapes HubSpot's docs decode in the URI before signing v3.
DECODED = {"3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$", "27": "'",
           "28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";"}
_ESCAPE = re.compile("%(" + "|".join(DECODED) + ")", re.IGNORECASE)
COVERS = {"v3": "method, URI, body and timestamp", "v2": "secret, method, URI and body",
          "v1": "secret and body"}


class HubSpot(HmacProvider):
    name = "hubspot"
    title = "HubSpot"
    signature_headers = (V3, SIGNATURE)  # in this order: v3 decides
    secret_envs = ("HUBSPOT_CLIENT_SECRET",)
    header = V3
    encoding = "base64"
    timestamped = True
    tolerance = 300
    future_ok = True
    stamp_form = "a Unix time in milliseconds"
    covers = "request"
    hint = "pass --secret (the app's client secret)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        if header == V3:
            if not req.url:
                return "the URL HubSpot called is unknown, and HubSpot signs it: pass --public-url"
            stamp = req.header(TIMESTAMP)
            if stamp is None:
                return f"no {TIMESTAMP} header"
            return Reading([value], stamp=stamp.strip(), version="v3")
        version = (req.header(VERSION) or "v1").strip().lower()
        if version not in ("v1", "v2"):
            return f"{VERSION} is {version[:20]!r}: HubSpot signs v1, v2 or v3"
        if version == "v2" and not req.url:
            return "the URL HubSpot called is unknown, and v2 signs it: pass --public-url"
        return Reading([value], version=version, encoding="hex")

    def what(self, reading: Reading, keys: object) -> str:
        kind = "HMAC-SHA256" if reading.version == "v3" else "SHA-256"
        return f"{kind} of the {COVERS[reading.version]} ({reading.version})"

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        if reading.version == "v1":
            return [body]
        method = req.method.encode("latin-1", "replace")
        out = []
        for uri in uris(req.url):
            message = method + uri.encode("utf-8", "replace") + body
            out.append(message + wire(reading.stamp) if reading.version == "v3" else message)
        return out

    def mac(self, key: bytes, message: bytes, reading: Reading) -> bytes:
        if reading.version == "v3":
            return hmac.digest(key, message, "sha256")
        return hashlib.sha256(key + message).digest()  # v1/v2: the secret is hashed in

    def more_causes(self, req: SignedRequest, reading: Reading, key: bytes,
                    pool: list[bytes]) -> str:
        if reading.version == "v1":
            return ""  # v1 signs no URL
        for url in near_urls(req.url):
            if self.matches(key, self.messages(replace(req, url=url), reading, req.body), pool,
                            reading):
                return (f"signature matches the URL {url}: HubSpot signs the URL it called "
                        "exactly; pass --public-url")
        return ""

    def unix(self, stamp: str) -> int | None:
        return int(stamp) // 1000 if stamp.isascii() and stamp.isdigit() else None

    def late(self, reading: Reading, now: float) -> str:
        if reading.version != "v3":
            return ""  # v1 and v2 sign no time
        when = self.unix(reading.stamp)
        if when is not None and when < 10**8:  # 1973: seconds where milliseconds belong
            return "timestamp looks like seconds; HubSpot sends milliseconds"
        return super().late(reading, now)

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        if req.header(V3) is None and req.header(SIGNATURE) is not None:
            reading = self.read(req, SIGNATURE, "")  # re-sign in the version it came in
            if isinstance(reading, str):
                raise ValueError(reading)
            return [(SIGNATURE, self.signed_value(req, reading, secret))]
        if not req.url:
            raise ValueError("HubSpot signs the URL: it is needed to re-sign")
        stamp = str(int(now * 1000))
        value = self.signed_value(req, Reading([], stamp=stamp, version="v3"), secret)
        return [(TIMESTAMP, stamp), (V3, value)]


def uris(url: str) -> list[str]:
    """The URI as called, then with the escapes HubSpot's docs decode (when any)."""
    decoded = _ESCAPE.sub(lambda m: DECODED[m.group(1).upper()], url) if "%" in url else url
    return [url] if decoded == url else [url, decoded]
