"""`inspector serve`: the headless receiver, as a real process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from inspector.core.store import open_store
from tests.conftest import CONNECTLY, SECRET


def start(tmp_path: Path, *args: str,
          env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspector", "serve", "--port", "0", "--db",
         str(tmp_path / "e.db"), "--secret", SECRET, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    match = re.search(r"listening on (http://\S+)", first)
    assert match, first
    return proc, match.group(1).rstrip("/")


def deliver_then_stop(proc: subprocess.Popen[str], base: str,
                      cases: list[dict[str, Any]]) -> tuple[str, str]:
    """Post each fixture (each must be answered 200), then SIGTERM: (stdout, stderr)."""
    try:
        for case in cases:
            r = httpx.post(base + case["path"], content=case["body"].encode(),
                           headers=case["headers"])
            assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    return out, err


def test_serve_prints_one_line_per_event_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc, base = start(tmp_path)
    out, err = deliver_then_stop(proc, base, CONNECTLY["events"][:3])
    assert proc.returncode == 0
    lines = out.splitlines()
    assert len(lines) == 3
    assert '+16315555500 → "TEST 11"' in lines[0] and "✓ valid" in lines[0]
    assert "Traceback" not in err


def test_the_secret_flag_beats_the_connectly_variable(tmp_path: Path) -> None:
    """--secret stands for CONNECTLY_WEBHOOK_SECRET: a stale value left in the shell used to
    win for Connectly, so every delivery showed ✗ invalid with the right secret given."""
    proc, base = start(tmp_path, "--json", "--provider-secret", "stripe=whsec_abc",
                       env={"CONNECTLY_WEBHOOK_SECRET": "a-stale-secret",
                            "SLACK_SIGNING_SECRET": "slack-1 slack-22"})
    assert proc.stderr is not None
    err = proc.stderr.readline()  # the line after `listening on`
    out, _ = deliver_then_stop(proc, base, CONNECTLY["events"][:1])
    record = json.loads(out.splitlines()[0])
    assert (record["provider"], record["verdict"]) == ("connectly", "valid"), record
    # Start-up says where each secret comes from, by length only.
    assert (f"secrets: any provider from --secret ({len(SECRET)} characters)" in err
            and "stripe from --provider-secret" in err
            and "slack from SLACK_SIGNING_SECRET (7 characters, 8 characters)" in err), err
    assert "CONNECTLY_WEBHOOK_SECRET" not in err and "a-stale" not in err
    assert "whsec_abc" not in err and "slack-1" not in err


def test_serve_json_lines(tmp_path: Path) -> None:
    proc, base = start(tmp_path, "--json")
    case = next(c for c in CONNECTLY["events"] if c["name"] == "text-tampered")
    try:
        r = httpx.post(base + case["path"] + "?x=1", content=case["body"].encode(),
                       headers=case["headers"])
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    record = json.loads(out.splitlines()[0])
    assert record["id"] == r.json()["id"]
    assert record["verdict"] == "invalid" and "does not match" in record["reason"]
    assert record["method"] == "POST" and record["path"] == case["path"]
    assert record["query"] == "x=1"


def test_serve_keeps_the_newest_events_with_keep(tmp_path: Path) -> None:
    proc, base = start(tmp_path, "--keep", "3")
    case = CONNECTLY["events"][0]
    try:
        acked = [httpx.post(base + case["path"], content=case["body"].encode(),
                            headers=case["headers"]).json()["id"] for _ in range(7)]
        store = open_store(tmp_path / "e.db", read_only=True)
        try:
            deadline = time.monotonic() + 15
            while store.count() != 3:  # pruned in the background, within a second or two
                assert time.monotonic() < deadline, f"still {store.count()} events"
                time.sleep(0.05)
            assert [e.id for e in store.iter_events(store.seqs())] == acked[-3:]
        finally:
            store.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err


def test_keep_zero_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "inspector", "serve", "--keep", "0", "--db",
                             str(tmp_path / "e.db")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Invalid value for '--keep'" in result.stderr and "Traceback" not in result.stderr


def test_serve_lines_say_an_answer_other_than_200(tmp_path: Path) -> None:
    """A 503 from --status (or a handshake's 403, a 401 under --reject-invalid) looked like
    any other event in serve's text line; its JSON names it `answered`, as `events` does."""
    proc, base = start(tmp_path, "--status", "503")
    try:
        case = CONNECTLY["events"][0]
        assert httpx.post(base + case["path"], content=case["body"].encode(),
                          headers=case["headers"]).status_code == 503
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "→ 503 Service Unavailable" in out.splitlines()[0], out
    proc, base = start(tmp_path / "json", "--json", "--status", "503")
    try:
        httpx.post(base + "/x", content=b"{}")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    record = json.loads(out.splitlines()[0])
    assert (record["status"], record["answered"]) == (503, 503), record
