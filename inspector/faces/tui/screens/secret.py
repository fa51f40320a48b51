"""Set a provider's signing secret for this session (never saved anywhere)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select

from inspector.faces.tui.screens.prompt import Dialog


class SecretPrompt(Dialog):
    """Dismisses with (provider, secret), or None when cancelled."""

    DEFAULT_CSS = """
    SecretPrompt Select { margin-bottom: 1; }
    SecretPrompt #hint { color: $text-muted; }
    """

    def __init__(self, providers: list[tuple[str, str]], provider: str, current: str) -> None:
        """`providers` is (title, name) pairs; `current` is the masked current secret."""
        super().__init__()
        self.providers = providers
        self.provider = provider
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Signing secret (kept in memory for this session only)"))
            yield Select(self.providers, value=self.provider, allow_blank=False, id="provider")
            yield Input(password=True, placeholder="paste the secret", id="secret")
            yield Label(Text(f"current: {self.current}"), id="hint")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Set and re-verify", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#secret", Input).focus()

    def _submit(self) -> None:
        secret = self.query_one("#secret", Input).value
        provider = self.query_one("#provider", Select).value
        if not secret:
            self.query_one("#hint", Label).update(Text("The secret is empty.", style="red"))
            return
        self.dismiss((str(provider), secret))
