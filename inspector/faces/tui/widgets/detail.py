"""The detail pane: overview, headers, decoded body, raw bytes, signature, replays, and the
timeline of the events about the same object.

`build` does the heavy work (decoding, pretty-printing, sanitising) and is safe to run in a
thread; `DetailPane.show` only hands the prepared lines to virtual views.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from inspector.core.analysis import decoding
from inspector.core.analysis.analyzer import Analyzer
from inspector.core.delivery.resign import Expired, Signer, expired, signer_for
from inspector.core.display import (
    DATE_TIME,
    answered_text,
    byte_size,
    count,
    duration,
    elapsed,
    kind_label,
    local_time,
    millis,
    retry_label,
    status_text,
    verdict_label,
)
from inspector.core.model import Attempt, Event, Row
from inspector.core.providers.correlate import BODY_HASH
from inspector.core.providers.describe import facts
from inspector.core.sanitize import visible_line
from inspector.core.signatures import Check
from inspector.core.store import EventStore
from inspector.faces.tui import failures
from inspector.faces.tui.widgets.inert import inert
from inspector.faces.tui.widgets.later import Later, when_mounted
from inspector.faces.tui.widgets.text_view import Lines, TextView

if TYPE_CHECKING:
    from textual.widgets import TabbedContent

HEADER_VALUE_LIMIT = 400
TIMELINE_ROWS = 200  # events of a timeline shown around the selected one
VERDICT_STYLES = {
    "valid": "bold green",
    "invalid": "bold red",
    "unsigned": "dim",
    "no_secret": "bold yellow",
}


@dataclass(slots=True)
class Detail:
    """Everything the pane shows for one event, prepared off the event loop."""

    event: Event
    check: Check
    attempts: list[Attempt]
    body_lines: Lines = field(default_factory=lambda: Lines.of([]))
    body_json: bool = False
    body_notes: list[str] = field(default_factory=list)
    content_kind: str = ""
    raw_lines: Lines = field(default_factory=lambda: Lines.of([]))
    reply_lines: Lines = field(default_factory=lambda: Lines.of([]))
    reply_json: bool = False
    secret_note: str = ""  # masked: "set, 21 characters, ends …et"; "secret 2 of 2 matched: …"
    advice: str = ""  # said before a replay: the signed timestamp has expired, and what to do
    facts: list[tuple[str, str]] = field(default_factory=list)  # the provider's, for the
    #   Overview (sender's text: shown inert)
    timeline: list[Row] = field(default_factory=list)  # the events about the same object,
    #   in the order they arrived (at most TIMELINE_ROWS, around this one)
    related_total: int = 1  # how many there are in all


def build(event: Event, check: Check, attempts: list[Attempt], secret_note: str = "",
          advice: str = "", timeline: list[Row] | None = None, related_total: int = 1
          ) -> Detail:
    detail = Detail(event, check, attempts, secret_note=secret_note, advice=advice,
                    timeline=timeline or [Row.of(event)], related_total=related_total)
    decoded = decoding.decode(event.body, event.headers, parse_limit=decoding.PRETTY_LIMIT)
    if decoded.kind == "json" and not event.refused:
        detail.facts = facts(event.provider, event.headers, decoded.value)
    detail.content_kind = decoded.kind
    detail.body_notes = list(decoded.notes)
    if event.refused:
        detail.body_notes.insert(0, f"refused: {event.refused}")
    detail.body_lines, detail.body_json = _body_lines(decoded)
    detail.raw_lines = Lines(_raw(event))
    if attempts:
        detail.reply_lines, detail.reply_json = _reply_lines(attempts[-1])
    return detail


def prepare(store: EventStore, analyzer: Analyzer, seq: int) -> Detail | None:
    """Read and decode one event for the pane (blocking: the pane runs it in a thread, so a
    10 MB body never freezes the UI). None: the event was deleted."""
    event = store.event(seq)
    if event is None:
        return None
    check = analyzer.verify(event)
    resolver = analyzer.resolver
    signer = signer_for(analyzer, event)
    advice = replay_advice(signer, expired(signer.provider, resolver.request_of(event)))
    related = store.related(event.id)
    return build(event, check, store.attempts(seq),
                 resolver.resolve_event(event).secret_note(check), advice,
                 timeline_rows(store, related, seq), max(len(related), 1))


def timeline_rows(store: EventStore, related: list[int], seq: int) -> list[Row]:
    """The rows of at most TIMELINE_ROWS related events around `seq`, in arrival order."""
    at = related.index(seq) if seq in related else 0
    start = max(0, min(at - TIMELINE_ROWS // 2, len(related) - TIMELINE_ROWS))
    rows = store.rows(related[start : start + TIMELINE_ROWS] or [seq])
    return sorted(rows.values(), key=lambda row: (row.received_at, row.seq))


def _body_lines(decoded: decoding.Decoded) -> tuple[Lines, bool]:
    """The Body tab's lines, and whether they are JSON (to highlight)."""
    if decoded.kind == "json":
        return Lines(decoding.pretty_json(decoded.text)), True
    if decoded.kind == "form":
        width = min(max((len(k) for k, _ in decoded.form), default=0), 40)
        return Lines.of([visible_line(f"{k:<{width}}  {v}") for k, v in decoded.form]), False
    if decoded.kind in ("text", "xml"):
        return Lines(decoded.text), False
    if decoded.kind == "binary":
        return Lines.of(decoding.hexdump(decoded.data)), False
    return Lines.of(["(empty body)"]), False


