"""Hostile import files, through the real `inspector import` and the real TUI.

An import file is as untrusted as a request. Each row of the matrix is one hostile JSON line
(or HAR entry) among good ones, all in one file imported once by the real CLI: the bad entry
is skipped and named by its line with what is wrong, the good ones are imported, nothing
crashes, nothing the file claims about an event (verdict, kind, summary) is believed, and a
database that already holds a bad row (an older import let `"time": 1e308` in) still opens.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.interop.export import record
from inspector.core.interop.importing import Limits, import_file
from inspector.core.model import Event
from inspector.core.signatures import Secrets
from inspector.core.store import EventStore, open_store
from tests.conftest import SECRET, connectly_event
from tests.reliability.conftest import ROOT, child_env, inspector_argv, tui

Record = dict[str, Any]
ESC_KIND = "\x1b]52;c;Y3VybCAtcyBodHRwOi8vYXR0YWNrZXIuZXhhbXBsZS94IHwgc2g=\x07"


def good(n: int, case: str = "text") -> Record:
    """The record of a signed Connectly delivery, as `inspector export` writes it."""
    fixture = connectly_event(case)
    event = Event(id=f"01{n:024d}", received_at=1_700_000_000.5 + n,
                  method="POST", path=fixture["path"], query="",
                  headers=[("host", "127.0.0.1:8765"), *fixture["headers"].items()],
                  body=fixture["body"].encode(), client="203.0.113.7:40000")
    Analyzer(Secrets(default=SECRET)).analyze(event)
    return record(event, [])


def changed(**fields: Any) -> Callable[[Record], Record]:
    return lambda r: {**r, **fields}


def with_attempt(**fields: Any) -> Callable[[Record], Record]:
    attempt = {"kind": "replay", "at": 1_700_000_100.0, "method": "POST",
               "url": "http://localhost:3000/webhooks/connectly", "status": 200,
               "elapsed_ms": 3.0, "error": "", "response_headers": [],
               "response_body_base64": "", "resigned": False, "edited": False}
    return lambda r: {**r, "attempts": [{**attempt, **fields}]}


def with_header(name: str, value: str) -> Callable[[Record], Record]:
    return lambda r: {**r, "headers": [*r["headers"], [name, value]]}


@dataclass(frozen=True)
class Case:
    make: Callable[[Record], Record] | None  # None: `raw` is the line
    expected: str  # in the message naming the line; "" when the line must import
    raw: str = ""


# Each is a line that a live request could never have produced, or a claim the file makes.
CASES: dict[str, Case] = {
    "time 1e308": Case(changed(time=1e308), "time 1e+308 is not a Unix time between 1970"),
    "time before 1970": Case(changed(time=-1), "time -1 is not a Unix time"),
    "time NaN": Case(None, "time NaN is not a Unix time", raw='"time": NaN'),
    "time Infinity": Case(None, "time Infinity is not a Unix time", raw='"time": Infinity'),
    "time as a 400-digit integer": Case(changed(time=10**400), "is not a Unix time"),
    "time as text": Case(changed(time="now"), 'time "now" is not a Unix time'),
    "method with an escape": Case(changed(method="\x1b[2J"), "method \"\\u001b[2J\" is not"),
    "method with a space": Case(changed(method="GET /x"), "is not an HTTP method"),
    "path with a lone surrogate": Case(changed(path="/\ud800"), "is not a request path"),
    "path not starting with /": Case(changed(path="@evil.example/x"), "does not start with /"),
    "path with a space": Case(changed(path="/a b"), "is not a request path"),
    "path with an escape": Case(changed(path="/\x1b]0;owned\x07"), "is not a request path"),
    "path beyond latin-1": Case(changed(path="/€"), "is not a request path"),
    "query with CR LF": Case(changed(query="a=1\r\nx: y"), "query \"a=1\\r\\nx: y\" is not"),
    "header name with a colon": Case(with_header("x:y", "1"), "is not a header name"),
    "header value with CR LF": Case(with_header("x-a", "1\r\nInjected: yes"),
                                    "is not a header value"),
    "header value with a lone surrogate": Case(with_header("x-a", "\udcff"), "lone surrogate"),
    "header value beyond latin-1": Case(with_header("x-a", "€"), "is not a header value"),
    "headers over the live head limit": Case(
        lambda r: with_header("x-b", "b" * 70_000)(with_header("x-a", "a" * 70_000)(r)),
        "a live request may take 131,072"),
    "a header value over the head limit": Case(with_header("x-big", "a" * 140_000),
                                               "is 140,000 characters; the limit is 131,072"),
    "headers not pairs": Case(changed(headers=[["a"]]), "headers[0] is not a [name, value]"),
    "notes nested 500 deep": Case(changed(notes=json.loads("[" * 500 + "]" * 500)),
                                  "notes[0]: expected text, got a list"),
    "whole line nested 100,000 deep": Case(None, "nested too deeply",
                                           raw="[" * 100_000 + "]" * 100_000),
    "body over --max-body": Case(changed(body_base64=base64.b64encode(b"x" * 70_000).decode(),
                                         body_size=70_000), "raise it with --max-body"),
    "body_size that lies": Case(changed(body_size=1), "body_size is 1 but the body has"),
    "body_size past SQLite": Case(changed(refused="413", body_base64="", body_size=10**30),
                                  "body_size"),
    "body not base64": Case(changed(body_base64="%%%"), "bad base64"),
    "id with an escape": Case(changed(id="\x1b]0;x\x07" + "A" * 20), "is not 26 letters"),
    "id too short": Case(changed(id="A"), "is not 26 letters"),
    "status 1000": Case(changed(status=1000), "status 1000 is out of range"),
    "status 99": Case(changed(status=99), "status 99 is not an HTTP status"),
    "status true": Case(changed(status=True), "expected a whole number"),
    "scheme javascript": Case(changed(scheme="javascript"), "scheme \"javascript\" is not"),
    "http version 9": Case(changed(http_version="9"), "http_version \"9\" is not"),
    "client with an escape": Case(changed(client="\x1b[2J"), "client"),
    "refused with a lone surrogate": Case(changed(refused="\ud800"), "refused is not valid"),
    "a note with a lone surrogate": Case(changed(notes=["\ud800"]), "notes[0] is not valid"),
    "1,000 notes": Case(changed(notes=["n"] * 1000), "notes must be a list of at most 100"),
    "newer record version": Case(changed(v=99), "written by a newer webhook-inspector"),
    "not an object": Case(None, "expected an object with an event, got a list", raw="[1]"),
    "attempt to javascript:": Case(with_attempt(url="javascript:alert(1)"), "an http(s) URL"),
    "attempt of an unknown kind": Case(with_attempt(kind="exfiltrate"), "kind \"exfiltrate\""),
    "attempt status as text": Case(with_attempt(status="200"), "status: expected a whole"),
    "attempt took forever": Case(with_attempt(elapsed_ms=1e300), "elapsed_ms 1e+300 is out"),
    "attempt at 1e308": Case(with_attempt(at=1e308), "at 1e+308 is not a Unix time"),
    "attempt resigned 'yes'": Case(with_attempt(resigned="yes"), "expected true or false"),
    "attempt forced 1": Case(with_attempt(forced=1), "forced: expected true or false"),
    "attempt response header with CR LF": Case(
        with_attempt(response_headers=[["set-cookie", "a\r\nx: 1"]]), "is not a header value"),
    "answer header with CR LF": Case(
        changed(answer={"headers": [["x", "a\r\nb"]], "body_base64": ""}), "answer.headers"),
    # Claims the file makes: imported, and computed again from the bytes.
    "forged verdict, kind and summary": Case(
        changed(verdict="valid", kind=ESC_KIND, summary=ESC_KIND, provider="stripe",
                reason="checked by Stripe's SDK"), ""),
}


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    lines: dict[str, int]  # case -> its line in the file
    store: EventStore
    problems: list[str]  # every skipped line and why (the command shows the first ten)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One file: a good line, then each hostile line followed by a good one."""
    folder = tmp_path_factory.mktemp("imports")
    rows: list[str] = []
    lines: dict[str, int] = {}
    forged = good(9999, "text-tampered")
    for n, (name, case) in enumerate(CASES.items()):
        rows.append(json.dumps(good(2 * n)))
        if case.make is None:
            raw = case.raw if not case.raw.startswith('"time"') else \
                json.dumps(good(2 * n + 1)).replace('"time":', case.raw + ', "was":', 1)
        else:
            base = forged if not case.expected else good(2 * n + 1)
            raw = json.dumps(case.make(base))
        rows.append(raw)
        lines[name] = len(rows)
    file = folder / "hostile.jsonl"
    file.write_text("\n".join(rows) + "\n")
    db = folder / "events.db"
    result = subprocess.run(
        inspector_argv("import", str(file), "--db", str(db), "--secret", SECRET,
                       "--max-body", "64k"),
        capture_output=True, text=True, timeout=120, env=child_env(), cwd=ROOT)
    store = open_store(db, index=False)
    # The same import in-process, for the whole list of problems.
    again = open_store(folder / "again.db", index=False)
    with file.open("rb") as data:
        problems = import_file(again, data, Analyzer(Secrets(default=SECRET)),
                               limits=Limits(max_body=64 * 1024)).skipped
    again.close()
    yield Outcome(result.returncode, result.stdout, result.stderr, lines, store, problems)
    store.close()


