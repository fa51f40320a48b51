"""The session owns the running inspector and its live state; faces hear it through one sink.
Settings are built once, from the options and the environment, and never change."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx
import pytest

from inspector.core.capture.answers import DEFAULT_POLICY, build_policy
from inspector.core.capture.tunnel import DOWN, UP, TunnelState
from inspector.core.model import Attempt
from inspector.core.settings import OptionError, Settings, read_secrets, secret_from_env
from inspector.core.signatures import mask
from tests.conftest import SECRET, Heard, connectly_event, make_runtime, make_settings, wait_for
from tests.reliability.test_db_faults import write_lock

ENV = {
    "CONNECTLY_WEBHOOK_SECRET": "connectly-secret-from-env",
    "STRIPE_WEBHOOK_SECRET": "whsec_stripe-from-env",
    "CONNECTLY_BUSINESS_ID": "biz-7",
    "CONNECTLY_API_KEY": "connectly-api-key-from-env",
    "ROUTE_SECRET": "route-secret-from-env",
}


def test_settings_come_from_the_options_and_the_environment_given(tmp_path: Path) -> None:
    config = tmp_path / "routes.toml"
    config.write_text('[[route]]\npath = "/r"\nprovider = "github"\nsecret_env = "ROUTE_SECRET"\n')
    settings = Settings.build(environ=ENV, db=str(tmp_path / "e.db"), config=str(config),
                              provider_secrets=["slack=slack-flag"], status=503,
                              tunnel="cloudflared", forward_to="http://localhost:3000/")
    assert settings.secrets.default == ("connectly-secret-from-env",)
    assert settings.secrets.by_provider == {"stripe": ("whsec_stripe-from-env",),
                                            "connectly": ("connectly-secret-from-env",),
                                            "slack": ("slack-flag",)}
    assert [r.secrets for r in settings.routes] == [("route-secret-from-env",)]
    assert (settings.connectly_business_id, settings.connectly_api_key) == (
        "biz-7", "connectly-api-key-from-env")
    assert settings.policy.status == 503 and settings.tunnel is not None
    assert settings.forward_to == "http://localhost:3000/"
    assert "routes.toml" in settings.config_note
    for secret in (*ENV.values(), "slack-flag"):
        if "secret" in secret or "key" in secret or "flag" in secret:
            assert secret not in repr(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.host = "0.0.0.0"  # type: ignore[misc]


def test_the_environment_is_read_only_where_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    empty = Settings.build(environ={}, db=":memory:")
    assert empty.secrets.default == () and not empty.secrets.by_provider
    assert not empty.connectly_api_key and not empty.connectly_business_id
    assert secret_from_env({}) is None
    assert secret_from_env() == "connectly-secret-from-env"  # os.environ when not given
    assert Settings.build(db=":memory:").connectly_business_id == "biz-7"


@pytest.mark.parametrize(("options", "flag"), [
    ({"provider_secrets": ["paypal=x"]}, "--provider-secret"),
    ({"replay_to": "ftp://x"}, "--replay-to"),
    ({"tunnel": "teleport"}, "--tunnel"),
    ({"config": "/nonexistent/inspector.toml"}, "--config"),
    ({"respond_with_downstream": True}, "--respond-with-downstream"),
])
def test_a_bad_option_names_its_flag(options: dict[str, object], flag: str) -> None:
    with pytest.raises(OptionError) as caught:
        Settings.build(environ={}, db=":memory:", **options)  # type: ignore[arg-type]
    assert caught.value.option == flag
    with pytest.raises(OptionError):
        read_secrets(None, ["nonsense"], {})


async def test_live_state_changes_while_the_settings_stay(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, connectly_api_key="a-key-for-the-live-state-test")
    session = make_runtime(settings, listen=False)
    try:
        session.set_secret("stripe", "whsec_set_in_the_tui")
        assert session.live.secrets.for_provider("stripe") == ("whsec_set_in_the_tui",)
        assert "stripe" not in settings.secrets.by_provider  # how it started, still
        assert "whsec_set_in_the_tui" in session.secret_values()  # redact watches these
        assert "whsec_set_in_the_tui" not in repr(session.live)
        assert "a-key-for-the-live-state-test" not in repr(session.live)
        session.set_policy(build_policy(status=500))
        assert session.live.policy.status == 500 and settings.policy == DEFAULT_POLICY
        session.store.start()
        assert await session.remember_target("http://localhost:9/")
        assert not await session.remember_target("http://localhost:9/")
        session._tunnel_changed(TunnelState("cloudflared", UP, "https://a.trycloudflare.com"))
        assert session.live.public_url == "https://a.trycloudflare.com"
        session._tunnel_changed(TunnelState("cloudflared", DOWN, reason="gone"))
        assert session.live.public_url == ""
    finally:
        session.close()
    again = make_runtime(settings, listen=False)
    try:
        assert again.live.replay_target == "http://localhost:9/"  # remembered in the store
        assert again.live.secrets.for_provider("stripe") == (SECRET,)  # a new session: settings
    finally:
        again.close()
    pinned = make_runtime(make_settings(tmp_path / "p", public_url="https://mine.example"),
                          listen=False)
    try:
        pinned._tunnel_changed(TunnelState("cloudflared", UP, "https://a.trycloudflare.com"))
        assert pinned.live.public_url == "https://mine.example"  # --public-url wins
    finally:
        pinned.close()


async def test_a_sink_hears_commits_attempts_failures_recovery_and_notices(
        tmp_path: Path) -> None:
    case = connectly_event("text")
    session = make_runtime(make_settings(tmp_path))
    heard = Heard()
    unsubscribe = session.subscribe(heard)
    await session.start()
    try:
        async with httpx.AsyncClient(base_url=session.url.rstrip("/"), timeout=30) as client:

            async def post(path: str) -> httpx.Response:
                return await client.post(path, content=case["body"].encode(),
                                         headers=case["headers"])

            first = await post("/first")
            await wait_for(lambda: heard.events, what="the first commit")
            assert [e.id for e in heard.events] == [first.json()["id"]]
            assert heard.events[0].verdict == "valid"
            with write_lock(tmp_path / "events.db"):
                assert (await post("/during")).status_code == 503
                await wait_for(lambda: heard.failures, what="the failure")
                assert heard.failures[0] is not None and "locked" in heard.failures[0]
            await post("/after")
            await wait_for(lambda: len(heard.events) == 2, what="the next commit")
            assert heard.failures[-1] is None  # stored again: said once
            attempt = Attempt(event_seq=heard.events[0].seq, kind="replay", at=time.time(),
                              method="POST", url="http://localhost:9/", status=204)
            await session.record(attempt)
            assert heard.attempts == [attempt]
            assert session.store.rows([attempt.event_seq])[attempt.event_seq].result == 204
            session.notice("something to read")
            assert heard.notices == ["something to read"] == session.notices[-1:]
            unsubscribe()
            await post("/unheard")
            await wait_for(lambda: session.store.count() == 3, what="the unheard commit")
            assert len(heard.events) == 2
    finally:
        await session.stop()


def test_secrets_never_show_in_a_mask_or_a_repr() -> None:
    settings = Settings(secrets=read_secrets("a-default-secret-value", [], {}),
                        connectly_api_key="an-api-key-value")
    assert "a-default-secret-value" not in repr(settings)
    assert "an-api-key-value" not in repr(settings)
    assert mask("a-default-secret-value") in repr(settings)
