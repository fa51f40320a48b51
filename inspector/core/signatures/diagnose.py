"""Why a signature check failed: retry the usual mistakes and name the one that matches.

Everything here takes hostile input and never raises. The work is capped: at most
MAX_SIGNATURES signatures are read from a header, and body variants are only tried on
bodies up to DIAGNOSE_LIMIT bytes.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from inspector.core.analysis.decoding import inflate
from inspector.core.display import count
from inspector.core.headers import HeaderList, header_value
from inspector.core.sanitize import clip
from inspector.core.signatures.base import b64decode_strict

MAX_SIGNATURES = 64  # signatures read from one header (rotation sends two or three)
DIAGNOSE_LIMIT = 256 * 1024  # bodies above this are not re-encoded to find a cause
INFLATE_LIMIT = 8 * 1024 * 1024
REENCODED = "something re-encoded the body"
WHSEC = "whsec_ secret must be base64-decoded for Standard Webhooks but not for Stripe"
DIGEST_NAMES = {20: "sha1", 32: "sha256", 64: "sha512"}

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_STAMP = re.compile(r"[0-9]{1,15}")

# A key: HMAC key bytes, or a public key object (signatures/keys.py).
K = TypeVar("K")


def wire(text: str) -> bytes:
    """A header value back to its bytes on the wire (headers are kept decoded as latin-1)."""
    return text.encode("latin-1", errors="replace")


def utf8(secret: str) -> bytes:
    """A secret's UTF-8 bytes; bytes that were not UTF-8 on the command line come back as
    they were (Python keeps them as surrogate escapes)."""
    try:
        return secret.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return secret.encode("utf-8", "surrogatepass")


def decode_digest(value: str, encoding: str) -> bytes | None:
    """Strict hex or standard base64; None when the value is not in that encoding."""
    if encoding == "hex":
        return bytes.fromhex(value) if _HEX.fullmatch(value) else None
    return b64decode_strict(value)


def encode_digest(digest: bytes, encoding: str) -> str:
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


@dataclass(slots=True)
class Signatures:
    """Signatures read from a header, as raw digests."""

    digests: list[bytes] = field(default_factory=list)  # in the provider's encoding
    others: list[bytes] = field(default_factory=list)  # readable only in the other encoding
    note: str = ""  # what is wrong with the encoding or the length, if anything


def read_signatures(values: Iterable[str], encoding: str, sizes: Collection[int],
                    signing: str = "HMAC") -> Signatures:
    """Decode up to MAX_SIGNATURES values that should be `signing` signatures (HMAC digests,
    Ed25519 signatures) of one of `sizes` bytes (empty: any length, as DER-encoded ECDSA) in
    `encoding`."""
    out = Signatures()
    other = "base64" if encoding == "hex" else "hex"
    for raw in islice(values, MAX_SIGNATURES):
        value = raw.strip()
        digest = decode_digest(value, encoding)
        if digest is not None and (not sizes or len(digest) in sizes):
            out.digests.append(digest)
            continue
        swapped = decode_digest(value, other)
        if swapped is not None and (not sizes or len(swapped) in sizes):
            out.others.append(swapped)
            note = f"signature is {other} but this provider sends {encoding}"
        elif digest is not None and signing == "HMAC" and len(digest) in DIGEST_NAMES:
            size = next(iter(sizes), 0)
            note = (f"signature has the length of an HMAC-{DIGEST_NAMES[len(digest)].upper()}, "
                    f"but this scheme uses HMAC-{DIGEST_NAMES.get(size, '?').upper()}")
        elif digest is not None:
            wanted = " or ".join(str(n) for n in sorted(sizes))
            note = (f"signature is {count(len(digest), 'byte')}, not the {wanted} of this "
                    f"scheme's {signing}")
        else:
            note = f"signature is not {encoding}"
        out.note = out.note or note
    return out


def entries(value: str, separator: str) -> Iterator[tuple[str, str]]:
    """The `key=value` entries of a signature header (Stripe's `t=…,v1=…`, Paddle's
    `ts=…;h1=…`). Rotation sends a handful; more than a few dozen is not the provider."""
    for item in islice(value.split(separator), 4 * MAX_SIGNATURES):
        key, _, text = item.partition("=")
        yield key, text


def unix_time(stamp: str) -> int | None:
    """A signed timestamp as a Unix time in seconds; None when it is not one."""
    return int(stamp) if _STAMP.fullmatch(stamp) else None


def stale(when: int | None, stamp: str, now: float, tolerance: int, *, future: bool = True,
          form: str = "a Unix time in seconds") -> str:
    """Why a timestamp (`stamp` as sent, `when` its Unix time in seconds, None when it is not
    `form`) falls outside the window, or "" when it is inside."""
    if when is None:
        return f"timestamp {clip(stamp, 40)!r} is not {form}"
    age = now - when
    if age > tolerance:
        return (f"timestamp is {math.ceil(age)} s old (tolerance {tolerance} s): "
                "a replay or a clock skew")
    if future and -age > tolerance:
        if when > 10**11:
            return "timestamp looks like milliseconds; this provider sends seconds"
        return (f"timestamp is {math.ceil(-age)} s in the future (tolerance {tolerance} s): "
                "a clock skew")
    return ""


def body_variants(body: bytes, headers: HeaderList) -> Iterator[tuple[bytes, str]]:
    """Bodies the sender plausibly signed instead of the one received, with the cause."""
    yield from _compression_variants(body, headers)
    if len(body) > DIAGNOSE_LIMIT:
        return
    if body.endswith(b"\r\n"):
        yield body[:-2], f"matches the body with a trailing newline removed: {REENCODED}"
    elif body.endswith(b"\n"):
        yield body[:-1], f"matches the body with a trailing newline removed: {REENCODED}"
    else:
        yield body + b"\n", f"matches the body with a trailing newline added: {REENCODED}"
        yield body + b"\r\n", f"matches the body with a trailing newline added: {REENCODED}"
    if b"\r\n" in body:
        yield body.replace(b"\r\n", b"\n"), f"matches the body with LF instead of CRLF: {REENCODED}"
    elif b"\n" in body:
        yield body.replace(b"\n", b"\r\n"), f"matches the body with CRLF instead of LF: {REENCODED}"
    yield from _json_variants(body)


_JSON_FORMS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("compact", {"separators": (",", ":")}),
    ("pretty-printed", {"indent": 2}),
    ("spaced (\", \" and \": \")", {}),
)


def _json_variants(body: bytes) -> Iterator[tuple[bytes, str]]:
    if body.lstrip()[:1] not in (b"{", b"["):
        return
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return
    seen = {body}
    for label, options in _JSON_FORMS:
        for ascii_only in (False, True):
            try:
                data = json.dumps(value, ensure_ascii=ascii_only, **options).encode("utf-8")
            except (ValueError, RecursionError):
                return
            if data not in seen:
                seen.add(data)
                yield data, (f"matches the body re-serialised as {label} JSON: "
                             "something parsed the body and wrote it out again")


def _compression_variants(body: bytes, headers: HeaderList) -> Iterator[tuple[bytes, str]]:
    coding = (header_value(headers, "content-encoding") or "").strip()
    if not coding and body[:2] == b"\x1f\x8b":
        coding = "gzip"  # compressed without saying so
    if not coding or coding.lower() == "identity":
        return
    data, _ = inflate(body, coding, cap=INFLATE_LIMIT)
    if data != body and len(data) < INFLATE_LIMIT:
        yield data, ("signature matches the decompressed body: the sender signed the bytes "
                     f"before {coding} compression, so verify the decoded body")


def secret_variants(secret: str, key_of: Callable[[str], K | None]) -> Iterator[
        tuple[K, str]]:
    """Keys from likely slips in the configured secret."""
    stripped = secret.strip()
    if stripped and stripped != secret:
        key = key_of(stripped)
        if key is not None:
            yield key, ("secret has surrounding whitespace: the signature matches the "
                        "trimmed secret")


class Variants:
    """A request's `body_variants`, made on demand and once: with several secrets each one
    walks the same list."""

    def __init__(self, body: bytes, headers: HeaderList) -> None:
        self._source = body_variants(body, headers)
        self._made: list[tuple[bytes, str]] = []

    def __iter__(self) -> Iterator[tuple[bytes, str]]:
        yield from self._made
        for item in self._source:
            self._made.append(item)
            yield item


def explain(matches: Callable[[K, bytes], bool], key: K | None, body: bytes,
            variants: Iterable[tuple[bytes, str]], keys: Iterable[tuple[K, str]]) -> str:
    """The first likely mistake under which the signature matches, or ""."""
    if key is not None:
        for variant, cause in variants:
            if matches(key, variant):
                return cause
    for other_key, cause in keys:
        if matches(other_key, body):
            return cause
    return ""


def near_urls(url: str) -> list[str]:
    """URLs a configuration slip gives instead: the other scheme, the other trailing slash."""
    scheme, netloc, path, query, fragment = split_url(url)
    if not scheme:
        return []
    other = "http" if scheme == "https" else "https"
    slash = path[:-1] if path.endswith("/") else path + "/"
    return [urlunsplit((other, netloc, path, query, fragment)),
            urlunsplit((scheme, netloc, slash, query, fragment))]


def split_url(url: str) -> tuple[str, str, str, str, str]:
    try:
        return urlsplit(url)
    except ValueError:
        return "", "", url, "", ""
