"""Decoders' time: nothing that reads untrusted bytes is super-linear in them.

The analysis runs in the store's writer for every event, and every ack waits for it: one
body that costs seconds stalls every delivery (`'[' * 2000 + 'a\\"' * 32000`, 98 KB or 138
bytes gzipped, stalled every ack for 23-37 s). Each step that sees a body, a path or a header
is fed adversarial input and timed against a benign input of the same size measured in the
same test (best of a few runs, a generous ratio): a quadratic step is hundreds of times
slower at these sizes, a linear one a few times at most. Time is the CPU time the process
spent (`time.process_time`), as the analysis budget counts it: on a loaded machine the wall
clock also counts whatever else ran, and more of it in a long step than in a short one.
The end-to-end test checks that
the receiver keeps acknowledging small deliveries while such bodies arrive, against the
same run's baseline with benign bodies of the same size.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core import sanitize
from inspector.core.analysis import decoding
from inspector.core.analysis.analyzer import Analyzer, request_notes
from inspector.core.analysis.diff import compare, side_by_side
from inspector.core.config import Route
from inspector.core.model import Event, new_id
from inspector.core.providers import describe
from inspector.core.signatures import Secrets
from inspector.faces.tui.widgets.detail import build
from tests.conftest import SECRET, connectly_event, running_app
from tests.reliability.conftest import port_of, request, send_raw, serve

MARGIN = 20  # adversarial time / benign time of the same size
SIZE = 200_000  # bytes: under the diagnosis limit, so every analysis step runs
JSON = ("content-type", "application/json")
FORM = ("content-type", "application/x-www-form-urlencoded")
WRONG = ("x-connectly-hmac-sha256", "d3Jvbmcgc2lnbmF0dXJlIG9mIDMyIGJ5dGVzIQ==")


def fill(unit: bytes, size: int = SIZE, head: bytes = b"") -> bytes:
    return head + unit * ((size - len(head)) // len(unit))


def benign(size: int = SIZE) -> bytes:
    """A real delivery's JSON, many times over: what an ordinary body of this size costs."""
    one = json.loads(connectly_event("text")["body"])
    count = max(size // len(json.dumps(one)), 1)
    return json.dumps({"events": [one] * count}).encode()


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=9)


# Adversarial bodies: (name, body, headers). Each aims at a step: the JSON depth scan, the
# JSON parser and its re-serialisation in the diagnosis, forms, charsets, the odd-character
# notes, content-encoding. The first eight are JSON, for the comparison.
QUADRATIC_DEPTH = fill(b'a\\"', head=b"[" * 2000)
Case = tuple[str, bytes, list[tuple[str, str]]]


def json_cases(size: int) -> list[Case]:
    depth = fill(b'a\\"', size, head=b"[" * 2000)
    return [
        ("depth scan on escaped quotes", depth, [JSON, WRONG]),
        ("the same, gzipped (138 bytes)", gzipped(depth),
         [JSON, WRONG, ("content-encoding", "gzip")]),
        ("unterminated string", fill(b'\\"', size, head=b'["'), [JSON, WRONG]),
        ("backslashes", fill(b"\\", size, head=b"["), [JSON, WRONG]),
        ("deep nesting", fill(b"[{", size), [JSON, WRONG]),
        ("empty objects", fill(b"{},", size, head=b"[") + b"{}]", [JSON, WRONG]),
        ("long integers", fill(b"1" * 4000 + b",", size, head=b"[") + b"1]", [JSON, WRONG]),
        ("quotes", fill(b'"', size), [JSON, WRONG]),
    ]


