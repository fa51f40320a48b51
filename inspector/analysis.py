"""Derive provider, verdict, kind and summary from an event's raw bytes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from inspector import decoding
from inspector.describe import describe
from inspector.model import Event, Verdict
from inspector.routes import Route, match
from inspector.signatures import Check, Secrets, SignedRequest, check

DESCRIBE_LIMIT = 1024 * 1024  # bodies above this are not parsed for a summary


@dataclass(slots=True)
class Analyzer:
    """Stateless apart from configuration; safe to call from the store's writer thread."""

    secrets: Secrets = field(default_factory=Secrets)
    public_url: str = ""  # the URL senders call, for schemes that sign it (Twilio)
    routes: list[Route] = field(default_factory=list)  # from the config file; first match wins

    def request_of(self, event: Event) -> SignedRequest:
        if self.public_url:
            url = self.public_url.rstrip("/") + event.target
        else:
            url = event.url()
        return SignedRequest(event.method, url, event.headers, event.body)

    def verify(self, event: Event, provider: str | None = None) -> Check:
        # Timestamps are judged at receive time, so a later re-check does not expire them.
        return self.verify_request(self.request_of(event), event.path, provider,
                                   now=event.received_at)

    def verify_request(self, req: SignedRequest, path: str, provider: str | None = None,
                       now: float | None = None) -> Check:
        """Check a request that arrived at `path`. A route matching it gives the secret and,
        unless `provider` names one, the scheme."""
        route = match(self.routes, path)
        if route is None:
            return check(req, self.secrets, provider, now)
        secrets = self.secrets if route.secret is None else Secrets(default=route.secret)
        result = check(req, secrets, provider or route.provider, now)
        if result.verdict is Verdict.NO_SECRET and route.secret_env:
            reason = f"no secret for route {route.path}: set {route.secret_env} ({route.where})"
            result = replace(result, reason=reason)
        return result

    def analyze(self, event: Event) -> Check:
        """Fill the event's derived fields; returns the full check for the detail pane."""
        result = self.verify(event)
        event.provider = result.provider
        event.verdict = result.verdict.value
        event.reason = result.reason
        if event.body and len(event.body) <= DESCRIBE_LIMIT and not event.refused:
            decoded = decoding.decode(event.body, event.headers, cap=DESCRIBE_LIMIT * 4)
            # Forms (Twilio, Slack commands) are described from their fields.
            value = dict(decoded.form) if decoded.kind == "form" else decoded.value
            event.kind, event.summary = describe(event.provider, event.headers, value)
            if not event.kind and decoded.kind not in ("empty", "binary"):
                event.kind = decoded.kind
        elif event.refused:
            event.kind, event.summary = "refused", event.refused
        return result
