"""A deterministic database for snapshots and screenshots, written through the real store."""

from __future__ import annotations

import calendar
from pathlib import Path

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.model import Attempt, Event
from inspector.core.providers.connectly import samples
from inspector.core.signatures import Secrets
from inspector.core.store import open_store
from tests.conftest import CONNECTLY, SECRET

START = calendar.timegm((2026, 11, 27, 12, 0, 0))
# Answer rules for the Rules screen and the held requests (snapshots and screenshots).
RULES = """
[[rule]]
name = "flaky endpoint"
path = "/webhooks/*"
when = 'body.statusUpdate.status == "read"'
respond = [503, 503, 200]

[[rule]]
name = "big payments"
when = "body.amount > 100"
respond = {status = 402, body = '{"error": "limit"}'}

[[rule]]
name = "hang"
path = "/hang/*"
fault = "timeout"
timeout = 30
enabled = false

[[rule]]
name = "look first"
path = "/held/*"
hold = true
"""
STORY_MESSAGE = "01KSTRY5M8G3T7Q2W4E6R8T0Y1"  # an outbound message, as the send API names it
# One message's story: sent, delivered, read, then the customer's reply, which the app
# answered 503 twice (Connectly retried the same bytes) before it took it.
STORY = (("sent", "statusUpdate.id", 0.0, (200,)),
         ("delivery_status", "statusUpdate.id", 2.4, (200,)),
         ("read", "statusUpdate.id", 65.2, (200,)),
         ("reply", "context.replyToId", 95.8, (503, 503, 200)))
RETRY_AFTER = (0.0, 10.0, 40.0)  # seconds after the first try of the reply


def fixture_events() -> list[Event]:
    events = []
    for i, case in enumerate(CONNECTLY["events"]):
        headers = [("host", "127.0.0.1:8765"), *case["headers"].items(),
                   ("content-length", str(len(case["body"].encode())))]
        events.append(Event(
            id=f"01KSNAPSHOT{i:015d}", received_at=START + i * 7 + 0.25, method="POST",
            path=case["path"], query="", headers=headers, body=case["body"].encode(),
            client=f"203.0.113.7:{40000 + i}",
        ))
    return events


def story_events() -> list[Event]:
    """The Timeline's example, after the fixtures: signed as Connectly signs."""
    events: list[Event] = []
    begins = START + 600
    for kind, where, after, answers in STORY:
        sample = samples.build(kind, secret=SECRET, sets=[f"{where}={STORY_MESSAGE}"],
                               now=begins + after)
        for status, retry_after in zip(answers, RETRY_AFTER, strict=False):
            when = begins + after + retry_after + 0.25
            events.append(Event(
                id=f"01KSTORY{len(events):018d}", received_at=when, method="POST",
                path=sample.path, query="", status=status, client="203.0.113.9:41000",
                headers=[("host", "127.0.0.1:8765"), *sample.headers,
                         ("content-length", str(len(sample.body)))], body=sample.body))
    return events


def build_db(path: Path, *, with_replay: bool = True, story: bool = False) -> None:
    """The fixtures (with a replay of the newest), then the story when asked."""
    analyzer = Analyzer(Secrets(default=SECRET))
    store = open_store(path)
    events = fixture_events() + (story_events() if story else [])
    for event in events:
        analyzer.analyze(event)
    stored = store.import_events_sync([(e, []) for e in events])
    if with_replay:
        store.record_attempt_sync(Attempt(
            event_seq=stored[len(CONNECTLY["events"]) - 1].seq, kind="replay", at=START + 120,
            method="POST",
            url="http://localhost:3000/webhooks/connectly", status=200, elapsed_ms=12.4,
            response_headers=[("content-type", "application/json"), ("content-length", "30")],
            response_body=b'{"ok":true,"handled":"message"}'))
    store.close()