ADVERSARIAL: list[Case] = [
    *json_cases(SIZE),
    ("brackets closed", fill(b"[]"), [JSON, WRONG]),
    ("form of empty fields", fill(b"a=&"), [FORM, WRONG]),
    ("Twilio form of empty fields", fill(b"a=&"),
     [FORM, ("x-twilio-signature", "d3Jvbmc=")]),
    ("form of percent escapes", fill(b"%zz%"), [FORM, WRONG]),
    ("controls in UTF-8 text", fill("é\x01\u202e\u200b".encode()),
     [("content-type", "text/plain"), WRONG]),
    ("escaped controls", fill(b"\\u001b\\u202e\\u200b\\u00"), [JSON, WRONG]),
    ("charset idna", fill(b"xn--a-"), [("content-type", "text/plain; charset=idna")]),
    ("charset punycode", fill("aé-".encode()),
     [("content-type", "text/plain; charset=punycode")]),
    ("charset utf-7", fill(b"+AAAA-+"), [("content-type", "text/plain; charset=utf-7")]),
    ("charset shift_jis", fill(b"\x81\x40\xff"),
     [("content-type", "text/plain; charset=shift_jis")]),
    ("angle brackets", fill(b"<"), [("content-type", "text/xml"), WRONG]),
    ("newlines", fill(b"\r\n"), [("content-type", "text/plain"), WRONG]),
]
IDS = [case[0] for case in ADVERSARIAL]


def best(fn: Callable[[], object], runs: int = 3) -> float:
    """The least CPU time of a few runs: the cost of the step, not of whatever else ran."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def assert_linear(step: Callable[[bytes, list[tuple[str, str]]], object], body: bytes,
                  headers: list[tuple[str, str]], size: int = SIZE) -> None:
    baseline = best(lambda: step(benign(size), [JSON, WRONG]))
    took = best(lambda: step(body, headers), runs=2)
    assert took <= MARGIN * baseline, (
        f"{took * 1000:.1f} ms against {baseline * 1000:.1f} ms for a benign body of "
        f"{size:,} bytes")


def event_of(body: bytes, headers: list[tuple[str, str]], path: str = "/hook") -> Event:
    return Event(id=new_id(), received_at=time.time(), method="POST", path=path, query="",
                 headers=headers, body=body)


def analyze(body: bytes, headers: list[tuple[str, str]]) -> None:
    """What the store's writer runs for every event (signature diagnosis included)."""
    routes = [Route("/hooks/*/stripe/*"), Route("*a*b*c*d*e*")]
    Analyzer(secrets=Secrets(default=SECRET), routes=routes).analyze(event_of(body, headers))


def detail(body: bytes, headers: list[tuple[str, str]]) -> None:
    """What the detail pane prepares in its worker (decoding, pretty JSON, lines)."""
    event = event_of(body, headers)
    build(event, Analyzer().verify(event), [])


@pytest.mark.parametrize(("name", "body", "headers"), ADVERSARIAL, ids=IDS)
def test_analysis_is_linear(name: str, body: bytes, headers: list[tuple[str, str]]) -> None:
    assert_linear(analyze, body, headers)


@pytest.mark.parametrize(("name", "body", "headers"), ADVERSARIAL, ids=IDS)
def test_decoding_is_linear(name: str, body: bytes, headers: list[tuple[str, str]]) -> None:
    assert_linear(lambda b, h: decoding.decode(b, h), body, headers)


@pytest.mark.parametrize(("name", "body", "headers"), ADVERSARIAL, ids=IDS)
def test_the_detail_pane_is_linear(name: str, body: bytes,
                                   headers: list[tuple[str, str]]) -> None:
    assert_linear(detail, body, headers)


# Pairing the changed lines of a comparison stops at a fixed amount of work (diff.PAIR_BUDGET,
# about 0.4 s), whatever the size: against a benign body of SIZE that constant alone is 16
# times the baseline, too close to the margin to tell anything. At four times the size the
# linear part is what the ratio measures, and a quadratic step would still stand out.
COMPARE_SIZE = 4 * SIZE


@pytest.mark.parametrize(("name", "body", "headers"), json_cases(COMPARE_SIZE), ids=IDS[:8])
def test_compare_is_linear(name: str, body: bytes, headers: list[tuple[str, str]]) -> None:
    def step(b: bytes, h: list[tuple[str, str]]) -> None:
        compare(event_of(b, h), event_of(b[::-1], h))

    assert_linear(step, body, headers, COMPARE_SIZE)


def _lines(count: int, width: int, tag: str = "") -> list[str]:
    return [f"{i:08d}{tag}".ljust(width, "x") for i in range(count)]


