"""The top bar: where we listen (or whose capture a viewer shows), where replays go, how many
events, follow mode."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from inspector.core.display import count
from inspector.faces.tui.widgets.inert import inert


class StatusBar(Widget):
    """One line, updated a few times a second; it holds what it shows."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    StatusBar.-error { background: $error 60%; }
    """

    # Each field repaints the bar when it changes (no layout pass: it is one line).
    replay_to: reactive[str] = reactive("")
    total: reactive[int] = reactive(0)
    rate: reactive[float] = reactive(0.0)
    follow: reactive[bool] = reactive(True)
    error: reactive[str] = reactive("")
    marked: reactive[int] = reactive(0)
    progress: reactive[str] = reactive("")  # "replaying 3/10"
    forward_to: reactive[str] = reactive("")
    forward_waiting: reactive[int] = reactive(0)
    policy: reactive[str] = reactive("")  # the answer, when not the default
    tunnel: reactive[str] = reactive("")  # "https://x.trycloudflare.com" / "tunnel starting" …
    shown: reactive[int | None] = reactive(None)  # events the filter lets through, if any
    held: reactive[int] = reactive(0)  # requests and forwards held at a breakpoint
    breakpoint: reactive[str] = reactive("")  # "hold every request", … ("" none)
    viewer: reactive[str] = reactive("")  # a viewer: "of http://… (pid 12)", or why none

    def __init__(self, url: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.url = url

    def watch_error(self, error: str) -> None:
        self.set_class(bool(error), "-error")

    def render(self) -> Text:
        # Most important first: a narrow terminal cuts the end of the line.
        text = Text.assemble(("webhook-inspector", "bold"), "  ")
        if self.viewer:
            text.append("◇ viewer ", style="bold cyan")
            text.append_text(inert(self.viewer, line=True, limit=90))
        elif self.url:
            text.append("● ", style="green")
            text.append(self.url, style="bold underline")
        else:
            text.append("○ not listening", style="dim")
        if self.shown is not None:
            text.append(f"  {self.shown:,} of {count(self.total, 'event')}", style="bold")
        else:
            text.append(f"  {count(self.total, 'event')}", style="bold")
        if self.rate >= 1:
            text.append(f" · {self.rate:,.0f}/s")
        if self.marked:
            text.append(f" · {self.marked:,} marked", style="bold magenta")
        text.append("  follow " + ("on" if self.follow else "off"),
                    style="green" if self.follow else "dim")
        if self.held:
            text.append("  ")
            text.append(f"‖ {self.held:,} held (h)", style="bold black on yellow")
        if self.breakpoint:
            text.append(f"  ‖ {self.breakpoint}", style="bold yellow")
        if self.progress:
            text.append(f"  {self.progress}", style="bold yellow")
        if self.error:
            text.append("  ⚠ ", style="bold")
            text.append_text(inert(self.error, line=True, limit=120))
        if self.tunnel:
            text.append("  │ ", style="dim")
            text.append_text(inert(self.tunnel, line=True, limit=90))
        if self.forward_to:
            text.append("  │ forward → ", style="dim")
            text.append_text(inert(self.forward_to, line=True, limit=50))
            if self.forward_waiting:
                text.append(f" ({self.forward_waiting:,} waiting)", style="yellow")
        if self.replay_to:
            text.append("  │ replay → ", style="dim")
            text.append_text(inert(self.replay_to, line=True, limit=60))
        if self.policy:
            text.append("  │ answer: ", style="dim")
            text.append_text(inert(self.policy, line=True, limit=50))
        return text
