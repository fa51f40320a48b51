"""A full screen around a table: a title line, the rows with a cursor, what the selected row
holds below them, and the keys in the footer (the Rules screen, the held requests)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static


class TableScreen(ModalScreen[None]):
    """Modal, so the app's own keys (d deletes an event…) do not reach through it."""

    DEFAULT_CSS = """
    TableScreen { background: $surface; }
    TableScreen #table-title { height: 1; padding: 0 1; background: $primary-background; }
    TableScreen DataTable { height: 1fr; }
    TableScreen #table-detail { height: auto; max-height: 12; padding: 0 1;
                          border-top: solid $primary-background-lighten-2; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Back")]
    COLUMNS: tuple[tuple[str, int | None], ...] = ()  # (label, width; None: as wide as needed)
    REFRESH = 1.0  # seconds between redraws (counts and times move)

    def compose(self) -> ComposeResult:
        yield Static(id="table-title")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static(id="table-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.table
        for label, width in self.COLUMNS:
            table.add_column(label, width=width)
        self.show()
        table.focus()
        self.set_interval(self.REFRESH, self.show)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one(DataTable)

    @property
    def row(self) -> int | None:
        """The cursor's row, if there is one."""
        table = self.table
        return table.cursor_row if 0 <= table.cursor_row < table.row_count else None

    def title_line(self, text: Text) -> None:
        self.query_one("#table-title", Static).update(text)

    def detail(self, text: Text) -> None:
        self.query_one("#table-detail", Static).update(text)

    def show(self) -> None:
        """Redraw the rows, the title and the detail."""
        raise NotImplementedError

    def show_detail(self) -> None:
        """Redraw the detail of the selected row."""
        raise NotImplementedError

    def on_data_table_row_highlighted(self) -> None:
        self.show_detail()
