"""Derive provider, verdict, kind and summary from an event's raw bytes."""

from __future__ import annotations

from dataclasses import dataclass, field

from inspector import decoding
from inspector.describe import describe
from inspector.model import Event
from inspector.signatures import Check, Secrets, SignedRequest, check

DESCRIBE_LIMIT = 1024 * 1024  # bodies above this are not parsed for a summary


@dataclass(slots=True)
class Analyzer:
    """Stateless apart from configuration; safe to call from the store's writer thread."""

    secrets: Secrets = field(default_factory=Secrets)
    public_url: str = ""  # the URL senders call, for schemes that sign it (Twilio)

    def request_of(self, event: Event) -> SignedRequest:
        if self.public_url:
            url = self.public_url.rstrip("/") + event.target
        else:
            url = event.url()
        return SignedRequest(event.method, url, event.headers, event.body)

    def verify(self, event: Event, provider: str | None = None) -> Check:
        # Timestamps are judged at receive time, so a later re-check does not expire them.
        return check(self.request_of(event), self.secrets, provider, now=event.received_at)

    def analyze(self, event: Event) -> Check:
        """Fill the event's derived fields; returns the full check for the detail pane."""
        result = self.verify(event)
        event.provider = result.provider
        event.verdict = result.verdict.value
        event.reason = result.reason
        if event.body and len(event.body) <= DESCRIBE_LIMIT and not event.refused:
            decoded = decoding.decode(event.body, event.headers, cap=DESCRIBE_LIMIT * 4)
            event.kind, event.summary = describe(event.provider, event.headers, decoded.value)
            if not event.kind and decoded.kind not in ("empty", "binary"):
                event.kind = decoded.kind
        elif event.refused:
            event.kind, event.summary = "refused", event.refused
        return result