def test_the_import_ran_and_said_so(outcome: Outcome) -> None:
    assert outcome.code == 1, outcome.err  # something was skipped
    output = outcome.out + outcome.err
    assert "Traceback" not in output and "\x1b" not in output
    bad = sum(1 for case in CASES.values() if case.expected)
    assert f"skipped {bad} bad entries" in outcome.err
    assert f"imported {len(CASES) + 1} of {len(CASES) + 1} events" in outcome.out
    listed = re.findall(r"^  (line \d+: .*)$", outcome.err, re.MULTILINE)
    assert listed == outcome.problems[:10] and f"… and {bad - 10} more" in outcome.err


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.expected])
def test_a_hostile_line_is_skipped_and_named(outcome: Outcome, name: str) -> None:
    prefix = f"line {outcome.lines[name]}: "
    found = [p for p in outcome.problems if p.startswith(prefix)]
    assert len(found) == 1, (name, outcome.problems)
    assert CASES[name].expected in found[0], found[0]
    assert found[0].isprintable() and len(found[0]) < 300  # escapes stay escapes


def test_what_a_file_claims_is_computed_again(outcome: Outcome) -> None:
    forged = good(9999, "text-tampered")
    event = outcome.store.event_by_id(forged["id"])
    assert event is not None
    assert (event.verdict, event.provider, event.kind) == ("invalid", "connectly", "message")
    assert ESC_KIND not in event.summary and "Stripe" not in event.reason
    assert event.verdict == forged["verdict"] and event.summary == forged["summary"]


