"""The story of an object and the retries of a delivery (issue 12, must-haves 5-7): what each
provider's events are about, which earlier delivery an event repeats, the store's `related`
read and the filter's `related:` and `retry:`, and what `serve` and the exports say of it.
Deliveries go over real HTTP into the real receiver and store."""

from __future__ import annotations

import io
import json
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.interop import export, importing
from inspector.core.model import Event, new_id
from inspector.core.providers import correlate, describe
from inspector.core.providers.connectly import samples
from inspector.core.session import Session
from inspector.core.signatures import PROVIDERS, Secrets, SignedRequest
from inspector.core.store import open_store
from inspector.core.store.filter import FilterError, parse
from inspector.core.store.sqlite import schema, writes
from tests.conftest import SECRET, make_runtime, make_settings, wait_for
from tests.test_serve import start

STRIPE = "whsec_test_secret"
STANDARD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRETS = Secrets(default=SECRET, by_provider={"stripe": STRIPE, "standard-webhooks": STANDARD,
                                               "svix": STANDARD, "github": "gh-secret",
                                               "shopify": "shop-secret", "slack": "slack-secret",
                                               "twilio": "twilio-token",
                                               "meta": "meta-app-secret"})
MESSAGE = "01JD7Q4ZQ8T3W5Y1G2H3K4M5N6"  # an outbound message, as the send API names it
WAMID = "wamid.HBgLNjAxNzM1MjYyMzMVAgARGBJCNkY5NTBENEU3ODYxQTM3RUQA"  # Meta's message id


def signed(provider: str, body: bytes, headers: list[tuple[str, str]], *,
           url: str = "", now: float | None = None) -> list[tuple[str, str]]:
    """`headers` plus the provider's signature of `body`, as the provider sends it."""
    secret = next(iter(SECRETS.for_provider(provider)), None)  # the current one
    assert secret is not None
    req = SignedRequest("POST", url, headers, body)
    return [*headers, *PROVIDERS[provider].sign(req, secret, time.time() if now is None
                                                  else now)]


def analysed(provider: str, body: bytes, headers: list[tuple[str, str]]) -> Event:
    event = Event(id=new_id(), received_at=time.time(), method="POST", path="/hooks", query="",
                  headers=signed(provider, body, headers), body=body)
    Analyzer(SECRETS).analyze(event)
    assert event.verdict == "valid", (provider, event.reason)
    return event


def stripe_event(event_id: str, obj: str, kind: str = "payment_intent.succeeded") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind,
                       "data": {"object": {"id": obj, "object": "payment_intent"}}}).encode()


# -- what each provider's events are about, and which delivery each is -------------------------


