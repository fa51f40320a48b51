"""`inspector events list|show|body`: read the capture from a shell, while it is receiving.

Text goes to the terminal through the inert path (faces/terminal.py), and every field a
stranger sent is made visible on its own line first (a line feed in a header must not start
a line that looks like ours). `--json` writes the documented schema (core/interop/jsonview.py):
ASCII JSON, one object per line for a list. `body` writes the exact bytes, except to a
terminal, which gets them with their control characters as visible escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

from inspector.core import display
from inspector.core.analysis import decoding
from inspector.core.interop import jsonview
from inspector.core.model import Attempt, Event
from inspector.core.sanitize import clip, visible, visible_line
from inspector.core.store import StoreError
from inspector.faces import terminal
from inspector.faces.cli.commands.options import fail
from inspector.faces.cli.commands.reading import (
    DATABASE,
    db_option,
    filter_option,
    query_of,
    reader,
    stored,
)
from inspector.faces.serve import row_line

SHOWN = 2000  # characters of one header value or URL in `show`'s text (hostile ones are 64 KB)


@click.group("events", context_settings={"help_option_names": ["-h", "--help"]})
def events() -> None:
    """Read the capture: list events, show one, or write its body.

    \b
    inspector events list --filter 'kind:delivery_status' --limit 5
    inspector events show 01J… --json | jq .body.json
    inspector events body 01J… > body.json

    Exit status: 0 done; 1 no event with that id; 2 a bad filter or option; 3 the database
    cannot be read (missing, locked, corrupt, another schema).
    """


@events.command("list")
@db_option
@filter_option
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(min=0),
              help="The newest N matching events (0: all of them).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line (schema in the README).")
def list_command(db: str | None, expr: str, limit: int, as_json: bool) -> None:
    """List events, oldest first, newest last."""
    query = query_of(expr)
    store = reader(db)
    try:
        seqs = store.search(query)
        shown = seqs[-limit:] if limit else seqs
        rows = store.rows(shown)
    except StoreError as exc:
        fail(str(exc), DATABASE)
    finally:
        store.close()
    for seq in shown:
        row = rows.get(seq)
        if row is not None:  # deleted meanwhile
            click.echo(jsonview.line(jsonview.summary(row)) if as_json
                       else row_line(row, display.DATE_TIME))
    if not as_json and len(shown) < len(seqs):
        click.echo(f"(the newest {len(shown):,} of {display.count(len(seqs), 'event')}; "
                   "--limit 0 lists all)", err=True)


@events.command("show")
@click.argument("event_id", metavar="ID")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object (schema in the README).")
def show_command(event_id: str, db: str | None, as_json: bool) -> None:
    """Show one event: request, headers, decoded body, verdict and reason, attempts."""
    store = reader(db)
    try:
        event = stored(store, event_id)
        attempts = store.attempts(event.seq)
    except StoreError as exc:
        fail(str(exc), DATABASE)
    finally:
        store.close()
    if as_json:
        click.echo(jsonview.line(jsonview.detail(event, attempts)))
    else:
        click.echo("\n".join(describe(event, attempts)))


@events.command("body")
@click.argument("event_id", metavar="ID")
@db_option
def body_command(event_id: str, db: str | None) -> None:
    """Write one event's body, byte for byte, to stdout (redirect it to a file or a pipe;
    a terminal gets it with control characters shown as escapes)."""
    store = reader(db)
    try:
        event = stored(store, event_id)
    finally:
        store.close()
    out = terminal.original(sys.stdout)
    if out.isatty():
        # As the Raw tab shows it: a backslash that was sent doubled, so that it never
        # passes for an escape that stands for a control character.
        body = event.body.replace(b"\\", b"\\\\")
        click.echo(visible(body.decode("utf-8", "backslashreplace")), nl=False)
        click.echo("\n(stdout is a terminal: control characters are shown as escapes, and a "
                   "backslash doubled; redirect to a file or a pipe for the exact bytes)",
                   err=True)
        return
    out.flush()
    out.buffer.write(event.body)
    out.buffer.flush()


def describe(event: Event, attempts: list[Attempt]) -> Iterator[str]:
    """`show`'s text: one field a line, then headers, body and attempts, each indented so
    that a body line can never pass for one of ours."""

    def field(label: str, value: str) -> str:
        return f"{label + ':':<10} {visible_line(clip(value, SHOWN))}"

    when = event.received_at
    yield field("id", event.id)
    yield field("received", f"{display.local_time(when, display.DATE_TIME)}"
                            f"{display.millis(when)} ({display.utc_iso(when)})")
    yield field("request", f"{event.method} {event.target} HTTP/{event.http_version}")
    yield field("client", event.client or "-")
    answered = display.status_text(event.status)
    yield field("answered", f"{answered}: {event.refused}" if event.refused else answered)
    if event.rule:
        yield field("rule", event.rule)
    if event.answer_note:
        yield field("how", event.answer_note)
    yield field("provider", event.provider or "-")
    yield field("kind", display.kind_label(event.kind, event.refused, event.status) or "-")
    yield field("summary", event.summary or "-")
    yield field("verdict", display.verdict_label(event.verdict) or "-")
    yield field("reason", event.reason or "-")
    if event.related is not None:
        yield field("about", event.related)
    if event.retry:
        yield field("retry", display.retry_label(event.retry, event.retry_of or "?",
                                                 event.since_first))
    for note in event.notes:
        yield field("note", note)
    yield ""
    yield f"headers ({len(event.headers)}):"
    for name, value in event.headers:
        yield "  " + visible_line(clip(f"{name}: {value}", SHOWN))
    yield ""
    decoded = decoding.decode(event.body, event.headers, parse_limit=decoding.PRETTY_LIMIT)
    yield f"body ({display.byte_size(event.body_size)}, {decoded.kind}):"
    for note in decoded.notes:
        yield "  " + visible_line(f"({note})")
    for text in decoding.readable_lines(decoded):
        yield "  " + visible_line(text)
    yield ""
    yield f"attempts ({len(attempts)}):"
    for attempt in attempts:
        yield "  " + attempt_line(attempt)


def attempt_line(attempt: Attempt) -> str:
    """"12:00:01 replay POST http://… → 200 OK in 3 ms (re-signed)" on one safe line."""
    when = display.local_time(attempt.at, display.DATE_TIME)
    outcome = (f"✗ {attempt.error}" if attempt.status is None
               else f"→ {display.status_text(attempt.status)} in "
                    f"{display.duration(attempt.elapsed_ms)}")
    how = [w for w, on in (("re-signed", attempt.resigned), ("forced", attempt.forced),
                           ("edited", attempt.edited)) if on]
    if attempt.note:
        how.append(attempt.note)
    extra = f" ({'; '.join(how)})" if how else ""
    return visible_line(clip(f"{when} {attempt.kind} {attempt.method} {attempt.url} "
                             f"{outcome}{extra}", SHOWN))
