"""Which provider, secret and scheme traits apply to a request: decided here, once.

Verification (analysis.Analyzer), re-signing (delivery.resign.Signer), the replay editor and
the detail pane all ask a Resolver, so what the Signature tab says about the secret, the
secret that verifies and the one that re-signs can never disagree.

The rule: a config route matching the request path pins the provider (unless it says
"auto") and the secrets (unless it names none: then the global secrets apply). Otherwise the
provider is the one whose signature the request carries (`signatures.identify`, which says
when it had to guess between providers sharing a header), and its secrets the ones
`Secrets.for_provider` gives: one, or several during a rotation (valid when any matches; the
first one that can sign re-signs). Traits (does the scheme sign a timestamp, for how long do
its receivers accept it, can it re-sign) are the provider's own attributes, never guessed
from its name.

One Resolver serves a session: it holds the live secrets (the TUI can set one) and the URL
senders call (Twilio signs it; a tunnel may change it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from inspector.core.config import Route, match
from inspector.core.model import Event
from inspector.core.signatures import (
    PROVIDERS,
    Check,
    Keys,
    Provider,
    Secrets,
    SignedRequest,
    identify,
    mask,
    masks,
)

# The provider assumed when a request carries no known signature: the secret the Signature
# tab reports then is this one's (Connectly first, as everywhere).
DEFAULT_PROVIDER = "connectly"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The provider and secrets that apply to one request, and what to set when they are
    missing."""

    provider: Provider | None
    secrets: Keys = field(default=(), repr=False)
    route: Route | None = None
    doubt: str = ""  # why the provider is a guess ("" when the request or a route says)

    @property
    def secret(self) -> str | None:
        """The secret that re-signs: the first one the scheme can sign with."""
        if self.provider is None:
            return self.secrets[0] if self.secrets else None
        return self.provider.signing_secret(self.secrets)

    @property
    def hint(self) -> str:
        """What to set when the secret is missing: "set X (inspector.toml:3)"."""
        route = self.route
        if route is not None and route.secret_env:
            return f"set {route.secret_env} ({route.where})"
        return self.provider.hint if self.provider is not None else "pass --secret"

    @property
    def title(self) -> str:
        return self.provider.title if self.provider is not None else ""

    @property
    def timestamped(self) -> bool:
        """The scheme signs a timestamp, so a re-sign gives it a fresh one (Stripe, Slack,
        Standard Webhooks, Svix, generic routes with a timestamp header; not Twilio)."""
        return self.provider is not None and self.provider.timestamped

    @property
    def tolerance(self) -> int:
        """Seconds the scheme's receivers accept a signed timestamp for (0: no check)."""
        return self.provider.tolerance if self.provider is not None else 0

    @property
    def can_resign(self) -> bool:
        return self.provider is not None and self.provider.resignable

    def secret_note(self, check: Check | None = None) -> str:
        """The secrets as the Signature tab shows them: masked, by position, never a value;
        with `check`, which one matched ("secret 2 of 2 matched: set, 21 characters, …")."""
        if check is not None and check.which and check.secret_index <= len(self.secrets):
            return f"{check.which} matched: {mask(self.secrets[check.secret_index - 1])}"
        return masks(self.secrets)


class Resolver:
    """Routes, secrets and the public URL: everything a signature check depends on besides
    the request."""

    __slots__ = ("public_url", "routes", "secrets")

    def __init__(self, routes: Sequence[Route] = (), secrets: Secrets | None = None,
                 public_url: str = "") -> None:
        self.routes = list(routes)  # from the config file; the first match wins
        self.secrets = Secrets() if secrets is None else secrets
        self.public_url = public_url  # the URL senders call, for schemes that sign it

    def __repr__(self) -> str:
        return (f"Resolver(routes={len(self.routes)}, secrets={self.secrets!r}, "
                f"public_url={self.public_url!r})")

    def request_of(self, event: Event) -> SignedRequest:
        """What a signature over `event` covers: its bytes, and the URL its sender called."""
        if self.public_url:
            url = self.public_url.rstrip("/") + event.target
        else:
            url = event.url()
        return SignedRequest(event.method, url, event.headers, event.body)

    def resolve(self, req: SignedRequest, path: str, provider: str | None = None, *,
                stored: str = "") -> Resolution:
        """The resolution for a request that arrived at `path`. `provider` names a scheme
        that beats the route's (`verify --provider`); `stored` is the provider an event was
        stored with, tried after the route and before detection (re-signing keeps to it)."""
        route = match(self.routes, path)
        chosen: Provider | None
        if provider:
            chosen = PROVIDERS.get(provider)
        else:
            chosen = route.provider if route is not None else None
        doubt = ""
        if chosen is None:
            chosen = PROVIDERS.get(stored)
        if chosen is None:
            chosen, doubt = identify(req, self.secrets)
        if route is not None and route.secrets:
            secrets = route.secrets
        else:
            secrets = self.secrets.for_provider(chosen.name if chosen else DEFAULT_PROVIDER)
        return Resolution(chosen, secrets, route, doubt)

    def resolve_event(self, event: Event, *, stored: bool = False) -> Resolution:
        """The resolution that verifies `event`; with `stored`, the one that re-signs it."""
        return self.resolve(self.request_of(event), event.path,
                            stored=event.provider if stored else "")
