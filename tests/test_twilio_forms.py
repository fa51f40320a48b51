"""Twilio exactly as its SDK does it (issue 16): for any URL, form and signature, our verdict is
the one `twilio.request_validator.RequestValidator.validate` gives: the URL with and without
its port (any port stripped, 443/80 added when absent), queries never normalised, repeated
keys sorted with duplicates counted once, bodySHA256 compared as lower-case hex, and a
SharedKey's HMAC-SHA256."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from inspector.core.signatures import PROVIDERS, SignedRequest
from inspector.core.signatures.twilio import SETTINGS, sdk_forms

TOKEN = "12345"
FORM = ("Content-Type", "application/x-www-form-urlencoded")

_SCHEMES = st.sampled_from(["http", "https", "HTTPS"])
_HOSTS = st.sampled_from(["mycompany.com", "Host.COM", "user@h.example", "[::1]"])
_PORTS = st.sampled_from(["", ":80", ":443", ":8443", ":1234", ":0"])
_PATHS = st.sampled_from(["/myapp.php", "/", "/sms/", "/a%20b"])
_QUERIES = st.sampled_from(["", "?", "?foo=1&bar=2", "?bar=2&foo=1", "?foo=1&bar=2&", "#frag"])


@st.composite
def urls(draw: st.DrawFn) -> str:
    return (draw(_SCHEMES) + "://" + draw(_HOSTS) + draw(_PORTS) + draw(_PATHS)
            + draw(_QUERIES))


_FIELDS = st.lists(st.tuples(st.sampled_from(["Digits", "From", "To", "Body", "CallSid"]),
                             st.sampled_from(["", "1234", "5678", "+14158675309", "a b"])),
                   max_size=6)


class MultiDict(dict[str, str]):
    """Form fields as web frameworks give them to the SDK: repeated names kept (`getall`)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


def ours(url: str, body: str, signature: str, settings_header: str = "") -> bool:
    headers = [FORM, ("X-Twilio-Signature", signature)]
    if settings_header:
        headers.append((SETTINGS, settings_header))
    req = SignedRequest("POST", url, headers, body.encode())
    return PROVIDERS["twilio"].verify(req, (TOKEN,), 0.0).ok


def theirs(url: str, body: str, signature: str, algorithm: str | None = None) -> bool:
    params = MultiDict(parse_qsl(body, keep_blank_values=True))
    return bool(RequestValidator(TOKEN).validate(url, params, signature, algorithm))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed_at=urls(), other=urls(), same=st.booleans(), fields=_FIELDS)
def test_the_same_verdict_as_the_sdk(signed_at: str, other: str, same: bool,
                                     fields: list[tuple[str, str]]) -> None:
    """Twilio signed `signed_at`; the app knows the request as `called`: the same URL half
    the time (in one of its other forms, often), any other otherwise."""
    called = signed_at if same else other
    body = urlencode(fields)
    params = MultiDict(parse_qsl(body, keep_blank_values=True))
    signature = RequestValidator(TOKEN).compute_signature(signed_at, params)
    try:
        expected = theirs(called, body, signature)
    except ValueError:  # an IPv6 host with a port: the SDK raises, we just do not match
        expected = False
    event("the SDK accepts" if expected else "the SDK refuses")
    assert ours(called, body, signature) is expected, (signed_at, called, body)


def test_every_form_the_sdk_accepts_for_a_url() -> None:
    """The research's table of what `validate` compares (twilio 9.13)."""
    assert sdk_forms("https://h/x") == ["https://h/x", "https://h:443/x"]
    assert sdk_forms("https://h:8443/x") == ["https://h/x", "https://h:8443/x"]
    assert sdk_forms("http://h/x") == ["http://h/x", "http://h:80/x"]
    assert sdk_forms("HTTPS://Host.COM/x") == ["https://Host.COM/x", "https://Host.COM:443/x"]
    assert sdk_forms("https://h/x?") == ["https://h/x", "https://h:443/x"]
    assert sdk_forms("https://user@h:99/x") == ["https://user@h/x", "https://user@h:99/x"]
    assert sdk_forms("https://h:0/x") == ["https://h:0/x", "https://h:0:443/x"]
    assert sdk_forms("https://h:abc/x") == ["https://h:abc/x"]  # the SDK raises


def test_body_sha256_and_shared_keys_as_the_sdk() -> None:
    body = '{"property": "value", "boolean": true}'
    digest = hashlib.sha256(body.encode()).hexdigest()
    for given_hash, valid in ((digest, True), (digest.upper(), False)):
        url = f"https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256={given_hash}"
        signature = RequestValidator(TOKEN).compute_signature(url, {})
        req = SignedRequest("POST", url, [("Content-Type", "application/json"),
                                          ("X-Twilio-Signature", signature)], body.encode())
        assert RequestValidator(TOKEN).validate(url, body, signature) is valid
        result = PROVIDERS["twilio"].verify(req, (TOKEN,), 0.0)
        assert result.ok is valid, result.reason
        if not valid:
            assert "upper-case hex" in result.reason
    url, body = "https://mycompany.com/sms", "From=%2B1555&Body=hi"
    params = MultiDict(parse_qsl(body))
    signature = RequestValidator(TOKEN).compute_signature(url, params, "HMAC_SHA256")
    header = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    assert theirs(url, body, signature, "HMAC_SHA256")
    assert ours(url, body, signature, header)
    assert not ours(url, body, signature)  # without the header: SHA-1, as the SDK
    refused = PROVIDERS["twilio"].verify(
        SignedRequest("POST", url, [FORM, ("X-Twilio-Signature", signature),
                                    (SETTINGS, "algorithm=HMAC_MD5")], body.encode()),
        (TOKEN,), 0.0)
    assert "HMAC_MD5" in refused.reason and not refused.ok
