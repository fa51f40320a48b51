"""`inspector verify`: the vectors through the command, stored events, exit codes."""

from __future__ import annotations

import base64
import hmac
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from inspector.core.model import Event, new_id
from inspector.core.store import open_store
from inspector.faces.cli.commands.verify import verify
from tests.conftest import CONNECTLY, VECTORS

CLEAN_ENV = {"CONNECTLY_WEBHOOK_SECRET": "", "INSPECTOR_SECRET": ""}


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory: ./inspector.toml is read when present."""
    monkeypatch.chdir(tmp_path)


def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(verify, list(args), input=stdin, env={**CLEAN_ENV, **(env or {})})


def vector_args(vector: dict[str, Any], body_file: Path) -> list[str]:
    body_file.write_bytes(vector["body"].encode("utf-8"))
    args = ["--provider", vector["provider"], "--secret", vector["secret"],
            "--body-file", str(body_file)]
    for name, value in vector["headers"].items():
        args += ["--header", f"{name}: {value}"]
    if vector["url"]:
        args += ["--url", vector["url"]]
    if vector["now"] is not None:
        args += ["--now", str(vector["now"])]
    return args


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_through_the_command(vector: dict[str, Any], tmp_path: Path) -> None:
    result = run(*vector_args(vector, tmp_path / "body"))
    assert result.exit_code == (0 if vector["expected_valid"] else 1), result.output
    verdict = "✓ valid" if vector["expected_valid"] else "✗ invalid"
    assert result.output.startswith(f"verdict:  {verdict}")
    assert "reason:" in result.output and "expected:" in result.output
    assert vector["secret"] not in result.output


def test_as_a_real_process_with_the_body_on_stdin(tmp_path: Path) -> None:
    vector = next(v for v in VECTORS if v["id"] == "stripe-expired")
    args = ["--provider", "auto", "--body-file", "-", "--now", str(vector["now"]),
            "--header", f"Stripe-Signature: {vector['headers']['Stripe-Signature']}"]
    proc = subprocess.run(
        [sys.executable, "-c",
         "from inspector.faces.cli.commands.verify import verify; verify()", *args],
        input=vector["body"].encode(), capture_output=True, timeout=60, cwd=tmp_path,
        env={**os.environ, **CLEAN_ENV, "INSPECTOR_SECRET": vector["secret"]},
    )
    out = proc.stdout.decode()
    assert proc.returncode == 1, proc.stderr.decode()
    assert "✗ invalid (Stripe)" in out
    assert "timestamp is 301 s old (tolerance 300 s): a replay or a clock skew" in out


def test_secret_from_the_environment(tmp_path: Path) -> None:
    case = CONNECTLY["events"][0]
    body = tmp_path / "body"
    body.write_bytes(case["body"].encode())
    args = ["--body-file", str(body)] + [f"--header={k}: {v}" for k, v in case["headers"].items()]
    assert run(*args, env={"CONNECTLY_WEBHOOK_SECRET": CONNECTLY["secret"]}).exit_code == 0
    missing = run(*args)
    assert missing.exit_code == 1 and "? no secret" in missing.output


def test_unsigned_exits_1() -> None:
    result = run("--body-file", "-", "--header", "Content-Type: application/json", stdin=b"{}")
    assert result.exit_code == 1 and "unsigned" in result.output


@pytest.mark.parametrize("args", [
    [],  # no body and no event
    ["--body-file", "-", "--header", "no colon here"],
    ["--body-file", "-", "--provider", "paypal"],
    ["--event", "X", "--header", "A: b"],
    ["--event", "X", "--db", "/nonexistent/events.db"],
    ["--body-file", "-", "--config", "/nonexistent/inspector.toml"],
    ["--body-file", "-", "--url", "http://[::1/x"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args, stdin=b"")
    assert result.exit_code == 2, result.output


def test_hostile_header_is_printed_inert(tmp_path: Path) -> None:
    result = run("--secret", "s", "--body-file", "-",
                 "--header", "X-Hub-Signature-256: sha256=\x1b[31mred" + "a" * 100_000, stdin=b"")
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\\x1b" in result.output
    assert len(result.output) < 2000


def test_stored_event_is_rechecked(tmp_path: Path) -> None:
    vector = next(v for v in VECTORS if v["id"] == "slack-docs-example")
    db = tmp_path / "events.db"
    stored = Event(new_id(), vector["now"] + 10, "POST", "/slack/commands", "",
                   list(vector["headers"].items()), vector["body"].encode())
    store = open_store(db)
    store.import_events_sync([(stored, [])])
    store.close()
    ok = run("--event", stored.id, "--db", str(db), "--secret", vector["secret"])
    assert ok.exit_code == 0, ok.output
    assert "✓ valid (Slack)" in ok.output
    # --now judges the timestamp at another time.
    late = run("--event", stored.id, "--db", str(db), "--secret", vector["secret"],
               "--now", str(vector["now"] + 412))
    assert late.exit_code == 1 and "412 s old" in late.output
    wrong = run("--event", stored.id, "--db", str(db), "--secret", "nope")
    assert wrong.exit_code == 1
    unknown = run("--event", "01NOPE", "--db", str(db))
    assert unknown.exit_code == 2 and "no event" in unknown.output


def test_config_route_gives_the_secret_and_a_generic_scheme(tmp_path: Path) -> None:
    config = tmp_path / "routes.toml"
    config.write_text('[[route]]\npath = "/hooks/linear"\nprovider = "generic"\n'
                      'header = "Linear-Signature"\nsecret_env = "TEST_LINEAR_SECRET"\n')
    body = b'{"type":"Issue"}'
    sig = hmac.new(b"lin", body, "sha256").hexdigest()
    args = ["--config", str(config), "--url", "https://example.com/hooks/linear",
            "--header", f"Linear-Signature: {sig}", "--body-file", "-"]
    result = run(*args, stdin=body, env={"TEST_LINEAR_SECRET": "lin"})
    assert result.exit_code == 0 and "valid (generic)" in result.output, result.output
    assert run(*args, "--secret", "other", stdin=body, env={"TEST_LINEAR_SECRET": "lin"}
               ).exit_code == 1
    # ./inspector.toml is read without --config.
    (tmp_path / "inspector.toml").write_text(config.read_text())
    assert run(*args[2:], stdin=body, env={"TEST_LINEAR_SECRET": "lin"}).exit_code == 0
    broken = tmp_path / "broken.toml"
    broken.write_text('[[route]]\npath = "/a"\nprovidr = "x"\n')
    bad = run("--config", str(broken), "--body-file", "-", stdin=b"")
    assert bad.exit_code == 2 and "broken.toml:3: route 1: providr" in bad.output


def test_twilio_hints_name_this_commands_url_flag(tmp_path: Path) -> None:
    """verify has --url, not the receiver's --public-url (issue 10, item 14)."""
    body = tmp_path / "form"
    body.write_bytes(b"Body=hi&From=%2B15550001")
    base = ["--provider", "twilio", "--secret", "auth-token", "--body-file", str(body),
            "--header", "Content-Type: application/x-www-form-urlencoded"]
    unknown = run(*base, "--header", "X-Twilio-Signature: AAAA")
    assert "the URL Twilio called is unknown, and Twilio signs it: pass --url" in unknown.output
    # Signed for https, checked against http: the hint says which URL matched, and the flag.
    signed = "https://example.com/sms" + "BodyhiFrom+15550001"
    digest = hmac.new(b"auth-token", signed.encode(), "sha1").digest()
    other = run(*base, "--header", f"X-Twilio-Signature: {base64.b64encode(digest).decode()}",
                "--url", "http://example.com/sms")
    assert "signature matches the URL https://example.com/sms" in other.output
    assert other.output.count("pass --url") == 1 and "--public-url" not in other.output


