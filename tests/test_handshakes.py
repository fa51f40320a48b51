"""Provider handshakes (core/capture/handshakes.py), over real HTTP into the real receiver,
`serve` and the TUI: each answer checked the way its provider checks it, the Zoom HMAC
oracle refused, forged Discord requests 401, a wrong Meta token 403, --no-handshakes, and
the fast path kept when nothing could be answered."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from discord_interactions import InteractionResponseType, InteractionType, verify_key
from slack_sdk.signature import SignatureVerifier

from inspector.core.model import Event
from inspector.core.rules.rule import rule_from_text
from inspector.core.session import Session
from inspector.core.settings import OptionError, Settings, apply_options
from inspector.core.signatures import Secrets
from inspector.faces.tui.widgets.detail import DetailPane
from tests.conftest import SECRET, make_runtime, make_settings, running_app, wait_for
from tests.test_injection import assert_inert, terminal_output
from tests.test_responses import running
from tests.test_serve import start

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ZOOM_SECRET = "zoom_secret_token_example"
TWITCH_SECRET = "s3cre7-twitch-eventsub-0123456789"
DISCORD_KEY = Ed25519PrivateKey.from_private_bytes(b"\x05" * 32)
DISCORD_PUBLIC = DISCORD_KEY.public_key().public_bytes_raw().hex()
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(b"\x06" * 32)
META_TOKEN = "meta-verify-4f1c9a"
ALL = {"slack": SLACK_SECRET, "zoom": ZOOM_SECRET, "twitch": TWITCH_SECRET,
       "discord": DISCORD_PUBLIC}


def receiving(tmp_path: Path, own: dict[str, str] | None = None, **overrides: Any
              ) -> AbstractAsyncContextManager[tuple[Session, httpx.AsyncClient]]:
    """The real receiver on port 0, with `own` provider secrets (plus --secret, as usual)."""
    return running(tmp_path, secrets=Secrets(SECRET, ALL if own is None else own),
                   **overrides)


def stored(runtime: Session, response: httpx.Response) -> Event:
    event = runtime.store.event_by_id(response.headers["x-inspector-event-id"])
    assert event is not None
    return event


def slack_request(challenge: str, secret: str = SLACK_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge,
                       "type": "url_verification"}).encode()
    stamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return body, {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
                  "Content-Type": "application/json"}


def zoom_request(plain_token: str, secret: str | None = ZOOM_SECRET
                 ) -> tuple[bytes, dict[str, str]]:
    """Zoom's endpoint.url_validation, signed as Zoom documents (None: unsigned)."""
    body = json.dumps({"payload": {"plainToken": plain_token}, "event_ts": 1654503849680,
                       "event": "endpoint.url_validation"}).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        stamp = str(int(time.time()))
        digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body,
                          hashlib.sha256).hexdigest()
        headers["x-zm-request-timestamp"] = stamp
        headers["x-zm-signature"] = f"v0={digest}"
    return body, headers


def twitch_request(challenge: str, secret: str = TWITCH_SECRET
                   ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"challenge": challenge, "subscription": {
        "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "channel.follow",
        "status": "webhook_callback_verification_pending", "version": "1"}}).encode()
    ident = "e76c6bd4-55c9-4987-8304-da1588d8988b"
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    digest = hmac.new(secret.encode(), ident.encode() + stamp.encode() + body,
                      hashlib.sha256).hexdigest()
    return body, {"Twitch-Eventsub-Message-Id": ident, "Twitch-Eventsub-Message-Timestamp": stamp,
                  "Twitch-Eventsub-Message-Signature": f"sha256={digest}",
                  "Twitch-Eventsub-Message-Type": "webhook_callback_verification",
                  "Content-Type": "application/json"}


