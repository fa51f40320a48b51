"""The `?` screen: every key, and where the rest lives."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("↑ ↓  j k", "move in the event list"),
    ("PgUp PgDn", "move a page"),
    ("Home End  g G", "first / newest event (End turns follow on)"),
    ("enter / escape", "focus the detail tab's content / back to the list"),
    ("tab / shift+tab", "move focus between the list, tabs and views"),
    ("space", "mark / unmark the selected event, then move down (replay, export, compare)"),
    ("r", "replay the selected event to your app (the marked ones, if any)"),
    ("R", "edit method, URL, headers or body, re-sign, then replay"),
    ("s", "re-sign (fresh timestamp) and replay an event that arrived valid"),
    ("f", "toggle follow mode (select the newest event as it arrives)"),
    ("/", "filter: free text and method: verdict: provider: kind: path: since: "
          "answered: (what the sender got) result: (the latest replay/forward); "
          "enter keeps it, escape clears it"),
    ("c", "copy the selected event as a byte-exact curl command"),
    ("e", "export the marked events, or the list as shown (jsonl, HAR, curl)"),
    ("=", "compare the two marked events side by side"),
    ("d / u", "delete the selected event / undo that within 10 s"),
    ("D", "clear all events (asks first)"),
    ("1 … 6", "detail tabs: overview, headers, body, raw, signature, replay"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q / ctrl+q", "quit (stops the receiver and frees the port)"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    """

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 3))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with VerticalScroll():
            yield Static(Text("Keys", style="bold underline"))
            yield Static(table)
            yield Static(
                Text(
                    "\nVerdicts: ✓ valid · ✗ invalid · – unsigned · ? no secret configured.\n"
                    "Set the Connectly secret with --secret or CONNECTLY_WEBHOOK_SECRET.\n"
                    "Press escape to close.",
                    style="dim",
                )
            )
