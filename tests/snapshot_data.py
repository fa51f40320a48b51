"""A deterministic database for snapshots and screenshots, written through the real store."""

from __future__ import annotations

import calendar
from pathlib import Path

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.model import Attempt, Event
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


def build_db(path: Path, *, with_replay: bool = True) -> None:
    analyzer = Analyzer(Secrets(default=SECRET))
    store = open_store(path)
    events = fixture_events()
    for event in events:
        analyzer.analyze(event)
    stored = store.import_events_sync([(e, []) for e in events])
    if with_replay:
        store.record_attempt_sync(Attempt(
            event_seq=stored[-1].seq, kind="replay", at=START + 120, method="POST",
            url="http://localhost:3000/webhooks/connectly", status=200, elapsed_ms=12.4,
            response_headers=[("content-type", "application/json"), ("content-length", "30")],
            response_body=b'{"ok":true,"handled":"message"}'))
    store.close()
