"""Signature verification for every provider, behind one interface."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from inspector.core.display import count
from inspector.core.model import Verdict
from inspector.core.signatures.base import Check, Provider, SignedRequest
from inspector.core.signatures.connectly import Connectly
from inspector.core.signatures.github import GitHub
from inspector.core.signatures.shopify import Shopify
from inspector.core.signatures.slack import Slack
from inspector.core.signatures.standard import StandardWebhooks, Svix
from inspector.core.signatures.stripe import Stripe
from inspector.core.signatures.twilio import Twilio

__all__ = ["PROVIDERS", "SECRET_ENVS", "Check", "Provider", "Secrets", "SignedRequest", "check",
           "detect", "mask", "verify_with"]

# Detection order: each provider has its own header names, so order only matters for
# requests that carry two schemes. Svix comes before Standard Webhooks: a sender that sets
# both svix-* and webhook-* headers is Svix.
PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (Connectly(), GitHub(), Stripe(), Shopify(), Slack(), Svix(), StandardWebhooks(),
              Twilio())
}


# The environment variables each provider's secret is read from, by convention.
SECRET_ENVS: dict[str, tuple[str, ...]] = {
    "connectly": ("CONNECTLY_WEBHOOK_SECRET",),
    "github": ("GITHUB_WEBHOOK_SECRET",),
    "stripe": ("STRIPE_WEBHOOK_SECRET",),
    "shopify": ("SHOPIFY_WEBHOOK_SECRET", "SHOPIFY_API_SECRET"),
    "slack": ("SLACK_SIGNING_SECRET",),
    "svix": ("SVIX_WEBHOOK_SECRET",),
    "standard-webhooks": ("WEBHOOK_SECRET",),
    "twilio": ("TWILIO_AUTH_TOKEN",),
}


@dataclass(slots=True)
class Secrets:
    """Secrets by provider name; `default` serves any provider without its own."""

    default: str | None = None
    by_provider: dict[str, str] = field(default_factory=dict)

    def for_provider(self, name: str) -> str | None:
        return self.by_provider.get(name) or self.default

    def __repr__(self) -> str:
        # Never the values: a repr ends up in tracebacks, logs and debuggers.
        masked = {name: mask(value) for name, value in self.by_provider.items()}
        return f"Secrets(default={mask(self.default)!r}, by_provider={masked!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], default: str | None = None) -> Secrets:
        """Provider secrets from their conventional environment variables."""
        found = {}
        for name, keys in SECRET_ENVS.items():
            value = next((environ[k] for k in keys if environ.get(k)), None)
            if value:
                found[name] = value
        return cls(default=default, by_provider=found)


def mask(secret: str | None) -> str:
    """How the UI shows a secret: never the value, enough to tell two apart."""
    if not secret:
        return "not set"
    tail = secret[-2:] if len(secret) >= 12 else ""
    return f"set, {count(len(secret), 'character')}" + (f", ends …{tail}" if tail else "")


def detect(req: SignedRequest) -> Provider | None:
    """The provider whose signature headers the request carries, if any."""
    for provider in PROVIDERS.values():
        if provider.detect(req):
            return provider
    return None


def check(
    req: SignedRequest,
    secrets: Secrets,
    provider: str | Provider | None = None,
    now: float | None = None,
) -> Check:
    """Verify a request; `provider` (a name, or a configured scheme such as a route's generic
    HMAC) pins the scheme, otherwise it is detected."""
    if isinstance(provider, Provider):
        chosen: Provider | None = provider
    else:
        chosen = PROVIDERS.get(provider or "") or detect(req)
    return verify_with(req, chosen, secrets.for_provider(chosen.name) if chosen else None, now)


def verify_with(req: SignedRequest, provider: Provider | None, secret: str | None,
                now: float | None = None) -> Check:
    """Verify a request with a scheme and secret already chosen (signatures.resolve); None:
    no known provider signed it."""
    if provider is None:
        known = ", ".join(p.title for p in PROVIDERS.values())
        return Check(Verdict.UNSIGNED, f"no signature header of a known provider ({known})", "")
    when = time.time() if now is None else now
    try:
        return provider.verify(req, secret, when)
    except Exception as exc:  # a verifier bug must never take the receiver down
        return Check(Verdict.INVALID, f"verifier error: {type(exc).__name__}", provider.name)