def _raw(event: Event) -> str:
    """The request line, the headers as parsed, then the body bytes exactly.

    A backslash that was sent is shown doubled, so `\\x1b` (typed) and `\x1b` (an ESC byte,
    made visible) cannot be mistaken for each other."""
    head = [f"{event.method} {event.target} HTTP/{event.http_version}"]
    head += [f"{k}: {v}" for k, v in event.headers]
    text = "\n".join(head).replace("\\", "\\\\")
    body = event.body.replace(b"\\", b"\\\\").decode("utf-8", errors="backslashreplace")
    return text + "\n\n" + body


def _reply_lines(attempt: Attempt) -> tuple[Lines, bool]:
    """The latest response: headers, a blank line, the decoded body."""
    if attempt.error:
        return Lines.of([]), False
    head = "".join(visible_line(f"{k}: {v}") + "\n" for k, v in attempt.response_headers)
    if not attempt.response_body:
        return Lines(head + "\n(empty body)", sanitised=True), False
    decoded = decoding.decode(attempt.response_body, attempt.response_headers,
                              parse_limit=decoding.PRETTY_LIMIT)
    body, json = _body_lines(decoded)
    return Lines(head + "\n" + body.text, sanitised=True), json


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def overview(detail: Detail) -> RenderableType:
    event = detail.event
    table = _grid()
    verdict = verdict_label(event.verdict)
    table.add_row("URL", inert(event.url(), limit=2000))  # the Raw tab has all of it
    table.add_row("Method", inert(event.method))
    table.add_row("Client", inert(event.client or "unknown"))
    table.add_row(
        "Received",
        Text(local_time(event.received_at, DATE_TIME) + millis(event.received_at)),
    )
    table.add_row("Size", Text(byte_size(event.body_size)))
    table.add_row("Content type", inert(event.content_type or "(none)"))
    table.add_row("Signature", inert(verdict, VERDICT_STYLES.get(event.verdict, "")))
    table.add_row("Provider", inert(event.provider or "unknown"))
    if event.kind:
        table.add_row("Kind", inert(event.kind))
    if event.summary:
        table.add_row("Summary", inert(event.summary))
    for label, value in detail.facts:
        table.add_row(label, inert(value))
    if event.related is not None:
        more = detail.related_total - 1
        table.add_row("About", inert(event.related).append(
            f"  ({count(more, 'other event')} about it: Timeline tab, or filter related:this)"
            if more else "  (no other event about it yet)", style="dim"))
    if event.delivery is not None and not event.delivery.startswith(BODY_HASH):
        table.add_row("Delivery id", inert(event.delivery))
    if event.retry:
        table.add_row("Retry", inert(retry_label(event.retry, event.retry_of or "?",
                                                 event.since_first), "bold yellow")
                      .append(_previous_answer(detail), style="yellow"))
    table.add_row("Answered", Text(answered_text(event.status, event.answer_note)))
    if event.rule:
        table.add_row("Answer rule", inert(event.rule, "bold"))
    if event.answer_note:
        table.add_row("How", inert(event.answer_note))
    table.add_row("HTTP", inert(f"HTTP/{event.http_version}"))
    table.add_row("Id", inert(event.id))
    for note in [event.refused, *event.notes]:
        if note:
            table.add_row("Note", inert(note, "yellow"))
    return table