@pytest.mark.parametrize(("left", "right"), [
    (_lines(2500, 80), _lines(2500, 80)[::-1]),  # every line moved
    (_lines(2500, 80), sorted(_lines(2500, 80), key=lambda s: s[7::-1])),  # shuffled
    (_lines(2500, 80), [_lines(2500, 80)[i ^ 1] for i in range(2500)]),  # pairs swapped
    (["a" * 1999 + str(i % 10) for i in range(100)],  # long lines, all nearly alike
     ["a" * 1998 + str(i % 10) + "b" for i in range(100)]),
    (["ab" * 1000] * 100, ["ba" * 1000] * 100),
    ([f"x{i % 50}" for i in range(5000)], [f"x{i * 7 % 50}" for i in range(5000)]),  # repeats
    (_lines(5000, 40, "l"), _lines(5000, 40, "r")),  # nothing in common
], ids=["reversed", "shuffled", "swapped", "long alike", "long repeated", "repeats", "disjoint"])
def test_aligning_lines_is_bounded(left: list[str], right: list[str]) -> None:
    """The side-by-side alignment (difflib is cubic at worst) against a benign diff that is
    aligned and paired in full: every third of 1,500 lines changed in place."""
    benign = _lines(1500, 80)
    changed = [line + "!" if i % 3 == 0 else line for i, line in enumerate(benign)]
    baseline = best(lambda: side_by_side(benign, changed))
    assert best(lambda: side_by_side(left, right), runs=1) <= MARGIN * baseline


@pytest.mark.parametrize("text", [
    QUADRATIC_DEPTH.decode(), fill(b'"\\').decode(), fill(b"\\").decode(), fill(b"[").decode(),
    fill(b'"[').decode(), fill(b"]").decode()])
def test_the_depth_scan_is_linear(text: str) -> None:
    baseline = best(lambda: decoding.json_depth(benign().decode()))
    assert best(lambda: decoding.json_depth(text)) <= MARGIN * baseline


CUSTOMER = {"id": "+1", "channelType": "whatsapp"}


