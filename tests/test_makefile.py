"""`make run ARGS='…'` as the README writes it: the shell expands the variables, not make."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_run_passes_a_secret_variable_through_args(tmp_path: Path) -> None:
    body = b'{"hello": "world"}'
    secret = "conn_secret_from_the_environment"
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    (tmp_path / "body.json").write_bytes(body)
    args = ("verify --provider connectly --secret \"$CONNECTLY_WEBHOOK_SECRET\" "
            f"--header 'x-connectly-hmac-sha256: {signature.decode()}' "
            f"--body-file {tmp_path / 'body.json'}")
    # `make -o` keeps make from (re)installing .venv: the test runs in it already.
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "run", f"ARGS={args}"],
        env={**os.environ, "CONNECTLY_WEBHOOK_SECRET": secret},
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout
