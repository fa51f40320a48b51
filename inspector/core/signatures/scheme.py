"""The flow every signing scheme shares: read the header, try each secret, explain a failure.

A scheme says how to read its header (`read`), what it signs (`messages`), how a secret
becomes a key (`key`) and whether a key matches a received signature (`matches`): HMAC
schemes recompute and compare (`HmacProvider`), public-key schemes verify (`keys.py`). This
base class does the rest: one pass over the secrets (valid when any matches: two are valid
during a rotation), the timestamp window, and the diagnosis when nothing matches.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Generic, Protocol, TypeVar

from inspector.core.model import HeaderList, Verdict
from inspector.core.signatures import diagnose
from inspector.core.signatures.base import Check, Provider, SignedRequest, position, same

K = TypeVar("K")


@dataclass(slots=True)
class Reading:
    """What a signature header carries, before any secret is used."""

    signatures: list[str]  # candidate signatures, prefixes stripped
    stamp: str = ""  # the timestamp as signed, for schemes that have one
    ident: str = ""  # the message id (Standard Webhooks)
    digest: str = ""  # hashlib name, when it differs from the scheme's (GitHub's legacy sha1)
    encoding: str = ""  # hex or base64, when it differs from the scheme's (HubSpot v1/v2)
    version: str = ""  # the scheme's version, when the request names one (HubSpot); the
    #   versions its entries carry, space-separated (Standard Webhooks: "v1 v1a")
    problem: str = ""  # a format fault that fails the check even when the digest matches
    note: str = ""  # said with any verdict


class Scheme(Provider, Generic[K]):
    """A scheme where a signature of the request travels in a header."""

    header: str = ""  # the usual signature header, for `sign`
    encoding: str = "hex"
    future_ok: bool = False  # Stripe only rejects old timestamps
    covers: str = "body"  # what the signature covers, in words
    signing: str = "HMAC"  # the kind of signature, in words
    stamp_form: str = "a Unix time in seconds"  # what the signed timestamp is, in words
    verbs: tuple[str, str] = ("matches", "does not match")  # what the signature does
    secret_word: str = "secret"  # what the configured value is: a public key only verifies

    # -- what each scheme says -------------------------------------------------------------

    @abstractmethod
    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        """The signature header parsed, or why it cannot be."""

    @abstractmethod
    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        """What was signed, given `body`; a match on any of them passes."""

    @abstractmethod
    def key(self, secret: str) -> K | None:
        """The key a secret stands for; None when it cannot be one (`key_fault` says why)."""

    @abstractmethod
    def matches(self, key: K, messages: list[bytes], pool: list[bytes],
                reading: Reading) -> bool:
        """Whether any received signature in `pool` signs any of `messages` under `key`."""

    @abstractmethod
    def signature_sizes(self, reading: Reading) -> tuple[int, ...]:
        """Bytes in one signature (empty: any length)."""

    @abstractmethod
    def what(self, reading: Reading, keys: Sequence[K | None]) -> str:
        """What a matching signature proves, in words: "HMAC-SHA256 of the body"."""

    def expected(self, key: K, reading: Reading, messages: list[bytes]) -> str:
        """The header value `key` gives, to show beside the received one ("" when a key
        cannot make one: a public key only verifies)."""
        return ""

    def key_fault(self, secret: str) -> str:
        """Why `key(secret)` gave None."""
        return "the secret cannot be used as a key"

    def key_problem(self, secret: str) -> str:
        return "" if self.key(secret) is not None else self.key_fault(secret)

    def other_keys(self, secret: str) -> Iterator[tuple[K, str]]:
        """Other readings of the secret a sender may have used, with the cause."""
        return iter(())

    def body_fault(self, req: SignedRequest, reading: Reading, body: bytes) -> str:
        """A check on the body outside the signature (Twilio's bodySHA256); "" when fine."""
        return ""

    def more_causes(self, req: SignedRequest, reading: Reading, key: K,
                    pool: list[bytes]) -> str:
        """Scheme-specific diagnosis, tried after the shared one."""
        return ""

    def unix(self, stamp: str) -> int | None:
        """The signed timestamp as a Unix time in seconds; None when it is not one."""
        return diagnose.unix_time(stamp)

    def late(self, reading: Reading, now: float) -> str:
        """Why the signed timestamp is outside the window; "" when inside (or none is
        checked)."""
        if not self.tolerance:
            return ""
        return diagnose.stale(self.unix(reading.stamp), reading.stamp, now, self.tolerance,
                              future=not self.future_ok, form=self.stamp_form)

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
            return self.unix(reading.stamp)
        return None

    def verify(self, req: SignedRequest, secrets: Sequence[str], now: float) -> Check:
        return self.verify_some(req, secrets, now, range(1, len(secrets) + 1), len(secrets))

    def verify_some(self, req: SignedRequest, secrets: Sequence[str], now: float,
                    places: Sequence[int], total: int) -> Check:
        """`verify`, where `secrets` are some of the `total` configured ones, at the 1-based
        `places` (GitLab splits its secrets by kind): positions said are the configured
        ones."""
        found = self.find(req)
        if found is None:
            return self.unsigned()
        header, value = found
        if not secrets:
            return self.no_secret(header, value, self.hint)
        reading = self.read(req, header, value)
        keys = [self.key(secret) for secret in secrets]
        if isinstance(reading, str):
            return Check(Verdict.INVALID, self._key_first(reading, secrets, keys, places, total),
                         self.name, header, value, secret_count=total)
        what = self.what(reading, keys)
        sigs = diagnose.read_signatures(reading.signatures, reading.encoding or self.encoding,
                                        self.signature_sizes(reading), self.signing)
        messages = self.messages(req, reading, req.body)
        place, shown = 0, None
        for index, key in enumerate(keys):
            if key is None:
                continue
            if self.matches(key, messages, sigs.digests, reading):
                place, shown = places[index], key
                break
            if shown is None:
                shown = key  # no match: show what the first usable key gives
        expected = "" if shown is None else self.expected(shown, reading, messages)
        late = self.late(reading, now)

        def result(verdict: Verdict, reason: str) -> Check:
            if reading.note:
                reason = f"{reason}; {reading.note}"
            return Check(verdict, reason, self.name, header, value, expected, place, total)

        if place and not self.body_fault(req, reading, req.body):
            which = f" ({position(place, total)})" if total > 1 else ""
            if reading.problem:
                return result(Verdict.INVALID,
                              f"{reading.problem} (the signature itself {self.verbs[0]}{which})")
            if late:
                return result(Verdict.INVALID, f"signature {self.verbs[0]}{which}, but {late}")
            return result(Verdict.VALID, f"{what} {self.verbs[0]}{which}")
        cause = self._cause(req, reading, secrets, keys, sigs, what, places, total)
        if late:
            cause = f"{cause}; also {late}"
        return result(Verdict.INVALID, cause)

    def _matcher(self, req: SignedRequest, reading: Reading, pool: list[bytes],
                 whole: bool = True) -> Callable[[K, bytes], bool]:
        """Whether a key and body give one of `pool`; `whole` adds the body check."""

        def matches(key: K, body: bytes) -> bool:
            if not pool or (whole and self.body_fault(req, reading, body)):
                return False
            return self.matches(key, self.messages(req, reading, body), pool, reading)

        return matches

    def _cause(self, req: SignedRequest, reading: Reading, secrets: Sequence[str],
               keys: list[K | None], sigs: diagnose.Signatures, what: str,
               places: Sequence[int], total: int) -> str:
        """The likely reason nothing matched, in plain words; with several secrets, the
        first one a cause is found for is named by position."""
        pool = sigs.digests + sigs.others
        if not pool:
            return self._key_first(reading.problem or sigs.note or "no signature to compare",
                                   secrets, keys, places, total)
        variants = diagnose.Variants(req.body, req.headers)
        for place, secret, key in zip(places, secrets, keys, strict=True):
            cause = self._cause_with(req, reading, secret, key, sigs, pool, variants)
            if cause:
                return f"{position(place, total)}: {cause}" if total > 1 else cause
        mismatch = f"{what} {self.verbs[1]}"
        if len(secrets) > 1:
            mismatch += f" with any of the {len(secrets)} {self.secret_word}s"
        return (reading.problem or sigs.note
                or f"{mismatch}: a different {self.secret_word}, or the {self.covers} changed "
                   "after signing")

    def _key_first(self, problem: str, secrets: Sequence[str], keys: list[K | None],
                   places: Sequence[int], total: int) -> str:
        """`problem` with the request, after the first secret that cannot be a key: that
        one fails whatever arrives, so it is said first (never hidden behind the other)."""
        bad = next(((place, secret) for place, secret, key in zip(places, secrets, keys,
                                                                  strict=True)
                    if key is None), None)
        if bad is None:
            return problem
        place, secret = bad
        fault = self.key_fault(secret)
        return (f"{position(place, total)}: {fault}" if total > 1 else fault) + (
            f"; also {problem}")

    def _cause_with(self, req: SignedRequest, reading: Reading, secret: str, key: K | None,
                    sigs: diagnose.Signatures, pool: list[bytes],
                    variants: diagnose.Variants) -> str:
        """The cause found with one secret, or ""."""
        if key is not None and sigs.others and self._matcher(req, reading, sigs.others)(
                key, req.body):
            return f"{sigs.note} (the value is right once decoded that way)"
        keys = chain(diagnose.secret_variants(secret, self.key), self.other_keys(secret))
        cause = diagnose.explain(self._matcher(req, reading, pool), key, req.body, variants,
                                 keys)
        if cause:
            return cause
        if key is None:
            return self.key_fault(secret)
        fault = self.body_fault(req, reading, req.body)
        if fault and self._matcher(req, reading, pool, whole=False)(key, req.body):
            return fault
        return self.more_causes(req, reading, key, pool)


class HmacProvider(Scheme[bytes]):
    """A scheme where an HMAC of the request travels in a header."""

    digest: str = "sha256"
    resignable = True  # every scheme here signs (`sign`, or BodyHmac's)

    def key(self, secret: str) -> bytes | None:
        return diagnose.utf8(secret)

    def signature_sizes(self, reading: Reading) -> tuple[int, ...]:
        return (hashlib.new(reading.digest or self.digest).digest_size,)

    def what(self, reading: Reading, keys: Sequence[bytes | None]) -> str:
        return f"HMAC-{(reading.digest or self.digest).upper()} of the {self.covers}"

    def mac(self, key: bytes, message: bytes, reading: Reading) -> bytes:
        return hmac.digest(key, message, reading.digest or self.digest)  # one C call

    def matches(self, key: bytes, messages: list[bytes], pool: list[bytes],
                reading: Reading) -> bool:
        return any_same([self.mac(key, m, reading) for m in messages], pool)

    def expected(self, key: bytes, reading: Reading, messages: list[bytes]) -> str:
        return self.render(reading, self.mac(key, messages[0], reading))

    def render(self, reading: Reading, digest: bytes) -> str:
        """The header value that would carry `digest`."""
        return diagnose.encode_digest(digest, reading.encoding or self.encoding)

    def signed_value(self, req: SignedRequest, reading: Reading, secret: str) -> str:
        """The header value that signs `req` as `reading` describes it (for `sign`)."""
        key = self.key(secret)
        if key is None:
            raise ValueError(self.key_fault(secret))
        return self.render(reading, self.mac(key, self.messages(req, reading, req.body)[0],
                                             reading))


def any_same(macs: list[bytes], pool: list[bytes]) -> bool:
    """Whether any computed MAC equals any received digest (constant time per pair)."""
    return any(same(mac, digest) for mac in macs for digest in pool)


class BodyHmac(HmacProvider):
    """The simplest scheme: an HMAC of the raw body, alone in `header`, after `prefix`."""

    prefix: str = ""  # before the signature in the header, e.g. "sha256="

    def read(self, req: SignedRequest, header: str, value: str) -> Reading:
        if not self.prefix:
            return Reading([value])
        text = value.strip()
        if text.startswith(self.prefix):
            return Reading([text[len(self.prefix):]])
        return Reading([text], problem=f"{header} lacks the {self.prefix} prefix")

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [body]

    def render(self, reading: Reading, digest: bytes) -> str:
        return self.prefix + super().render(reading, digest)

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        return [(self.header, self.signed_value(req, Reading([]), secret))]


class Verifier(Protocol):
    """A public key (signatures/keys.py): whether a signature signs a message."""

    def verify(self, signature: bytes, message: bytes) -> bool: ...


V = TypeVar("V", bound=Verifier)
# Signatures a public key is tried against: rotation sends two or three, and each check costs
# as much as a hundred HMACs, so a header stuffed with signatures buys nothing.
PUBLIC_TRIES = 8


class PublicKeyScheme(Scheme[V]):
    """The sender signs with its private key; the receiver holds the public key, which
    verifies but cannot sign: nothing is re-signed unless the scheme also accepts a private
    key (Standard Webhooks' whsk_)."""

    resignable = False
    cannot_resign = ("it is signed with the sender's private key, and only the public key is "
                     "configured here")
    verbs = ("verifies", "does not verify")
    secret_word = "public key"
    covers = "timestamp and body"
    timestamp_header: str = ""  # Discord and SendGrid sign this header's value, then the body

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        stamp = req.header(self.timestamp_header)
        if stamp is None:
            return f"no {self.timestamp_header} header"
        return Reading([value], stamp=stamp)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [diagnose.wire(reading.stamp) + body]

    def matches(self, key: V, messages: list[bytes], pool: list[bytes],
                reading: Reading) -> bool:
        return any(key.verify(sig, m) for sig in pool[:PUBLIC_TRIES] for m in messages)

    def what(self, reading: Reading, keys: Sequence[V | None]) -> str:
        return f"{self.signing} signature of the {self.covers}"