@pytest.mark.parametrize("value", [
    None, {"type": "x" * SIZE}, {"message": {"text": "\n" * SIZE}}, {"payload": "[" * SIZE},
    {"command": "/x", "text": "é" * SIZE},
    # Connectly shapes whose parts are many or long: attachments, fields of an unknown
    # message, a button's text, an error's code, a report's name, a customer's ids.
    {"sender": CUSTOMER, "message": {"attachments": [{"type": "image"}] * (SIZE // 20)}},
    {"sender": CUSTOMER, "message": {str(i): None for i in range(SIZE // 10)}},
    {"sender": CUSTOMER, **{str(i): None for i in range(SIZE // 10)}},
    {"buttonResponse": {"text": "b" * SIZE, "payload": "p" * SIZE}, "context": {
        "replyToId": "r" * SIZE}},
    {"statusUpdate": {"status": "s" * SIZE, "error": {"code": "c" * SIZE}},
     "recipient": {"id": "i" * SIZE, "userId": "u" * SIZE}},
    {"topic": "report", "report": {"name": "n" * SIZE, "last_run": {"status": "s" * SIZE}}},
    # WhatsApp Cloud API (Meta): a batch of many statuses or messages, long texts.
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"statuses": [
        {"status": "s" * SIZE, "errors": [{"title": "t" * SIZE, "code": "c" * SIZE}]}]
        * (SIZE // 20)}}]}] * (SIZE // 20)},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
        "contacts": [{"profile": {"name": "n" * SIZE}}],
        "messages": [{"from": "f" * SIZE, "type": "text", "text": {"body": "b" * SIZE},
                      "context": {"id": "i" * SIZE}}] * (SIZE // 20)}}]}]},
])
def test_describe_is_linear(value: object) -> None:
    baseline = best(lambda: describe.describe("connectly", [JSON], json.loads(benign())))
    for provider in ("connectly", "meta", "slack", "github", "twilio", "stripe", ""):
        took = best(lambda: describe.describe(provider, [JSON], value))  # noqa: B023 (called before the loop moves on)
        assert took <= MARGIN * max(baseline, 1e-4)


PATH = 16_000  # about the longest request line the HTTP parsers accept
PIECES = 16


@pytest.mark.parametrize("path", [
    "%" * PATH, "%1" * (PATH // 2), "/a" * (PATH // 2), "\x1b\u202e" * (PATH // 2), "é" * PATH,
], ids=["percent signs", "percent escapes", "segments", "escapes and bidi", "accents"])
def test_path_and_header_notes_and_routes_are_linear(path: str) -> None:
    """Request notes, route globs and the sanitiser on a long hostile path and headers,
    against the same text cut in PIECES pieces handled one by one: linear work costs no more
    whole than in pieces (less: each piece pays the fixed costs again), quadratic work
    PIECES times more. A benign path is no baseline here: it has nothing to escape, and
    escaping costs some 18 times more per character, linearly."""
    routes = [Route("/a/*/a/*/a/*/b"), Route("*a*a*a*a*b*"), Route("/[!a]*")]

    def step(p: str) -> None:
        event = event_of(b"", [("x-h", p)] * 4, path=p)
        request_notes(event)
        Analyzer(routes=routes).verify(event)
        sanitize.visible_line(p)

    size = len(path) // PIECES

    def in_pieces() -> None:
        for i in range(0, len(path), size):
            step(path[i : i + size])

    pieces = best(in_pieces, 5)
    assert best(lambda: step(path), 5) <= PIECES / 4 * pieces


# -- end to end: the receiver keeps acknowledging -------------------------------------------------


async def acks_meanwhile(port: int, burst: list[bytes], rounds: int = 5) -> list[float]:
    """Send `burst` all at once, and small deliveries one after another until every request
    of the burst is answered; `rounds` times. How long each small delivery waited."""
    case = connectly_event("text")
    probe = request(target=case["path"], body=case["body"].encode(),
                    headers=[(k.encode(), v.encode()) for k, v in case["headers"].items()])
    waited: list[float] = []
    for _ in range(rounds):
        sent = [asyncio.create_task(send_raw(port, data, timeout=300)) for data in burst]
        while True:  # every probe starts while the burst is still being handled
            start = time.perf_counter()
            answer = await send_raw(port, probe, timeout=300)
            waited.append(time.perf_counter() - start)
            assert answer.status == 200
            if all(task.done() for task in sent):
                break
        assert [(await task).status for task in sent] == [200] * len(burst)
    return waited


def wire(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    return request(headers=[(k.encode(), v.encode()) for k, v in headers], body=body)


async def test_acks_stay_prompt_while_adversarial_bodies_arrive(tmp_path: Path) -> None:
    """The 138-byte request and its kin, against benign bodies as large once decoded."""
    chosen = [case for case in ADVERSARIAL if case[0] in (
        "depth scan on escaped quotes", "the same, gzipped (138 bytes)",
        "Twilio form of empty fields", "empty objects", "controls in UTF-8 text",
        "form of percent escapes")]
    attack = [wire(body, headers) for _, body, headers in chosen]
    calm = [wire(benign(SIZE), [JSON, WRONG]) for _ in chosen]
    with serve(tmp_path, tmp_path / "events.db") as served:
        baseline = await acks_meanwhile(served.port, calm)
        attacked = await acks_meanwhile(served.port, attack)
    assert statistics.median(attacked) <= 10 * statistics.median(baseline), (
        f"acks waited {statistics.median(attacked) * 1000:.0f} ms (median) while adversarial "
        f"bodies arrived, {statistics.median(baseline) * 1000:.0f} ms with benign ones")


async def test_past_the_budget_the_event_is_stored_with_a_note(tmp_path: Path) -> None:
    """The backstop: analysis that overruns its budget stops, and says so on the event."""
    async with running_app(tmp_path) as (app, _pilot, base):
        app.session.analyzer.budget = 1e-9  # every event overruns it
        answer = await send_raw(port_of(base), wire(benign(), [JSON, ("x-github-event", "push")]))
        assert answer.status == 200
        event = app.store.event_by_id(answer.json()["id"])
        assert event is not None and event.body == benign()
        assert any(note.startswith("analysis stopped after") and "not summarised" in note
                   for note in event.notes), event.notes
        assert event.kind == "push"  # what the headers say costs nothing
