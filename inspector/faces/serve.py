"""`inspector serve`: the same receiver, store, verification and forwarding, without the TUI.

One line per event on stdout (or JSON lines), written once per committed batch: a Sink
that prints (core/sink.py). Storage failures and tunnel states go to stderr.

With `--forward-to`, each forward's outcome is a second line, printed when the forward
completes (forwards run after the acknowledgement, so the event's line comes first):

    12:00:01 forward → 200 in 3 ms  http://localhost:3000/webhooks/connectly  01HV…
    12:00:02 forward ✗ connection refused: nothing answers at http://…  01HV…

and with `--json`, a record of its own, joined to the event by `id`:

    {"type": "event", "id": "01HV…", "time": …, "method": "POST", "path": …, "verdict": …,
     "related": "01FRRW…", "retry_of": null}
    {"type": "forward", "id": "01HV…", "url": …, "status": 200, "ms": 3.1, "error": "",
     "resigned": false, "note": "not re-signed: it arrived with an invalid signature (…)"}

(`related` is what the event is about, the key its Timeline and `related:` use, or null;
`retry_of` is the id of the first delivery when the event repeats it, or null. The text
line says `↻ retry #2 of 01HV… (+4.0 s)` then. `status` is null and `error` says why when
the forward failed; `note` is "" unless `--resign` was asked for and the event went as it
arrived.)

An event an answer rule decided says so on its line (`→ 503 (flaky endpoint)`; in JSON,
`rule` and `answer_note`). When the answer is known only later (a request held at a
breakpoint, a timeout fault, a mirrored answer), one more line says what the sender got:

    12:00:26 answer → 200 OK (held 25.0 s at a breakpoint: the hold expired …)  01HV…
    {"type": "answer", "id": "01HV…", "status": 200, "rule": "hold", "note": "held …"}

(`status` is 0 when there was no answer at all.) Nothing is held for ever: without a face to
decide, a hold ends at its deadline.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from inspector.core.capture.tunnel import TunnelState
from inspector.core.delivery.forward import retry_follows
from inspector.core.display import (
    TIME,
    answered_text,
    duration,
    kind_label,
    local_time,
    result_label,
    retry_label,
    verdict_label,
)
from inspector.core.model import Attempt, Event, Row
from inspector.core.sanitize import clip, visible_line
from inspector.core.session import Session
from inspector.core.sink import BaseSink


def line(event: Event) -> str:
    """A one-line, terminal-safe description of an event."""
    return row_line(Row.of(event))


def row_line(row: Row, fmt: str = TIME) -> str:
    """A list row on one terminal-safe line (`inspector events list` and `wait` too): the
    latest replay or forward's result when there is one, the rule that answered it, and
    whether it repeats an earlier delivery. Every field (the method and the kind come from
    the sender too) is made visible at once, after it is put together."""
    when = local_time(row.received_at, fmt)
    verdict = verdict_label(row.verdict)
    kind = clip(kind_label(row.kind, row.refused, row.status) or "-", 60)
    target = clip(f"{row.path}?{row.query}" if row.query else row.path, 120)
    summary = clip(row.summary or row.refused, 120)
    result = result_label(row.result, row.result_ms)
    if row.rule:
        rule = f"→ {answered_text(row.status, row.answer_note)} ({clip(row.rule, 60)})  "
    elif row.status != 200 and not row.refused:  # a custom answer, a handshake's 403, a 401
        rule = f"→ {answered_text(row.status, row.answer_note)}  "
    else:
        rule = ""
    retry = retry_label(row.retry, row.retry_of or "?", row.since_first)
    return visible_line(f"{when} {row.method:<7} {target}  {kind}  {summary}  {verdict}  "
                        + (f"{result}  " if result else "") + rule
                        + (f"↻ {retry}  " if retry else "") + row.id)


def answer_line(event: Event) -> str:
    """What the sender got, once known after the event's line (a hold, a timeout fault)."""
    note = f" ({clip(event.answer_note, 200)})" if event.answer_note else ""
    return visible_line(f"{local_time(time.time())} answer → "
                        f"{answered_text(event.status, event.answer_note)}{note}  {event.id}")


def answer_json(event: Event) -> str:
    return json.dumps({"type": "answer", "id": event.id, "status": event.status,
                       "rule": event.rule, "note": event.answer_note}, ensure_ascii=True)


