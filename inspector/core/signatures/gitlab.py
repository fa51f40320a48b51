"""GitLab: a shared token in `X-Gitlab-Token`, or (GitLab 19, a webhook's "signing token")
Standard Webhooks v1 under the `webhook-*` headers.

The secret token is not a signature: it proves who sent the request, not what it says, so
it is compared (in constant time) and the verdict says the body is not covered. A signing
token is a `whsec_` secret (32 bytes) and signs `{webhook-id}.{timestamp}.{body}`. Both may
be configured at once: `whsec_` secrets are signing tokens, the others secret tokens. When
the request carries a signature and a signing token is configured, the signature decides;
otherwise the token does.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from inspector.core.model import HeaderList, Verdict
from inspector.core.signatures.base import Check, SignedRequest, position
from inspector.core.signatures.diagnose import utf8, wire
from inspector.core.signatures.standard import PREFIX, StandardWebhooks

TOKEN = "X-Gitlab-Token"
SIGNATURE = "webhook-signature"
MARKERS = ("X-Gitlab-Event", "X-Gitlab-Instance", "X-Gitlab-Webhook-UUID")
UNCOVERED = ("the body is not covered: a secret token only proves who sent it (a signing "
             "token signs the body)")


class GitLab(StandardWebhooks):
    name = "gitlab"
    title = "GitLab"
    signature_headers = (SIGNATURE, TOKEN)
    secret_envs = ("GITLAB_WEBHOOK_TOKEN", "GITLAB_WEBHOOK_SECRET",
                   "GITLAB_WEBHOOK_SIGNING_TOKEN")
    hint = "pass --secret (the webhook's secret token, or its whsec_ signing token)"

    def detect(self, req: SignedRequest) -> bool:
        return req.header(TOKEN) is not None or (
            req.header(SIGNATURE) is not None and self.claims(req))

    def claims(self, req: SignedRequest) -> bool:
        return any(req.header(h) is not None for h in MARKERS)

    def key_problem(self, secret: str) -> str:
        return super().key_problem(secret) if secret.startswith(PREFIX) else ""

    def verify(self, req: SignedRequest, secrets: Sequence[str], now: float) -> Check:
        signing = [n for n, s in enumerate(secrets, 1) if s.startswith(PREFIX)]
        tokens = [n for n, s in enumerate(secrets, 1) if not s.startswith(PREFIX)]
        token = req.header(TOKEN)
        if req.header(SIGNATURE) is not None and (signing or token is None or not tokens):
            return self.verify_some(req, [secrets[n - 1] for n in signing], now, signing,
                                    len(secrets))
        if token is None:
            return self.unsigned()
        if not tokens:
            return self.no_secret(TOKEN, token, self.hint)
        given = wire(token)
        for place in tokens:
            if hmac.compare_digest(given, utf8(secrets[place - 1])):
                which = f" ({position(place, len(secrets))})" if len(secrets) > 1 else ""
                return Check(Verdict.VALID, f"{TOKEN} matches{which}; {UNCOVERED}", self.name,
                             TOKEN, token, "", place, len(secrets))
        trimmed = any(hmac.compare_digest(given.strip(), utf8(secrets[p - 1]).strip())
                      for p in tokens)
        reason = (f"{TOKEN} matches only once surrounding whitespace is removed: the header or "
                  "the secret has some" if trimmed else
                  f"{TOKEN} is not the configured secret token")
        return Check(Verdict.INVALID, reason, self.name, TOKEN, token, "", 0, len(secrets))

    def signing_secret(self, secrets: Sequence[str]) -> str | None:
        return next((s for s in secrets if s.startswith(PREFIX)), None) or next(
            iter(secrets), None)

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        if secret.startswith(PREFIX):
            return super().sign(req, secret, now)
        return [(TOKEN, secret)]  # nothing to sign: the token itself goes along

    def signed_at(self, req: SignedRequest) -> int | None:
        return super().signed_at(req) if req.header(SIGNATURE) is not None else None