def _previous_answer(detail: Detail) -> str:
    """What the delivery before this retry was answered: the likely reason for the retry."""
    event = detail.event
    earlier = [row for row in detail.timeline
               if row.seq != event.seq and row.received_at <= event.received_at
               and event.retry_of in (row.id, row.retry_of)]
    if not earlier:
        return ""
    last = earlier[-1]
    why = "refused" if last.refused else "answered"
    return f"; the delivery before it was {why} {status_text(last.status)}"


# -- the timeline --------------------------------------------------------------------------------

# The story first (when, what, what it was answered, a retry?), the summary last: it is long.
TIMELINE_COLUMNS = ("", "time", "after", "kind", "answered", "delivery", "signature", "summary")
TIMELINE_SUMMARY = 70  # characters of a summary in the Timeline (the list has all of it)


def timeline_heading(detail: Detail) -> Text:
    """What the Timeline is about, how many events over how long, and this delivery's retries
    with what each was answered (503 → retry #1 → 200: which answer caused which retry)."""
    event, rows = detail.event, detail.timeline
    if event.related is None and len(rows) <= 1:
        return Text("Nothing links this event to another yet: it names no object (a message, "
                    "an order, …) and no other delivery repeats it.", style="dim")
    if event.related is not None:
        out = Text("About ", style="bold")
        out.append_text(inert(event.related, "bold", line=True, limit=120))
    else:
        out = Text("This delivery and the ones that repeat it", style="bold")
    span = rows[-1].received_at - rows[0].received_at if rows else 0.0
    if detail.related_total > 1:
        out.append(f"  {count(detail.related_total, 'event')} over {elapsed(span)}  (enter: "
                   "go to one; filter related:this lists them)", style="dim")
    else:
        out.append("  no other event about it yet: its statuses, replies and retries will "
                   "show here", style="dim")
    if detail.related_total > len(rows):
        out.append(f"\nshowing {len(rows):,} around this one", style="dim")
    first = event.retry_of or event.id
    chain = [row for row in rows if first in (row.id, row.retry_of)]
    if len(chain) > 1:
        out.append("\nThis delivery: ", style="bold")
        for n, row in enumerate(chain):
            if n:
                out.append(f" → retry #{row.retry} (+{elapsed(row.since_first)}) ")
            ok = 200 <= row.status < 300 and not row.refused
            out.append(status_text(row.status), style="green" if ok else "bold red")
    return out


def timeline_cells(rows: list[Row], selected: int) -> list[tuple[Text, ...]]:
    """One line per related event: the selected one marked, the time after the one before,
    what it was answered, and whether it repeats an earlier delivery."""
    out: list[tuple[Text, ...]] = []
    previous: float | None = None
    retried = {row.retry_of for row in rows}
    for row in rows:
        after = "" if previous is None else "+" + elapsed(row.received_at - previous)
        previous = row.received_at
        ok = 200 <= row.status < 300 and not row.refused
        retry = f"retry #{row.retry}" if row.retry else "first" if row.id in retried else ""
        out.append((
            Text("►" if row.seq == selected else "", style="bold"),
            Text(local_time(row.received_at) + millis(row.received_at)),
            Text(after, style="dim"),
            inert(kind_label(row.kind, row.refused, row.status) or "—", line=True, limit=40),
            Text(status_text(row.status), style="green" if ok else "bold red"),
            Text(retry, style="yellow" if row.retry else "dim"),
            Text(verdict_label(row.verdict), style=VERDICT_STYLES.get(row.verdict, "")),
            inert(row.summary, line=True, limit=TIMELINE_SUMMARY),
        ))
    return out