def discord_request(payload: dict[str, Any], key: Ed25519PrivateKey = DISCORD_KEY
                    ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    signature = key.sign(stamp.encode() + body).hex()
    return body, {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp,
                  "Content-Type": "application/json"}


# -- each handshake, checked as its provider checks it -----------------------------------------


async def test_slack_url_verification_is_answered_with_the_challenge(tmp_path: Path) -> None:
    async with receiving(tmp_path) as (runtime, client):
        body, headers = slack_request("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        assert SignatureVerifier(SLACK_SECRET).is_valid(body, headers["X-Slack-Request-"
                                                                      "Timestamp"],
                                                        headers["X-Slack-Signature"])
        response = await client.post("/slack/events", content=body, headers=headers)
        event = stored(runtime, response)
        answers = runtime.store.answers_for([event.seq])
    # Slack: HTTP 200 whose plain-text body is the challenge.
    assert response.status_code == 200
    assert response.text == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert event.kind == "url_verification" and event.summary == "Slack endpoint check"
    assert answers[event.seq].body == response.content  # what the sender got, stored
    assert event.answer_note == "answered Slack's url_verification"


async def test_zoom_url_validation_gets_the_tokens_hmac(tmp_path: Path) -> None:
    async with receiving(tmp_path) as (runtime, client):
        body, headers = zoom_request("qgg8vlvZRS6UYooatFL8Aw")
        response = await client.post("/zoom", content=body, headers=headers)
        event = stored(runtime, response)
    assert response.status_code == 200
    expected = hmac.new(ZOOM_SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw",
                        hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                               "encryptedToken": expected}
    assert event.verdict == "valid" and event.kind == "endpoint.url_validation"
    assert event.answer_note.startswith("answered Zoom's endpoint.url_validation")


async def test_zoom_validation_with_a_rotated_secret_uses_the_one_that_verified(
        tmp_path: Path) -> None:
    own = {**ALL, "zoom": ("old-zoom-secret-token", ZOOM_SECRET)}
    runtime = make_runtime(make_settings(tmp_path, secrets=Secrets(SECRET, own)))
    await runtime.start()
    await wait_for(lambda: runtime._running and runtime._running.server.started)
    try:
        body, headers = zoom_request("tok")
        async with httpx.AsyncClient() as client:
            response = await client.post(runtime.url + "z", content=body, headers=headers)
    finally:
        await runtime.stop()
    assert response.json()["encryptedToken"] == hmac.new(
        ZOOM_SECRET.encode(), b"tok", hashlib.sha256).hexdigest()