def forward_line(attempt: Attempt, event_id: str) -> str:
    when = local_time(attempt.at)
    if attempt.status is None:
        outcome = "✗ " + clip(attempt.error, 200)
    else:
        outcome = f"→ {attempt.status} in {duration(attempt.elapsed_ms)}"
    how = " (re-signed)" if attempt.resigned else ""
    if attempt.note:
        how = f" ({clip(attempt.note, 200)})"
    return visible_line(f"{when} forward {outcome}{how}  {clip(attempt.url, 200)}  {event_id}")


def forward_json(attempt: Attempt, event_id: str) -> str:
    return json.dumps(
        {
            "type": "forward",
            "id": event_id,
            "url": attempt.url,
            "status": attempt.status,
            "ms": round(attempt.elapsed_ms, 1),
            "error": attempt.error,
            "resigned": attempt.resigned,
            "note": attempt.note,
        },
        ensure_ascii=True,
    )


def json_line(event: Event) -> str:
    return json.dumps(
        {
            "type": "event",
            "id": event.id,
            "time": event.received_at,
            "method": event.method,
            "path": event.path,
            "query": event.query,
            "status": event.status,
            "answered": event.status,  # as `inspector events` names it ("status" stays)
            "size": event.body_size,
            "provider": event.provider,
            "kind": event.kind,
            "summary": event.summary,
            "verdict": event.verdict,
            "reason": event.reason,
            "refused": event.refused,
            "rule": event.rule,
            "answer_note": event.answer_note,
            "related": event.related,
            "retry_of": event.retry_of,
        },
        ensure_ascii=True,  # keeps control characters escaped in the output
    )


class Printer(BaseSink):
    """Events (and forwards) on `out`, one line each; problems and tunnel states on `err`."""

    def __init__(self, out: TextIO, err: TextIO, *, as_json: bool, forwarding: bool) -> None:
        self.out = out
        self.err = err
        self.render = json_line if as_json else line
        self.render_forward = forward_json if as_json else forward_line
        self.render_answer = answer_json if as_json else answer_line
        self.forwarding = forwarding
        self.ids: dict[int, str] = {}  # seq -> id of events whose forward line is to come

    def committed(self, events: list[Event]) -> None:
        self.out.write("".join(self.render(e) + "\n" for e in events))
        self.out.flush()
        if self.forwarding:
            self.ids.update((e.seq, e.id) for e in events if not e.refused)

    def attempted(self, attempt: Attempt) -> None:
        if attempt.kind == "forward":
            seq = attempt.event_seq  # its id is kept while a retry is to come
            event_id = self.ids.get(seq, "") if retry_follows(attempt) else self.ids.pop(seq, "")
            self.out.write(self.render_forward(attempt, event_id) + "\n")
            self.out.flush()

    def answered(self, event: Event) -> None:
        self.out.write(self.render_answer(event) + "\n")
        self.out.flush()

    def failed(self, message: str | None) -> None:
        if message is not None:  # recovery goes unsaid: the next event line shows it
            self._say(f"error: {message}")

    def tunnel(self, state: TunnelState) -> None:
        self._say(state.describe())

    def notice(self, text: str) -> None:
        self._say(visible_line(text))

    def _say(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()


@asynccontextmanager
async def headless(session: Session, *, as_json: bool = False, out: TextIO | None = None,
                   err: TextIO | None = None) -> AsyncIterator[TextIO]:
    """The session started with a Printer, stopped gracefully on the way out; yields the
    error stream (where `web` says where its UI is)."""
    out = out or sys.stdout
    err = err or sys.stderr
    session.subscribe(Printer(out, err, as_json=as_json,
                              forwarding=session.forwarder is not None))
    await session.start()
    forward = f"; forwarding to {session.forwarder.target}" if session.forwarder else ""
    err.write(f"listening on {session.url} (database {session.store.path}){forward}; "
              "Ctrl+C stops\n")
    if session.settings.secret_note:  # after the line scripts wait for
        err.write(visible_line(session.settings.secret_note) + "\n")
    err.flush()
    try:
        yield err
    finally:
        await session.stop()
        err.write("stopped\n")


async def until_stopped() -> None:
    """Wait for SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def serve(session: Session, *, as_json: bool = False, out: TextIO | None = None,
                err: TextIO | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop gracefully."""
    async with headless(session, as_json=as_json, out=out, err=err):
        await until_stopped()