def signature(detail: Detail) -> RenderableType:
    check = detail.check
    table = _grid()
    table.add_row(
        "Verdict",
        Text(verdict_label(check.verdict.value),
             style=VERDICT_STYLES.get(check.verdict.value, "")),
    )
    table.add_row("Reason", inert(check.reason))
    table.add_row("Provider", Text(check.provider or "not detected"))
    if check.header:
        table.add_row("Header", inert(check.header))
    table.add_row("Secret", Text(detail.secret_note, style="dim"))
    # Received and expected side by side: the difference is what the user came for.
    values = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    values.add_column("Received", style="cyan", overflow="fold", ratio=1)
    values.add_column("Expected (with your secret)", overflow="fold", ratio=1,
                      style="green" if check.ok else "magenta")
    values.add_row(inert(check.received or "—"), inert(check.expected or "—"))
    return Group(table, values)


def replay_advice(signer: Signer, stale: Expired | None) -> str:
    """What the Replay tab says before a replay that the target would refuse as stale."""
    if stale is None:
        return ""
    if signer.doubt:
        return (f"{stale.text()} It is not re-signed without asking: {signer.doubt}. R opens "
                "the editor, where you may force a re-sign.")
    if not signer.ok:
        return f"{stale.text()} Re-signing would fix it, but {signer.problem}."
    return f"{stale.text()} Press s to re-sign it with a fresh timestamp and replay."


def how_sent(attempt: Attempt) -> str:
    flags = [f for f, on in (("forced re-sign", attempt.forced),
                             ("re-signed", attempt.resigned and not attempt.forced),
                             ("edited", attempt.edited)) if on]
    return ", ".join(flags) if flags else "original signature"


def replays(detail: Detail) -> RenderableType:
    rows: list[RenderableType] = []
    if detail.advice:
        rows.append(_row(f"⚠ {detail.advice}", "bold yellow"))
    if not detail.attempts:
        rows.append(Text("Not replayed yet. Press r to send this event to your app.",
                         style="dim"))
        return Group(*rows)
    for attempt in reversed(detail.attempts[-20:]):
        when = local_time(attempt.at)
        line = Text(f"{when}  {attempt.kind:<7} ")
        line.append_text(inert(f"{attempt.method} {attempt.url}"))
        line.append("  →  ")
        if attempt.error:
            line.append_text(inert(f"✗ {attempt.error}", "bold red"))
        else:
            ok = attempt.status is not None and attempt.status < 400
            line.append(status_text(attempt.status), style="bold green" if ok else "bold red")
        line.append(f"  {duration(attempt.elapsed_ms)}", style="dim")
        line.append(f"  {how_sent(attempt)}", style="bold yellow" if attempt.forced else "dim")
        rows.append(line)
        if attempt.note:  # one line: the list of attempts is short of room
            rows.append(_row(f"          {attempt.note}", "yellow", wrap=False))
    return Group(*rows)


def _row(text: str, style: str, *, wrap: bool = True) -> Text:
    """Untrusted text on a line of its own."""
    row = inert(text, style)
    row.end = "\n"
    if not wrap:
        row.no_wrap, row.overflow = True, "ellipsis"
    return row


def _linked(shown: Event, event: Event) -> bool:
    """Whether `event` is about the same object as `shown`, or repeats its delivery."""
    return ((shown.related is not None and event.related == shown.related)
            or (shown.delivery is not None and event.delivery == shown.delivery))


def _tabs() -> TabbedContent:
    from textual.widgets import TabbedContent, TabPane  # with Tabs and ContentSwitcher: later

    tabs = TabbedContent(id="tabs")
    for pane in (
        TabPane("Overview", VerticalScroll(Static(id="overview")), id="tab-overview"),
        TabPane("Headers", DataTable(id="headers", cursor_type="row", zebra_stripes=True),
                id="tab-headers"),
        TabPane("Body", Static(classes="notes", id="body-notes"), TextView(id="body"),
                id="tab-body"),
        TabPane("Raw", TextView(id="raw"), id="tab-raw"),
        TabPane("Signature", VerticalScroll(Static(id="signature")), id="tab-signature"),
        TabPane("Replay", Static(id="replays"), TextView(id="reply"), id="tab-replay"),
        TabPane("Timeline", Static(id="timeline-heading"),
                DataTable(id="timeline", cursor_type="row", zebra_stripes=True),
                id="tab-timeline"),
    ):
        tabs.compose_add_child(pane)
    return tabs


