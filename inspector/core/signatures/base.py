"""The provider interface: verify a raw request, explain the verdict, re-sign for replay."""

from __future__ import annotations

import base64
import binascii
import hmac
from abc import ABC, abstractmethod
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

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID


class Provider(ABC):
    """One signing scheme. Subclasses are small and stateless."""

    name: ClassVar[str]
    title: ClassVar[str]
    signature_headers: ClassVar[tuple[str, ...]]  # any of these present means "signed by us"
    # Seconds receivers accept a signed timestamp for; 0 when the scheme signs none (or its
    # receivers do not check it). With `signed_at`, this tells when a replay goes stale.
    tolerance: int = 0
    # The scheme signs a timestamp: a re-sign gives it a fresh one.
    timestamped: bool = False
    # `sign` can make a fresh signature (re-signing an edited or stale replay).
    resignable: bool = False
    hint: str = "pass --secret"  # what to do when no secret is set

    def detect(self, req: SignedRequest) -> bool:
        return any(req.header(h) is not None for h in self.signature_headers)

    @abstractmethod
    def verify(self, req: SignedRequest, secret: str | None, now: float) -> Check:
        """Check the request's signature. Never raises on hostile input."""

    def signed_at(self, req: SignedRequest) -> int | None:
        """The Unix time the request's signature covers, for schemes that sign one."""
        return None

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        """Headers that sign `req` afresh (used to re-sign an edited replay)."""
        raise NotImplementedError(f"{self.title} re-signing is not supported")

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
