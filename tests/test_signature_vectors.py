"""Issue 16's providers, and rotation: each vector through the library and `inspector verify`.

tests/fixtures/signatures.json holds, for every provider added in issue 16, the providers'
official test vectors where they publish any (the SDKs' own test suites, their docs), and
vectors constructed from the documented algorithm where they do not; each says which in its
`origin`. `secret` is one secret or a list (a rotation); `which` is the secret that must
match, by position; `reason` a phrase the verdict's reason must contain; `detected` the
provider told from the request alone, when it is not the pinned one (Svix-branded senders
look alike unless the body says).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.core.signatures import Secrets, SignedRequest, check
from inspector.faces.cli.commands.verify import verify

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures/signatures.json").read_text("utf-8"))
IDS = [v["id"] for v in VECTORS]
NOW = 1_700_000_000


def secrets_of(vector: dict[str, Any]) -> list[str]:
    secret = vector["secret"]
    return [secret] if isinstance(secret, str) else list(secret)


def request(vector: dict[str, Any]) -> SignedRequest:
    return SignedRequest(vector["method"], vector["url"], list(vector["headers"].items()),
                         vector["body"].encode("utf-8"))


def assert_verdict(vector: dict[str, Any], ok: bool, reason: str, which: str) -> None:
    assert ok is vector["expected_valid"], reason
    assert vector.get("reason", "") in reason
    assert vector.get("which", "") == which, reason
    for secret in secrets_of(vector):
        assert secret not in reason


def test_every_vector_says_where_it_comes_from() -> None:
    assert len(set(IDS)) == len(IDS)
    for vector in VECTORS:
        assert vector["origin"].split()[0].rstrip(":") in (
            "official", "constructed", "unofficial"), vector["id"]
    providers = {v["provider"] for v in VECTORS}
    assert providers >= {"meta", "discord", "gitlab", "sendgrid", "square", "zoom", "hubspot",
                         "paddle", "mailgun", "twitch", "intercom", "typeform", "calendly",
                         "linear", "vercel", "clerk", "resend", "standard-webhooks", "twilio",
                         "stripe"}
    # Each new provider has a vector that verifies, and one that does not (or a variant).
    for provider in providers:
        assert any(v["expected_valid"] for v in VECTORS if v["provider"] == provider), provider


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_vector_pinned(vector: dict[str, Any]) -> None:
    result = check(request(vector), Secrets(default=secrets_of(vector)), vector["provider"],
                   now=vector["now"] or NOW)
    assert result.provider == vector["provider"]
    assert_verdict(vector, result.ok, result.reason, result.which)


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_vector_detected(vector: dict[str, Any]) -> None:
    result = check(request(vector), Secrets(default=secrets_of(vector)),
                   now=vector["now"] or NOW)
    assert result.provider == vector.get("detected", vector["provider"])
    assert_verdict(vector, result.ok, result.reason, result.which)


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_vector_through_the_command(vector: dict[str, Any], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./inspector.toml
    body = tmp_path / "body"
    body.write_bytes(vector["body"].encode("utf-8"))
    args = ["--provider", vector["provider"], "--body-file", str(body),
            "--method", vector["method"], "--now", str(vector["now"] or NOW)]
    for secret in secrets_of(vector):
        args += ["--secret", secret]
    for name, value in vector["headers"].items():
        args += ["--header", f"{name}: {value}"]
    if vector["url"]:
        args += ["--url", vector["url"]]
    result = CliRunner().invoke(verify, args, env={"CONNECTLY_WEBHOOK_SECRET": "",
                                                   "INSPECTOR_SECRET": ""})
    assert result.exit_code == (0 if vector["expected_valid"] else 1), result.output
    label = "✓ valid" if vector["expected_valid"] else "✗ invalid"
    assert result.output.startswith(f"verdict:  {label}"), result.output
    reason = next(line for line in result.output.splitlines() if line.startswith("reason:"))
    which = vector.get("which", "")
    assert_verdict(vector, vector["expected_valid"], reason, which)
    if which:
        assert f"({which})" in reason
