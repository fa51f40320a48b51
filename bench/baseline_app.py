"""The start-up baseline: a minimal Textual app showing a DataTable (issue 17, target 3).

`make bench` times its first paint in the same tmux terminal as the inspector's, in the same
run: the inspector's first paint is judged as a multiple of this one.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable

COLUMNS = ("TIME", "METHOD", "PATH", "STATUS")


class Baseline(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.add_row("00:00:00", "POST", "/baseline", "200")


if __name__ == "__main__":
    Baseline().run()
