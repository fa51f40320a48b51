"""Every Connectly delivery the docs print, old and new, posted signed over real HTTP to the
real receiver, the real TUI and `inspector serve`: its kind, its summary, what it is about
(the message a status or a reply names), and the facts the Overview shows (callbackData,
BSUID, replyToId, campaign, an explained error, a report's expiry)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.core.model import Event
from inspector.core.providers.connectly import errors, samples
from inspector.core.providers.describe import describe, facts
from inspector.core.session import Session
from inspector.core.signatures import PROVIDERS, SignedRequest
from tests.conftest import SECRET, running_app, wait_for
from tests.test_serve import start

SHAPES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures/connectly_shapes.json").read_text())["shapes"]
EXPECTED = {s["name"]: (s["kind"], s["summary"]) for s in SHAPES}
RELATED = {s["name"]: s["related"] for s in SHAPES}
REPLY_TO = "018d62f2-2524-10fa-f857-091ab99c14c8"


def signed(body: dict[str, Any]) -> tuple[bytes, list[tuple[str, str]]]:
    """The body as Connectly sends it (indented, as the docs print it), signed."""
    raw = json.dumps(body, indent=2, ensure_ascii=False).encode()
    headers = list(samples.HEADERS)
    headers += PROVIDERS["connectly"].sign(SignedRequest("POST", "", headers, raw), SECRET,
                                           time.time())
    return raw, headers


async def post_all(base: str) -> dict[str, str]:
    """Post every shape; {event id: shape name}."""
    ids = {}
    async with httpx.AsyncClient() as client:
        for shape in SHAPES:
            raw, headers = signed(shape["body"])
            answer = await client.post(f"{base}/webhooks/connectly", content=raw,
                                       headers=headers)
            assert answer.status_code == 200, answer.text
            ids[answer.json()["id"]] = shape["name"]
    return ids


def stored(runtime: Session) -> list[Event]:
    return [e for e in runtime.store.iter_events(runtime.store.seqs())]


async def test_every_documented_shape_gets_its_kind_and_summary(runtime: Session) -> None:
    ids = await post_all(runtime.url.rstrip("/"))
    await wait_for(lambda: len(stored(runtime)) == len(SHAPES), what="every shape stored")
    events = {ids[e.id]: e for e in stored(runtime)}
    assert {name: (e.kind, e.summary) for name, e in events.items()} == EXPECTED
    assert {name: e.related for name, e in events.items()} == RELATED
    assert {e.retry_of for e in events.values()} == {None}  # every body is new
    assert {e.verdict for e in events.values()} == {"valid"}
    assert all(e.summary for e in events.values())  # never blank, documented or not
    kinds = {kind for kind, _summary in EXPECTED.values()}
    assert kinds == {"message", "button", "list", "reaction", "media", "referral",
                     "delivery_status", "report"}
    # The Overview's facts, from the stored bytes.
    rows = {name: dict(facts(e.provider, e.headers, json.loads(e.body), now=0))
            for name, e in events.items()}
    assert rows["button-callback"]["callbackData"] == '{"order_id":"12345"}'
    assert rows["button-callback"]["Reply to"] == REPLY_TO
    assert rows["quoted-reply"]["callbackData"] == '"campaign-42"'
    assert rows["reaction"]["Reaction"] == "\N{THUMBS UP SIGN}"
    assert rows["bsuid-with-phone"]["BSUID"] == "US.13491208655302741918"
    assert rows["bsuid-with-phone"]["Phone number"] == "+16315555500"
    assert rows["bsuid-phoneless"]["Phone number"].startswith("none: a phone-less customer")
    assert rows["status-read-bsuid"]["BSUID"] == "US.13491208655302741918"
    assert rows["status-read-bsuid"]["Message id"] == "01FRRWW2ZAHD9GJ1SWY4VF2GBD"
    for name, campaign in (("status-delivered", "<YOUR_CAMPAIGN_NAME>"),
                           ("status-failed-nested-metadata", "<YOUR_CAMPAIGN_NAME>"),
                           ("status-failed-camelcase", "summer_sale")):
        assert rows[name]["Campaign"] == campaign, name
    assert rows["report"]["URL expires"].startswith("2025-05-01T12:34:56Z (in ")
    assert rows["report"]["CSV URL"] == "https://reports.connectly.ai/abcdef"
    assert "callbackData" not in rows["text"] and "BSUID" not in rows["text"]


async def test_delivery_failed_is_explained(runtime: Session) -> None:
    await post_all(runtime.url.rstrip("/"))
    await wait_for(lambda: len(stored(runtime)) == len(SHAPES), what="every shape stored")
    by_trace = {}
    for event in stored(runtime):
        body = json.loads(event.body)
        trace = body.get("statusUpdate", {}).get("error", {}) or {}
        if trace.get("cntTraceId"):
            by_trace[trace["cntTraceId"]] = dict(facts(event.provider, event.headers, body))
    window = by_trace["11824978358485860716"]  # no userTitle: the catalogue names it
    assert window["Error"] == "more than 24 hours have passed since the customer last wrote"
    assert window["Error code"] == "ERROR_CODE_MESSAGE_OUTSIDE_OF_ELIGIBILITY_WINDOW"
    assert window["What to do"].startswith("send a template message instead")
    assert window["Trace id"] == "11824978358485860716 (quote it to Connectly support)"
    template = by_trace["10827968052975079261"]
    assert template["Error"] == "Message template inputs invalid"
    assert template["Meaning"] == "the template inputs are not valid"
    unknown = by_trace["99"]  # a code the table does not list is shown as it is
    assert unknown["Error code"] == "ERROR_CODE_SOMETHING_NEW"
    assert unknown["Meaning"] == "not in Connectly's published error table"
    assert unknown["What to do"] == errors.SUPPORT


def test_every_shape_through_serve(tmp_path: Path) -> None:
    proc, base = start(tmp_path, "--json")
    try:
        ids = asyncio.run(post_all(base))
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert {ids[r["id"]]: (r["kind"], r["summary"]) for r in records} == EXPECTED
    assert {ids[r["id"]]: r["related"] for r in records} == RELATED
    assert {r["retry_of"] for r in records} == {None}


async def test_every_shape_through_the_tui(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base):
        ids = await post_all(base)
        await wait_for(lambda: len(app.event_list.seqs) == len(SHAPES), what="every row")
        rows = [app.event_list.row(seq) for seq in app.event_list.seqs]
        assert {ids[r.id]: (r.kind, r.summary) for r in rows if r} == EXPECTED
        assert {ids[r.id]: r.related for r in rows if r} == RELATED
        # What the list draws from the top: the kind and the summary (no retry mark).
        await pilot.press("g")
        await pilot.pause()
        drawn = [app.event_list.render_line(y).text for y in range(1, 10)]
        for line, row in zip(drawn, rows, strict=False):
            assert row is not None and row.kind in line and row.summary[:20] in line, line
            assert "retry" not in line


def test_serve_text_lines_carry_the_summaries(tmp_path: Path) -> None:
    proc, base = start(tmp_path)
    try:
        asyncio.run(post_all(base))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    lines = out.splitlines()
    assert len(lines) == len(SHAPES)
    for line, shape in zip(lines, SHAPES, strict=True):
        assert f"  {shape['kind']}  {shape['summary']}  ✓ valid" in line, (shape["name"], line)


# -- describe on its own: shapes no doc shows ------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=8)
# Generation, not the code under test, is what a loaded machine makes slow.
relaxed = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
party = st.fixed_dictionaries({"channelType": st.just("whatsapp")},
                              optional={"id": json_values, "userId": json_values,
                                        "phoneNumber": json_values, "name": json_values})
connectly_like = st.fixed_dictionaries(
    {"sender": party},
    optional={k: json_values for k in ("message", "context", "buttonResponse", "listResponse",
                                       "reaction", "callbackData", "metadata", "topic",
                                       "recipient", "location")})


@relaxed
@given(connectly_like)
def test_any_connectly_message_is_described_never_blank(value: dict[str, Any]) -> None:
    kind, summary = describe("connectly", [], value)
    assert kind in ("message", "button", "list", "reaction", "media", "referral",
                    "delivery_status", "report")
    assert summary.strip()
    facts("connectly", [], value)  # never raises


@relaxed
@given(json_values)
def test_describe_and_facts_never_raise(value: Any) -> None:
    for provider in ("connectly", "stripe", ""):
        describe(provider, [], value)
        facts(provider, [], value)


def test_statuses_and_reports_are_never_blank_either() -> None:
    assert describe("connectly", [], {"topic": "delivery_status"}) == (
        "delivery_status", "unknown status")
    assert describe("connectly", [], {"statusUpdate": {"status": "delivery_failed",
                                                       "error": {}}}) == (
        "delivery_status", "delivery_failed")
    assert describe("connectly", [], {"topic": "report"}) == ("report", "report")
    assert describe("connectly", [], {"sender": {"channelType": "whatsapp"}}) == (
        "message", "? → (no message content)")


def test_other_bodies_are_left_to_other_describers() -> None:
    stripe = {"type": "payment_intent.succeeded", "id": "evt_1", "data": {"object": {}}}
    assert describe("stripe", [], stripe) == ("payment_intent.succeeded", "evt_1")
    assert facts("stripe", [], stripe) == []
    assert facts("connectly", [], {"type": "ping"}) == []
    assert describe("", [], {"sender": "someone", "type": "ping"})[0] == "ping"


def test_facts_of_a_report_say_when_its_url_expired() -> None:
    report = samples.payload("report", now=1_000_000)
    assert dict(facts("connectly", [], report, now=1_000_000 + 60))["URL expires"].endswith(
        "(in 9 min)")
    assert dict(facts("connectly", [], report, now=1_000_000 + 3600))["URL expires"].endswith(
        "(expired 50 min ago)")


def test_the_catalogue_covers_the_docs_table() -> None:
    documented = ["INVALID_SENDER_ID", "PHONE_NUMBER_BAD_FORMAT",
                  "MESSAGE_ATTACHMENTS_NUMBER_INVALID", "MESSAGE_TEXT_EMPTY",
                  "MESSAGE_TEMPLATE_NOT_FOUND", "MESSAGE_TEMPLATE_INPUT_INVALID",
                  "MESSAGE_ATTACHMENT_EMPTY", "MESSAGE_ATTACHMENT_INVALID",
                  "BUSINESS_MISSES_MATCHING_CHANNEL", "MESSAGE_OUTSIDE_OF_ELIGIBILITY_WINDOW",
                  "BUSINESS_REACHED_LIMITS", "MESSAGE_SELF_INVALID",
                  "MESSAGE_PHONE_NUMBER_INVALID", "MESSAGE_CUSTOMER_OPTED_OUT",
                  "MESSAGE_CUSTOMER_NO_CONVERSATION_INITIATION", "BUSINESS_KEY_SECRET_ABSENT",
                  "MESSAGE_TEMPLATE_DELETED", "UNSPECIFIED"]
    assert sorted(errors.CATALOGUE) == sorted(f"ERROR_CODE_{c}" for c in documented)
    assert all(e.meaning and e.fix for e in errors.CATALOGUE.values())
    assert errors.explain("ERROR_CODE_NOT_IN_THE_DOCS") is None
