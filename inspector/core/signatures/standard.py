"""Standard Webhooks, and Svix (the same scheme under `svix-*` header names) with the senders
that use it: Clerk and Resend.

`webhook-signature: v1,<base64> [v1a,<base64> ...]`, a space-separated list signing
`{id}.{timestamp}.{body}`; the timestamp may be 5 minutes off either way. Any entry may
match: during a rotation the sender signs with each of its keys.
- `v1`: HMAC-SHA256 keyed with the base64-decoded part of a `whsec_<base64>` secret.
- `v1a`: Ed25519. The receiver holds the `whpk_<base64>` public key (32 bytes), which only
  verifies; a `whsk_<base64>` secret key (the 32-byte seed, or seed and public key: 64 bytes
  as svix-server writes it) also signs, for re-signing.
Each secret tries the entries of its kind: 32-byte v1 HMACs, 64-byte v1a signatures.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import ClassVar

from inspector.core.model import HeaderList, new_id
from inspector.core.signatures.base import SignedRequest, b64decode_strict
from inspector.core.signatures.diagnose import MAX_SIGNATURES, WHSEC, utf8, wire
from inspector.core.signatures.keys import Ed25519Key, b64, ed25519_private, ed25519_public
from inspector.core.signatures.scheme import PUBLIC_TRIES, Reading, Scheme, any_same

PREFIX = "whsec_"
PUBLIC = "whpk_"
PRIVATE = "whsk_"
HMAC_SIZE = 32
ED25519_SIZE = 64
VERSIONS = ("v1", "v1a")

Key = bytes | Ed25519Key  # a v1 HMAC key, or a v1a key pair (public only, or both halves)


class StandardWebhooks(Scheme[Key]):
    name = "standard-webhooks"
    title = "Standard Webhooks"
    prefix = "webhook"  # header names: {prefix}-id, {prefix}-timestamp, {prefix}-signature
    signature_headers: ClassVar[tuple[str, ...]] = ("webhook-signature",)
    secret_envs: ClassVar[tuple[str, ...]] = ("WEBHOOK_SECRET",)
    header = "webhook-signature"
    encoding = "base64"
    timestamped = True
    tolerance = 300
    resignable = True
    covers = "id, timestamp and body"
    hint = "pass --secret (the endpoint's whsec_ secret, or its whpk_ public key)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        ident = req.header(f"{self.prefix}-id")
        stamp = req.header(f"{self.prefix}-timestamp")
        if ident is None or stamp is None:
            missing = f"{self.prefix}-id" if ident is None else f"{self.prefix}-timestamp"
            return f"no {missing} header"
        entries, versions = [], set()
        for item in islice(value.split(), 4 * MAX_SIGNATURES):
            version, _, text = item.partition(",")
            if version in VERSIONS:
                entries.append(text)
                versions.add(version)
        problem = "" if entries else f"{header} has no v1, or v1a, signature"
        return Reading(entries, stamp=stamp, ident=ident, problem=problem,
                       version=" ".join(sorted(versions)))

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [wire(reading.ident) + b"." + wire(reading.stamp) + b"." + body]

    def signature_sizes(self, reading: Reading) -> tuple[int, ...]:
        return (HMAC_SIZE, ED25519_SIZE)

    def what(self, reading: Reading, keys: Sequence[Key | None]) -> str:
        kinds = {"Ed25519 signature" if isinstance(k, Ed25519Key) else "HMAC-SHA256" for k in keys
                 if k is not None}
        kind = kinds.pop() if len(kinds) == 1 else "signature"
        return f"{kind} of the {self.covers}"

    def key(self, secret: str) -> Key | None:
        for prefix, load in ((PUBLIC, ed25519_public), (PRIVATE, ed25519_private)):
            if secret.startswith(prefix):
                raw = b64(secret.removeprefix(prefix))
                key = None if raw is None else load(raw)
                return key if isinstance(key, Ed25519Key) else None
        return b64decode_strict(secret.removeprefix(PREFIX)) or None

    def key_fault(self, secret: str) -> str:
        for prefix, words, load in ((PUBLIC, "public key", ed25519_public),
                                    (PRIVATE, "secret key", ed25519_private)):
            if secret.startswith(prefix):
                raw = b64(secret.removeprefix(prefix))
                if raw is None:
                    return f"the {prefix} {words} is not base64 after {prefix}"
                fault = load(raw)
                return f"the {prefix} {words} {fault}" if isinstance(fault, str) else ""
        return f"secret is not base64: a {self.title} secret is {PREFIX} followed by base64"

    def matches(self, key: Key, messages: list[bytes], pool: list[bytes],
                reading: Reading) -> bool:
        if isinstance(key, bytes):
            return any_same([_mac(key, m) for m in messages], pool)
        tried = [sig for sig in pool if len(sig) == ED25519_SIZE][:PUBLIC_TRIES]
        return any(key.verify(sig, m) for sig in tried for m in messages)

    def expected(self, key: Key, reading: Reading, messages: list[bytes]) -> str:
        """What the key gives, when the header carries an entry of its version (a v1 HMAC
        set beside v1a signatures only would compare nothing); always for `sign`."""
        version = "v1" if isinstance(key, bytes) else "v1a"
        if reading.version and version not in reading.version.split():
            return ""
        if isinstance(key, bytes):
            return "v1," + _b64(_mac(key, messages[0]))
        signature = key.sign(messages[0])
        return "" if signature is None else "v1a," + _b64(signature)

    def other_keys(self, secret: str) -> Iterator[tuple[Key, str]]:
        if secret.startswith((PUBLIC, PRIVATE)):
            return
        why = WHSEC if secret.startswith(PREFIX) else "the sender did not base64-decode it"
        yield utf8(secret), f"signature matches the secret used as plain text: {why}"

    def more_causes(self, req: SignedRequest, reading: Reading, key: Key,
                    pool: list[bytes]) -> str:
        sizes = {len(sig) for sig in pool}
        if isinstance(key, bytes) and sizes == {ED25519_SIZE}:
            return (f"{self.header} carries only v1a (Ed25519) signatures: they are checked "
                    f"with the sender's {PUBLIC} public key, not a {PREFIX} secret")
        if isinstance(key, Ed25519Key) and sizes == {HMAC_SIZE}:
            return (f"{self.header} carries only v1 (HMAC) signatures: they are checked with "
                    f"the {PREFIX} secret, not an Ed25519 key")
        return ""

    def signing_secret(self, secrets: Sequence[str]) -> str | None:
        return next((s for s in secrets if _can_sign(self.key(s))), None)

    def signing_fault(self, secrets: Sequence[str]) -> str:
        if any(s.startswith(PUBLIC) for s in secrets):
            return (f"a {PUBLIC} public key only verifies: re-signing needs the {PRIVATE} "
                    f"secret key (or a {PREFIX} secret)")
        return "none of its secrets is a usable key"

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        key = self.key(secret)
        if key is None or not _can_sign(key):
            raise ValueError(self.key_fault(secret) or self.signing_fault([secret]))
        # Keep the message id: receivers deduplicate on it, and a replay is the same message.
        ident = req.header(f"{self.prefix}-id") or f"msg_{new_id(now)}"
        stamp = str(int(now))
        reading = Reading([], stamp=stamp, ident=ident)
        value = self.expected(key, reading, self.messages(req, reading, req.body))
        return [(f"{self.prefix}-id", ident), (f"{self.prefix}-timestamp", stamp),
                (f"{self.prefix}-signature", value)]


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _can_sign(key: Key | None) -> bool:
    return isinstance(key, bytes) or (key is not None and key.private is not None)


class Svix(StandardWebhooks):
    name = "svix"
    title = "Svix"
    prefix = "svix"
    signature_headers = ("svix-signature",)
    secret_envs: ClassVar[tuple[str, ...]] = ("SVIX_WEBHOOK_SECRET",)
    header = "svix-signature"


class Clerk(Svix):
    """Clerk sends through Svix; its events are `{"object": "event", "type": ...}`."""

    name = "clerk"
    title = "Clerk"
    secret_envs = ("CLERK_WEBHOOK_SIGNING_SECRET", "CLERK_WEBHOOK_SECRET")
    hint = "pass --secret (the endpoint's whsec_ signing secret in the Clerk dashboard)"

    def claims(self, req: SignedRequest) -> bool:
        return b'"object":"event"' in req.body or b'"object": "event"' in req.body


# Resend's event types: email.sent, contact.created, domain.updated, ...
_RESEND = re.compile(rb'\s*\{\s*"type"\s*:\s*"(?:email|contact|domain)\.')


class Resend(Svix):
    """Resend sends through Svix; its events start `{"type": "email.sent", ...}`."""

    name = "resend"
    title = "Resend"
    secret_envs = ("RESEND_WEBHOOK_SECRET",)
    hint = "pass --secret (the webhook's whsec_ signing secret in the Resend dashboard)"

    def claims(self, req: SignedRequest) -> bool:
        return _RESEND.match(req.body[:64]) is not None
