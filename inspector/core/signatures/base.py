"""The provider interface: verify a raw request, explain the verdict, re-sign for replay."""

from __future__ import annotations

import base64
import binascii
import hmac
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from inspector.core.model import HeaderList, Verdict


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of a request a signature can cover: raw bytes, never re-encoded."""

    method: str
    url: str  # the public URL the sender called (Twilio signs it); "" when unknown
    headers: HeaderList
    body: bytes
    _index: dict[str, str] = field(default_factory=dict, init=False, repr=False,
                                   compare=False)

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name (indexed on first use)."""
        index = self._index
        if not index and self.headers:
            for key, value in reversed(self.headers):
                index[key.lower()] = value
        return index.get(name.lower())


@dataclass(frozen=True, slots=True)
class Check:
    """A verdict with its reason, and the values compared. Never holds the secret."""

    verdict: Verdict
    reason: str
    provider: str
    header: str = ""  # the header that carried the signature
    received: str = ""  # its value, as received
    expected: str = ""  # the value computed with the configured secret
    # Which of the configured secrets matched (1-based; 0: none did), and how many were tried:
    # during a rotation two or more are valid at once.
    secret_index: int = 0
    secret_count: int = 0

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def which(self) -> str:
        """"secret 2 of 2" when several secrets were tried and one matched; "" otherwise."""
        if self.secret_index and self.secret_count > 1:
            return position(self.secret_index, self.secret_count)
        return ""


def position(index: int, count: int) -> str:
    """Which secret, by position only (never its value): "secret 2 of 2"."""
    return f"secret {index} of {count}"


class Provider(ABC):
    """One signing scheme. Subclasses are small and stateless."""

    name: ClassVar[str]
    title: ClassVar[str]
    signature_headers: ClassVar[tuple[str, ...]]  # any of these present means "signed by us"
    # The environment variables its secrets are read from by convention (core/settings.py).
    secret_envs: ClassVar[tuple[str, ...]] = ()
    # Seconds receivers accept a signed timestamp for; 0 when the scheme signs none (or its
    # receivers do not check it). With `signed_at`, this tells when a replay goes stale.
    tolerance: int = 0
    # The scheme signs a timestamp: a re-sign gives it a fresh one.
    timestamped: bool = False
    # `sign` can make a fresh signature (re-signing an edited or stale replay).
    resignable: bool = False
    cannot_resign: str = "re-signing is not supported"  # why not, when it is not resignable
    hint: str = "pass --secret"  # what to do when no secret is set

    def detect(self, req: SignedRequest) -> bool:
        """The request carries this scheme's signature headers (other providers may share
        them: see `claims`)."""
        return any(req.header(h) is not None for h in self.signature_headers)

    def claims(self, req: SignedRequest) -> bool:
        """Something besides the signature header says the request is this provider's (its
        own event header, user agent or body shape): decides between providers that share a
        header. Cheap and bounded: it runs for every such request."""
        return False

    @abstractmethod
    def verify(self, req: SignedRequest, secrets: Sequence[str], now: float) -> Check:
        """Check the request's signature with each secret in turn (several during a
        rotation; valid when any matches). Never raises on hostile input."""

    def key_problem(self, secret: str) -> str:
        """Why `secret` cannot be this scheme's key (wrong format, length, prefix); "" when it
        can. Said at start-up, naming the flag or variable it came from."""
        return ""

    def signing_secret(self, secrets: Sequence[str]) -> str | None:
        """The secret that re-signs: the first one the scheme can sign with."""
        return secrets[0] if secrets and self.resignable else None

    def signing_fault(self, secrets: Sequence[str]) -> str:
        """Why none of `secrets` can sign, when `signing_secret` gives None."""
        return self.cannot_resign if not self.resignable else "no secret"

    def signed_at(self, req: SignedRequest) -> int | None:
        """The Unix time the request's signature covers, for schemes that sign one."""
        return None

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        """Headers that sign `req` afresh (used to re-sign an edited replay)."""
        raise NotImplementedError(f"{self.title}: {self.cannot_resign}")

    # Helpers shared by the HMAC schemes.
    def unsigned(self) -> Check:
        names = " or ".join(self.signature_headers)
        return Check(Verdict.UNSIGNED, f"no {names} header", self.name)

    def no_secret(self, header: str, received: str, hint: str) -> Check:
        return Check(
            Verdict.NO_SECRET,
            f"no secret configured for {self.title}: {hint}",
            self.name,
            header,
            received,
        )


def b64decode_strict(value: str) -> bytes | None:
    """Decode standard base64, or None when it is not base64."""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def hexdecode(value: str) -> bytes | None:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def same(a: bytes, b: bytes) -> bool:
    """Constant-time comparison on bytes."""
    return hmac.compare_digest(a, b)
