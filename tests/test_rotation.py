"""Key rotation (issue 16): several secrets per provider, from every source; valid when any
matches, and the Signature tab says which one did, by position. Keys in the wrong format: a
clear verdict reason, a start-up error naming the flag, a warning naming the variable."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.config import ConfigError, load_routes
from inspector.core.model import Event, Verdict, new_id
from inspector.core.settings import OptionError, Settings, read_secrets, secret_warnings
from inspector.core.signatures import PROVIDERS, Secrets, SignedRequest, check, mask
from inspector.faces.cli.main import cli, open_session
from inspector.faces.tui.widgets.detail import DetailPane, signature
from tests.conftest import SECRET, connectly_event, running_app, wait_for
from tests.test_app_replay import shown

OLD = "the-old-connectly-secret"
WHPK = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="  # Svix's official v1a key


def signed_text(secret: str) -> tuple[dict[str, str], bytes]:
    case = connectly_event("text")
    body = case["body"].encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {**case["headers"], "x-connectly-hmac-sha256": base64.b64encode(digest).decode()}, body


# -- where several secrets come from -------------------------------------------------------------


def test_secrets_from_flags_variables_and_defaults() -> None:
    env = {"STRIPE_WEBHOOK_SECRET": "whsec_new  whsec_old", "INSPECTOR_SECRET": "a b",
           "GITLAB_WEBHOOK_TOKEN": "token", "GITLAB_WEBHOOK_SIGNING_TOKEN": "whsec_c2lnbg=="}
    secrets = read_secrets(None, ["slack=one", "slack=two"], env)
    assert secrets.for_provider("stripe") == ("whsec_new", "whsec_old")  # spaces separate
    assert secrets.for_provider("slack") == ("one", "two")  # repeated flags, in order
    assert secrets.for_provider("gitlab") == ("token", "whsec_c2lnbg==")  # every variable
    assert secrets.default == ("a", "b")
    # Flags for a provider replace its variables; --secret replaces the default ones.
    flagged = read_secrets("only", ["stripe=whsec_flag"], env)
    assert flagged.for_provider("stripe") == ("whsec_flag",) and flagged.default == ("only",)
    assert "whsec_old" not in repr(secrets) and "2 secrets" in repr(secrets)


def test_config_routes_list_secrets(tmp_path: Path) -> None:
    config = tmp_path / "inspector.toml"
    config.write_text('[[route]]\npath = "/a"\nprovider = "stripe"\nsecret_env = ["NEW", "OLD"]\n'
                      '\n[[route]]\npath = "/b"\nsecret = ["s1", "s2"]\n')
    first, second = load_routes(config, {"NEW": "whsec_n", "OLD": "whsec_o1 whsec_o2"})
    assert first.secrets == ("whsec_n", "whsec_o1", "whsec_o2")
    assert first.secret_env == "NEW or OLD"
    assert second.secrets == ("s1", "s2")
    config.write_text('[[route]]\npath = "/a"\nsecret = [1]\n')
    with pytest.raises(ConfigError, match=r"inspector.toml:3: route 1: secret must be a string, "
                                          r"or a list of strings"):
        load_routes(config, {})


def test_valid_when_any_secret_matches_and_it_says_which() -> None:
    headers, body = signed_text(SECRET)
    req = SignedRequest("POST", "", list(headers.items()), body)
    rotated = check(req, Secrets(default=[OLD, SECRET]))
    assert rotated.ok and rotated.which == "secret 2 of 2"
    assert rotated.reason == "HMAC-SHA256 of the body matches (secret 2 of 2)"
    single = check(req, Secrets(default=SECRET))
    assert single.ok and single.which == "" and single.reason.endswith("matches")
    neither = check(req, Secrets(default=[OLD, "another"]))
    assert neither.verdict is Verdict.INVALID and neither.secret_index == 0
    assert "does not match with any of the 2 secrets" in neither.reason
    # A cause found with one of them is named by its position, never its value.
    slip = check(req, Secrets(default=[OLD, f" {SECRET} "]))
    assert slip.reason.startswith("secret 2 of 2: secret has surrounding whitespace")
    assert SECRET not in slip.reason


def test_re_signing_uses_the_first_secret_that_can_sign() -> None:
    analyzer = Analyzer(Secrets(by_provider={"standard-webhooks": [WHPK, "whsec_c2lnbg=="]}))
    req = SignedRequest("POST", "", [("webhook-signature", "v1,x"), ("webhook-id", "m"),
                                     ("webhook-timestamp", "1")], b"{}")
    found = analyzer.resolver.resolve(req, "/")
    assert found.secret == "whsec_c2lnbg=="  # the whpk_ key only verifies
    only_public = Analyzer(Secrets(by_provider={"standard-webhooks": WHPK})).resolver
    assert only_public.resolve(req, "/").secret is None
    assert "whsk_ secret key" in PROVIDERS["standard-webhooks"].signing_fault([WHPK])


async def test_the_signature_tab_says_which_secret_matched(tmp_path: Path) -> None:
    headers, body = signed_text(SECRET)
    async with running_app(tmp_path, secrets=Secrets(default=[OLD, SECRET])) as (
            app, pilot, base), httpx.AsyncClient() as client:
        await client.post(base + "/webhooks/connectly", content=body, headers=headers)
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail, what="detail")
        await pilot.press("5")
        assert pane.detail is not None and pane.detail.check.ok
        text = shown(signature(pane.detail))
    assert f"secret 2 of 2 matched: {mask(SECRET)}" in text
    assert "(secret 2 of 2)" in text  # in the reason too
    assert SECRET not in text and OLD not in text


# -- keys in the wrong format ----------------------------------------------------------------------


@pytest.mark.parametrize(("pair", "said"), [
    ("discord=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "the public key is not hex"),
    ("discord=abcd", "is 2 bytes, not the 32 of an Ed25519 public key"),
    ("standard-webhooks=whpk_AAAA", "is 3 bytes, not the 32 of an Ed25519 public key"),
    ("standard-webhooks=whpk_not base64!", "is not base64 after whpk_"),
    ("standard-webhooks=whsk_" + base64.b64encode(b"\x01" * 40).decode(),
     "is 40 bytes, not the 32 of an Ed25519 seed"),
    ("standard-webhooks=whsec_%%%", "secret is not base64"),
    ("sendgrid=not-a-key", "is not base64"),
    ("sendgrid=" + base64.b64encode(b"\x30\x03\x02\x01\x00").decode(), "is not a public key"),
])
def test_a_flag_with_an_unusable_key_is_a_usage_error(pair: str, said: str) -> None:
    with pytest.raises(OptionError) as caught:
        read_secrets(None, [pair], {})
    assert caught.value.option == "--provider-secret" and said in str(caught.value)
    result = CliRunner().invoke(cli, ["--db", ":memory:", "--provider-secret", pair], env={})
    assert result.exit_code == 2 and "--provider-secret" in result.output
    assert said in result.output and "Traceback" not in result.output


def test_an_unusable_key_in_a_variable_warns_at_start_up(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DISCORD_PUBLIC_KEY": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
           "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whpk_not*base64"}
    warnings = secret_warnings(env)
    assert warnings == (
        "WEBHOOK_SECRET (secret 2) is not a Standard Webhooks key: the whpk_ public key is not "
        "base64 after whpk_; Standard Webhooks events will not verify until it is fixed",
        "DISCORD_PUBLIC_KEY is not a Discord key: the public key is not hex (the application's "
        "Public Key: 64 hex characters); Discord events will not verify until it is fixed")
    settings = Settings.build(environ=env, db=str(tmp_path / "e.db"), port=0)
    session = open_session(settings)
    try:
        assert [n for n in session.notices if n.startswith("warning: ")] == [
            f"warning: {w}" for w in warnings]
    finally:
        session.close()
    assert "DISCORD_PUBLIC_KEY is not a Discord key" in capsys.readouterr().err


def test_a_route_with_an_unusable_key_names_its_line_and_variable(tmp_path: Path) -> None:
    config = tmp_path / "inspector.toml"
    config.write_text('[[route]]\npath = "/d"\nprovider = "discord"\n'
                      'secret_env = "DISCORD_KEY"\n')
    with pytest.raises(ConfigError) as caught:
        load_routes(config, {"DISCORD_KEY": "zz"})
    assert str(caught.value).endswith(
        "inspector.toml:4: route 1: secret_env gives a secret Discord cannot use "
        "(DISCORD_KEY): secret 1: the public key is not hex (the application's Public Key: "
        "64 hex characters)")


@pytest.mark.parametrize(("provider", "secret", "said"), [
    ("discord", "not-hex", "the public key is not hex"),
    ("sendgrid", "AAAA", "the verification key is not a public key"),
    ("standard-webhooks", "whpk_AAAA", "the whpk_ public key is 3 bytes"),
])
def test_an_unusable_key_is_the_verdict_reason(provider: str, secret: str, said: str) -> None:
    headers = {"X-Signature-Ed25519": "00" * 64, "X-Signature-Timestamp": "1",
               "X-Twilio-Email-Event-Webhook-Signature": "AAAA",
               "X-Twilio-Email-Event-Webhook-Timestamp": "1",
               "webhook-signature": "v1a," + base64.b64encode(bytes(64)).decode(),
               "webhook-id": "m", "webhook-timestamp": "1"}
    event = Event(new_id(), 1.0, "POST", "/", "", list(headers.items()), b"{}")
    result = Analyzer(Secrets(by_provider={provider: secret})).verify(event, provider)
    assert result.verdict is Verdict.INVALID and said in result.reason
