"""Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 of the full URL plus the POST parameters,
exactly as twilio's own `RequestValidator` checks it.

Form bodies: the URL, then each parameter's name and value, sorted by name, and a repeated
name's values sorted with exact duplicates counted once. JSON bodies: the signature covers
the URL only, and the URL's `bodySHA256` parameter must be the lower-case hex SHA-256 of the
body. The URL passes in either of the SDK's two forms (`sdk_forms`): without its port, or
with it (:443/:80 added when absent). Query strings are never normalised: Twilio signs them
as it called them. A webhook signed with a SharedKey says so in
`X-Twilio-Webhooks-Signature-Settings` (`algorithm=HMAC_SHA256`).
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, parse_qsl, urlparse, urlunsplit

from inspector.core.analysis.decoding import FORM_FIELDS, media_type
from inspector.core.model import HeaderList
from inspector.core.signatures.base import SignedRequest, same
from inspector.core.signatures.diagnose import near_urls, split_url
from inspector.core.signatures.scheme import HmacProvider, Reading, any_same

HEADER = "X-Twilio-Signature"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"
ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
FORM = "application/x-www-form-urlencoded"


class Twilio(HmacProvider):
    name = "twilio"
    title = "Twilio"
    signature_headers = (HEADER,)
    secret_envs = ("TWILIO_AUTH_TOKEN",)
    header = HEADER
    digest = "sha1"
    encoding = "base64"
    covers = "URL and parameters"
    hint = "pass --secret (the account's auth token, or the SharedKey's secret)"

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        if not req.url:
            return "the URL Twilio called is unknown, and Twilio signs it: pass --public-url"
        note = ""
        if req.body and body_hash(req.url) is None and not is_form(req):
            note = "the body is not covered: the URL has no bodySHA256"
        if is_form(req) and req.body.count(b"&") >= FORM_FIELDS:
            # Twilio sends a few dozen fields; sorting millions would stall every ack.
            return f"the form has more than {FORM_FIELDS:,} fields: not a Twilio request"
        algorithm = signing_algorithm(req.header(SETTINGS))
        if algorithm.upper() not in ALGORITHMS:
            return (f"{SETTINGS} names the algorithm {algorithm[:40]!r}, which Twilio's "
                    f"validator does not know ({', '.join(ALGORITHMS)})")
        return Reading([value], note=note, digest=ALGORITHMS[algorithm.upper()])

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        params = signed_params(req, body)
        return [url.encode("utf-8", "replace") + params for url in urls(req)]

    def body_fault(self, req: SignedRequest, reading: Reading, body: bytes) -> str:
        given = body_hash(req.url)
        if given is None:
            return ""
        actual = hashlib.sha256(body).hexdigest().encode("ascii")
        given_bytes = given.encode("latin-1", "replace")
        if same(given_bytes, actual):
            return ""
        if same(given_bytes.lower(), actual):
            return ("bodySHA256 is upper-case hex: Twilio's validator compares it as lower-case "
                    "hex")
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
        reading = Reading([], digest=ALGORITHMS.get(
            signing_algorithm(req.header(SETTINGS)).upper(), self.digest))
        return [(HEADER, self.signed_value(req, reading, secret))]


def is_form(req: SignedRequest) -> bool:
    return media_type(req.header("content-type") or "")[0] == FORM


def body_hash(url: str) -> str | None:
    """The bodySHA256 query parameter: present on requests with a JSON body."""
    values = parse_qs(split_url(url)[3]).get("bodySHA256")
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
    """The URLs the signature may cover: the two forms Twilio's RequestValidator checks
    (`sdk_forms`) of the URL as known here and, when a proxy in front sets
    X-Forwarded-Proto/X-Forwarded-Host, of the URL they describe."""
    bases = [req.url]
    proto, host = req.header("x-forwarded-proto"), req.header("x-forwarded-host")
    if proto or host:
        scheme, netloc, path, query, fragment = split_url(req.url)
        proto = (proto or scheme).split(",")[0].strip().lower()
        host = (host or netloc).split(",")[0].strip()
        bases.append(urlunsplit((proto, host, path, query, fragment)))
    out: list[str] = []
    for url in bases:
        for candidate in sdk_forms(url):
            if candidate not in out:
                out.append(candidate)
    return out


def sdk_forms(url: str) -> list[str]:
    """What twilio's `RequestValidator.validate` compares, exactly (its `remove_port` and
    `add_port`): the URL without any port, and with its port (443 for https, else 80, added
    when it has none); both through `urlparse(...).geturl()`, which lowercases the scheme and
    drops an empty query or fragment. Its quirks are kept: a port of 0 counts as none, and
    an IPv6 host loses everything after its first colon in the portless form."""
    try:
        parsed = urlparse(url)
        port = parsed.port
    except ValueError:  # an invalid port: the SDK raises; here the URL is tried as it is
        return [url]
    if port:
        return [parsed._replace(netloc=parsed.netloc.split(":")[0]).geturl(), parsed.geturl()]
    default = 443 if parsed.scheme == "https" else 80
    return [parsed.geturl(), parsed._replace(netloc=f"{parsed.netloc}:{default}").geturl()]


def signing_algorithm(settings: str | None) -> str:
    """The algorithm `X-Twilio-Webhooks-Signature-Settings` names (`key=...,algorithm=...`);
    HMAC_SHA1 when it names none, as twilio's `get_signature_algorithm` reads it."""
    for part in (settings or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip()
    return "HMAC_SHA1"
