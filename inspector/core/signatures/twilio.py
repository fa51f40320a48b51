"""Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 of the full URL plus the POST parameters.

Form bodies: the URL, then each parameter's name and value, sorted by name (and by value for
repeated names). JSON bodies: the signature covers the URL only, and the URL's `bodySHA256`
parameter must be the hex SHA-256 of the body. Twilio is not consistent about default ports,
so the URL passes with or without :443/:80, as in Twilio's own libraries.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from inspector.core.analysis.decoding import FORM_FIELDS, media_type
from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest, same
from inspector.core.signatures.scheme import HmacProvider, Reading, any_same

HEADER = "X-Twilio-Signature"
FORM = "application/x-www-form-urlencoded"
DEFAULT_PORTS = {"http": 80, "https": 443}


class Twilio(HmacProvider):
    name = "twilio"
    title = "Twilio"
    signature_headers = (HEADER,)
    header = HEADER
    digest = "sha1"
    encoding = "base64"
    covers = "URL and parameters"
    hint = "pass --secret (the account's auth token)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        if not req.url:
            return "the URL Twilio called is unknown, and Twilio signs it: pass --public-url"
        note = ""
        if req.body and body_hash(req.url) is None and not is_form(req):
            note = "the body is not covered: the URL has no bodySHA256"
        if is_form(req) and req.body.count(b"&") >= FORM_FIELDS:
            # Twilio sends a few dozen fields; sorting millions would stall every ack.
            return f"the form has more than {FORM_FIELDS:,} fields: not a Twilio request"
        return Reading([value], note=note)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        params = signed_params(req, body)
        return [url.encode("utf-8", "replace") + params for url in urls(req)]

    def body_fault(self, req: SignedRequest, reading: Reading, body: bytes) -> str:
        given = body_hash(req.url)
        if given is None:
            return ""
        actual = hashlib.sha256(body).hexdigest().encode("ascii")
        if same(given.lower().encode("latin-1", "replace"), actual):
            return ""
        return ("signature matches the URL, but its bodySHA256 is not the SHA-256 of the body: "
                "the body changed after signing")

    def more_causes(self, req: SignedRequest, reading: Reading, key: bytes,
                    pool: list[bytes]) -> str:
        params = signed_params(req, req.body)
        for url in near_urls(req.url):
            if any_same([self.mac(key, url.encode("utf-8", "replace") + params, reading)], pool):
                return (f"signature matches the URL {url}: Twilio called another URL than the "
                        "one known here; pass --public-url")
        return ""

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        if not req.url:
            raise ValueError("Twilio signs the URL: it is needed to re-sign")
        return [(HEADER, self.signed_value(req, Reading([]), secret))]


def is_form(req: SignedRequest) -> bool:
    return media_type(req.header("content-type") or "")[0] == FORM


def body_hash(url: str) -> str | None:
    """The bodySHA256 query parameter: present on requests with a JSON body."""
    values = parse_qs(_split(url)[3]).get("bodySHA256")
    return values[0] if values else None


def signed_params(req: SignedRequest, body: bytes) -> bytes:
    """What follows the URL in the signed string: the sorted form fields, or nothing."""
    if body_hash(req.url) is not None or not is_form(req):
        return b""  # JSON and GET: the URL alone
    values: dict[str, set[str]] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        values.setdefault(name, set()).add(value)
    params = "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return params.encode("utf-8")


def urls(req: SignedRequest) -> list[str]:
    """The URL as known, then as the sender may have written it: default port on or off, or
    built from X-Forwarded-Proto/X-Forwarded-Host when a proxy in front sets them."""
    bases = [req.url]
    proto, host = req.header("x-forwarded-proto"), req.header("x-forwarded-host")
    if proto or host:
        scheme, netloc, path, query, fragment = _split(req.url)
        proto = (proto or scheme).split(",")[0].strip().lower()
        host = (host or netloc).split(",")[0].strip()
        bases.append(urlunsplit((proto, host, path, query, fragment)))
    out: list[str] = []
    for url in bases:
        for candidate in (url, _toggle_port(url)):
            if candidate and candidate not in out:
                out.append(candidate)
    return out


def near_urls(url: str) -> list[str]:
    """URLs a configuration slip gives instead: the other scheme, the other trailing slash."""
    scheme, netloc, path, query, fragment = _split(url)
    if not scheme:
        return []
    other = "http" if scheme == "https" else "https"
    slash = path[:-1] if path.endswith("/") else path + "/"
    return [urlunsplit((other, netloc, path, query, fragment)),
            urlunsplit((scheme, netloc, slash, query, fragment))]


def _split(url: str) -> tuple[str, str, str, str, str]:
    try:
        return urlsplit(url)
    except ValueError:
        return "", "", url, "", ""


def _toggle_port(url: str) -> str:
    """The URL with its default port removed, or added when absent; "" when neither applies."""
    parts = _split(url)
    default = DEFAULT_PORTS.get(parts[0].lower())
    if default is None or not parts[1]:
        return ""
    userinfo, at, hostport = parts[1].rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if colon and "]" not in port:  # an explicit port (not part of an IPv6 literal)
        if port != str(default):
            return ""
        netloc = f"{userinfo}{at}{host}"
    else:
        netloc = f"{parts[1]}:{default}"
    return urlunsplit((parts[0], netloc, parts[2], parts[3], parts[4]))