class DetailPane(Later, Vertical):
    """Shows the event selected in the list, which it loads itself, in a worker; empty
    until something is selected."""

    class Jump(Message):
        """Select this event in the list (enter on a line of the Timeline)."""

        def __init__(self, seq: int) -> None:
            super().__init__()
            self.seq = seq

    DEFAULT_CSS = """
    DetailPane #detail-bar { height: 1; }
    DetailPane #detail-title { width: 1fr; height: 1; padding: 0 1; }
    DetailPane #replay { min-width: 14; height: 1; border: none; margin: 0 1; }
    DetailPane TabbedContent { height: 1fr; }
    DetailPane TabPane { padding: 0 1; }
    DetailPane .notes { color: $warning; height: auto; }
    DetailPane DataTable { height: 1fr; }
    DetailPane TextView { height: 1fr; }
    DetailPane #replays { height: auto; max-height: 8; margin-bottom: 1; }
    DetailPane #timeline-heading { height: auto; max-height: 4; margin-bottom: 1; }
    """

    def __init__(self, load: Callable[[int], Detail | None], *, hint: str = "",
                 id: str | None = None) -> None:
        """`load(seq)` prepares what to show (see `prepare`); it runs in a thread. `hint`
        fills the Overview while nothing is selected (how to get a first event)."""
        super().__init__(id=id)
        self._load = load
        self._hint = hint
        self.detail: Detail | None = None
        self.seq: int | None = None  # the event selected in the list
        self._timer: Timer | None = None
        self._stale = False  # selected while busy: loaded by `catch_up`

    # -- what to show, and when ------------------------------------------------------------

    def select(self, seq: int | None, *, by_user: bool, busy: bool) -> None:
        """The list's cursor moved. A person's keys are debounced (loaded once the cursor
        rests); follow mode waits for a quieter moment when events flood in."""
        self.seq = seq
        if seq is None:
            self.clear()
        elif by_user:
            if self._timer is not None:
                self._timer.stop()
            self._timer = self.set_timer(0.03, self._load_selected)
        elif busy:
            self._stale = True
        elif self._timer is None:
            self._timer = self.set_timer(0.05, self._load_selected)

    def catch_up(self) -> None:
        """Traffic slowed down: show the event follow mode selected meanwhile."""
        if self._stale:
            self._load_selected()

    def changed(self, seqs: Collection[int], *, busy: bool) -> None:
        """These events have new attempts: reload soon if one is shown."""
        if self.seq in seqs and not busy and self._timer is None:
            self._timer = self.set_timer(0.05, self._load_selected)

    def arrived(self, events: list[Event], *, busy: bool) -> None:
        """New events: reload soon if one belongs in the shown event's Timeline."""
        shown = self.detail.event if self.detail is not None else None
        if shown is None or busy or self._timer is not None:
            return
        if any(_linked(shown, event) for event in events):
            self._timer = self.set_timer(0.05, self._load_selected)

    def reload(self, seqs: Collection[int], tab: str | None = None) -> None:
        """Reload now if the event shown is among `seqs`, then show `tab`."""
        if self.seq is not None and self.seq in seqs:
            self.load(self.seq, tab)

    def recovered(self) -> None:
        """The store can be read again: show the selected event if reading it failed."""
        if self.seq is not None and self.detail is None:
            self.load(self.seq)

    def load(self, seq: int, tab: str | None = None) -> None:
        self.run_worker(partial(self._read, seq, tab), thread=True, exclusive=True,
                        group="detail", exit_on_error=False)

    def _load_selected(self) -> None:
        self._timer = None
        self._stale = False
        if self.seq is not None:
            self.load(self.seq)

    def _read(self, seq: int, tab: str | None) -> None:
        detail = self._load(seq)
        if detail is not None and not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._loaded, detail, tab)

    def _loaded(self, detail: Detail, tab: str | None) -> None:
        if detail.event.seq != self.seq:
            return
        self.show(detail)
        if tab:
            self.show_tab(tab)

    def on_worker_state_changed(self, message: Worker.StateChanged) -> None:
        if message.state is WorkerState.ERROR:
            title, reason = failures.describe(message.worker)
            if self.seq is not None:
                self.show_failure(f"{title}: {reason}")
            self.notify(reason, title=title, severity="error", markup=False, timeout=10)

    @when_mounted
    def show_tab(self, name: str) -> None:
        from textual.widgets import TabbedContent

        self.query_one(TabbedContent).active = f"tab-{name}"

    # -- drawing ---------------------------------------------------------------------------


    def compose(self) -> ComposeResult:
        with Horizontal(id="detail-bar"):
            yield Static(Text("No event selected", style="dim"), id="detail-title")

    async def mount_later(self) -> None:
        """The tabs (two tables, three text views) and the button, after the first frame."""
        replay = Button("Replay (r)", id="replay", variant="primary", compact=True,
                        disabled=True)
        replay.can_focus = False  # a mouse target; from the keyboard it is `r`
        mounted = [self.query_one("#detail-bar").mount(replay), self.mount(_tabs())]
        for done in mounted:
            await done
        self.query_one("#headers", DataTable).add_columns("Name", "Value")
        self.query_one("#timeline", DataTable).add_columns(*TIMELINE_COLUMNS)
        if self.detail is None:
            self.query_one("#overview", Static).update(Text(self._hint, style="dim"))

    @when_mounted
    def focus_content(self) -> None:
        """Focus what the active tab shows (so arrows and PgDn scroll it)."""
        from textual.widgets import TabbedContent

        tabs = self.query_one(TabbedContent)
        pane = tabs.get_pane(tabs.active) if tabs.active else None
        if pane is None:
            return
        for widget in pane.query("TextView, DataTable, VerticalScroll"):
            if widget.focusable:
                widget.focus()
                return

    @when_mounted
    def clear(self) -> None:
        self.detail = None
        self.query_one("#detail-title", Static).update(Text("No event selected", style="dim"))
        self.query_one("#replay", Button).disabled = True
        for view in self.query(TextView):
            view.clear()
        self.query_one("#headers", DataTable).clear()
        self.query_one("#timeline", DataTable).clear()
        for name in ("#signature", "#replays", "#body-notes", "#timeline-heading"):
            self.query_one(name, Static).update("")
        self.query_one("#overview", Static).update(Text(self._hint, style="dim"))

    @when_mounted
    def show_failure(self, message: str) -> None:
        """Say why the selected event cannot be shown, where it would have been."""
        self.clear()
        self.query_one("#detail-title", Static).update(inert(message, "bold red", line=True))
        self.query_one("#overview", Static).update(inert(message, "red"))

    @when_mounted
    def show(self, detail: Detail) -> None:
        self.detail = detail
        event = detail.event
        title = Text.assemble((f"{event.method} ", "bold"))
        title.append_text(inert(event.target, line=True, limit=200))
        title.append_text(inert(f"  {event.id}", "dim", line=True))
        self.query_one("#detail-title", Static).update(title)
        self.query_one("#replay", Button).disabled = False
        self.query_one("#overview", Static).update(overview(detail))
        table = self.query_one("#headers", DataTable)
        table.clear()
        table.add_rows(
            (inert(k, "bold", line=True, limit=80),
             inert(v, line=True, limit=HEADER_VALUE_LIMIT))
            for k, v in event.headers
        )
        notes = [f"{detail.content_kind} body", *detail.body_notes]
        self.query_one("#body-notes", Static).update(inert(" · ".join(notes), line=True))
        self.query_one("#body", TextView).show(detail.body_lines, json=detail.body_json)
        self.query_one("#raw", TextView).show(detail.raw_lines)
        self.query_one("#signature", Static).update(signature(detail))
        self.show_replays(detail)
        self.show_timeline(detail)

    def show_timeline(self, detail: Detail) -> None:
        self.query_one("#timeline-heading", Static).update(timeline_heading(detail))
        table = self.query_one("#timeline", DataTable)
        table.clear()
        for row, cells in zip(detail.timeline, timeline_cells(detail.timeline, detail.event.seq),
                              strict=True):
            table.add_row(*cells, key=str(row.seq))
        at = next((i for i, row in enumerate(detail.timeline) if row.seq == detail.event.seq), 0)
        table.move_cursor(row=at)

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        """Enter on a timeline line: select that event in the list."""
        if message.data_table.id == "timeline" and message.row_key.value is not None:
            message.stop()
            self.post_message(self.Jump(int(message.row_key.value)))

    def show_replays(self, detail: Detail) -> None:
        self.query_one("#replays", Static).update(replays(detail))
        self.query_one("#reply", TextView).show(detail.reply_lines, json=detail.reply_json)
