"""When a check fails, the reason names the likely cause: one test per cause."""

from __future__ import annotations

import base64
import gzip
import hmac
import json
from collections.abc import Callable

import pytest

from inspector.core.model import HeaderList, Verdict
from inspector.core.signatures import Check, Secrets, SignedRequest, check
from inspector.core.signatures.generic import Generic, HmacSpec
from tests.conftest import VECTORS

NOW = 1_700_000_000


def request(headers: HeaderList | dict[str, str], body: bytes, url: str = "") -> SignedRequest:
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    return SignedRequest("POST", url, pairs, body)


def mac(key: bytes | str, message: bytes, digest: str = "sha256") -> bytes:
    return hmac.new(key.encode() if isinstance(key, str) else key, message, digest).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def shopify(body: bytes, signature: str, secret: str = "shop-secret",
            headers: HeaderList | None = None) -> Check:
    req = request([("X-Shopify-Hmac-Sha256", signature), *(headers or [])], body)
    return check(req, Secrets(secret))


def github(body: bytes, signed_body: bytes, secret: str = "gh-secret") -> Check:
    header = "sha256=" + mac("gh-secret", signed_body).hex()
    return check(request({"X-Hub-Signature-256": header}, body), Secrets(secret))


def stripe(signed_at: int, now: float, body: bytes = b'{"id":"evt_1"}',
           key: bytes = b"whsec_abc", secret: str = "whsec_abc") -> Check:
    sig = mac(key, f"{signed_at}.".encode() + body).hex()
    req = request({"Stripe-Signature": f"t={signed_at},v1={sig}"}, body)
    return check(req, Secrets(secret), now=now)


def standard(key: bytes, secret: str, stamp: int = NOW, now: float = NOW,
             body: bytes = b'{"type":"x"}') -> Check:
    sig = b64(mac(key, f"msg_1.{stamp}.".encode() + body))
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-signature": f"v1,{sig}"}
    return check(request(headers, body), Secrets(secret), now=now)


# -- encoding -------------------------------------------------------------------------------------


def test_hex_where_base64_is_sent() -> None:
    body = b'{"id":1}'
    result = shopify(body, mac("shop-secret", body).hex())
    assert result.verdict is Verdict.INVALID
    assert result.reason.startswith("signature is hex but this provider sends base64")
    assert "right once decoded" in result.reason


def test_base64_where_hex_is_sent() -> None:
    body = b"{}"
    header = "sha256=" + b64(mac("gh-secret", body))
    result = check(request({"X-Hub-Signature-256": header}, body), Secrets("gh-secret"))
    assert result.reason.startswith("signature is base64 but this provider sends hex")


def test_hex_of_another_key_still_names_the_encoding() -> None:
    result = shopify(b"{}", mac("other", b"{}").hex())
    assert result.reason == "signature is hex but this provider sends base64"


def test_signature_of_another_algorithm_is_named() -> None:
    result = github(b"x", b"x")  # sanity: the right one passes
    assert result.ok
    header = "sha256=" + mac("gh-secret", b"x", "sha1").hex()
    wrong = check(request({"X-Hub-Signature-256": header}, b"x"), Secrets("gh-secret"))
    assert "length of an HMAC-SHA1, but this scheme uses HMAC-SHA256" in wrong.reason


# -- the body changed on the way ----------------------------------------------------------------


def test_trailing_newline_removed() -> None:
    vector = next(v for v in VECTORS if v["id"] == "github-tampered-trailing-newline")
    req = request(vector["headers"], vector["body"].encode())
    result = check(req, Secrets(vector["secret"]))
    assert result.reason == ("matches the body with a trailing newline removed: "
                             "something re-encoded the body")


def test_trailing_newline_added() -> None:
    result = github(b'{"a":1}', b'{"a":1}\n')
    assert result.reason.startswith("matches the body with a trailing newline added")


def test_crlf_and_lf() -> None:
    lf, crlf = b'{\n  "a": 1\n}', b'{\r\n  "a": 1\r\n}'
    assert "LF instead of CRLF" in github(crlf, lf).reason
    assert "CRLF instead of LF" in github(lf, crlf).reason


def test_json_reserialised() -> None:
    value = {"id": "evt_1", "name": "Zoë", "items": [1, 2]}
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    pretty = json.dumps(value, indent=2).encode()
    assert "re-serialised as compact JSON" in github(pretty, compact).reason
    assert "re-serialised as pretty-printed JSON" in github(compact, pretty).reason


def test_signature_matches_the_decompressed_body() -> None:
    plain = b'{"event":"order.created"}'
    compressed = gzip.compress(plain)
    result = shopify(compressed, b64(mac("shop-secret", plain)),
                     headers=[("Content-Encoding", "gzip")])
    assert result.reason.startswith("signature matches the decompressed body")
    # Compressed without saying so: the gzip magic is enough.
    assert "decompressed body" in shopify(compressed, b64(mac("shop-secret", plain))).reason


def test_no_cause_found_says_what_did_not_match() -> None:
    result = github(b"{}", b'{"other":true}')
    assert result.reason == ("HMAC-SHA256 of the body does not match: a different secret, "
                             "or the body changed after signing")


# -- timestamps -----------------------------------------------------------------------------------


def test_old_timestamp() -> None:
    result = stripe(NOW, NOW + 412)
    assert result.verdict is Verdict.INVALID
    assert result.reason == ("signature matches, but timestamp is 412 s old (tolerance 300 s): "
                             "a replay or a clock skew")


