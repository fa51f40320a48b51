"""Held requests: what waits at a breakpoint, with the time left before its deadline.

For a held request: `enter` releases it with the answer it would have had, `a` answers it
now (status, headers and body as you edit them), `f` forwards it (the request as you edit
it) and answers with what came back. For a held forward: `enter` sends it as it is, `f`
sends it as you edit it, `s` skips it. `R` releases everything. Nothing here blocks: other
deliveries are received and answered while you decide, and a hold whose deadline passes is
released on its own.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, TextArea

from inspector.core.capture.answers import (
    PolicyError,
    answer_header,
    default_answer,
    parse_status,
)
from inspector.core.capture.holds import FORWARD, REQUEST, Held
from inspector.core.delivery.replay import Edit
from inspector.core.delivery.replayer import DEFAULT_TARGET
from inspector.core.delivery.resign import signer_for
from inspector.core.display import count, local_time, status_text
from inspector.core.headers import HeaderList
from inspector.core.model import Answer
from inspector.core.sanitize import has_unsafe
from inspector.core.session import Session
from inspector.faces.tui.screens.prompt import Dialog
from inspector.faces.tui.screens.replay_editor import (
    ReplayEditor,
    escape_body,
    header_line,
    unescape_body,
)
from inspector.faces.tui.screens.table import TableScreen
from inspector.faces.tui.widgets.inert import inert

# Set for the connection: shown in the answer, not editable.
FIXED = frozenset({"content-length", "x-inspector-event-id"})
Reply = tuple[int, list[str], bytes]  # status, "Name: value" lines, body


class AnswerEditor(Dialog):
    """Edit the answer a held request gets: status, headers (one per line) and body;
    dismisses with them (None: cancelled)."""

    DEFAULT_CSS = """
    AnswerEditor #answer-editor { width: 100; max-width: 96%; height: 90%; }
    AnswerEditor #error { color: $error; height: auto; }
    AnswerEditor .title { text-style: bold; margin-bottom: 0; }
    AnswerEditor .caption { color: $text-muted; margin: 1 0 0 0; }
    AnswerEditor #status { width: 16; }
    AnswerEditor #headers { height: 1fr; min-height: 3; width: 1fr; }
    AnswerEditor #body { height: 2fr; min-height: 4; width: 1fr; }
    """
    BINDINGS = [Binding("ctrl+s", "submit", "Answer", priority=True)]

    def __init__(self, title: str, status: int, answer: Answer) -> None:
        super().__init__()
        self.title_text = title
        self.status = status
        self.headers = [(k, v) for k, v in answer.headers if k.lower() not in FIXED]
        text = answer.body.decode("utf-8", "replace")
        self.escaped = has_unsafe(text)
        self.body = escape_body(text) if self.escaped else text

    def compose(self) -> ComposeResult:
        with Vertical(id="answer-editor"):
            yield Label(inert(self.title_text, line=True), classes="title")
            yield Label(Text("Status"), classes="caption")
            yield Input(str(self.status), id="status", placeholder="200")
            yield Label(Text("Headers, one per line as Name: value (content-length and the "
                             "event id are added)"), classes="caption")
            yield TextArea(_lines(self.headers), id="headers", soft_wrap=False)
            yield Label(Text("Body"), classes="caption")
            yield TextArea(self.body, id="body")
            yield Label(Text(""), id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Answer", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#body", TextArea).focus()

    def _submit(self) -> None:
        try:
            reply = self.result()
        except (PolicyError, ValueError) as exc:
            self.query_one("#error", Label).update(inert(str(exc), line=True))
            return
        self.dismiss(reply)

    def result(self) -> Reply:
        """The answer as edited; PolicyError or ValueError for the first problem."""
        status = parse_status(self.query_one("#status", Input).value)
        lines = [line for line in self.query_one("#headers", TextArea).text.splitlines()
                 if line.strip()]
        for line in lines:
            answer_header(line)  # raises for a bad one
        text = self.query_one("#body", TextArea).text
        body = (unescape_body(text) if self.escaped else text).encode("utf-8",
                                                                      "surrogateescape")
        return status, lines, body


def _lines(headers: HeaderList) -> str:
    return "\n".join(header_line(k, v) for k, v in headers)


class HeldScreen(TableScreen):
    BINDINGS = [
        Binding("r", "release", "Release"),
        Binding("a", "answer", "Answer…"),
        Binding("f", "send", "Forward…"),
        Binding("s", "skip", "Skip forward"),
        Binding("R", "release_all", "Release all"),
    ]
    COLUMNS = (("held", None), ("left", None), ("waits", None), ("since", None),
               ("method", None), ("path", None), ("rule", None))
    REFRESH = 0.5  # the time left counts down

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.ids: list[int] = []
        self.clock = time.monotonic  # what "held" and "left" count from

    def waiting(self) -> list[Held]:
        return self.session.holds.waiting

    @property
    def selected(self) -> Held | None:
        row = self.row
        held = {h.id: h for h in self.waiting()}
        return held.get(self.ids[row]) if row is not None and row < len(self.ids) else None

    def show(self) -> None:
        table = self.table
        keep = self.ids[table.cursor_row] if 0 <= table.cursor_row < len(self.ids) else None
        held = self.waiting()
        now = self.clock()
        table.clear()
        self.ids = [h.id for h in held]
        for one in held:
            event = one.event
            left = one.left(now)
            table.add_row(Text(f"{one.held_for(now):.0f} s"),
                          Text(f"{left:.0f} s", style="bold red" if left < 5 else "yellow"),
                          Text("its answer" if one.kind == REQUEST else "to be forwarded"),
                          Text(local_time(one.at)), inert(event.method, line=True, limit=10),
                          inert(event.target, line=True, limit=60),
                          inert(one.rule or "breakpoint", line=True, limit=30))
        if keep in self.ids:
            table.move_cursor(row=self.ids.index(keep))
        title = Text.assemble(("Held at a breakpoint", "bold"),
                              f"  {count(len(held), 'request')}  ·  ")
        title.append("enter release · a answer · f forward (edited) · s skip a forward · "
                     "R release all", style="dim")
        self.title_line(title)
        self.show_detail()

    def show_detail(self) -> None:
        held = self.selected
        if held is None:
            self.detail(Text("Nothing is held. b holds every request until you decide; a "
                             "rule with hold = true holds the requests it matches.",
                             style="dim"))
            return
        event = held.event
        text = inert(f"{event.method} {event.target}  {event.kind or 'request'}  "
                     f"{event.summary}", line=True, limit=200)
        text.append("\n")
        if held.kind == REQUEST:
            text.append_text(inert(f"released with: {status_text(event.status)}"
                                   + (f" ({event.answer_note})" if event.answer_note else ""),
                                   "dim", line=True, limit=200))
        else:
            text.append("released: sent as it is", style="dim")
        self.detail(text)

    def on_data_table_row_selected(self) -> None:
        self.action_release()

    def _held(self, kind: str | None = None) -> Held | None:
        held = self.selected
        if held is None:
            self.notify("Nothing held is selected.", severity="warning")
        elif kind is not None and held.kind != kind:
            what = "answered: f sends it, s skips it" if kind == REQUEST else (
                "skipped: a answers it, f forwards it")
            self.notify(f"A held {held.kind} cannot be {what}.", severity="warning")
            return None
        return held

    def _gone(self, held: Held) -> None:
        self.notify(f"{held.event.method} {held.event.target} was no longer held (its "
                    "deadline passed): it had the answer it would have had.",
                    severity="warning", markup=False)

    def action_release(self) -> None:
        held = self._held()
        if held is not None:
            self.session.release(held)
            self.show()

    def action_release_all(self) -> None:
        for held in self.waiting():
            self.session.release(held)
        self.show()

    def action_skip(self) -> None:
        held = self._held(FORWARD)
        if held is not None:
            self.session.skip_forward(held)
            self.show()

    def action_answer(self) -> None:
        held = self._held(REQUEST)
        if held is None:
            return
        event = held.event

        def answered(reply: Reply | None) -> None:
            if reply is None:
                return
            status, headers, body = reply
            if not self.session.answer_held(held, status, headers, body):
                self._gone(held)
            self.show()

        self.app.push_screen(AnswerEditor(f"Answer {event.method} {event.target} with:",
                                          event.status, event.answer or default_answer(event)),
                             answered)

    def action_send(self) -> None:
        """Forward a held request (then answer with what came back), or send a held forward,
        as edited."""
        held = self._held()
        if held is None:
            return
        session = self.session
        target = session.live.forward_to or session.live.replay_target or DEFAULT_TARGET
        signer = signer_for(session.analyzer, held.event)

        def edited(edit: Edit | None) -> None:
            if edit is not None:
                self.run_worker(self._send(held, edit), group="held", exit_on_error=False)

        verb = "Forward" if held.kind == REQUEST else "Send this forward"
        self.app.push_screen(ReplayEditor(held.event, target, signer,
                                          heading=f"{verb} with edits: "), edited)

    async def _send(self, held: Held, edit: Edit) -> None:
        attempt = await self.session.send_held(held, edit)
        if held.kind == FORWARD:
            self.notify("The forward leaves as edited.", markup=False)
        elif attempt is None:
            self._gone(held)
        else:
            what = (status_text(attempt.status) if attempt.status is not None
                    else f"✗ {attempt.error} (the sender gets 502)")
            self.notify(f"Forwarded to {attempt.url}: {what}; the sender got the same.",
                        markup=False)
        self.show()
