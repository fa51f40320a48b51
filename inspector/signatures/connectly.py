"""Connectly: base64 HMAC-SHA256 of the raw body in `x-connectly-hmac-sha256`."""

from __future__ import annotations

import base64
import hashlib
import hmac

from inspector.model import HeaderList, Verdict
from inspector.signatures.base import Check, Provider, SignedRequest, b64decode_strict, same

HEADER = "x-connectly-hmac-sha256"
SECRET_HINT = "pass --secret or set CONNECTLY_WEBHOOK_SECRET"


def digest(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


class Connectly(Provider):
    name = "connectly"
    title = "Connectly"
    signature_headers = (HEADER,)

    def verify(self, req: SignedRequest, secret: str | None, now: float) -> Check:
        received = req.header(HEADER)
        if received is None:
            return self.unsigned()
        if not secret:
            return self.no_secret(HEADER, received, SECRET_HINT)
        expected_raw = digest(secret, req.body)
        expected = base64.b64encode(expected_raw).decode("ascii")
        got = b64decode_strict(received.strip())
        if got is None:
            reason = "signature is not base64"
            if _is_hex(received.strip()):
                reason = "signature is hex but Connectly sends base64"
            return Check(Verdict.INVALID, reason, self.name, HEADER, received, expected)
        if same(got, expected_raw):
            return Check(Verdict.VALID, "HMAC-SHA256 of the body matches", self.name, HEADER,
                         received, expected)
        return Check(Verdict.INVALID, "HMAC-SHA256 of the body does not match: a different "
                     "secret, or the body changed after signing", self.name, HEADER, received,
                     expected)

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        return [(HEADER, base64.b64encode(digest(secret, req.body)).decode("ascii"))]


def _is_hex(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)