def stripe_args(body: Path, secret: str, now: int = 1_700_000_000) -> list[str]:
    body.write_bytes(b'{"id": "evt_1", "object": "event"}')
    mac = hmac.new(secret.encode(), f"{now}.".encode() + body.read_bytes(), "sha256")
    return ["--provider", "stripe", "--body-file", str(body), "--now", str(now),
            "--header", f"Stripe-Signature: t={now},v1={mac.hexdigest()}"]


def test_each_providers_own_variable_and_provider_secret_are_read(tmp_path: Path) -> None:
    """As the receiver reads them: STRIPE_WEBHOOK_SECRET (a rotation, space-separated) and
    --provider-secret NAME=SECRET."""
    args = stripe_args(tmp_path / "body", "whsec_b")
    rotated = run(*args, env={"STRIPE_WEBHOOK_SECRET": "whsec_a whsec_b"})
    assert rotated.exit_code == 0, rotated.output
    assert "matches (secret 2 of 2)" in rotated.output
    assert "whsec_b" not in rotated.output
    given = run(*args, "--provider-secret", "stripe=whsec_b")
    assert given.exit_code == 0, given.output
    other = run(*args, "--provider-secret", "github=whsec_b")  # not Stripe's: none for it
    assert other.exit_code == 1 and "no secret" in other.output
    bad = run(*args, "--provider-secret", "paypal=x")
    assert bad.exit_code == 2 and "--provider-secret" in bad.output


def test_a_key_that_cannot_be_one_is_said_before_a_malformed_signature(tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"{}")
    args = ["--provider", "discord", "--secret", "nothex", "--body-file", str(body),
            "--header", "X-Signature-Ed25519: 00"]
    short = run(*args, "--header", "X-Signature-Timestamp: 1700000000")
    assert short.exit_code == 1
    reason = next(line for line in short.output.splitlines() if line.startswith("reason:"))
    assert reason.startswith("reason:   the public key is not hex"), reason
    assert "also signature is 1 byte, not the 64" in reason
    unstamped = run(*args)
    assert "the public key is not hex" in unstamped.output
    assert "also no X-Signature-Timestamp header" in unstamped.output


def test_expected_is_shown_only_for_a_version_the_header_carries(tmp_path: Path) -> None:
    """A v1a (Ed25519) header checked with a whsec_ secret: a v1 value compares nothing."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    body = tmp_path / "body"
    body.write_bytes(b'{"type": "user.created"}')
    ident, stamp = "msg_1", "1700000000"
    private = Ed25519PrivateKey.generate()
    signed = base64.b64encode(private.sign(f"{ident}.{stamp}.".encode() + body.read_bytes()))
    args = ["--provider", "standard-webhooks", "--body-file", str(body), "--now", stamp,
            "--secret", "whsec_" + base64.b64encode(b"k" * 24).decode(),
            "--header", f"webhook-id: {ident}", "--header", f"webhook-timestamp: {stamp}"]
    only_v1a = run(*args, "--header", f"webhook-signature: v1a,{signed.decode()}")
    assert only_v1a.exit_code == 1
    assert "carries only v1a (Ed25519) signatures" in only_v1a.output
    assert "expected:" not in only_v1a.output
    other = base64.b64encode(b"x" * 32).decode()  # a v1 entry beside it: now it applies
    both = run(*args, "--header", f"webhook-signature: v1a,{signed.decode()} v1,{other}")
    assert both.exit_code == 1 and "expected: v1," in both.output
