"""Provider handshakes: the endpoint checks some providers run when a URL is registered,
each needing a computed answer that the default `200 {"ok": true}` is not.

* Slack (Events API) posts `{"type": "url_verification", "challenge": …}`: answered 200
  with the challenge, as text, when its Slack signature is valid.
* Zoom posts `endpoint.url_validation` with `payload.plainToken`: answered 200
  `{"plainToken": …, "encryptedToken": hex HMAC-SHA256(secret token, plainToken)}`, only
  when the request's own Zoom signature is valid with that secret token. Anything less
  would make the inspector an HMAC oracle: a stranger could send `plainToken =
  "v0:{ts}:{forged body}"` and get back a valid Zoom signature for a forgery.
* Twitch EventSub posts `Twitch-Eventsub-Message-Type: webhook_callback_verification`:
  answered 200 with the raw `challenge`, as text, when its signature is valid.
* Discord (interactions) posts a PING `{"type": 1}`: answered 200 `{"type": 1}` when its
  Ed25519 signature is valid. Discord's check also sends bad signatures and wants 401: with
  a usable Discord public key set, every Discord request whose signature is invalid is
  answered 401.
* Meta (WhatsApp Cloud API, Messenger, Instagram) calls `GET ?hub.mode=subscribe&
  hub.verify_token=…&hub.challenge=…`: answered 200 with the challenge when the token is
  one given with --meta-verify-token / META_VERIFY_TOKEN, else 403.

Connectly has no handshake (it signs every delivery and registers by API).

Handshakes are watched for only when one of those four providers has a secret of its own
(its variable such as ZOOM_WEBHOOK_SECRET_TOKEN, --provider-secret zoom=…, a config route
pinning it, or one set in the TUI), or a Meta verify token is set; and not under
--no-handshakes. `--secret` alone does not arm them: it is usually Connectly's, and most
users never register with these providers; the receiver then keeps its fast path and
nothing here runs. (Once armed, --secret verifies a handshake like any other request.)
When armed, each event costs a dictionary lookup on its provider (and, for a GET, a look
at its query); the decoded body is the analysis's own.

A handshake is answered even under --status, --delay, --response-body, --reject-invalid,
a route's response keys, a breakpoint or a rule that does not name it: those are meant for
deliveries, and registration would fail under them. A rule naming the handshake's kind
(`kind = "url_verification"`, …) decides it like any other request (to watch a
registration fail, say). Every text echoed is the sender's, sent as text/plain with
`nosniff`: a browser never runs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

from inspector.core.analysis.decoding import Decoded
from inspector.core.capture.answers import Shake
from inspector.core.model import Event, Verdict
from inspector.core.signatures import PROVIDERS, Check
from inspector.core.signatures.resolve import Resolver

META_TOKEN_ENV = "META_VERIFY_TOKEN"
META_TOKEN_FLAG = "--meta-verify-token"
TWITCH_TYPE = "Twitch-Eventsub-Message-Type"
# The kinds a handshake is listed under (the analysis's, else set here: Meta's is a GET).
SLACK_KIND = "url_verification"
ZOOM_KIND = "endpoint.url_validation"
TWITCH_KIND = "webhook_callback_verification"
DISCORD_KIND = "ping"
META_KIND = "verification"
DISCORD_PING = 1  # interaction type PING, answered with PONG (type 1)
TEXT = [("content-type", "text/plain; charset=utf-8"), ("x-content-type-options", "nosniff")]
JSON = [("content-type", "application/json")]
TITLES = {"slack": "Slack's url_verification", "zoom": "Zoom's endpoint.url_validation",
          "twitch": "Twitch's webhook_callback_verification",
          "discord": "Discord's PING", "meta": "Meta's hub.mode=subscribe verification"}


class Handshakes:
    """Recognises handshakes and computes their answers (in the store's writer thread)."""

    def __init__(self, resolver: Resolver, meta_tokens: Sequence[str] = ()) -> None:
        self.resolver = resolver  # the live secrets, and the routes that pin them
        self._meta_tokens = tuple(t.encode("utf-8") for t in meta_tokens if t)
        self.armed = False  # refresh() sets it: whether any handshake can be answered
        self._rules: dict[str, Callable[[Event, Decoded | None, Check | None],
                                        Shake | str | None]] = {
            "slack": self._slack, "zoom": self._zoom, "twitch": self._twitch,
            "discord": self._discord}

    def __repr__(self) -> str:  # never the tokens
        return f"Handshakes(armed={self.armed}, meta_tokens={len(self._meta_tokens)})"

    def refresh(self) -> bool:
        """Whether a handshake can be answered with the secrets held now (the session
        asks again whenever they change)."""
        own = self.resolver.secrets.by_provider
        self.armed = bool(
            self._meta_tokens
            or any(own.get(name) for name in self._rules)
            or any(route.secrets and route.provider is not None
                   and route.provider.name in self._rules for route in self.resolver.routes))
        return self.armed

    def answer(self, event: Event, decoded: Decoded | None, check: Check | None
               ) -> Shake | None:
        """The answer to `event` when it is a handshake that can be answered; None
        otherwise (a handshake that cannot be says why in `event.answer_note`)."""
        provider = event.provider
        rule = self._rules.get(provider)
        if rule is not None:
            found = rule(event, decoded, check)
        elif event.method == "GET" and "hub.mode=" in event.query:
            provider, found = "meta", self._meta(event)
        elif not provider and event.kind in (SLACK_KIND, ZOOM_KIND):
            provider = "slack" if event.kind == SLACK_KIND else "zoom"
            found = "it is unsigned"
        else:
            return None
        if isinstance(found, str):
            event.answer_note = f"{TITLES[provider]} not answered: {found}"
            return None
        return found

    # -- each provider ---------------------------------------------------------------------

    def _slack(self, event: Event, decoded: Decoded | None, check: Check | None
               ) -> Shake | str | None:
        return _echo(event, decoded, "slack") if event.kind == SLACK_KIND else None

    def _zoom(self, event: Event, decoded: Decoded | None, check: Check | None
              ) -> Shake | str | None:
        if event.kind != ZOOM_KIND:
            return None
        refused = _unverified(event)
        if refused:
            return refused
        payload = _member(decoded, "payload")
        token = payload.get("plainToken") if isinstance(payload, dict) else None
        if not isinstance(token, str):
            return "the body has no payload.plainToken"
        secret = self._matched(event, check)
        if secret is None:
            return "the secret token that verified it is unknown"
        encrypted = hmac.new(secret.encode("utf-8"), token.encode("utf-8"),
                             hashlib.sha256).hexdigest()
        body = json.dumps({"plainToken": token, "encryptedToken": encrypted},
                          separators=(",", ":")).encode("utf-8")
        return Shake(200, body, JSON, f"answered {TITLES['zoom']} (encryptedToken from the "
                     "secret token that verified it)")

    def _twitch(self, event: Event, decoded: Decoded | None, check: Check | None
                ) -> Shake | str | None:
        if event.header(TWITCH_TYPE) != TWITCH_KIND:
            return None
        return _echo(event, decoded, "twitch")

    def _discord(self, event: Event, decoded: Decoded | None, check: Check | None
                 ) -> Shake | str | None:
        if event.verdict == Verdict.INVALID:
            if not self._discord_key(event):
                return None  # no usable key: the verdict is ours to doubt, not Discord's
            body = json.dumps({"ok": False, "id": event.id,
                               "error": "invalid request signature"}).encode("utf-8")
            return Shake(401, body, JSON, "answered 401: the Discord signature is invalid "
                         "(Discord's endpoint check sends such requests and expects 401)")
        if event.kind != DISCORD_KIND:
            return None
        refused = _unverified(event)
        if refused:
            return refused
        return Shake(200, b'{"type":1}', JSON, f"answered {TITLES['discord']} with a PONG")

    def _meta(self, event: Event) -> Shake | str | None:
        try:
            query = parse_qs(event.query, keep_blank_values=True, max_num_fields=100)
        except ValueError:
            return None  # over 100 fields: not Meta's check
        if query.get("hub.mode") != ["subscribe"]:
            return None
        event.kind = META_KIND
        if not event.summary:
            event.summary = "Meta endpoint check (hub.mode=subscribe)"
        challenge, token = query.get("hub.challenge"), query.get("hub.verify_token")
        if not self._meta_tokens:
            return f"no verify token is set ({META_TOKEN_FLAG} or {META_TOKEN_ENV})"
        if challenge is None or len(challenge) != 1:
            return "the query has no single hub.challenge"
        given = token[0].encode("utf-8") if token is not None and len(token) == 1 else b""
        # Every token compared, in constant time: no timing tells which or how much matched.
        if not any([hmac.compare_digest(given, mine) for mine in self._meta_tokens]):
            return Shake(403, b"verify token mismatch", TEXT, "answered 403 to "
                         f"{TITLES['meta']}: hub.verify_token is not the one set with "
                         f"{META_TOKEN_FLAG} ({META_TOKEN_ENV})")
        return Shake(200, challenge[0].encode("utf-8"), TEXT, f"answered {TITLES['meta']}")

    # -- secrets ---------------------------------------------------------------------------

    def _keys(self, event: Event) -> tuple[str, ...]:
        return self.resolver.resolve(self.resolver.request_of(event), event.path).secrets

    def _matched(self, event: Event, check: Check | None) -> str | None:
        """The secret that verified `event` (None: unknown)."""
        if check is None or not check.ok or check.secret_index < 1:
            return None
        keys = self._keys(event)
        return keys[check.secret_index - 1] if check.secret_index <= len(keys) else None

    def _discord_key(self, event: Event) -> bool:
        discord = PROVIDERS["discord"]
        return any(not discord.key_problem(key) for key in self._keys(event))


def _echo(event: Event, decoded: Decoded | None, provider: str) -> Shake | str:
    """The body's `challenge`, as text, once the request is verified (Slack, Twitch)."""
    refused = _unverified(event)
    if refused:
        return refused
    challenge = _text(decoded, "challenge")
    if challenge is None:
        return "the body has no challenge"
    return Shake(200, challenge.encode("utf-8"), TEXT, f"answered {TITLES[provider]}")


def _unverified(event: Event) -> str:
    """Why a handshake that needs a valid signature is not answered ("" when it is valid)."""
    if event.verdict == Verdict.VALID:
        return ""
    if event.verdict == Verdict.NO_SECRET:
        provider = PROVIDERS.get(event.provider)
        where = (" or ".join(provider.secret_envs) if provider is not None
                 and provider.secret_envs else "--secret")
        return f"no secret to verify it (set {where}, or --provider-secret {event.provider}=…)"
    if event.verdict == Verdict.INVALID:
        return "the signature is invalid"
    return "it is unsigned"


def _member(decoded: Decoded | None, name: str) -> Any:
    """A top-level member of a JSON object body, as the analysis decoded it (None: none)."""
    value = decoded.value if decoded is not None and decoded.kind == "json" else None
    return value.get(name) if isinstance(value, dict) else None


def _text(decoded: Decoded | None, name: str) -> str | None:
    found = _member(decoded, name)
    return found if isinstance(found, str) else None
