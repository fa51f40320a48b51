"""Discord (interactions and webhook events): `X-Signature-Ed25519: <hex>`, an Ed25519
signature of `X-Signature-Timestamp` followed by the raw body, under the application's
public key (64 hex characters, from the Developer Portal).

Discord keeps the private key, so nothing can be re-signed. It also sends deliberately
invalid signatures now and then to check that the endpoint refuses them: with a usable
public key set, the receiver answers those 401, and a valid PING `{"type": 1}`
(core/capture/handshakes.py).
"""

from __future__ import annotations

from inspector.core.signatures.base import hexdecode
from inspector.core.signatures.keys import ED25519_SIGNATURE, Ed25519Key, ed25519_public
from inspector.core.signatures.scheme import PublicKeyScheme, Reading

HEADER = "X-Signature-Ed25519"
TIMESTAMP = "X-Signature-Timestamp"
KEY_WORDS = "the application's Public Key: 64 hex characters"


class Discord(PublicKeyScheme[Ed25519Key]):
    name = "discord"
    title = "Discord"
    signature_headers = (HEADER,)
    secret_envs = ("DISCORD_PUBLIC_KEY",)
    header = HEADER
    signing = "Ed25519"
    timestamp_header = TIMESTAMP
    cannot_resign = "Discord signs with its private key; only its public key is known here"
    hint = f"pass --secret ({KEY_WORDS})"

    def signature_sizes(self, reading: Reading) -> tuple[int, ...]:
        return (ED25519_SIGNATURE,)

    def key(self, secret: str) -> Ed25519Key | None:
        raw = hexdecode(secret.strip())
        key = None if raw is None else ed25519_public(raw)
        return key if isinstance(key, Ed25519Key) else None

    def key_fault(self, secret: str) -> str:
        raw = hexdecode(secret.strip())
        if raw is None:
            return f"the public key is not hex ({KEY_WORDS})"
        fault = ed25519_public(raw)
        return f"the public key {fault}" if isinstance(fault, str) else ""