def test_stripe_github_shopify_standard_svix_slack_twilio_keys() -> None:
    stripe = analysed("stripe", stripe_event("evt_1", "pi_9"), [])
    assert (stripe.related, stripe.delivery) == ("pi_9", "evt_1")

    pull = json.dumps({"action": "opened", "number": 12, "pull_request": {"number": 12},
                       "repository": {"full_name": "octo/hello"}}).encode()
    github = analysed("github", pull, [("X-GitHub-Event", "pull_request"),
                                       ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab")])
    assert (github.related, github.delivery) == ("octo/hello#12", "72d3162e-cc78-11e3-81ab")
    run = json.dumps({"action": "completed", "check_run": {"id": 42}}).encode()
    assert analysed("github", run, [("X-GitHub-Event", "check_run")]).related == "check_run:42"
    ping = analysed("github", b'{"zen": "Keep it simple.", "hook_id": 1, "hook": {"id": 1}}',
                    [("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "d-1")])
    assert (ping.related, ping.delivery) == ("hook:1", "d-1")
    # A push names no object: it is about its delivery, so that a redelivery joins it.
    push = analysed("github", b'{"ref": "refs/heads/main", "after": "9f1c"}',
                    [("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "d-2")])
    assert (push.related, push.delivery) == ("d-2", "d-2")

    order = json.dumps({"id": 820982911946154508,
                        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508"})
    shopify = analysed("shopify", order.encode(), [("X-Shopify-Topic", "orders/paid"),
                                                    ("X-Shopify-Webhook-Id", "b54557e4-bdd9")])
    assert (shopify.related, shopify.delivery) == ("gid://shopify/Order/820982911946154508",
                                                   "b54557e4-bdd9")
    refund = analysed("shopify", b'{"id": 509562969}', [("X-Shopify-Topic", "refunds/create")])
    assert refund.related == "refunds:509562969"

    body = b'{"type": "invoice.paid", "data": {"id": "inv_3"}}'
    standard = analysed("standard-webhooks", body, [])
    assert standard.related == "inv_3" and (standard.delivery or "").startswith("msg_")
    svix = analysed("svix", b'{"type": "user.created"}', [])
    assert svix.related == svix.delivery and (svix.delivery or "").startswith("msg_")  # no data.id

    callback = json.dumps({"type": "event_callback", "event_id": "Ev08",
                           "event": {"type": "message", "channel": "C1", "ts": "1.2",
                                     "thread_ts": "1.1", "text": "hi"}}).encode()
    slack = analysed("slack", callback, [("Content-Type", "application/json")])
    assert (slack.related, slack.delivery) == ("C1/1.1", "Ev08")

    form = urlencode({"MessageSid": "SM1", "MessageStatus": "delivered", "From": "+1",
                      "To": "+2"}).encode()
    event = Event(id=new_id(), received_at=time.time(), method="POST", path="/sms", query="",
                  headers=[("Content-Type", "application/x-www-form-urlencoded"),
                           ("I-Twilio-Idempotency-Token", "tok-7")], body=form)
    event.headers = signed("twilio", form, event.headers, url="http://localhost/sms")
    Analyzer(SECRETS, public_url="http://localhost").analyze(event)
    assert (event.kind, event.related, event.delivery) == ("message_status", "SM1", "tok-7")


def test_connectly_statuses_replies_and_reactions_name_their_message() -> None:
    about = {}
    for kind in ("sent", "delivery_status", "read", "delivery_failed"):
        about[kind] = samples.payload(kind) | {"statusUpdate": {"id": MESSAGE}}
    for kind in ("reply", "button", "list", "reaction"):
        about[kind] = samples.payload(kind) | {"context": {"replyToId": MESSAGE}}
    for kind, value in about.items():
        body = json.dumps(value).encode()
        related, delivery = correlate.keys("connectly", [], value, body)
        assert related == MESSAGE, kind
        # Connectly sends no delivery id: the body's hash names the delivery.
        assert delivery == correlate.body_key(body), kind
    text = samples.payload("text")
    assert correlate.keys("connectly", [], text, b"{}")[0] is None  # about no earlier message


def whatsapp(value: dict[str, Any]) -> bytes:
    """A WhatsApp Cloud API delivery, in Meta's envelope, as its docs print it."""
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"}} | value}]}]}).encode()


def whatsapp_status(status: str, at: int, *, wamid: str = WAMID,
                    errors: list[dict[str, Any]] | None = None) -> bytes:
    one: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(at),
                           "recipient_id": "60173526233"}
    if status != "failed":
        one |= {"conversation": {"id": "f5fdae3920125a39a1e6a23e5f877c16",
                                 "origin": {"type": "utility"}},
                "pricing": {"billable": True, "pricing_model": "CBP", "category": "utility"}}
    return whatsapp({"statuses": [one | ({"errors": errors} if errors else {})]})


def whatsapp_message(message: dict[str, Any], at: int) -> bytes:
    return whatsapp({"contacts": [{"profile": {"name": "Lee Jen Ling"}, "wa_id": "60173526233"}],
                     "messages": [{"from": "60173526233", "id": f"wamid.IN{at}",
                                   "timestamp": str(at)} | message]})


RATE_LIMITED = [{"code": 130429, "title": "Rate limit hit", "message": "Rate limit hit",
                 "error_data": {"details": "Message failed to send because there were too "
                                           "many messages sent from this phone number"}}]


def test_whatsapp_cloud_statuses_replies_and_reactions_name_their_message() -> None:
    """Meta's deliveries: each gets a kind and a summary, and names the wamid it is about."""
    t = 1_694_492_482
    cases = [
        (whatsapp_status("sent", t), "delivery_status", "sent · to 60173526233", WAMID),
        (whatsapp_status("failed", t, errors=RATE_LIMITED), "delivery_status",
         "failed: Rate limit hit (130429) · to 60173526233", WAMID),
        (whatsapp_message({"type": "text", "text": {"body": "Yes please"},
                           "context": {"from": "15550783881", "id": WAMID}}, t),
         "message", f'60173526233 (Lee Jen Ling) → "Yes please" · reply to {WAMID}', WAMID),
        (whatsapp_message({"type": "reaction",
                           "reaction": {"message_id": WAMID, "emoji": "👍"}}, t),
         "reaction", f"60173526233 (Lee Jen Ling) → 👍 · on {WAMID}", WAMID),
        (whatsapp_message({"type": "button", "button": {"text": "Stop", "payload": "STOP"},
                           "context": {"id": WAMID}}, t),
         "button", f'60173526233 (Lee Jen Ling) → "Stop" · payload STOP · reply to {WAMID}',
         WAMID),
        (whatsapp_message({"type": "interactive", "interactive": {
            "type": "list_reply", "list_reply": {"id": "size_m", "title": "Medium"}}}, t),
         "list", '60173526233 (Lee Jen Ling) → "Medium" · id size_m', f"wamid.IN{t}"),
        (whatsapp_message({"type": "image", "image": {"caption": "receipt", "id": "27548"}}, t),
         "media", '60173526233 (Lee Jen Ling) → image "receipt"', f"wamid.IN{t}"),
        (whatsapp({"errors": RATE_LIMITED}), "error", "Rate limit hit (130429)", None),
    ]
    for body, kind, summary, about in cases:
        event = analysed("meta", body, [])
        assert (event.provider, event.kind, event.summary) == ("meta", kind, summary), body
        assert event.related == about, body
        # Meta sends no delivery id: the body's hash names the delivery, as for Connectly.
        assert event.delivery == correlate.body_key(body)

    failed = json.loads(whatsapp_status("failed", t, errors=RATE_LIMITED))
    facts = dict(describe.facts("meta", [], failed))
    assert facts["Message id"] == WAMID and facts["Status"] == "failed"
    assert (facts["Error"], facts["Error code"]) == ("Rate limit hit", "130429")
    assert facts["Error details"].startswith("Message failed to send because")
    # Unsigned (no X-Hub-Signature), Meta's envelope is still recognised.
    assert describe.described("", [], json.loads(whatsapp_status("read", t)))[:2] == (
        "meta", "delivery_status")


def test_keys_are_ids_never_objects_or_huge_values() -> None:
    for value in ({"a": 1}, [1], True, None, "", "  ", "x" * 201):
        assert correlate.key(value) is None, value
    assert correlate.key(7) == "7" and correlate.key(" pi_1 ") == "pi_1"
    # An event that cannot be read names its delivery from the headers only.
    assert correlate.keys(None, [("X-GitHub-Delivery", "d-9")], None, b"x") == (None, "d-9")


# -- retries, over HTTP ------------------------------------------------------------------------


@pytest.fixture
async def session(tmp_path: Path) -> Any:
    rt = make_runtime(make_settings(tmp_path, secrets=SECRETS))
    await rt.start()
    await wait_for(lambda: rt._running and rt._running.server.started)
    yield rt
    await rt.stop()


async def post(session: Session, body: bytes, headers: list[tuple[str, str]]) -> str:
    async with httpx.AsyncClient() as client:
        answer = await client.post(session.url.rstrip("/") + "/hooks", content=body,
                                   headers=headers)
    return str(answer.headers["x-inspector-event-id"])


def stored(session: Session) -> list[Event]:
    return list(session.store.iter_events(session.store.seqs()))


async def test_a_stripe_event_sent_again_is_a_retry_of_the_first(session: Session) -> None:
    first = await post(session, body := stripe_event("evt_7", "pi_7"), signed("stripe", body, []))
    again = [await post(session, body, signed("stripe", body, [])) for _ in range(2)]
    other = await post(session, body2 := stripe_event("evt_8", "pi_7", "charge.refunded"),
                       signed("stripe", body2, []))
    events = {e.id: e for e in stored(session)}
    assert [events[i].retry for i in (first, *again, other)] == [0, 1, 2, 0]
    assert [events[i].retry_of for i in (first, *again, other)] == [None, first, first, None]
    assert 0 < events[again[0]].since_first <= events[again[1]].since_first
    # One story: the payment intent, its retries and its refund, in the order they arrived.
    seqs = session.store.related(first)
    assert [session.store.event(s).id for s in seqs] == [first, *again, other]  # type: ignore
    assert session.store.related("pi_7") == seqs
    assert session.store.related("evt_7") == seqs[:3]  # the delivery id: the retries
    assert session.store.search("retry:yes") == seqs[1:3]
    assert session.store.search("retry:no") == [seqs[0], seqs[3]]
    assert session.store.search(parse("related:this -retry:yes", this=again[1])) == [
        seqs[0], seqs[3]]


async def test_a_forgery_reusing_a_delivery_id_is_no_retry_of_the_genuine_one(
        tmp_path: Path, location: str) -> None:
    """A stranger who copies a genuine Stripe event id does not get a "retry of" the genuine
    event, nor does the next genuine retry count from the forgery; deliveries checked with a
    wrong secret (all invalid) still link to one another."""
    rt = make_runtime(make_settings(tmp_path, db=location, secrets=SECRETS))
    await rt.start()
    try:
        await wait_for(lambda: rt._running and rt._running.server.started)
        body = stripe_event("evt_9", "pi_9")
        genuine = await post(rt, body, signed("stripe", body, []))
        forged = [await post(rt, body, [("Stripe-Signature", f"t={int(time.time())},v1=00")])
                  for _ in range(2)]
        retry = await post(rt, body, signed("stripe", body, []))
        events = {e.id: e for e in stored(rt)}
        assert [events[i].verdict for i in (genuine, *forged, retry)] == [
            "valid", "invalid", "invalid", "valid"]
        assert (events[retry].retry_of, events[retry].retry) == (genuine, 1)
        assert (events[forged[0]].retry_of, events[forged[0]].retry) == (None, 0)
        assert any(f"delivery id of {genuine}" in n and "not counted as a retry" in n
                   for n in events[forged[0]].notes)
        assert (events[forged[1]].retry_of, events[forged[1]].retry) == (forged[0], 1)
    finally:
        await rt.stop()


async def test_a_standard_webhook_retried_after_a_503(tmp_path: Path) -> None:
    """A sender that retries on non-2xx, as every provider does, against --status 503; then
    the answer turns 200 and the sender stops. Which answer caused which retry is stored."""
    rt = make_runtime(make_settings(tmp_path, secrets=SECRETS))
    rt.set_policy(replace(rt.live.policy, status=503))
    await rt.start()
    try:
        await wait_for(lambda: rt._running and rt._running.server.started)
        body = b'{"type": "invoice.paid", "data": {"id": "inv_42"}}'
        headers = signed("standard-webhooks", body, [])
        statuses = []
        async with httpx.AsyncClient() as client:
            for _attempt in range(5):
                answer = await client.post(rt.url.rstrip("/") + "/hooks", content=body,
                                           headers=headers)
                statuses.append(answer.status_code)
                if answer.is_success:
                    break
                if len(statuses) == 2:
                    rt.set_policy(replace(rt.live.policy, status=200))
        assert statuses == [503, 503, 200]
        events = stored(rt)
        assert [(e.status, e.retry) for e in events] == [(503, 0), (503, 1), (200, 2)]
        assert {e.retry_of for e in events[1:]} == {events[0].id}
        assert {e.related for e in events} == {"inv_42"}
    finally:
        await rt.stop()


def import_at(store: Any, analyzer: Analyzer, body: bytes, when: float) -> Event:
    event = Event(id=new_id(when), received_at=when, method="POST", path="/webhooks/connectly",
                  query="", headers=list(samples.HEADERS), body=body)
    analyzer.analyze(event)
    (done,) = store.import_events_sync([(event, [])])
    return done  # type: ignore[no-any-return]


def test_a_connectly_body_seen_again_within_a_day_is_a_retry(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.db")
    analyzer = Analyzer(SECRETS)
    body = samples.build("text", now=1_700_000_000).body
    t0 = 1_700_000_000.0
    try:
        first = import_at(store, analyzer, body, t0)
        retry = import_at(store, analyzer, body, t0 + 30)
        later = import_at(store, analyzer, body, t0 + 30 + correlate.RETRY_WINDOW + 1)
        again = import_at(store, analyzer, body, t0 + 30 + correlate.RETRY_WINDOW + 61)
        other = import_at(store, analyzer, samples.build("text", now=t0 + 1).body, t0 + 40)
        assert (retry.retry_of, retry.retry, retry.since_first) == (first.id, 1, 30.0)
        assert (later.retry_of, later.retry) == (None, 0)  # a day later: a new delivery
        assert (again.retry_of, again.retry, again.since_first) == (later.id, 1, 60.0)
        assert (other.retry_of, other.retry) == (None, 0)  # another second, another body
    finally:
        store.close()


def test_linking_retries_stays_linear(tmp_path: Path) -> None:
    """The writer finds the latest earlier delivery of a key with one index probe: 20,000
    repeats of one body (a flood of retries, or `make bench`) cost the same per event at the
    end as at the start."""
    conn = schema_conn(tmp_path)

    def batch(start: int) -> float:
        events = []
        for i in range(start, start + 2000):
            event = Event(id=new_id(), received_at=1000.0 + i, method="POST", path="/", query="",
                          headers=[], body=b"x")
            event.delivery = "body:same"
            events.append(event)
        began = time.perf_counter()
        for i in range(0, len(events), 64):
            conn.execute("BEGIN IMMEDIATE")
            writes.insert_many(conn, events[i : i + 64], None)
            conn.execute("COMMIT")
        return time.perf_counter() - began

    early = min(batch(0), batch(2000))
    for first in range(4000, 18000, 2000):
        batch(first)
    late = min(batch(18000), batch(20000))
    assert late < early * 3, (early, late)
    assert conn.execute("SELECT max(retry) FROM events").fetchone()[0] == 21999


def schema_conn(tmp_path: Path) -> Any:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "lin.db", isolation_level=None)
    schema.migrate(conn, str(tmp_path / "lin.db"))
    return conn


async def test_sent_delivered_read_and_a_reply_tell_one_story(session: Session) -> None:
    posted = []
    for kind, where in (("sent", "statusUpdate.id"), ("delivery_status", "statusUpdate.id"),
                        ("read", "statusUpdate.id"), ("reply", "context.replyToId")):
        sample = samples.build(kind, secret=SECRET, sets=[f"{where}={MESSAGE}"])
        posted.append(await post(session, sample.body, sample.headers))
    unrelated = samples.build("read", secret=SECRET)
    await post(session, unrelated.body, unrelated.headers)
    seqs = session.store.related(MESSAGE)
    assert [e.id for e in session.store.iter_events(seqs)] == posted
    assert session.store.related(posted[2]) == seqs  # by one event of the story
    assert session.store.search(f"related:{MESSAGE} kind:delivery_status") == seqs[:3]
    assert session.store.search(f"-related:{MESSAGE}") == [session.store.last_seq()]


async def test_whatsapp_cloud_sent_delivered_read_and_a_retry_tell_one_story(
        session: Session) -> None:
    """Signed Meta deliveries over HTTP: the statuses of one wamid and the customer's reply
    are one story; the same delivery sent again is a retry of it."""
    t = int(time.time())
    bodies = [whatsapp_status("sent", t), whatsapp_status("delivered", t + 2),
              whatsapp_status("read", t + 9),
              whatsapp_message({"type": "text", "text": {"body": "Thanks"},
                                "context": {"id": WAMID}}, t + 20)]
    posted = [await post(session, body, signed("meta", body, [])) for body in bodies]
    retry = await post(session, bodies[1], signed("meta", bodies[1], []))
    other = whatsapp_status("read", t, wamid="wamid.OTHER")
    await post(session, other, signed("meta", other, []))
    seqs = session.store.related(WAMID)
    events = list(session.store.iter_events(seqs))
    assert [e.id for e in events] == [*posted, retry]
    assert {(e.provider, e.verdict) for e in events} == {("meta", "valid")}
    assert [e.kind for e in events] == ["delivery_status"] * 3 + ["message", "delivery_status"]
    assert (events[-1].retry_of, events[-1].retry) == (posted[1], 1)
    assert session.store.search("retry:yes") == [seqs[-1]]
    assert session.store.search(f"related:{WAMID} kind:delivery_status") == [
        seqs[0], seqs[1], seqs[2], seqs[4]]


def test_the_filter_grammar_of_related_and_retry() -> None:
    assert parse("related:this", this="01J").terms[0].value == "01J"
    assert parse("related:pi_1").terms[0].value == "pi_1"
    with pytest.raises(FilterError, match="related:this means the event selected"):
        parse("related:this")
    with pytest.raises(FilterError, match="retry:maybe is not yes or no"):
        parse("retry:maybe")
    assert parse("retry:YES").terms[0].value == "yes"


# -- serve and the exports ---------------------------------------------------------------------


def test_serve_json_lines_say_what_an_event_is_about_and_what_it_repeats(
        tmp_path: Path) -> None:
    proc, base = start(tmp_path, "--json", "--status", "503")
    sample = samples.build("read", secret=SECRET, sets=[f"statusUpdate.id={MESSAGE}"])
    text = samples.build("text", secret=SECRET)
    try:
        answers = [httpx.post(base + sample.path, content=sample.body, headers=sample.headers)
                   for _ in range(3)]
        answers.append(httpx.post(base + text.path, content=text.body, headers=text.headers))
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert {a.status_code for a in answers} == {503}
    records = [json.loads(line) for line in out.splitlines()]
    first = answers[0].json()["id"]
    assert [(r["related"], r["retry_of"]) for r in records] == [
        (MESSAGE, None), (MESSAGE, first), (MESSAGE, first), (None, None)]


def test_serve_text_lines_mark_a_retry(tmp_path: Path) -> None:
    proc, base = start(tmp_path)
    sample = samples.build("text", secret=SECRET)
    try:
        ids = [httpx.post(base + sample.path, content=sample.body,
                          headers=sample.headers).json()["id"] for _ in range(2)]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    first, second = out.splitlines()
    assert "retry" not in first
    assert f"✓ valid  ↻ retry #1 of {ids[0]} (+" in second and second.endswith(ids[1])


async def test_jsonl_keeps_them_and_an_import_computes_them_again(session: Session,
                                                                   tmp_path: Path) -> None:
    body = stripe_event("evt_9", "pi_9")
    ids = [await post(session, body, signed("stripe", body, [])) for _ in range(2)]
    out = io.StringIO()
    export.write_jsonl(export.events_with_attempts(session.store, session.store.seqs()), out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["related"], r["retry_of"]) for r in records] == [("pi_9", None), ("pi_9", ids[0])]
    # A record's keys are never trusted: the import works them out from the bytes.
    records[0]["related"], records[1]["retry_of"] = "forged", "01J0000000000000000000FAKE"
    forged = "".join(export.line(r) + "\n" for r in records).encode()
    other = open_store(tmp_path / "imported.db")
    try:
        importing.import_file(other, io.BytesIO(forged), Analyzer(SECRETS))
        events = list(other.iter_events(other.seqs()))
        assert [(e.id, e.related, e.retry_of) for e in events] == [
            (ids[0], "pi_9", None), (ids[1], "pi_9", ids[0])]
    finally:
        other.close()


def test_the_keys_add_little_to_analysis() -> None:
    """The keys cost a few lookups and one hash of a Connectly body: a small part of the
    analysis every event gets anyway (both measured here, on the same delivery)."""
    sample = samples.build("delivery_failed", secret=SECRET)
    value = json.loads(sample.body)
    analyzer = Analyzer(SECRETS)
    rounds = 1000

    def timed(step: Any) -> float:
        began = time.perf_counter()
        for _ in range(rounds):
            step()
        return time.perf_counter() - began

    def analyse() -> None:
        analyzer.analyze(Event(id="x", received_at=0.0, method="POST", path=sample.path,
                               query="", headers=sample.headers, body=sample.body))

    analysis = min(timed(analyse) for _ in range(3))
    keying = min(timed(lambda: correlate.keys("connectly", sample.headers, value, sample.body))
                 for _ in range(3))
    assert keying < analysis / 4, (analysis, keying)
