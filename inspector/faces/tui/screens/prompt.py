"""Small modal dialogs: ask for a URL, confirm a destructive action; and the base of the
editors that submit or cancel the same way (a rule, a held request's answer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class Dialog(ModalScreen[Any]):
    """A centred modal box; escape cancels (dismisses with None)."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical {
        width: 76; max-width: 95%; height: auto; border: thick $primary;
        background: $surface; padding: 1 2;
    }
    Dialog Label { width: 1fr; margin-bottom: 1; }
    Dialog .error { color: $error; height: auto; }
    Dialog Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    Dialog Button { margin-left: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    # Enter in an input, or the #ok button, submits; any other button cancels.
    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        """For a key that submits (ctrl+s in the editors built on this)."""
        self._submit()

    def _submit(self) -> None:
        self.dismiss("yes")


class TextPrompt(Dialog):
    """Ask for one value; `check(value)` returns a problem to show, or None to accept."""

    def __init__(self, title: str, value: str, check: Callable[[str], str | None] | None = None,
                 placeholder: str = "", ok: str = "OK", *, password: bool = False) -> None:
        super().__init__()
        self.password = password
        self.title_text = title
        self.value = value
        self.check = check
        self.placeholder = placeholder
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text))
            yield Input(self.value, placeholder=self.placeholder, id="url",
                        password=self.password)
            yield Label(Text(""), classes="error", id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.ok, id="ok", variant="primary")

    def _submit(self) -> None:
        value = self.query_one("#url", Input).value.strip()
        if self.check is not None:
            problem = self.check(value)
            if problem:
                self.query_one("#error", Label).update(Text(problem))
                return
        self.dismiss(value)


class URLPrompt(TextPrompt):
    """Ask for a replay target URL, prefilled with the last one used. `ok` names the button:
    "Send" when the answer sends something now, "Set" when it only sets a target."""

    def __init__(self, title: str, value: str,
                 check: Callable[[str], str | None] | None = None, ok: str = "Send") -> None:
        super().__init__(title, value, check, "http://localhost:3000/webhooks", ok)


class Confirm(Dialog):
    """Yes/no; dismisses with "yes" or None."""

    def __init__(self, question: str, yes: str = "Yes", *,
                 variant: Literal["primary", "error"] = "error") -> None:
        """`variant`: "error" (red) for what cannot be undone, "primary" otherwise."""
        super().__init__()
        self.question = question
        self.yes = yes
        self.variant: Literal["primary", "error"] = variant

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.question))
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.yes, id="ok", variant=self.variant)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
