"""`inspector serve`: the same receiver, store and verification, without the TUI.

One line per event on stdout (or JSON lines), written once per committed batch.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import TextIO

from inspector.model import VERDICT_LABELS, Event
from inspector.runtime import Runtime
from inspector.sanitize import clip, visible_line


def line(event: Event) -> str:
    """A one-line, terminal-safe description of an event."""
    when = time.strftime("%H:%M:%S", time.localtime(event.received_at))
    verdict = VERDICT_LABELS.get(event.verdict, event.verdict)
    kind = f"refused {event.status}" if event.refused else (event.kind or "-")
    target = visible_line(clip(event.target, 120))
    summary = visible_line(clip(event.summary or event.refused, 120))
    return f"{when} {event.method:<7} {target}  {kind}  {summary}  {verdict}  {event.id}"


def json_line(event: Event) -> str:
    return json.dumps(
        {
            "id": event.id,
            "time": event.received_at,
            "method": event.method,
            "path": event.path,
            "query": event.query,
            "status": event.status,
            "size": event.body_size,
            "provider": event.provider,
            "kind": event.kind,
            "summary": event.summary,
            "verdict": event.verdict,
            "reason": event.reason,
            "refused": event.refused,
        },
        ensure_ascii=True,  # keeps control characters escaped in the output
    )


async def serve(runtime: Runtime, *, as_json: bool = False, out: TextIO | None = None,
                err: TextIO | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop gracefully."""
    out = out or sys.stdout
    err = err or sys.stderr
    render = json_line if as_json else line

    def on_commit(events: list[Event]) -> None:
        out.write("".join(render(e) + "\n" for e in events))
        out.flush()

    def on_error(message: str) -> None:
        err.write(f"error: {message}\n")
        err.flush()

    runtime.on_commit(on_commit)
    runtime.errors.append(on_error)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    err.write(f"listening on {runtime.url} (database {runtime.store.path}); "
              "Ctrl+C stops\n")
    err.flush()
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runtime.stop()
    err.write("stopped\n")
