"""The `?` screen: every key, then what else the command palette offers. Its lines come from
the actions table (inspector.faces.tui.actions.help_lines)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Lines = Sequence[tuple[str, str]]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, keys: Lines, palette: Lines) -> None:
        """`keys`: (keys, what they do); `palette`: (command title, what it does)."""
        super().__init__()
        self.keys = keys
        self.palette = palette

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("Keys", style="bold underline"))
            yield Static(_table(self.keys, "bold cyan"))
            yield Static(Text("\nAlso in the command palette (ctrl+p)", style="bold underline"))
            yield Static(_table(self.palette, "bold", width=26))
            yield Static(
                Text(
                    "\nVerdicts: ✓ valid · ✗ invalid · – unsigned · ? no secret configured.\n"
                    "Set the Connectly secret with --secret or CONNECTLY_WEBHOOK_SECRET.\n"
                    "Press escape to close.",
                    style="dim",
                )
            )


def _table(lines: Lines, style: str, width: int | None = None) -> Table:
    """Two columns; the first one `width` wide at most (None: as wide as its longest)."""
    table = Table.grid(padding=(0, 3))
    table.add_column(style=style, no_wrap=width is None, max_width=width)
    table.add_column()
    for first, what in lines:
        table.add_row(first, what)
    return table
