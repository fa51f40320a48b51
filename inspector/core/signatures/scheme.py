"""The flow every HMAC scheme shares: read the header, compute, compare, explain a failure.

A scheme says how to read its header (`read`) and what it signs (`messages`); this base
class does the rest, including the diagnosis when nothing matches.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from inspector.core.model import HeaderList, Verdict
from inspector.core.signatures import diagnose
from inspector.core.signatures.base import Check, Provider, SignedRequest, same


@dataclass(slots=True)
class Reading:
    """What a signature header carries, before any secret is used."""

    signatures: list[str]  # candidate signatures, prefixes stripped
    stamp: str = ""  # the timestamp as signed, for schemes that have one
    ident: str = ""  # the message id (Standard Webhooks)
    digest: str = ""  # hashlib name, when it differs from the scheme's (GitHub's legacy sha1)
    problem: str = ""  # a format fault that fails the check even when the digest matches
    note: str = ""  # said with any verdict


class HmacProvider(Provider):
    """A scheme where an HMAC of the request travels in a header."""

    header: str = ""  # the usual signature header, for `sign`
    digest: str = "sha256"
    encoding: str = "hex"
    future_ok: bool = False  # Stripe only rejects old timestamps
    covers: str = "body"  # what the signature covers, in words
    resignable = True  # every scheme here signs (`sign`, or BodyHmac's)

    # -- what each scheme says -------------------------------------------------------------

    @abstractmethod
    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        """The signature header parsed, or why it cannot be."""

    @abstractmethod
    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        """What was signed, given `body`; a match on any of them passes."""

    def key(self, secret: str) -> bytes | None:
        return diagnose.utf8(secret)

    def key_fault(self, secret: str) -> str:
        """Why `key(secret)` gave None."""
        return "the secret cannot be used as a key"

    def other_keys(self, secret: str) -> Iterator[tuple[bytes, str]]:
        """Other readings of the secret a sender may have used, with the cause."""
        return iter(())

    def body_fault(self, req: SignedRequest, reading: Reading, body: bytes) -> str:
        """A check on the body outside the HMAC (Twilio's bodySHA256); "" when fine."""
        return ""

    def more_causes(self, req: SignedRequest, reading: Reading, key: bytes,
                    pool: list[bytes]) -> str:
        """Scheme-specific diagnosis, tried after the shared one."""
        return ""

    def render(self, reading: Reading, digest: bytes) -> str:
        """The header value that would carry `digest`."""
        return diagnose.encode_digest(digest, self.encoding)

    # -- the shared flow -------------------------------------------------------------------

    def find(self, req: SignedRequest) -> tuple[str, str] | None:
        for name in self.signature_headers:
            value = req.header(name)
            if value is not None:
                return name, value
        return None

    def signed_at(self, req: SignedRequest) -> int | None:
        found = self.find(req)
        reading = None if found is None else self.read(req, *found)
        if isinstance(reading, Reading) and reading.stamp:
            return diagnose.unix_time(reading.stamp)
        return None

    def mac(self, key: bytes, message: bytes, reading: Reading) -> bytes:
        return hmac.new(key, message, reading.digest or self.digest).digest()

    def signed_value(self, req: SignedRequest, reading: Reading, secret: str) -> str:
        """The header value that signs `req` as `reading` describes it (for `sign`)."""
        key = self.key(secret)
        if key is None:
            raise ValueError(self.key_fault(secret))
        return self.render(reading, self.mac(key, self.messages(req, reading, req.body)[0],
                                             reading))

    def verify(self, req: SignedRequest, secret: str | None, now: float) -> Check:
        found = self.find(req)
        if found is None:
            return self.unsigned()
        header, value = found
        if not secret:
            return self.no_secret(header, value, self.hint)
        reading = self.read(req, header, value)
        if isinstance(reading, str):
            return Check(Verdict.INVALID, reading, self.name, header, value)
        algorithm = reading.digest or self.digest
        what = f"HMAC-{algorithm.upper()} of the {self.covers}"
        sigs = diagnose.read_signatures(reading.signatures, self.encoding,
                                        hashlib.new(algorithm).digest_size)
        key = self.key(secret)
        macs = [] if key is None else [
            self.mac(key, m, reading) for m in self.messages(req, reading, req.body)]
        expected = self.render(reading, macs[0]) if macs else ""
        late = ""
        if self.tolerance:
            late = diagnose.stale(reading.stamp, now, self.tolerance, future=not self.future_ok)

        def result(verdict: Verdict, reason: str) -> Check:
            if reading.note:
                reason = f"{reason}; {reading.note}"
            return Check(verdict, reason, self.name, header, value, expected)

        if any_same(macs, sigs.digests) and not self.body_fault(req, reading, req.body):
            if reading.problem:
                return result(Verdict.INVALID, f"{reading.problem} (the signature itself matches)")
            if late:
                return result(Verdict.INVALID, f"signature matches, but {late}")
            return result(Verdict.VALID, f"{what} matches")
        cause = self._cause(req, reading, secret, key, sigs, what)
        if late:
            cause = f"{cause}; also {late}"
        return result(Verdict.INVALID, cause)

    def _matcher(self, req: SignedRequest, reading: Reading, pool: list[bytes],
                 whole: bool = True) -> diagnose.Matcher:
        """Whether a key and body give one of `pool`; `whole` adds the body check."""

        def matches(key: bytes, body: bytes) -> bool:
            if not pool or (whole and self.body_fault(req, reading, body)):
                return False
            macs = [self.mac(key, m, reading) for m in self.messages(req, reading, body)]
            return any_same(macs, pool)

        return matches

    def _cause(self, req: SignedRequest, reading: Reading, secret: str, key: bytes | None,
               sigs: diagnose.Signatures, what: str) -> str:
        """The likely reason nothing matched, in plain words."""
        pool = sigs.digests + sigs.others
        if not pool:
            return reading.problem or sigs.note or "no signature to compare"
        if key is not None and sigs.others and self._matcher(req, reading, sigs.others)(
                key, req.body):
            return f"{sigs.note} (the value is right once decoded that way)"
        keys = chain(diagnose.secret_variants(secret, self.key), self.other_keys(secret))
        cause = diagnose.explain(self._matcher(req, reading, pool), key, req.body,
                                 req.headers, keys)
        if cause:
            return cause
        if key is None:
            return self.key_fault(secret)
        fault = self.body_fault(req, reading, req.body)
        if fault and self._matcher(req, reading, pool, whole=False)(key, req.body):
            return fault
        return (self.more_causes(req, reading, key, pool) or reading.problem or sigs.note
                or f"{what} does not match: a different secret, or the {self.covers} "
                   "changed after signing")


def any_same(macs: list[bytes], pool: list[bytes]) -> bool:
    """Whether any computed MAC equals any received digest (constant time per pair)."""
    return any(same(mac, digest) for mac in macs for digest in pool)


class BodyHmac(HmacProvider):
    """The simplest scheme: an HMAC of the raw body, alone in `header`."""

    def read(self, req: SignedRequest, header: str, value: str) -> Reading:
        return Reading([value])

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [body]

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        return [(self.header, self.signed_value(req, Reading([]), secret))]
