"""Scripts and CI (issue 15): `inspector events`, `inspector wait` and fixtures, each run as a
real process against a database that a real `inspector serve` fills over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from inspector.core.store import open_store
from tests.conftest import SECRET, Recorder, connectly_event
from tests.reliability.conftest import (
    ROOT,
    Pty,
    Served,
    child_env,
    inspector_argv,
    serve,
    wait_until,
)
from tests.reliability.test_db_faults import corrupt_db, newer_db, write_lock

# Bytes no text view keeps as they are: NUL, invalid UTF-8, an escape, CR LF, a C1 CSI.
ODD_BODY = b"\x00\xff\xfe raw \x1b[31m bytes\r\n\xc2\x9b end \\x1b"
SUMMARY_FIELDS = {"v", "id", "seq", "time", "time_utc", "method", "path", "query", "provider",
                  "kind", "summary", "verdict", "answered", "refused", "size", "result",
                  "rule", "answer_note", "related", "retry_of"}
DETAIL_FIELDS = SUMMARY_FIELDS | {"reason", "client", "http_version", "scheme", "notes",
                                  "headers", "headers_omitted", "body", "attempts"}


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(inspector_argv(*map(str, args)), capture_output=True,
                          env=child_env(), cwd=ROOT, stdin=subprocess.DEVNULL, timeout=timeout)


def post(served: Served, name: str, query: str = "") -> str:
    """A Connectly fixture delivered over HTTP; the id the receiver answered with."""
    case = connectly_event(name)
    answer = httpx.post(served.base + case["path"] + query, content=case["body"].encode(),
                        headers=case["headers"])
    assert answer.status_code == 200, answer.text
    event_id: str = answer.json()["id"]
    return event_id


def post_odd(served: Served) -> str:
    answer = httpx.post(served.base + "/hooks/odd?x=1", content=ODD_BODY,
                        headers={"content-type": "application/octet-stream"})
    assert answer.status_code == 200
    event_id: str = answer.json()["id"]
    return event_id


def listed(db: Path, *args: str) -> list[dict[str, Any]]:
    proc = run("events", "list", "--db", db, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def one_line_error(proc: subprocess.CompletedProcess[bytes], code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    err = proc.stderr.decode()
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# -- events list / show / body -------------------------------------------------------------


def test_events_list_show_and_body_read_the_capture_while_it_is_filled(
        tmp_path: Path, recorder: Recorder) -> None:
    db = tmp_path / "events.db"
    with serve(tmp_path, db, "--forward-to", recorder.url + "/") as served:
        ids = [post(served, name) for name in ("text", "text-tampered", "delivery_status")]
        ids.append(post_odd(served))
        # Each was forwarded: its result is stored with it, while the receiver runs.
        rows = wait_until(lambda: (found := listed(db)) and all(r["result"] for r in found)
                          and len(found) == 4 and found, 30, "every forward's result")

        assert [r["id"] for r in rows] == ids  # oldest first, newest last
        assert all(set(r) == SUMMARY_FIELDS and r["v"] == 1 for r in rows)
        assert [r["verdict"] for r in rows] == ["valid", "invalid", "valid", "unsigned"]
        assert rows[2]["kind"] == "delivery_status" and rows[2]["summary"].startswith("delivered")
        assert rows[3]["path"] == "/hooks/odd" and rows[3]["query"] == "x=1"
        assert rows[0]["result"]["status"] == 200 and rows[0]["answered"] == 200

        text = run("events", "list", "--db", db)
        lines = text.stdout.decode().splitlines()
        assert text.returncode == 0 and len(lines) == 4
        assert [line.rsplit(" ", 1)[-1] for line in lines] == ids
        assert "✗ invalid" in lines[1] and "delivered" in lines[2]
        assert [r["id"] for r in listed(db, "--filter", "verdict:invalid")] == [ids[1]]
        assert [r["id"] for r in listed(db, "--limit", "1")] == [ids[3]]
        assert [r["id"] for r in listed(db, "--filter", "kind:delivery_status",
                                        "--limit", "0")] == [ids[2]]

        case = connectly_event("text-tampered")
        shown = run("events", "show", ids[1], "--db", db, "--json")
        assert shown.returncode == 0, shown.stderr
        detail = json.loads(shown.stdout)
        assert set(detail) == DETAIL_FIELDS and detail["id"] == ids[1]
        assert detail["body"]["json"] == json.loads(case["body"])
        assert detail["body"]["text"] == case["body"] and detail["body"]["kind"] == "json"
        assert "does not match" in detail["reason"] and detail["verdict"] == "invalid"
        sent = [name.lower() for name in case["headers"]]
        assert [k for k, _ in detail["headers"] if k in sent] == sent  # in arrival order
        assert dict(detail["headers"])["x-connectly-hmac-sha256"] == \
            case["headers"]["x-connectly-hmac-sha256"]
        forward = detail["attempts"][0]
        assert forward["kind"] == "forward" and forward["status"] == 200
        assert forward["url"] == recorder.url + case["path"]

        said = run("events", "show", ids[1].lower(), "--db", db).stdout.decode()
        assert "verdict:   ✗ invalid" in said and "reason:    HMAC-SHA256" in said
        assert '    "text": "TEST 12"' in said  # the body, indented under its heading
        assert "forward POST " + recorder.url in said

        # The exact bytes, whatever they are.
        assert run("events", "body", ids[3], "--db", db).stdout == ODD_BODY
        assert run("events", "body", ids[0], "--db", db).stdout == \
            connectly_event("text")["body"].encode()
        odd = json.loads(run("events", "show", ids[3], "--db", db, "--json").stdout)
        assert odd["body"]["kind"] == "binary" and "base64" in odd["body"]

        missing = "06H00000000000000000000000"
        for args in (["show", missing], ["body", missing]):
            one_line_error(run("events", *args, "--db", db), 1, missing)


def test_events_say_which_rule_answered_what_it_is_about_and_which_delivery_it_retries(
        tmp_path: Path) -> None:
    """A status answered 503 by a rule, sent again (a retry: the same bytes), answered 200."""
    config = tmp_path / "inspector.toml"
    config.write_text('[[rule]]\nname = "flaky endpoint"\nrespond = [503, 200]\n')
    db = tmp_path / "events.db"
    case = connectly_event("delivery_status")
    message_id = json.loads(case["body"])["statusUpdate"]["id"]
    with serve(tmp_path, db, "--config", str(config)) as served:
        answers = [httpx.post(served.base + case["path"], content=case["body"].encode(),
                              headers=case["headers"]) for _ in range(2)]
        assert [a.status_code for a in answers] == [503, 200]
        first, retry = (a.headers["x-inspector-event-id"] for a in answers)
    rows = listed(db)
    assert all(set(r) == SUMMARY_FIELDS and r["v"] == 1 for r in rows)
    assert [(r["rule"], r["related"], r["retry_of"]) for r in rows] == [
        ("flaky endpoint", message_id, None), ("flaky endpoint", message_id, first)]
    assert rows[0]["answer_note"].startswith("answer 1 of 2 (503)")
    assert rows[1]["answer_note"].startswith("answer 2 of 2 (200)")
    assert [r["id"] for r in listed(db, "--filter", "retry:yes")] == [retry]

    detail = json.loads(run("events", "show", retry, "--db", db, "--json").stdout)
    assert set(detail) == DETAIL_FIELDS
    assert (detail["rule"], detail["related"], detail["retry_of"]) == (
        "flaky endpoint", message_id, first)
    said = run("events", "show", retry, "--db", db).stdout.decode()
    assert "rule:      flaky endpoint\n" in said
    assert "how:       answer 2 of 2 (200)" in said
    assert f"about:     {message_id}\n" in said
    assert f"retry:     retry #1 of {first} (+" in said
    plain = run("events", "show", first, "--db", db).stdout.decode()
    assert "rule:      flaky endpoint\n" in plain and "retry:" not in plain
    text = run("events", "list", "--db", db).stdout.decode().splitlines()
    assert "→ 503 Service Unavailable (flaky endpoint)" in text[0] and "↻" not in text[0]
    assert f"↻ retry #1 of {first} (+" in text[1]


def test_events_body_on_a_terminal_shows_escapes_not_the_bytes(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with serve(tmp_path, db) as served:
        event_id = post_odd(served)
    term = Pty(inspector_argv("events", "body", event_id, "--db", str(db)))
    try:
        wait_until(lambda: term.proc.poll() is not None, 30, "events body to finish")
    finally:
        term.close()
    shown = term.raw()
    assert term.proc.returncode == 0
    assert b"\x1b" not in shown and b"\x00" not in shown and b"\xc2\x9b" not in shown
    assert b"\\x1b[31m" in shown and b"\\x00" in shown
    assert b"end \\\\x1b" in shown  # the backslash that was sent, doubled
    assert b"redirect to a file or a pipe for the exact bytes" in shown


def test_a_reader_never_waits_for_the_writer(tmp_path: Path) -> None:
    """In WAL mode a reader reads the last commit while a writer holds its lock."""
    db = tmp_path / "events.db"
    with serve(tmp_path, db) as served:
        event_id = post(served, "delivery_status")
    with write_lock(db):
        started = time.monotonic()
        assert [r["id"] for r in listed(db)] == [event_id]
        assert time.monotonic() - started < 2.5  # the busy timeout is 3 s: never waited


def test_a_database_that_cannot_be_read_is_one_line_and_exit_3(tmp_path: Path) -> None:
    good = tmp_path / "good.db"
    open_store(good).close()
    cases = {
        "no database at": tmp_path / "missing.db",
        "newer webhook-inspector": newer_db(tmp_path / "newer.db"),
        "corrupt": corrupt_db(tmp_path / "corrupt.db"),
    }
    for words, db in cases.items():
        for args in (["events", "list"], ["events", "show", "X"], ["events", "body", "X"],
                     ["wait", "--filter", "x", "--timeout", "1"], ["mcp"]):
            one_line_error(run(*args, "--db", db), 3, words, str(db))
    assert not (tmp_path / "missing.db").exists()  # a reader creates nothing
    with write_lock(good, readers_too=True):
        for args in (["events", "list"], ["wait", "--filter", "x"]):
            one_line_error(run(*args, "--db", good), 3, "locked by another process")


# -- wait ------------------------------------------------------------------------------------


@contextlib.contextmanager
def waiting(db: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`inspector wait` as a process, once it has said it waits (from then on, what arrives
    counts)."""
    proc = subprocess.Popen(inspector_argv("wait", "--db", str(db), *args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=child_env(), cwd=ROOT)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()
        assert first.startswith("waiting for "), first
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_wait_prints_the_events_that_arrive_and_exits_0(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with serve(tmp_path, db) as served:
        post(served, "delivery_status")  # before it starts: does not count
        with waiting(db, "--filter", "kind:delivery_status", "--count", "2", "--timeout", "60",
                     "--json") as proc:
            post(served, "text")  # does not match
            wanted = [post(served, "delivery_status"), post(served, "delivery_failed")]
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == wanted
    assert all(set(json.loads(line)) == SUMMARY_FIELDS for line in out.splitlines())


def test_wait_times_out_with_exit_1_naming_the_filter_and_what_came(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with (serve(tmp_path, db) as served,
          waiting(db, "--filter", "kind:delivery_status", "--count", "2", "--timeout", "2")
          as proc):
        came = post(served, "delivery_status")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out.decode().strip().endswith(came)  # what came is printed all the same
    lines = err.decode().strip().splitlines()
    assert lines[-1] == ("error: timed out after 2 s: 1 event matching 'kind:delivery_status'"
                         " arrived, of the 2 awaited")


def test_wait_with_a_bad_filter_exits_2_with_the_filter_error(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    open_store(db).close()
    one_line_error(run("wait", "--db", db, "--filter", "kind: verdict:x"), 2,
                   "--filter: kind: at column 1 needs a value")
    one_line_error(run("wait", "--db", db, "--filter", "kind:x", "--since", "yesterday"), 2,
                   "--since", "yesterday")
    one_line_error(run("wait", "--db", db, "--filter", "kind:x", "--since",
                       "06H00000000000000000000000"), 1, "06H00000000000000000000000")
    one_line_error(run("events", "list", "--db", db, "--filter", "nope:1"), 2,
                   "unknown field 'nope'")


def test_wait_since_counts_what_came_before_it_started(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with serve(tmp_path, db) as served:
        first = post(served, "text")
        wanted = [post(served, "delivery_status"), post(served, "delivery_failed")]
        since_first = run("wait", "--db", db, "--filter", "kind:delivery_status", "--count", "2",
                          "--since", first, "--timeout", "30", "--json")
        stamp = listed(db, "--limit", "1")[0]["time_utc"]
        since_time = run("wait", "--db", db, "--filter", "kind:delivery_status",
                         "--since", stamp, "--timeout", "30", "--json")
    assert since_first.returncode == 0, since_first.stderr
    assert [json.loads(line)["id"] for line in since_first.stdout.splitlines()] == wanted
    assert since_time.returncode == 0, since_time.stderr
    assert [json.loads(line)["id"] for line in since_time.stdout.splitlines()] == wanted[1:]


def test_wait_counts_an_event_once_an_update_makes_it_match(tmp_path: Path) -> None:
    """`result:2xx`: the event arrives first, its forward's answer later (an update)."""
    slow = Recorder().start()
    slow.hold()  # the forward waits until the event is seen stored without its result
    db = tmp_path / "events.db"
    try:
        with (serve(tmp_path, db, "--forward-to", slow.url + "/") as served,
              waiting(db, "--filter", "kind:delivery_status result:2xx", "--timeout", "60")
              as proc):
            event_id = post(served, "delivery_status")
            assert listed(db)[-1]["result"] is None  # stored before it was forwarded
            slow.release()
            out, err = proc.communicate(timeout=60)
    finally:
        slow.stop()
    assert proc.returncode == 0, err
    assert out.decode().strip().endswith(event_id) and "200" in out.decode()


# -- fixtures --------------------------------------------------------------------------------


def test_fixtures_export_and_import_round_trip_byte_exact(tmp_path: Path,
                                                          recorder: Recorder) -> None:
    db, copy = tmp_path / "events.db", tmp_path / "copy.db"
    folder = tmp_path / "fixtures" / "hooks"
    with serve(tmp_path, db) as served:
        ids = [post(served, "delivery_status", "?attempt=1"), post(served, "text-tampered"),
               post_odd(served)]
        exported = run("export", "--db", db, "--format", "fixtures", folder)
    assert exported.returncode == 0, exported.stderr
    subfolders = sorted(folder.iterdir())
    assert [p.name for p in subfolders] == ["0001-delivery_status", "0002-message",
                                            "0003-post"]
    first = subfolders[0]
    assert sorted(p.name for p in first.iterdir()) == ["body.json", "event.json",
                                                       "headers.json", "replay.sh"]
    case = connectly_event("delivery_status")
    assert (first / "body.json").read_bytes() == case["body"].encode()
    assert (subfolders[2] / "body.bin").read_bytes() == ODD_BODY
    headers = json.loads((first / "headers.json").read_text())
    assert [k for k, _ in headers if k in case["headers"]] == list(case["headers"])
    assert json.loads((first / "event.json").read_text())["id"] == ids[0]

    # The script is one command, and sends the delivery again byte for byte.
    script = (first / "replay.sh").read_text()
    assert len([line for line in script.splitlines() if "curl " in line]) == 1
    replayed = subprocess.run(["sh", str(first / "replay.sh"), recorder.url],
                              capture_output=True, timeout=60, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert b"% Total" not in replayed.stderr  # no progress meter in a test's log
    sent = recorder.requests[-1]
    assert (sent.path, sent.query, sent.body) == (case["path"], "attempt=1",
                                                  case["body"].encode())
    assert sent.header("x-connectly-hmac-sha256") == case["headers"]["x-connectly-hmac-sha256"]

    imported = run("import", folder, "--db", copy, "--secret", SECRET)
    assert imported.returncode == 0, imported.stderr
    assert b"imported 3 of 3 events (fixtures)" in imported.stdout
    original = run("export", "--db", db, "--format", "jsonl").stdout
    assert original and run("export", "--db", copy, "--format", "jsonl").stdout == original

    again = run("export", "--db", db, "--format", "fixtures", folder)
    assert again.returncode == 1 and b"not an empty folder" in again.stderr


def test_a_fixture_cannot_make_import_read_another_file(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with serve(tmp_path, db) as served:
        post(served, "text")
        post(served, "delivery_status")
    folder = tmp_path / "hooks"
    assert run("export", "--db", db, "--format", "fixtures", folder).returncode == 0
    secret_file = tmp_path / "id_rsa"
    secret_file.write_bytes(b"-----BEGIN PRIVATE KEY-----")
    body = folder / "0001-message" / "body.json"
    body.unlink()
    os.symlink(secret_file, body)
    proc = run("import", folder, "--db", tmp_path / "copy.db")
    assert proc.returncode == 1
    assert b"fixture 0001-message: body.json is not a regular file" in proc.stderr
    assert b"imported 1 of 1 event" in proc.stdout
    store = open_store(tmp_path / "copy.db", read_only=True)
    try:
        assert store.count() == 1
    finally:
        store.close()
