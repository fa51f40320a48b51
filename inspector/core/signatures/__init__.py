"""Signature verification for every provider, behind one interface."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from inspector.core.display import count
from inspector.core.model import Verdict
from inspector.core.signatures.base import Check, Provider, SignedRequest
from inspector.core.signatures.calendly import Calendly
from inspector.core.signatures.connectly import Connectly
from inspector.core.signatures.discord import Discord
from inspector.core.signatures.github import GitHub
from inspector.core.signatures.gitlab import GitLab
from inspector.core.signatures.hubspot import HubSpot
from inspector.core.signatures.intercom import Intercom
from inspector.core.signatures.linear import Linear
from inspector.core.signatures.mailgun import Mailgun
from inspector.core.signatures.meta import Meta
from inspector.core.signatures.paddle import Paddle
from inspector.core.signatures.sendgrid import SendGrid
from inspector.core.signatures.shopify import Shopify
from inspector.core.signatures.slack import Slack
from inspector.core.signatures.square import Square
from inspector.core.signatures.standard import Clerk, Resend, StandardWebhooks, Svix
from inspector.core.signatures.stripe import Stripe
from inspector.core.signatures.twilio import Twilio
from inspector.core.signatures.twitch import Twitch
from inspector.core.signatures.typeform import Typeform
from inspector.core.signatures.vercel import Vercel
from inspector.core.signatures.zoom import Zoom

__all__ = ["PROVIDERS", "SECRET_ENVS", "Check", "Keys", "Provider", "Secrets", "SignedRequest",
           "check", "detect", "identify", "mask", "verify_with"]

Keys = tuple[str, ...]  # one provider's secrets, the current one first (several in a rotation)

# Detection order. Providers that share a header are told apart by `Provider.claims` (their
# own event headers, user agent or body shape); when nothing does, the first of them here is
# assumed, and the verdict says so (`identify`). GitLab comes before Standard Webhooks (it
# signs with webhook-* headers too); Svix before Standard Webhooks (a sender setting both
# header sets is Svix).
PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (Connectly(), GitHub(), Meta(), Intercom(), Stripe(), Calendly(), Shopify(),
              Slack(), Zoom(), GitLab(), Svix(), Clerk(), Resend(), StandardWebhooks(),
              Twilio(), Discord(), SendGrid(), Square(), HubSpot(), Paddle(), Twitch(),
              Typeform(), Linear(), Vercel(), Mailgun())
}
# Signed in the body rather than a header: looked for only when no header matched.
_BY_BODY = [p for p in PROVIDERS.values() if not p.signature_headers]
# Signature header (lower-case) -> (detection order, provider) for each provider sending it:
# detection looks up the request's header names, not every provider (it runs per event).
_BY_NAME: dict[str, list[tuple[int, Provider]]] = {}
for _order, _provider in enumerate(PROVIDERS.values()):
    for _name in _provider.signature_headers:
        _BY_NAME.setdefault(_name.lower(), []).append((_order, _provider))

# The environment variables each provider's secrets are read from, by convention.
SECRET_ENVS: dict[str, tuple[str, ...]] = {p.name: p.secret_envs for p in PROVIDERS.values()}


def keys(value: str | Iterable[str] | None) -> Keys:
    """One secret or several, as Keys (empty strings dropped)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(v for v in value if v)


class Secrets:
    """Secrets by provider name; `default` serves any provider without its own. Each is one
    or several secrets (a rotation), the current one first."""

    __slots__ = ("by_provider", "default")

    def __init__(self, default: str | Iterable[str] | None = None,
                 by_provider: Mapping[str, str | Iterable[str]] | None = None) -> None:
        self.default = keys(default)
        self.by_provider = {name: keys(v) for name, v in (by_provider or {}).items()}

    def for_provider(self, name: str) -> Keys:
        return self.by_provider.get(name) or self.default

    def values(self) -> list[str]:
        """Every secret held (for the redaction of printed text)."""
        return [*self.default, *(s for group in self.by_provider.values() for s in group)]

    def copy(self) -> Secrets:
        return Secrets(self.default, self.by_provider)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Secrets) and self.default == other.default
                and self.by_provider == other.by_provider)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        # Never the values: a repr ends up in tracebacks, logs and debuggers.
        masked = {name: masks(group) for name, group in self.by_provider.items()}
        return f"Secrets(default={masks(self.default)!r}, by_provider={masked!r})"


def mask(secret: str | None) -> str:
    """How the UI shows a secret: never the value, enough to tell two apart."""
    if not secret:
        return "not set"
    tail = secret[-2:] if len(secret) >= 12 else ""
    return f"set, {count(len(secret), 'character')}" + (f", ends …{tail}" if tail else "")


def masks(secrets: Sequence[str]) -> str:
    """Several secrets masked, by position: "2 secrets: 1 set, …; 2 set, …"."""
    if len(secrets) < 2:
        return mask(secrets[0] if secrets else None)
    return f"{len(secrets)} secrets: " + "; ".join(
        f"{n} {mask(s)}" for n, s in enumerate(secrets, 1))


def identify(req: SignedRequest, secrets: Secrets | None = None) -> tuple[Provider | None, str]:
    """The provider whose signature the request carries, and a doubt ("" when sure).

    Providers that share a header (GitHub, Meta and Intercom; Svix, Clerk and Resend) are told
    apart by what else the request says (`Provider.claims`); failing that, by which of them
    has its own secret set; failing that, the first is assumed, and the doubt says so."""
    named = {entry for name, _ in req.headers for entry in _BY_NAME.get(name.lower(), ())}
    found = [p for _, p in sorted(named, key=lambda entry: entry[0]) if p.detect(req)]
    if not found:
        return next((p for p in _BY_BODY if p.detect(req)), None), ""
    if len(found) == 1:
        return found[0], ""
    claimed = [p for p in found if p.claims(req)]
    if claimed:
        return claimed[0], ""
    names = " and ".join(p.title for p in found)
    if secrets is not None:
        own = [p for p in found if p.name in secrets.by_provider]
        if len(own) == 1:
            return own[0], (f"the headers fit {names}; {own[0].title} is the one with a secret "
                            "set")
    return found[0], (f"the headers fit {names} and nothing else told them apart: assumed "
                      f"{found[0].title}; a config route can pin the provider")


def detect(req: SignedRequest) -> Provider | None:
    """The provider whose signature headers the request carries, if any."""
    return identify(req)[0]


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
        chosen = PROVIDERS.get(provider or "") or identify(req, secrets)[0]
    return verify_with(req, chosen, secrets.for_provider(chosen.name) if chosen else (), now)


def verify_with(req: SignedRequest, provider: Provider | None, secrets: Sequence[str],
                now: float | None = None) -> Check:
    """Verify a request with a scheme and its secrets already chosen (signatures.resolve);
    None: no known provider signed it."""
    if provider is None:
        return Check(Verdict.UNSIGNED, "no signature of a known provider (`inspector verify "
                     "--help` lists them)", "")
    when = time.time() if now is None else now
    try:
        return provider.verify(req, tuple(secrets), when)
    except Exception as exc:  # a verifier bug must never take the receiver down
        return Check(Verdict.INVALID, f"verifier error: {type(exc).__name__}", provider.name)