async def test_zoom_is_never_an_hmac_oracle(tmp_path: Path) -> None:
    """An attacker asks for HMAC(secret, "v0:{ts}:{forged body}"): that is a valid Zoom
    signature for the forged body. Unsigned, badly signed, or with no verdict possible, the
    inspector must not compute it."""
    stamp = str(int(time.time()))
    forged = '{"event":"meeting.deleted","payload":{"object":{"id":"1"}}}'
    plain = f"v0:{stamp}:{forged}"
    oracle = hmac.new(ZOOM_SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
    attempts = {
        "unsigned": (zoom_request(plain, None), "it is unsigned"),
        "invalid": (zoom_request(plain, "not-the-secret-token"), "the signature is invalid"),
    }
    async with receiving(tmp_path) as (runtime, client):
        for name, ((body, headers), why) in attempts.items():
            response = await client.post("/zoom", content=body, headers=headers)
            event = stored(runtime, response)
            assert oracle not in response.text, name
            assert "encryptedToken" not in response.text, name
            assert response.json() == {"ok": True, "id": event.id}, name
            assert event.answer_note == f"Zoom's endpoint.url_validation not answered: {why}"
    # No verdict possible (no Zoom secret, handshakes armed by another provider's): refused.
    async with receiving(tmp_path / "b", {"slack": SLACK_SECRET}) as (runtime, client):
        body, headers = zoom_request(plain)
        response = await client.post("/zoom", content=body, headers=headers)
        event = stored(runtime, response)
    assert event.verdict != "valid"
    assert oracle not in response.text and "encryptedToken" not in response.text
    assert "not answered" in event.answer_note


async def test_twitch_callback_verification_returns_the_raw_challenge(tmp_path: Path) -> None:
    challenge = "pogchamp-kappa-360noscope-vohiyo"
    async with receiving(tmp_path) as (runtime, client):
        body, headers = twitch_request(challenge)
        response = await client.post("/twitch", content=body, headers=headers)
        event = stored(runtime, response)
        forged_body, forged = twitch_request(challenge, "wrong-secret-0123456789")
        refused = await client.post("/twitch", content=forged_body, headers=forged)
        refused_event = stored(runtime, refused)
    # Twitch: 200, text/plain, the challenge exactly.
    assert response.status_code == 200 and response.content == challenge.encode()
    assert response.headers["content-type"].startswith("text/plain")
    assert event.kind == "webhook_callback_verification" and event.summary == "channel.follow"
    assert event.answer_note.startswith("answered Twitch's webhook_callback_verification")
    assert challenge not in refused.text and refused.json()["ok"] is True
    assert refused_event.answer_note == (
        "Twitch's webhook_callback_verification not answered: the signature is invalid")


async def test_discord_ping_pongs_and_a_forged_request_gets_401(tmp_path: Path) -> None:
    async with receiving(tmp_path) as (runtime, client):
        body, headers = discord_request({"id": "1", "application_id": "2",
                                         "type": InteractionType.PING, "token": "t",
                                         "version": 1})
        assert verify_key(body, headers["X-Signature-Ed25519"],
                          headers["X-Signature-Timestamp"], DISCORD_PUBLIC)
        pong = await client.post("/interactions", content=body, headers=headers)
        ping_event = stored(runtime, pong)
        forged_body, forged = discord_request({"type": 1}, OTHER_KEY)
        assert not verify_key(forged_body, forged["X-Signature-Ed25519"],
                              forged["X-Signature-Timestamp"], DISCORD_PUBLIC)
        refused = await client.post("/interactions", content=forged_body, headers=forged)
        refused_event = stored(runtime, refused)
        command_body, command = discord_request({"type": 2, "data": {"name": "hello"}})
        normal = await client.post("/interactions", content=command_body, headers=command)
        odd_body, odd = discord_request({"type": True})  # true == 1 in Python: not a PING
        odd_response = await client.post("/interactions", content=odd_body, headers=odd)
    assert pong.status_code == 200
    assert pong.json() == {"type": InteractionResponseType.PONG}
    assert pong.headers["content-type"] == "application/json"
    assert ping_event.kind == "ping" and ping_event.answer_note.startswith("answered Discord")
    assert refused.status_code == 401 and refused_event.status == 401
    assert refused_event.answer_note.startswith("answered 401: the Discord signature")
    assert normal.status_code == 200 and normal.json()["ok"] is True  # not a handshake
    assert odd_response.json()["ok"] is True


async def test_discord_forgeries_are_not_refused_without_a_usable_public_key(
        tmp_path: Path) -> None:
    async with receiving(tmp_path, {"slack": SLACK_SECRET}) as (_, client):
        body, headers = discord_request({"type": 1}, OTHER_KEY)
        response = await client.post("/interactions", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["ok"] is True


async def test_meta_verification_needs_the_configured_token(tmp_path: Path) -> None:
    async with receiving(tmp_path, {}, meta_verify_tokens=(META_TOKEN,)) as (runtime, client):
        assert runtime.receiver.respond is not None  # a token arms the handshakes
        good = await client.get("/whatsapp", params={
            "hub.mode": "subscribe", "hub.verify_token": META_TOKEN,
            "hub.challenge": "1158201444"})
        good_event = stored(runtime, good)
    # Meta: 200 with the challenge as the body.
    assert good.status_code == 200 and good.text == "1158201444"
    assert good_event.kind == "verification"
    assert good_event.answer_note == "answered Meta's hub.mode=subscribe verification"


async def test_a_wrong_meta_token_gets_403_and_ours_is_never_stored(tmp_path: Path) -> None:
    async with receiving(tmp_path, {}, meta_verify_tokens=(META_TOKEN,)) as (runtime, client):
        bad = await client.get("/whatsapp", params={
            "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"})
        bad_event = stored(runtime, bad)
    assert bad.status_code == 403 and "42" not in bad.text
    assert bad_event.status == 403
    assert "hub.verify_token is not the one" in bad_event.answer_note
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"guess" in written  # what arrived is kept...
    assert META_TOKEN.encode() not in written  # ...and the configured token never is


async def test_a_hostile_meta_query_is_recorded_not_answered(tmp_path: Path) -> None:
    crowded = "&".join(f"f{n}=1" for n in range(150))
    async with receiving(tmp_path, {}, meta_verify_tokens=(META_TOKEN,)) as (runtime, client):
        response = await client.get(f"/w?hub.mode=subscribe&hub.verify_token={META_TOKEN}"
                                    f"&hub.challenge=7&{crowded}")
        twice = await client.get(f"/w?hub.mode=subscribe&hub.verify_token={META_TOKEN}"
                                 "&hub.challenge=7&hub.challenge=8")
        event = stored(runtime, twice)
    assert response.status_code == 200 and response.json()["ok"] is True
    assert twice.json()["ok"] is True and "no single hub.challenge" in event.answer_note


async def test_meta_check_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    async with receiving(tmp_path, {"slack": SLACK_SECRET}) as (runtime, client):
        response = await client.get("/w?hub.mode=subscribe&hub.verify_token=x&hub.challenge=7")
        event = stored(runtime, response)
    assert response.json()["ok"] is True
    assert event.answer_note == ("Meta's hub.mode=subscribe verification not answered: no "
                                 "verify token is set (--meta-verify-token or "
                                 "META_VERIFY_TOKEN)")


# -- order, switches and the fast path ----------------------------------------------------------


async def test_a_handshake_beats_the_policy_and_rules_for_deliveries_but_not_a_rule_naming_it(
        tmp_path: Path) -> None:
    policy = apply_options(Settings(), status=500, delay=30, reject_invalid=True).policy
    async with receiving(tmp_path, policy=policy) as (runtime, client):
        runtime.put_rule(rule_from_text('name = "all down"\npath = "/*"\nrespond = 503\n'
                                        'delay = 0\n', number=1))
        runtime.set_breakpoint(True)
        body, headers = slack_request("abc")
        # Held 25 s or delayed 30 s, this would time out (httpx waits 5 s).
        answered = await client.post("/slack", content=body, headers=headers)
        runtime.set_breakpoint(False)
        delivery = await client.post("/slack", content=b"{}")
        runtime.put_rule(rule_from_text('name = "fail slack"\nkind = "url_verification"\n'
                                        'respond = 418\n', number=1), 0)
        body, headers = slack_request("def")
        ruled = await client.post("/slack", content=body, headers=headers)
        ruled_event = stored(runtime, ruled)
    assert answered.status_code == 200 and answered.text == "abc"  # no hold, no delay
    assert delivery.status_code == 503  # deliveries still get the rule
    assert ruled.status_code == 418 and ruled.text != "def"
    assert ruled_event.rule == "fail slack"


async def test_no_handshakes_turns_them_off(tmp_path: Path) -> None:
    async with receiving(tmp_path, handshakes=False,
                         meta_verify_tokens=(META_TOKEN,)) as (runtime, client):
        assert runtime.receiver.respond is None and not runtime.responder.active
        body, headers = slack_request("abc")
        response = await client.post("/slack", content=body, headers=headers)
        meta = await client.get(f"/w?hub.mode=subscribe&hub.verify_token={META_TOKEN}"
                                "&hub.challenge=7")
    assert response.json()["ok"] is True and meta.json()["ok"] is True


async def test_without_provider_secrets_the_receiver_keeps_its_fast_path(
        tmp_path: Path) -> None:
    """--secret alone (Connectly's, usually) does not arm handshakes; a Slack secret set
    while running does."""
    async with receiving(tmp_path, {}) as (runtime, client):
        assert runtime.handshakes is not None and not runtime.handshakes.armed
        assert not runtime.responder.active and runtime.receiver.respond is None
        body, headers = slack_request("abc", SECRET)
        plain = await client.post("/slack", content=body, headers=headers)
        runtime.set_secret("slack", SLACK_SECRET)
        assert runtime.receiver.respond is not None
        body, headers = slack_request("xyz")
        answered = await client.post("/slack", content=body, headers=headers)
    assert plain.json()["ok"] is True
    assert answered.text == "xyz"


def test_settings_read_the_switch_and_the_token(tmp_path: Path) -> None:
    env = {"META_VERIFY_TOKEN": META_TOKEN}
    settings = Settings.build(environ=env, db=":memory:")
    assert settings.handshakes and settings.meta_verify_tokens == (META_TOKEN,)
    assert META_TOKEN in settings.secret_values()  # redacted wherever text is printed
    assert META_TOKEN not in repr(settings)
    assert not Settings.build(environ=env, db=":memory:", no_handshakes=True).handshakes
    flag = Settings.build(environ=env, db=":memory:", meta_verify_token=["other"])
    assert flag.meta_verify_tokens == ("other",)
    with pytest.raises(OptionError) as bad:
        Settings.build(environ={}, db=":memory:", meta_verify_token=["a\x1bb"])
    assert bad.value.option == "--meta-verify-token"
    config = tmp_path / "inspector.toml"
    config.write_text('handshakes = false\n\n[[route]]\npath = "/x"\n')
    assert not Settings.build(environ={}, db=":memory:", config=str(config)).handshakes
    config.write_text('handshakes = "no"\n')
    with pytest.raises(OptionError, match="handshakes must be true or false"):
        Settings.build(environ={}, db=":memory:", config=str(config))


# -- the faces ------------------------------------------------------------------------------


def test_serve_answers_handshakes_and_never_prints_the_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("META_VERIFY_TOKEN", META_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SLACK_SECRET)
    proc, base = start(tmp_path)
    try:
        body, headers = slack_request("from-serve")
        slack = httpx.post(base + "/slack", content=body, headers=headers)
        meta = httpx.get(base + "/w", params={"hub.mode": "subscribe",
                                              "hub.verify_token": "wrong",
                                              "hub.challenge": "9"})
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert slack.status_code == 200 and slack.text == "from-serve"
    assert meta.status_code == 403
    assert "url_verification" in out and "Slack endpoint check" in out
    assert META_TOKEN not in out + err and "Traceback" not in err


def test_serve_no_handshakes_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SLACK_SECRET)
    proc, base = start(tmp_path, "--no-handshakes")
    try:
        body, headers = slack_request("nope")
        slack = httpx.post(base + "/slack", content=body, headers=headers)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert slack.status_code == 200 and slack.json()["ok"] is True


async def test_tui_shows_the_answered_handshake_and_keeps_the_challenge_inert(
        tmp_path: Path) -> None:
    secrets = Secrets(SECRET, {"slack": SLACK_SECRET})
    async with running_app(tmp_path, secrets=secrets) as (app, _, base), \
            httpx.AsyncClient() as client:
        body, headers = slack_request("\x1b]0;pwned\x07\x1b[31mred")
        response = await client.post(base + "/slack", content=body, headers=headers)
        assert response.content == b"\x1b]0;pwned\x07\x1b[31mred"  # as Slack sent it
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None, what="the detail")
        await wait_for(lambda: "answered Slack's url_verification" in
                       terminal_output(app)[1], what="the answer's note in the Overview")
        raw, text = terminal_output(app)
    assert "url_verification" in text
    assert_inert(raw)
