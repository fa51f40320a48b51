"""The hostile matrix, crash output class: no traceback shows local variables or a secret,
and an expected failure is one clear line, never a traceback.

A bug cannot be sent over HTTP on purpose, so a crash is forced the only way there is: a real
`inspector` process in which one function is replaced by one that fails while a secret is
in its local variables and in its message. What the process then writes (the TUI on a real
pseudo-terminal, the command line on pipes) must not hold the secret.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from inspector.core.config import Route
from inspector.core.settings import Settings
from inspector.core.signatures import PROVIDERS, Secrets, mask
from tests.conftest import SECRET
from tests.reliability.conftest import ROOT, Pty, child_env, wait_until

STRIPE = "whsec_" + base64.b64encode(b"a stripe secret for the crash test").decode()
API_KEY = "connectly-api-key-for-the-crash-test"

# Run `inspector ARGS…` with `target` (module:function) replaced by one that fails holding
# the secrets, the way a real bug would.
FAULT = """
import importlib, sys
from inspector.faces.cli.main import main
module, name = sys.argv[1].split(":")
secret, stripe = sys.argv[2], sys.argv[3]
def broken(*args, **kwargs):
    key = {"secret": secret, "stripe": stripe}
    raise RuntimeError(f"a bug, while holding {secret} and {stripe}\x1b]2;OWNED\x07")
setattr(importlib.import_module(module), name, broken)
sys.argv = ["inspector", *sys.argv[4:]]
main()
"""


def faulty(target: str, *args: str) -> list[str]:
    return [sys.executable, "-c", FAULT, target, SECRET, STRIPE, *args]


def assert_no_secret(where: str, output: bytes) -> None:
    for secret in (SECRET, STRIPE, API_KEY):
        assert secret.encode() not in output, f"a secret is in {where}: {output[-3000:]!r}"
    assert b"locals" not in output, f"local variables are in {where}"


def test_a_tui_crash_shows_no_locals_and_no_secret(tmp_path: Path) -> None:
    """The TUI dies on a bug on its own loop (drawing a list row; a worker's failure is only
    a notification): the report (after the screen is restored) says so, with a traceback,
    without a local variable or a secret."""
    env_args = ("--db", str(tmp_path / "e.db"), "--port", "0", "--secret", SECRET,
                "--provider-secret", f"stripe={STRIPE}")
    term = Pty(faulty("inspector.faces.tui.widgets.event_list:result_label", *env_args))
    try:
        port = int(term.wait_for(r"●\s*http://127\.0\.0\.1:(\d+)/").group(1))
        httpx.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
        term.proc.wait(timeout=30)
        wait_until(lambda: re.search(r"RuntimeError: a bug, while holding \[secret\] and\s+"
                                     r"\[secret\]", term.text()), 10, "the crash report")
    finally:
        term.close()
    assert term.proc.returncode == 1
    raw = term.raw()
    assert_no_secret("the TUI's crash report", raw)
    assert b"Traceback" in raw  # a bug keeps its traceback, only the locals and secrets go
    assert "webhook-inspector stopped on an unexpected error" in term.text()
    assert b"\x1b]2;OWNED" not in raw and "\\x1b]2;OWNED" in term.text()  # inert too


def test_a_command_line_crash_has_no_secret(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b"{}")
    proc = subprocess.run(
        faulty("inspector.faces.cli.commands.verify:report", "verify", "--secret", SECRET,
               "--body-file", str(body), "--header", "X-Hub-Signature-256: sha256=00"),
        capture_output=True, env=child_env(STRIPE_WEBHOOK_SECRET=STRIPE), cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    assert b"RuntimeError: a bug, while holding [secret] and [secret]\\x1b]2;OWNED\\x07\n" \
        in proc.stderr
    assert_no_secret("verify's crash", proc.stdout + proc.stderr)


# httptools is a dependency: a process where it cannot be imported (a `None` entry in
# sys.modules makes `import httptools` raise ImportError) stands for an install without it.
WITHOUT_HTTPTOOLS = """
import sys
sys.modules["httptools"] = None
from inspector.faces.cli.main import main
sys.argv[0] = "inspector"
main()
"""


@pytest.mark.parametrize("face", [[], ["serve"]], ids=["tui", "serve"])
def test_a_missing_parser_is_one_line_and_exit_2(tmp_path: Path, face: list[str]) -> None:
    """`--http httptools` without httptools: it used to be a traceback (in the TUI, with
    `Secrets(default='…')` among the locals)."""
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_HTTPTOOLS, *face, "--http", "httptools", "--port", "0",
         "--db", str(tmp_path / "e.db"), "--secret", SECRET],
        capture_output=True, env=child_env(), cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "error: --http httptools: httptools is not installed (pip install httptools); or "
        "use --http h11"]
    assert_no_secret("the missing-parser error", proc.stdout + proc.stderr)


def test_reprs_hold_no_secret() -> None:
    secrets = Secrets(default=SECRET, by_provider={"stripe": STRIPE})
    settings = Settings(secrets=secrets, connectly_api_key=API_KEY,
                        routes=[Route("/x", PROVIDERS["stripe"], (STRIPE,))])
    for shown in (repr(secrets), repr(settings), str(settings)):
        assert_no_secret("a repr", shown.encode())
    assert mask(STRIPE) in repr(secrets)  # masked, still telling two apart
    assert set(settings.secret_values()) >= {SECRET, STRIPE, API_KEY}  # what redact watches
