"""Re-sign a request with the configured secret, so an edited or stale event verifies again.

Which scheme and which secret: the session's resolver decides (signatures.resolve), as for
verification. A config route matching the event's path pins both (its provider, its secret);
otherwise the provider the event was stored with (else detected) and `Secrets.for_provider`.
With several secrets (a rotation), the first one the scheme can sign with signs. Public-key
schemes (Discord, SendGrid, Standard Webhooks with only a whpk_ key) cannot sign: the
private key stays with the sender, and the problem says so.
Schemes that sign a timestamp (`Provider.timestamped`: Stripe, Slack, Standard Webhooks, Svix,
generic routes with a timestamp header) get a fresh one.

Never make an event look more genuine than it arrived. Only an event that arrived with a
valid signature is re-signed without asking (`--resign`, `s`): the stored verdict must say
valid, and the check is made again now, with the scheme and secret that would sign, at the
time it arrived (so an imported record that claims "valid" proves nothing, and a genuine but
stale event still qualifies). Every other event has a `Signer.doubt`:
- invalid: re-signing would launder a forgery;
- unsigned: a signature would vouch for something nobody signed;
- no secret (or never checked): its authenticity is unknown, and a fresh signature would
  turn "unknown" into "genuine" for the app that receives it. Set the secret: the event is
  re-verified, and once it verifies it can be re-signed.
Such events are sent as they arrived, and the attempt's note says why. A person may still
re-sign one in the replay editor after confirming; the attempt records it as forced.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.display import VERDICT_LABELS
from inspector.core.model import Event, HeaderList, Verdict
from inspector.core.signatures import Provider, SignedRequest

# Why an event that did not arrive valid is not re-signed without asking, by verdict.
DOUBTS: dict[str, str] = {
    Verdict.INVALID: "it arrived with an invalid signature",
    Verdict.UNSIGNED: "it arrived unsigned",
    Verdict.NO_SECRET: "its signature was not checked when it arrived (no secret was set)",
}
NEVER_CHECKED = "its signature was never checked"


class ResignError(Exception):
    """Re-signing is impossible; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Signer:
    """A provider and a secret that can sign, or `problem`: why not."""

    provider: Provider | None
    secret: str | None = field(default=None, repr=False)
    problem: str = ""
    verdict: str = ""  # how the event arrived; only "valid" is re-signed without asking
    reason: str = ""  # the verdict's reason

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def doubt(self) -> str:
        """Why re-signing this event needs a person's confirmation; "" when it arrived
        valid."""
        if self.verdict == Verdict.VALID:
            return ""
        doubt = DOUBTS.get(self.verdict, NEVER_CHECKED)
        return f"{doubt} ({self.reason})" if self.verdict == Verdict.INVALID else doubt

    @property
    def label(self) -> str:
        """The verdict as the list shows it: "✗ invalid"."""
        return VERDICT_LABELS.get(self.verdict, "never checked")

    @property
    def title(self) -> str:
        return self.provider.title if self.provider is not None else ""

    @property
    def timestamped(self) -> bool:
        """A re-sign gives the signed timestamp a fresh value (the scheme's own trait)."""
        return self.provider is not None and self.provider.timestamped

    def sign(self, method: str, url: str, headers: HeaderList, body: bytes,
             now: float | None = None) -> HeaderList:
        """`headers` with the signature headers replaced by a fresh signature of the rest."""
        if self.problem or self.provider is None or not self.secret:
            raise ResignError(self.problem or "cannot re-sign: no provider or secret")
        return resign_headers(self.provider, self.secret, method, url, headers, body, now)


def signer_for(analyzer: Analyzer, event: Event) -> Signer:
    """The scheme and secret the resolver gives for re-signing this event, and how it
    arrived."""
    found = analyzer.resolver.resolve_event(event, stored=True)
    provider = found.provider
    verdict, reason = arrival(analyzer, event, provider)
    if provider is None:
        return Signer(None, problem="cannot re-sign: the event carries no known provider's "
                                    "signature headers, and no config route pins one",
                      verdict=verdict, reason=reason)
    if not found.can_resign:
        return Signer(provider, problem=f"cannot re-sign: {provider.title}: "
                                        f"{provider.cannot_resign}", verdict=verdict,
                      reason=reason)
    if not found.secrets:
        return Signer(provider, problem=f"cannot re-sign: no secret for {provider.title}: "
                                        f"{found.hint}", verdict=verdict, reason=reason)
    if not found.secret:
        return Signer(provider, problem=f"cannot re-sign: {provider.title}: "
                                        f"{provider.signing_fault(found.secrets)}",
                      verdict=verdict, reason=reason)
    return Signer(provider, found.secret, verdict=verdict, reason=reason)


def arrival(analyzer: Analyzer, event: Event, provider: Provider | None) -> tuple[str, str]:
    """(verdict, reason) of the event as it arrived. A stored "valid" is confirmed now, at
    the time it arrived, with today's secrets and for the scheme `provider` that would
    re-sign it; any other verdict stands (it is never more trustworthy checked again)."""
    if event.verdict != Verdict.VALID:
        return event.verdict, event.reason
    check = analyzer.verify(event)
    if check.ok and provider is not None and check.provider != provider.name:
        return Verdict.INVALID, (f"it verified as {check.provider}, but would be re-signed "
                                 f"as {provider.title}")
    return check.verdict.value, check.reason


@dataclass(frozen=True, slots=True)
class Expired:
    """A signed timestamp that receivers of this scheme no longer accept."""

    title: str  # the scheme
    age: int  # seconds since the signed timestamp
    tolerance: int  # seconds the scheme accepts

    def text(self) -> str:
        """"This Stripe signature is 13 min old (780 s); Stripe accepts 300 s, ..." """
        minutes = f"{self.age // 60} min old ({self.age:,} s)" if self.age >= 120 else (
            f"{self.age} s old")
        return (f"This {self.title} signature is {minutes}; {self.title} accepts "
                f"{self.tolerance} s, so a replay with the original signature will be refused.")


def expired(provider: Provider | None, req: SignedRequest, now: float | None = None
            ) -> Expired | None:
    """Whether the request's signed timestamp is past the scheme's window: read from the
    scheme's own traits (`tolerance`, `signed_at`), so generic routes count too."""
    if provider is None or not provider.tolerance:
        return None
    stamp = provider.signed_at(req)
    if stamp is None:
        return None
    age = int((time.time() if now is None else now) - stamp)
    return Expired(provider.title, age, provider.tolerance) if age > provider.tolerance else None


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
