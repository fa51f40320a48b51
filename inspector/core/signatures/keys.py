"""Public-key signatures: Ed25519 (Discord, Standard Webhooks v1a) and ECDSA P-256 with
SHA-256 (SendGrid), through `cryptography`. No hand-written crypto.

Keys are parsed from the text a person configures; each parser returns the key, or a
sentence saying what is wrong with the text (never raises). Parsed keys are cached by their
text: verification runs for every event, and parsing a key costs as much as a check.

`cryptography` is imported where a key is read or checked, not with this module: the
registry of providers loads it at every start, and it was a tenth of the TUI's imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from inspector.core.signatures.base import b64decode_strict

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

ED25519_SIZE = 32  # bytes in a public key, and in a private key's seed
ED25519_SIGNATURE = 64
_CACHE = 64  # distinct keys kept parsed (a handful are configured)


@dataclass(frozen=True, slots=True, repr=False)
class Ed25519Key:
    """A public key, and the private key when the secret was one (then it can sign)."""

    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        if len(signature) != ED25519_SIGNATURE:
            return False
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def sign(self, message: bytes) -> bytes | None:
        return None if self.private is None else self.private.sign(message)

    def __repr__(self) -> str:
        return "Ed25519Key(…)"  # never key material in a repr


@dataclass(frozen=True, slots=True, repr=False)
class EcdsaKey:
    """An ECDSA P-256 public key; signatures are DER-encoded, over SHA-256."""

    public: ec.EllipticCurvePublicKey

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            self.public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def __repr__(self) -> str:
        return "EcdsaKey(…)"


def b64(text: str) -> bytes | None:
    """Standard base64 with or without padding (keys are written both ways); None when it is
    not base64."""
    return b64decode_strict(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=_CACHE)
def ed25519_public(raw: bytes) -> Ed25519Key | str:
    """A 32-byte Ed25519 public key, or what is wrong with it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if len(raw) != ED25519_SIZE:
        return f"is {len(raw)} bytes, not the {ED25519_SIZE} of an Ed25519 public key"
    try:
        return Ed25519Key(Ed25519PublicKey.from_public_bytes(raw))
    except ValueError:
        return "is not an Ed25519 public key"


@lru_cache(maxsize=_CACHE)
def ed25519_private(raw: bytes) -> Ed25519Key | str:
    """An Ed25519 private key: the 32-byte seed, or seed and public key (64 bytes, as
    svix-server writes `whsk_` keys); or what is wrong with it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if len(raw) not in (ED25519_SIZE, 2 * ED25519_SIZE):
        return (f"is {len(raw)} bytes, not the {ED25519_SIZE} of an Ed25519 seed (or "
                f"{2 * ED25519_SIZE}: seed and public key)")
    private = Ed25519PrivateKey.from_private_bytes(raw[:ED25519_SIZE])
    public = private.public_key()
    if len(raw) == 2 * ED25519_SIZE and raw[ED25519_SIZE:] != public.public_bytes_raw():
        return "has a public half that does not belong to its seed"
    return Ed25519Key(public, private)


@lru_cache(maxsize=_CACHE)
def ecdsa_public(text: str) -> EcdsaKey | str:
    """An ECDSA P-256 public key as base64 DER (SubjectPublicKeyInfo, as SendGrid shows it)
    or PEM; or what is wrong with it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(stripped.encode("ascii", "replace"))
        else:
            der = b64(stripped)
            if der is None:
                return "is not base64 (the key is base64 DER, as shown in the settings)"
            key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        return "is not a public key (base64 DER or PEM)"
    except Exception:  # an unsupported key type raises its own errors; none is fatal
        return "is not a public key that can be read"
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "is not an elliptic-curve public key"
    if not isinstance(key.curve, ec.SECP256R1):
        return f"is on curve {key.curve.name}, not P-256"
    return EcdsaKey(key)