def test_future_timestamp() -> None:
    result = standard(b"k" * 24, "whsec_" + b64(b"k" * 24), stamp=NOW + 412, now=NOW)
    assert "timestamp is 412 s in the future (tolerance 300 s): a clock skew" in result.reason
    assert stripe(NOW + 412, NOW).ok  # Stripe only rejects old timestamps


def test_milliseconds_timestamp() -> None:
    result = standard(b"k" * 24, "whsec_" + b64(b"k" * 24), stamp=NOW * 1000, now=NOW)
    assert "timestamp looks like milliseconds" in result.reason


def test_bad_signature_and_old_timestamp_are_both_said() -> None:
    result = stripe(NOW, NOW + 1000, secret="whsec_other")
    assert result.reason.endswith("; also timestamp is 1000 s old (tolerance 300 s): "
                                  "a replay or a clock skew")


# -- the secret -----------------------------------------------------------------------------------


def test_secret_with_surrounding_whitespace() -> None:
    body = b'{"id":1}'
    result = shopify(body, b64(mac("shop-secret", body)), secret="shop-secret\n")
    assert result.reason.startswith("secret has surrounding whitespace")
    assert "shop-secret" not in result.reason + result.expected


def test_whsec_decoded_for_stripe() -> None:
    raw = b"0123456789abcdef01234567"
    secret = "whsec_" + b64(raw)
    result = stripe(NOW, NOW, key=raw, secret=secret)
    assert result.reason.endswith(
        "whsec_ secret must be base64-decoded for Standard Webhooks but not for Stripe")


def test_stripe_secret_without_its_prefix() -> None:
    result = stripe(NOW, NOW, key=b"whsec_abc", secret="abc")
    assert "with whsec_ in front" in result.reason


def test_whsec_not_decoded_for_standard_webhooks() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    result = standard(secret.encode(), secret)
    assert result.reason.endswith(
        "whsec_ secret must be base64-decoded for Standard Webhooks but not for Stripe")


def test_standard_webhooks_secret_that_is_not_base64() -> None:
    result = standard(b"irrelevant", "whsec_not base64!")
    assert result.reason.startswith("secret is not base64")


# -- provider specifics ---------------------------------------------------------------------------


def test_only_a_legacy_sha1_signature() -> None:
    body = b"Hello"
    header = "sha1=" + mac("gh-secret", body, "sha1").hex()
    valid = check(request({"X-Hub-Signature": header}, body), Secrets("gh-secret"))
    assert valid.ok and "only a legacy sha1 signature is present" in valid.reason
    invalid = check(request({"X-Hub-Signature": header}, body + b"!"), Secrets("gh-secret"))
    assert not invalid.ok and "only a legacy sha1 signature is present" in invalid.reason


def test_sha256_decides_over_sha1() -> None:
    body = b"Hello"
    headers = {"X-Hub-Signature": "sha1=" + mac("gh-secret", body, "sha1").hex(),
               "X-Hub-Signature-256": "sha256=" + "00" * 32}
    assert not check(request(headers, body), Secrets("gh-secret")).ok


def test_missing_prefix_is_named() -> None:
    body = b"{}"
    result = check(request({"X-Hub-Signature-256": mac("gh-secret", body).hex()}, body),
                   Secrets("gh-secret"))
    assert result.reason == ("X-Hub-Signature-256 lacks the sha256= prefix "
                             "(the signature itself matches)")


def test_twilio_url_with_the_other_scheme() -> None:
    signed = "https://example.com/sms"
    sig = b64(mac("token", signed.encode(), "sha1"))
    req = SignedRequest("GET", "http://example.com/sms", [("X-Twilio-Signature", sig)], b"")
    result = check(req, Secrets("token"))
    assert "matches the URL https://example.com/sms" in result.reason
    assert "--public-url" in result.reason


def test_generic_route_diagnosis() -> None:
    spec = HmacSpec(header="Linear-Signature")
    body = b'{"action":"create"}'
    req = request({"Linear-Signature": mac("lin", body).hex()}, body + b"\n")
    result = check(req, Secrets("lin"), Generic(spec))
    assert result.reason.startswith("matches the body with a trailing newline removed")


def hubspot_v3(url: str, body: bytes) -> str:
    return b64(mac("hs-secret", b"POST" + url.encode() + body + str(NOW * 1000).encode()))


def square(url: str, body: bytes) -> str:
    return b64(mac("sq-key", url.encode() + body))


@pytest.mark.parametrize(("provider", "sign", "header", "secret"), [
    ("square", square, "x-square-hmacsha256-signature", "sq-key"),
    ("hubspot", hubspot_v3, "X-HubSpot-Signature-v3", "hs-secret"),
])
@pytest.mark.parametrize(("signed", "seen"), [
    ("https://example.com/hooks", "http://example.com/hooks"),  # TLS ends at a tunnel
    ("https://example.com/hooks/", "https://example.com/hooks"),  # registered with a slash
])
def test_a_url_signing_provider_names_the_url_it_signed(
        provider: str, sign: Callable[[str, bytes], str], header: str, secret: str,
        signed: str, seen: str) -> None:
    body = b'{"type":"x"}'
    headers = {header: sign(signed, body), "X-HubSpot-Request-Timestamp": str(NOW * 1000)}
    result = check(request(headers, body, seen), Secrets(secret), now=NOW)
    assert result.verdict is Verdict.INVALID and result.provider == provider
    assert f"signature matches the URL {signed}" in result.reason
    assert "--public-url" in result.reason
