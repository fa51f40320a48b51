"""A read-only, virtual view of many lines: only the visible ones are rendered."""

from __future__ import annotations

from rich.highlighter import Highlighter, JSONHighlighter
from rich.text import Text
from textual.widgets import Log

from inspector.sanitize import visible
from inspector.widgets.inert import ESCAPE_STYLE

WRAP_AT = 2000  # very long lines are cut into pieces so one line never costs megabytes


_ESCAPE = r"(?<!\\)(?:\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8})"


class EscapeHighlighter(Highlighter):
    """Marks the \\xNN escapes that stand for control characters."""

    def highlight(self, text: Text) -> None:
        text.highlight_regex(_ESCAPE, style=ESCAPE_STYLE)


class JSONEscapeHighlighter(EscapeHighlighter):
    def __init__(self) -> None:
        self._json = JSONHighlighter()

    def highlight(self, text: Text) -> None:
        self._json.highlight(text)
        super().highlight(text)


def prepare_lines(text: str) -> list[str]:
    """Sanitise and split text for a TextView (safe to call in a thread)."""
    out: list[str] = []
    for line in visible(text).split("\n"):
        if len(line) <= WRAP_AT:
            out.append(line)
        else:
            out.extend(line[i : i + WRAP_AT] for i in range(0, len(line), WRAP_AT))
    return out


class TextView(Log):
    """A Log that is never written to by the user; lines are pre-sanitised."""

    DEFAULT_CSS = """
    TextView { background: $surface; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(highlight=True, auto_scroll=False, id=id, classes=classes)
        self.highlighter = EscapeHighlighter()

    def show(self, lines: list[str], *, json: bool = False) -> None:
        self.highlighter = JSONEscapeHighlighter() if json else EscapeHighlighter()
        self.clear()
        # Log.write_lines splits each line again, and "".splitlines() is []: an empty line
        # would vanish, gluing a body to its headers. A lone space keeps it.
        self.write_lines([line or " " for line in lines], scroll_end=False)
        self.scroll_home(animate=False)
