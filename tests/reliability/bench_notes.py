"""Micro-benchmark: what the "odd request" notes cost per event in the store's writer.

Not a test (timings belong in benchmarks): run `python -m tests.reliability.bench_notes`.
It times `request_notes` + `body_notes` on the Connectly fixtures, and the whole `analyze`.
"""

from __future__ import annotations

import time
import timeit

from inspector.core.analysis import decoding
from inspector.core.analysis.analyzer import Analyzer, body_notes, request_notes
from inspector.core.model import Event, new_id
from inspector.core.signatures import Secrets
from tests.conftest import CONNECTLY, SECRET


def event_of(case: dict[str, object]) -> Event:
    headers = [("host", "example.ngrok.app"), ("user-agent", "Go-http-client/1.1"),
               *dict(case["headers"]).items()]  # type: ignore[call-overload]
    body = str(case["body"]).encode()
    return Event(id=new_id(), received_at=time.time(), method="POST", path=str(case["path"]),
                 query="", headers=headers, body=body)


def per_call(fn: object, number: int = 20_000) -> float:
    """Best of 5 runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    analyzer = Analyzer(secrets=Secrets(default=SECRET))
    for case in CONNECTLY["events"][:3]:
        event = event_of(case)
        decoded = decoding.decode(event.body, event.headers)

        def notes_of(event: Event = event, decoded: decoding.Decoded = decoded) -> None:
            request_notes(event)
            body_notes(event.body, decoded)

        def analyze(case: dict[str, object] = case) -> None:
            analyzer.analyze(event_of(case))

        notes = per_call(notes_of)
        whole = per_call(analyze, number=2_000)
        print(f"{case['name']:<16} {len(event.body):>5} B body: notes {notes:5.2f} µs, "
              f"whole analyze {whole:6.1f} µs")


if __name__ == "__main__":
    main()