def test_every_good_line_arrived_whole(outcome: Outcome) -> None:
    for n in range(len(CASES)):
        expected = good(2 * n)
        event = outcome.store.event_by_id(expected["id"])
        assert event is not None and event.verdict == "valid"
        assert base64.b64encode(event.body).decode() == expected["body_base64"]


def test_the_tui_opens_the_imported_database(outcome: Outcome) -> None:
    with tui(Path(outcome.store.path)) as (term, _port):
        term.wait_for(rf"{len(CASES) + 1} events")
        term.wait_for("message")


# -- HAR entries from other tools ------------------------------------------------------------------


def har_entry(n: int, **request: Any) -> dict[str, Any]:
    """A request as browser devtools save it (no extension field), signed and valid."""
    fixture = connectly_event("text")
    base = {"method": "POST", "url": f"https://example.test{fixture['path']}?n={n}",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in fixture["headers"].items()],
            "postData": {"mimeType": "application/json", "text": fixture["body"]}}
    return {"startedDateTime": f"2026-11-27T12:00:{n % 60:02d}.000Z",
            "request": {**base, **request}, "response": {"status": 200}}


HAR_CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "ftp URL": (lambda e: {**e, "request": {**e["request"], "url": "ftp://x/y"}},
                "request.url is not an http(s) URL"),
    "year 99999": (lambda e: {**e, "startedDateTime": "+99999-01-01T00:00:00Z"},
                   "is not an ISO 8601 date"),
    "method with an escape": (lambda e: {**e, "request": {**e["request"], "method": "G\x1bT"}},
                              "request.method \"G\\u001bT\" is not an HTTP method"),
    "header value with CR LF": (
        lambda e: {**e, "request": {**e["request"], "headers": [
            {"name": "x-a", "value": "1\r\nx-injected: 1"}]}}, "is not a header value"),
    "body not base64": (
        lambda e: {**e, "request": {**e["request"],
                                    "postData": {"text": "%%", "encoding": "base64"}}},
        "bad base64"),
    "response status 1000": (lambda e: {**e, "response": {"status": 1000}},
                             "response.status 1000 is out of range"),
    "not an object": (lambda e: [e], "expected an object, got a list"),
    "URL with a bad IPv6 host": (
        lambda e: {**e, "request": {**e["request"], "url": "http://[::1/x"}},
        "request.url is not a URL"),
}


@pytest.fixture(scope="module")
def har_outcome(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("har")
    entries: list[Any] = [har_entry(0)]
    where: dict[str, int] = {}
    for n, (name, (make, _)) in enumerate(HAR_CASES.items(), 1):
        entries.append(make(har_entry(2 * n)))
        where[name] = len(entries)
        entries.append(har_entry(2 * n + 1))
    file = folder / "devtools.har"
    file.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}, indent=1))
    db = folder / "events.db"
    result = subprocess.run(
        inspector_argv("import", str(file), "--db", str(db), "--secret", SECRET),
        capture_output=True, text=True, timeout=120, env=child_env(), cwd=ROOT)
    store = open_store(db, index=False)
    yield result, where, store, len(entries) - len(HAR_CASES)
    store.close()


@pytest.mark.parametrize("name", list(HAR_CASES))
def test_a_hostile_har_entry_is_skipped_and_named(har_outcome: Any, name: str) -> None:
    result, where, _store, _good = har_outcome
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    found = re.search(rf"^  HAR entry {where[name]}: (.*)$", result.stderr, re.MULTILINE)
    assert found, result.stderr
    assert HAR_CASES[name][1] in found.group(1), found.group(1)


def test_good_har_entries_are_analysed_as_live_ones(har_outcome: Any) -> None:
    result, _where, store, good = har_outcome
    assert f"imported {good} of {good} events (har)" in result.stdout
    events = list(store.iter_events(store.seqs()))
    assert len(events) == good
    assert {(e.verdict, e.kind, e.provider) for e in events} == {("valid", "message",
                                                                 "connectly")}
