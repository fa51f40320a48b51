"""Every provider: the shared vectors, Connectly's fixtures, hostile headers, sign → verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.model import Event, HeaderList, Verdict, new_id
from inspector.core.signatures import PROVIDERS, Secrets, SignedRequest, check, detect
from inspector.core.signatures.generic import Generic, HmacSpec
from inspector.core.signatures.twilio import Twilio
from tests.conftest import CONNECTLY, VECTORS

NOW = 1_700_000_000.0


def request(headers: dict[str, str] | HeaderList, body: bytes | str = b"", url: str = "",
            method: str = "POST") -> SignedRequest:
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    return SignedRequest(method, url, pairs, data)


def vector_request(vector: dict[str, Any]) -> SignedRequest:
    return request(vector["headers"], vector["body"], vector["url"] or "")


def assert_no_secret(result: Any, secret: str) -> None:
    for value in (result.reason, result.header, result.received, result.expected):
        assert secret not in value


# -- the shared vectors and Connectly's fixtures ------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_pinned(vector: dict[str, Any]) -> None:
    result = check(vector_request(vector), Secrets(default=vector["secret"]),
                   vector["provider"], now=vector["now"] or NOW)
    assert result.ok is vector["expected_valid"], result.reason
    assert result.provider == vector["provider"]
    assert result.reason and result.expected
    assert_no_secret(result, vector["secret"])


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_detected(vector: dict[str, Any]) -> None:
    result = check(vector_request(vector), Secrets(default=vector["secret"]),
                   now=vector["now"] or NOW)
    assert result.provider == vector["provider"]
    assert result.ok is vector["expected_valid"], result.reason


@pytest.mark.parametrize("case", CONNECTLY["events"], ids=[e["name"] for e in CONNECTLY["events"]])
def test_connectly_fixture(case: dict[str, Any]) -> None:
    result = check(request(case["headers"], case["body"]), Secrets(default=CONNECTLY["secret"]))
    assert result.verdict.value == case["expected"], result.reason
    if case["expected"] != "unsigned":
        assert result.provider == "connectly"


def test_unsigned_and_no_secret() -> None:
    plain = check(request({"content-type": "application/json"}, "{}"), Secrets(default="s"))
    assert plain.verdict is Verdict.UNSIGNED and plain.provider == ""
    github = request({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "{}")
    missing = check(github, Secrets())
    assert missing.verdict is Verdict.NO_SECRET and "GitHub" in missing.reason
    pinned = check(github, Secrets(default="s"), "stripe")
    assert pinned.verdict is Verdict.UNSIGNED and pinned.provider == "stripe"


def test_svix_and_standard_webhooks_are_told_apart_by_header_names() -> None:
    svix = request({"svix-id": "m", "svix-timestamp": "1", "svix-signature": "v1,x"})
    standard = request({"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,x"})
    both = request([*svix.headers, *standard.headers])
    assert [getattr(detect(r), "name", None) for r in (svix, standard, both)] == [
        "svix", "standard-webhooks", "svix"]


def test_stripe_any_v1_passes_and_future_timestamps_are_fine() -> None:
    secret, body = "whsec_rotate", b'{"id":"evt_1"}'
    good = hmac.new(secret.encode(), b"1700000000." + body, "sha256").hexdigest()
    header = f"t=1700000000,v1={'ab' * 32},v1={good}"
    result = check(request({"Stripe-Signature": header}, body), Secrets(secret), now=NOW - 3600)
    assert result.ok, result.reason


def test_twilio_accepts_the_url_with_or_without_its_default_port() -> None:
    token, params = "12345", "Digits=1234&To=%2B1800"
    for signed, seen in (("https://example.com/hook", "https://example.com:443/hook"),
                         ("https://example.com:443/hook", "https://example.com/hook"),
                         ("http://example.com/hook", "http://example.com:80/hook")):
        message = signed + "Digits1234To+1800"
        sig = base64.b64encode(hmac.new(token.encode(), message.encode(), "sha1").digest())
        req = request({"X-Twilio-Signature": sig.decode(),
                       "Content-Type": "application/x-www-form-urlencoded"}, params, seen)
        assert check(req, Secrets(token)).ok, (signed, seen)


def test_twilio_uses_the_forwarded_scheme_and_host() -> None:
    token = "12345"
    public = "https://abc.tunnel.example/hook"
    sig = base64.b64encode(hmac.new(token.encode(), public.encode(), "sha1").digest()).decode()
    req = request({"X-Twilio-Signature": sig, "X-Forwarded-Proto": "https",
                   "X-Forwarded-Host": "abc.tunnel.example"}, b"", "http://127.0.0.1:8765/hook",
                  method="GET")
    assert check(req, Secrets(token)).ok


def test_twilio_without_a_url_says_so() -> None:
    result = check(request({"X-Twilio-Signature": "AAAA"}, "a=1"), Secrets("t"))
    assert result.verdict is Verdict.INVALID and "--public-url" in result.reason


def test_twilio_json_body_must_match_body_sha256() -> None:
    vector = next(v for v in VECTORS if v["id"] == "twilio-json-bodySHA256")
    req = request(vector["headers"], vector["body"].replace("true", "false"), vector["url"])
    result = check(req, Secrets(vector["secret"]))
    assert not result.ok
    assert "bodySHA256 is not the SHA-256 of the body" in result.reason


# -- generic HMAC --------------------------------------------------------------------------------


def test_generic_hmac_with_template_timestamp_and_prefix() -> None:
    spec = HmacSpec(header="X-Zm-Signature", prefix="v0=", template="v0:{timestamp}:{body}",
                    timestamp_header="X-Zm-Request-Timestamp")
    body = b'{"event":"meeting.started"}'
    sig = hmac.new(b"zoom-secret", b"v0:1700000000:" + body, "sha256").hexdigest()
    req = request({"X-Zm-Signature": f"v0={sig}", "X-Zm-Request-Timestamp": "1700000000"}, body)
    provider = Generic(spec)
    assert check(req, Secrets("zoom-secret"), provider, now=NOW + 10).ok
    late = check(req, Secrets("zoom-secret"), provider, now=NOW + 412)
    assert "timestamp is 412 s old (tolerance 300 s)" in late.reason
    missing = check(request({"X-Zm-Signature": f"v0={sig}"}, body), Secrets("s"), provider)
    assert missing.verdict is Verdict.INVALID and "X-Zm-Request-Timestamp" in missing.reason
    unsigned = check(request({}, body), Secrets("s"), provider)
    assert unsigned.verdict is Verdict.UNSIGNED and "X-Zm-Signature" in unsigned.reason


def test_generic_template_covers_id_url_and_any_header() -> None:
    spec = HmacSpec(header="Sig", algorithm="sha512", encoding="base64", id_header="Msg-Id",
                    template="{id}|{url}|{header:X-Account}|{body}")
    req = request({"Msg-Id": "42", "X-Account": "acme"}, b"hi", "https://h/p")
    message = b"42|https://h/p|acme|hi"
    sig = base64.b64encode(hmac.new(b"k", message, "sha512").digest()).decode()
    signed = request([*req.headers, ("Sig", sig)], b"hi", "https://h/p")
    assert check(signed, Secrets("k"), Generic(spec)).ok


def test_generic_spec_problems_name_the_field() -> None:
    spec = HmacSpec(header="", algorithm="md5", encoding="b32", template="{body}{nope}",
                    tolerance=-1)
    fields = [name for name, _ in spec.problems()]
    assert fields == ["header", "algorithm", "encoding", "tolerance", "template"]
    assert HmacSpec(header="S", template="{timestamp}").problems() == [
        ("template", "uses {timestamp} but timestamp_header is not set")]


# -- sign → verify -----------------------------------------------------------------------------


URL_SIGNED = ("twilio", "square", "hubspot")  # these sign the URL the sender called
SIGNERS: list[tuple[str, Any, str, str]] = [
    # (label, provider, secret, url)
    *[(name, provider, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "")
      for name, provider in PROVIDERS.items() if name not in URL_SIGNED and provider.resignable],
    ("square", PROVIDERS["square"], "sq-signature-key", "https://example.com/square"),
    ("hubspot", PROVIDERS["hubspot"], "hs-client-secret", "https://example.com/hs?a=%3A"),
    ("twilio-form", PROVIDERS["twilio"], "auth-token", "https://example.com/sms?x=1"),
    ("generic", Generic(HmacSpec(header="X-Sig", prefix="sha1=", algorithm="sha1",
                                 template="{timestamp}.{body}", timestamp_header="X-Ts")), "k",
     ""),
]


@pytest.mark.parametrize(("label", "provider", "secret", "url"), SIGNERS,
                         ids=[s[0] for s in SIGNERS])
def test_sign_then_verify(label: str, provider: Any, secret: str, url: str) -> None:
    original = request({"Content-Type": "application/x-www-form-urlencoded",
                        "webhook-id": "msg_1", "svix-id": "msg_1"}, "a=1&b=%2B2", url)
    headers = provider.sign(original, secret, NOW)
    assert headers and all(isinstance(n, str) and isinstance(v, str) for n, v in headers)
    signed = request([*original.headers, *headers], original.body, url)
    result = provider.verify(signed, (secret,), NOW + 5)
    assert result.ok, result.reason
    assert_no_secret(result, secret)
    tampered = request(signed.headers, original.body + b"&c=3", url)
    assert not provider.verify(tampered, (secret,), NOW + 5).ok


def test_twilio_sign_needs_a_url() -> None:
    with pytest.raises(ValueError, match="URL"):
        Twilio().sign(request({}, "a=1"), "t", NOW)


# -- hostile input -------------------------------------------------------------------------------

HOSTILE_VALUES = [
    "t=17é,v1=ümlaut\u00ff\x00",  # non-ASCII and NUL (latin-1 decoded bytes)
    "v1," + "A" * 100_000,  # 100 KB
    ",".join(["t=1700000000"] + ["v1=" + "ab" * 32] * 1000),  # 1000 v1 entries
    " ".join(["v1,AAAA"] * 1000),
    "sha256=zz==!!", "v0=%%%", "v1,@@@@", "===", "", ",,,", "t=,v1=", "=",
    "t=99999999999999999999999999,v1=" + "0" * 64,
]


@pytest.mark.parametrize("name", [n for n, p in PROVIDERS.items() if p.signature_headers])
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_hostile_headers_never_raise(name: str, value: str) -> None:
    provider = PROVIDERS[name]
    headers = {h: value for h in provider.signature_headers}
    headers.update({"X-Slack-Request-Timestamp": value, "webhook-id": value, "svix-id": value,
                    "webhook-timestamp": value, "svix-timestamp": value,
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Content-Encoding": "gzip"})
    for url in ("", "https://[::1/x", "http://h:99999999/", "https://example.com/?bodySHA256=zz"):
        result = provider.verify(request(headers, b"\x1f\x8b" + value.encode("latin-1")[:50], url),
                                 ("secret",), NOW)
        assert result.verdict is Verdict.INVALID
        assert not result.reason.startswith("verifier error")


_NAMES = st.sampled_from([h for p in PROVIDERS.values() for h in p.signature_headers] + [
    "X-Slack-Request-Timestamp", "webhook-id", "webhook-timestamp", "svix-id", "svix-timestamp",
    "Content-Type", "Content-Encoding", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Other"])
_LATIN1 = st.text(st.characters(max_codepoint=0xFF), max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.tuples(_NAMES, _LATIN1 | st.sampled_from(["v1,", "t=1,v1=", "gzip"])),
                     max_size=6),
    body=st.binary(max_size=300),
    secret=st.none() | st.just("") | st.text(max_size=30).map(lambda s: "secret-" + s),
    provider=st.none() | st.sampled_from(list(PROVIDERS)),
    url=st.sampled_from(["", "https://example.com/h?bodySHA256=ab", "http://x:80/"]),
    now=st.floats(min_value=0, max_value=4e9),
)
def test_check_never_raises_and_is_deterministic(
    headers: HeaderList, body: bytes, secret: str | None, provider: str | None, url: str,
    now: float,
) -> None:
    req = request(headers, body, url)
    first = check(req, Secrets(secret), provider, now)
    assert not first.reason.startswith("verifier error"), first.reason
    assert check(req, Secrets(secret), provider, now) == first
    if secret and not any(secret in value for _, value in headers):
        assert secret not in first.reason + first.expected


# -- kind and summary per provider ---------------------------------------------------------------


def analyzed(headers: dict[str, str], body: str) -> tuple[str, str, str]:
    event = Event(new_id(), NOW, "POST", "/hook", "", list(headers.items()), body.encode())
    Analyzer(Secrets("s")).analyze(event)
    return event.provider, event.kind, event.summary


@pytest.mark.parametrize(("headers", "body", "expected"), [
    ({"X-Hub-Signature-256": "sha256=00", "X-GitHub-Event": "pull_request"},
     json.dumps({"action": "opened", "repository": {"full_name": "o/r"},
                 "pull_request": {"title": "Fix it\nbody"}}),
     ("github", "pull_request.opened", "o/r · Fix it")),
    ({"Stripe-Signature": "t=1,v1=00"},
     json.dumps({"id": "evt_1", "type": "charge.succeeded", "data": {"object": {"id": "ch_1"}}}),
     ("stripe", "charge.succeeded", "evt_1 · ch_1")),
    ({"X-Shopify-Hmac-Sha256": "AA==", "X-Shopify-Topic": "orders/create",
      "X-Shopify-Shop-Domain": "shop.myshopify.com"}, json.dumps({"id": 1, "name": "#1001"}),
     ("shopify", "orders/create", "shop.myshopify.com · #1001")),
    ({"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "1",
      "Content-Type": "application/x-www-form-urlencoded"},
     "command=%2Fdeploy&text=prod&user_name=ana", ("slack", "command", "ana · /deploy prod")),
    ({"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "1"},
     json.dumps({"type": "event_callback", "event": {"type": "app_mention", "user": "U1",
                                                     "text": "hi"}}),
     ("slack", "app_mention", "U1 · hi")),
    ({"webhook-id": "msg_9", "webhook-timestamp": "1", "webhook-signature": "v1,AA=="},
     json.dumps({"type": "invoice.paid"}), ("standard-webhooks", "invoice.paid", "msg_9")),
    ({"svix-id": "msg_8", "svix-timestamp": "1", "svix-signature": "v1,AA=="},
     json.dumps({"type": "user.created"}), ("svix", "user.created", "msg_8")),
    ({"X-Twilio-Signature": "AA==", "Content-Type": "application/x-www-form-urlencoded"},
     "MessageStatus=undelivered&From=%2B1555&To=%2B1666&ErrorCode=30003",
     ("twilio", "message_status", "undelivered: +1555 → +1666 (error 30003)")),
    ({"X-Twilio-Signature": "AA==", "Content-Type": "application/x-www-form-urlencoded"},
     "SmsStatus=received&Body=Hello+there&From=%2B1555&To=%2B1666",
     ("twilio", "message", '+1555 → +1666 "Hello there"')),
    ({"X-Twilio-Signature": "AA==", "Content-Type": "application/x-www-form-urlencoded"},
     "CallStatus=ringing&From=%2B1555&To=%2B1666", ("twilio", "call", "ringing: +1555 → +1666")),
])
def test_kind_and_summary(headers: dict[str, str], body: str,
                          expected: tuple[str, str, str]) -> None:
    assert analyzed(headers, body) == expected


def test_expected_is_the_value_computed_with_the_secret() -> None:
    body = b'{"id":1}'
    result = check(request({"X-Shopify-Hmac-Sha256": "AAAA"}, body), Secrets("shop-secret"))
    digest = hmac.new(b"shop-secret", body, hashlib.sha256).digest()
    assert result.expected == base64.b64encode(digest).decode()
    assert result.received == "AAAA" and result.header == "X-Shopify-Hmac-Sha256"
