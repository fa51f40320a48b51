"""Re-sign a request with the configured secret, so an edited or stale event verifies again.

Which scheme and which secret: the same as verification uses. A config route matching the
event's path pins both (its provider, its secret); otherwise the event's detected provider
and `Secrets.for_provider`. Schemes with a timestamp (Stripe, Slack, Standard Webhooks, Svix,
generic routes with a timestamp header) get a fresh one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from inspector.analysis import Analyzer
from inspector.model import Event, HeaderList
from inspector.routes import match
from inspector.signatures import PROVIDERS, Provider, SignedRequest, detect


class ResignError(Exception):
    """Re-signing is impossible; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Signer:
    """A provider and a secret that can sign, or `problem`: why not."""

    provider: Provider | None
    secret: str | None = field(default=None, repr=False)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def title(self) -> str:
        return self.provider.title if self.provider is not None else ""

    def sign(self, method: str, url: str, headers: HeaderList, body: bytes,
             now: float | None = None) -> HeaderList:
        """`headers` with the signature headers replaced by a fresh signature of the rest."""
        if self.problem or self.provider is None or not self.secret:
            raise ResignError(self.problem or "cannot re-sign: no provider or secret")
        return resign_headers(self.provider, self.secret, method, url, headers, body, now)


def signer_for(analyzer: Analyzer, event: Event) -> Signer:
    """The scheme and secret that verification uses for this event."""
    route = match(analyzer.routes, event.path)
    provider: Provider | None = route.provider if route is not None else None
    if provider is None:
        provider = PROVIDERS.get(event.provider) or detect(
            SignedRequest(event.method, "", event.headers, event.body))
    if provider is None:
        return Signer(None, problem="cannot re-sign: the event carries no known provider's "
                                    "signature headers, and no config route pins one")
    if route is not None and route.secret is not None:
        secret: str | None = route.secret
    else:
        secret = analyzer.secrets.for_provider(provider.name)
    if not secret:
        if route is not None and route.secret_env:
            hint = f"set {route.secret_env} ({route.where})"
        else:
            hint = getattr(provider, "hint", "pass --secret")
        return Signer(provider, problem=f"cannot re-sign: no secret for {provider.title}: "
                                        f"{hint}")
    return Signer(provider, secret)


def resign_headers(provider: Provider, secret: str, method: str, url: str,
                   headers: HeaderList, body: bytes, now: float | None = None) -> HeaderList:
    """Replace the provider's signature headers (and the timestamp/id headers it signs) with
    fresh ones. A replaced header keeps its place and its spelling; new ones go last."""
    when = time.time() if now is None else now
    req = SignedRequest(method, url, headers, body)
    try:
        fresh = provider.sign(req, secret, when)
    except (NotImplementedError, ValueError) as exc:
        raise ResignError(f"cannot re-sign for {provider.title}: {exc}") from exc
    names = {name.lower() for name in provider.signature_headers}
    names.update(name.lower() for name, _ in fresh)
    spelled = {name.lower(): name for name, _ in headers}
    pending = {name.lower(): (spelled.get(name.lower(), name), value) for name, value in fresh}
    out: HeaderList = []
    for name, value in headers:
        key = name.lower()
        if key not in names:
            out.append((name, value))
        elif key in pending:
            out.append(pending.pop(key))
        # else: a duplicate, or a signature header this scheme no longer sends (GitHub sha1)
    out.extend(pending.values())
    return out
