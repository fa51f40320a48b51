"""Replay with edits: method, URL, headers and body, prefilled from the event, then sent.

Dismisses with a `replay.Edit` (or None on cancel). Re-signing an event that did not arrive
with a valid signature (`Signer.doubt`) asks first, in a dialog that names its verdict; the
Edit then says `forced`, and so does the stored attempt.

Untouched parts go exactly as received: an untouched body is the original bytes, even when
they are not UTF-8; untouched header lines are the original pairs. Edited text is sent as
UTF-8.

Untrusted text stays inert: labels get `Text`, and a body or header holding control
characters is shown with them escaped (`\\x1b`; backslashes doubled in such a body, so an
edit turns the escapes back into exactly the characters they stand for).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, TextArea

from inspector.core.delivery.replay import (
    Edit,
    ReplayError,
    check_target,
    replay_headers,
    target_url,
)
from inspector.core.delivery.resign import Signer
from inspector.core.headers import TOKEN, HeaderLineError, parse_header_line
from inspector.core.model import Event, HeaderList
from inspector.core.sanitize import has_unsafe, visible, visible_line
from inspector.faces.tui.screens.prompt import Confirm
from inspector.faces.tui.widgets.inert import inert

EDIT_LIMIT = 1024 * 1024  # bodies above this are sent as received, not loaded for editing
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|r)")


def header_line(name: str, value: str) -> str:
    """How a header shows in the editor: its value as UTF-8 when it is, escapes visible."""
    try:
        shown = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        shown = value
    return f"{name}: {visible_line(shown)}"


def parse_headers(text: str, original: HeaderList) -> HeaderList:
    """Editor lines back to pairs. A line as it was shown keeps the original pair (bytes
    and all); a changed line is read as UTF-8. Raises ValueError naming the line."""
    known = {header_line(k, v): (k, v) for k, v in original}
    out: HeaderList = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line in known:
            out.append(known[line])
            continue
        try:
            out.append(parse_header_line(line))
        except HeaderLineError as exc:
            raise ValueError(f"headers, line {number}: {exc}") from exc
    return out


def escape_body(text: str) -> str:
    """A body holding control characters, made visible and reversible (see unescape_body)."""
    return visible(text.replace("\\", "\\\\"))


def unescape_body(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code == "\\":
            return "\\"
        if code == "r":
            return "\r"
        return chr(int(code[1:], 16))

    return _ESCAPE.sub(one, text)


class ReplayEditor(ModalScreen[Edit | None]):
    """Edit a request before replaying it. `target` is the replay target (the path rule is
    applied to prefill the URL); `signer` says whether re-signing is possible."""

    DEFAULT_CSS = """
    ReplayEditor { align: center middle; }
    ReplayEditor > VerticalScroll {
        width: 96%; height: 94%; border: thick $primary; background: $surface; padding: 0 1;
    }
    ReplayEditor .title { text-style: bold; width: 1fr; }
    ReplayEditor .caption { color: $text-muted; margin-top: 1; width: 1fr; }
    ReplayEditor #request { height: auto; }
    ReplayEditor #method { width: 12; }
    ReplayEditor #url { width: 1fr; }
    ReplayEditor #headers { height: 1fr; min-height: 4; }
    ReplayEditor #body { height: 2fr; min-height: 5; }
    ReplayEditor #resign-why { color: $text-muted; width: 1fr; }
    ReplayEditor #error { color: $error; height: auto; width: 1fr; }
    ReplayEditor #buttons { height: auto; align-horizontal: right; }
    ReplayEditor Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "send", "Send", priority=True),
    ]

    def __init__(self, event: Event, target: str, signer: Signer | None = None, *,
                 heading: str = "Replay with edits: ") -> None:
        super().__init__()
        self.heading = heading
        self.event = event
        self.signer = signer
        try:
            self.url = target_url(target, event)
        except ReplayError:
            self.url = target
        self.headers = replay_headers(event.headers)
        self.headers_text = "\n".join(header_line(k, v) for k, v in self.headers)
        body = event.body
        self.escaped = False
        notes: list[str] = []
        self.language: str | None = None
        if len(body) > EDIT_LIMIT:
            self.body_text = ""
            notes.append(f"{len(body):,} bytes: too large to edit here; the original bytes "
                         "are sent")
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = body.decode("utf-8", "replace")
                notes.append("not valid UTF-8: bad bytes show as �; leave the body as it is "
                             "to send the original bytes")
            if has_unsafe(text):
                text = escape_body(text)
                self.escaped = True
                notes.append("control characters show as escapes such as \\x1b (and \\ as "
                             "\\\\); an edit sends the characters they stand for")
            elif text and not notes:
                try:
                    json.loads(text)
                    self.language = "json"
                except (ValueError, RecursionError):
                    pass
            self.body_text = text
        self.body_note = "; ".join(notes)

    def compose(self) -> ComposeResult:
        event = self.event
        # Scrolls when the terminal is too short for it all (80×24): Re-sign and Send stay
        # reachable, and focusing them brings them into view.
        with VerticalScroll():
            title = Text(self.heading, style="bold")
            title.append_text(inert(f"{event.method} {event.target}", line=True, limit=200))
            if event.summary:
                title.append("  ")
                title.append_text(inert(event.summary, line=True, limit=120))
            yield Label(title, classes="title")
            with Horizontal(id="request"):
                yield Input(event.method, id="method", placeholder="POST")
                yield Input(self.url, id="url", placeholder="http://localhost:3000/webhooks")
            yield Label(Text("Headers, one per line as Name: value (host, content-length and "
                             "hop-by-hop headers are set for the connection)"),
                        classes="caption")
            yield TextArea(self.headers_text, id="headers", soft_wrap=False)
            caption = Text("Body")
            if self.body_note:
                caption.append(f": {self.body_note}")
            yield Label(caption, classes="caption", id="body-caption")
            yield self._body_area()
            ok = self.signer is not None and self.signer.ok
            what = f" ({self.signer.title})" if ok and self.signer is not None else ""
            stamped = ok and self.signer is not None and self.signer.timestamped
            when = ", fresh timestamp" if stamped else ""
            yield Checkbox(f"Re-sign{what} with the configured secret{when}",
                           value=False, id="resign", disabled=not ok)
            if not ok:
                why = self.signer.problem if self.signer is not None else (
                    "cannot re-sign: no provider or secret known")
                yield Label(inert(why, line=True), id="resign-why")
            elif self.signer is not None and self.signer.doubt:
                yield Label(inert(f"Asks first: {self.signer.doubt}.", line=True),
                            id="resign-why")
            yield Label(Text(""), id="error")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Send", id="send", variant="primary")

    def _body_area(self) -> TextArea:
        read_only = len(self.event.body) > EDIT_LIMIT
        if self.language:
            try:
                return TextArea(self.body_text, id="body", language=self.language,
                                read_only=read_only)
            except Exception:  # no highlighter for it: plain text is fine
                pass
        return TextArea(self.body_text, id="body", read_only=read_only)

    def on_mount(self) -> None:
        self._warned = False
        self.query_one("#body", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self.action_send()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self.action_send()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_send(self) -> None:
        try:
            edit = self.result()
        except ValueError as exc:
            self.query_one("#error", Label).update(inert(str(exc), line=True))
            return
        warned = self._warned
        self._warned = True
        if (edit.edited and not edit.resign and not warned and self.signer is not None
                and self.signer.ok):
            # A changed request with its original signature fails any app that verifies.
            self.query_one("#error", Label).update(Text(
                "The request changed, so its original signature will not verify: tick "
                "Re-sign, or press Send again to send it as it is.", style="yellow"))
            return
        signer = self.signer
        if edit.resign and signer is not None and signer.doubt:
            self._confirm_forced(edit, signer)
            return
        self.dismiss(edit)

    def _confirm_forced(self, edit: Edit, signer: Signer) -> None:
        """Re-signing makes the app that receives it trust the event: only on a person's
        explicit word, and never by default (Cancel has the focus)."""

        def answered(answer: str | None) -> None:
            if answer:
                self.dismiss(replace(edit, forced=True))
            else:
                self.query_one("#error", Label).update(Text(
                    "Not sent. Untick Re-sign to send it with the signature it arrived with.",
                    style="yellow"))

        why = signer.reason or signer.doubt
        question = (f"Signature when it arrived: {signer.label} ({why})."
                    f"\n\nA fresh {signer.title} signature makes your app accept this event as "
                    "genuine. Re-sign it anyway? The replay is recorded as a forced re-sign.")
        self.app.push_screen(Confirm(visible(question), "Re-sign anyway"), answered)

    def result(self) -> Edit:
        """The request as edited; ValueError with a message for the first problem."""
        method = self.query_one("#method", Input).value.strip().upper()
        if not TOKEN.fullmatch(method):
            raise ValueError(f"method {method!r} is not an HTTP method (for example POST)")
        try:
            url = check_target(self.query_one("#url", Input).value)
        except ReplayError as exc:
            raise ValueError(f"URL: {exc}") from exc
        headers_text = self.query_one("#headers", TextArea).text
        if headers_text == self.headers_text:
            headers = list(self.headers)
        else:
            headers = parse_headers(headers_text, self.headers)
        body_text = self.query_one("#body", TextArea).text
        if body_text == self.body_text:
            body = self.event.body  # untouched: the original bytes, exactly
        else:
            body = (unescape_body(body_text) if self.escaped else body_text).encode(
                "utf-8", "surrogateescape")
        edited = (method != self.event.method or headers != self.headers
                  or body != self.event.body)
        resign = self.query_one("#resign", Checkbox).value
        return Edit(method, url, headers, body, resign=resign, edited=edited)
