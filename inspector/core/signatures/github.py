"""GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body.

The legacy `X-Hub-Signature: sha1=<hex>` only decides when the sha256 header is absent.
Meta signs the same way under the same headers (meta.py), and Intercom uses the sha1 one
(intercom.py): GitHub's own event headers and user agent tell its requests apart.
"""

from __future__ import annotations

from typing import ClassVar

from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest
from inspector.core.signatures.scheme import BodyHmac, Reading

SHA256_HEADER = "X-Hub-Signature-256"
SHA1_HEADER = "X-Hub-Signature"
LEGACY = "only a legacy sha1 signature is present"
EVENT_HEADERS = ("X-GitHub-Event", "X-GitHub-Delivery", "X-GitHub-Hook-ID")


class GitHub(BodyHmac):
    name = "github"
    title = "GitHub"
    signature_headers = (SHA256_HEADER, SHA1_HEADER)  # in this order: sha256 decides
    secret_envs: ClassVar[tuple[str, ...]] = ("GITHUB_WEBHOOK_SECRET",)
    header = SHA256_HEADER
    hint = "pass --secret (the webhook's secret in the repository or app settings)"

    def claims(self, req: SignedRequest) -> bool:
        return (any(req.header(h) is not None for h in EVENT_HEADERS)
                or (req.header("user-agent") or "").startswith("GitHub-Hookshot/"))

    def read(self, req: SignedRequest, header: str, value: str) -> Reading:
        algorithm = "sha256" if header == SHA256_HEADER else "sha1"
        prefix = f"{algorithm}="
        text = value.strip()
        problem = ""
        if text.startswith(prefix):
            text = text[len(prefix):]
        else:
            problem = f"{header} lacks the {prefix} prefix"
        return Reading([text], digest=algorithm, problem=problem,
                       note=LEGACY if algorithm == "sha1" else "")

    def render(self, reading: Reading, digest: bytes) -> str:
        return f"{reading.digest}={digest.hex()}"

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        # GitHub sends both; re-sign both so no stale sha1 travels with the replay.
        return [
            (SHA256_HEADER, self.signed_value(req, Reading([], digest="sha256"), secret)),
            (SHA1_HEADER, self.signed_value(req, Reading([], digest="sha1"), secret)),
        ]
