"""`=`: two events side by side, headers then bodies, with the differences highlighted.

Everything shown comes from inspector.core.analysis.diff, already made visible; it is drawn as Rich
`Text` (never markup), so a hostile header or body cannot style or escape the screen.
"""

from __future__ import annotations

from bisect import bisect_right

from rich.cells import chop_cells
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from inspector.core.analysis.diff import (
    CHANGED,
    EQUAL,
    LEFT_ONLY,
    RIGHT_ONLY,
    Comparison,
    Pair,
    Section,
)
from inspector.core.display import DATE_TIME, local_time, verdict_label
from inspector.core.model import Event
from inspector.faces.tui.widgets.inert import inert

OLD_LINE = Style(bgcolor="#3c1f24")
NEW_LINE = Style(bgcolor="#1f3c27")
OLD_SPAN = Style(bgcolor="#a3333f", bold=True)
NEW_SPAN = Style(bgcolor="#2f8a45", bold=True)
MISSING = Style(dim=True)
CONTEXT = 2  # equal lines kept around a change in "changes only" mode


def pair_texts(pair: Pair) -> tuple[Text, Text]:
    """The two cells of a row, with the changed stretches highlighted."""
    return (_cell(pair.left, pair, left=True), _cell(pair.right, pair, left=False))


def _cell(line: str | None, pair: Pair, *, left: bool) -> Text:
    if line is None:
        return Text("·", style=MISSING)
    if pair.tag == EQUAL:
        return inert(line)
    line_style, span_style = (OLD_LINE, OLD_SPAN) if left else (NEW_LINE, NEW_SPAN)
    text = inert(line, line_style)
    if pair.tag == CHANGED:
        for span in pair.left_spans if left else pair.right_spans:
            text.stylize(span_style, span.start, span.end)
    elif pair.tag in (LEFT_ONLY, RIGHT_ONLY):
        text.stylize(span_style)
    return text


def shown_pairs(pairs: list[Pair], changes_only: bool) -> list[Pair | None]:
    """The rows to show; None marks skipped equal lines in "changes only" mode."""
    if not changes_only:
        return list(pairs)
    keep: set[int] = set()
    for i, pair in enumerate(pairs):
        if pair.tag != EQUAL:
            keep.update(range(max(0, i - CONTEXT), min(len(pairs), i + CONTEXT + 1)))
    out: list[Pair | None] = []
    for i, pair in enumerate(pairs):
        if i in keep:
            out.append(pair)
        elif not out or out[-1] is not None:
            out.append(None)  # one marker per run of skipped lines
    return out


def event_title(event: Event) -> Text:
    when = local_time(event.received_at, DATE_TIME)
    verdict = verdict_label(event.verdict) or "–"
    out = Text(f"{when}  ", style="bold")
    out.append_text(inert(f"{event.method} {event.target}", line=True, limit=80))
    out.append(f"  {verdict}  {event.id}", style="dim")
    return out


def section_heading(section: Section) -> Text:
    total = len(section.pairs)
    if section.changes:
        note = f"{section.changes:,} of {total:,} lines differ"
    else:
        note = "identical" if total else "both empty"
    heading = Text.assemble((section.title, "bold underline"), "  ", (note, "dim"))
    if section.note:
        heading.append(f"  ({section.note})", style="yellow")
    return heading


Row = tuple[str, object]  # ("heading", Text), ("pair", Pair), ("skip", None), ("blank", None)


def rows_of(comparison: Comparison, changes_only: bool) -> list[Row]:
    """Everything below the titles, one entry per row of the view."""
    rows: list[Row] = []
    if comparison.same:
        rows += [("heading", Text("The two events are identical (headers and body).",
                                  style="bold")), ("blank", None)]
    for section in (comparison.headers, comparison.body):
        rows.append(("heading", section_heading(section)))
        if not section.pairs:
            rows.append(("pair", Pair(EQUAL, "(empty)", "(empty)")))
        rows += [("skip", None) if pair is None else ("pair", pair)
                 for pair in shown_pairs(section.pairs, changes_only)]
        rows.append(("blank", None))
    return rows


def _folds(line: str | None, width: int) -> list[str]:
    """A cell's text cut into pieces of `width` cells (how many screen lines it takes)."""
    if not line:
        return [""]
    if line.isascii():
        return [line[i : i + width] for i in range(0, len(line), width)]
    return chop_cells(line, width) or [""]


class DiffView(ScrollView, can_focus=True):
    """The rows of a comparison, two columns, long lines folded. Virtual: only the rows on
    screen are laid out and rendered, so 5,000 differing lines cost what a screenful does."""

    DEFAULT_CSS = """
    DiffView { height: 1fr; padding: 0 1; }
    """

    def __init__(self, rows: list[Row], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows = rows
        self._tops: list[int] = []  # the first screen line of each row
        self._half = 0
        self._strips: LRUCache[int, list[Strip]] = LRUCache(256)

    def show(self, rows: list[Row]) -> None:
        self.rows = rows
        self._layout(self.scrollable_content_region.width, force=True)
        self.scroll_home(animate=False)

    def on_resize(self) -> None:
        self._layout(self.scrollable_content_region.width)

    def _layout(self, width: int, force: bool = False) -> None:
        half = max((width - 3) // 2, 1)
        if half == self._half and not force:
            return
        self._half = half
        self._strips.clear()
        tops, top = [], 0
        for kind, value in self.rows:
            tops.append(top)
            if kind == "pair":
                assert isinstance(value, Pair)
                top += max(len(_folds(value.left, half)), len(_folds(value.right, half)))
            else:
                top += 1
        self._tops = tops
        self.virtual_size = Size(width, top)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        row = bisect_right(self._tops, index) - 1
        if row < 0 or row >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        strips = self._strips.get(row)
        if strips is None:
            strips = self._render_row(row)
            self._strips[row] = strips
        line = index - self._tops[row]
        if line >= len(strips):
            return Strip.blank(width, self.rich_style)
        return strips[line].crop_extend(0, width, self.rich_style).apply_offsets(0, index)

    def _render_row(self, row: int) -> list[Strip]:
        kind, value = self.rows[row]
        console = self.app.console
        if kind == "heading":
            assert isinstance(value, Text)
            return [Strip(value.render(console))]
        if kind == "skip":
            value = Pair(EQUAL, "⋯", "⋯")
        if kind == "blank" or not isinstance(value, Pair):
            return [Strip.blank(0)]
        half = self._half
        left, right = pair_texts(value)
        if kind == "skip":
            left.stylize(MISSING)
            right.stylize(MISSING)
        marker = Text("│" if value.tag == EQUAL else "≠", style="dim")
        lefts, rights = _cut(left, value.left, half), _cut(right, value.right, half)
        strips = []
        for i in range(max(len(lefts), len(rights))):
            parts = [lefts[i] if i < len(lefts) else Text(), Text(" "), marker, Text(" "),
                     rights[i] if i < len(rights) else Text()]
            parts[0].pad_right(half - parts[0].cell_len)
            strips.append(Strip(Text.assemble(*parts, end="").render(console)))
            marker = Text(" ")
        return strips


def _cut(text: Text, line: str | None, width: int) -> list[Text]:
    """`text` (the styled `line`) divided where `_folds` cuts the line."""
    pieces = _folds(line, width)
    if len(pieces) == 1:
        return [text]
    offsets, at = [], 0
    for piece in pieces[:-1]:
        at += len(piece)
        offsets.append(at)
    return list(text.divide(offsets))


class DiffScreen(ModalScreen[None]):
    """Compare two events (left: the older one)."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("c", "toggle_changes", "Changes only"),
    ]

    DEFAULT_CSS = """
    DiffScreen { align: center middle; }
    DiffScreen > Vertical {
        width: 95%; height: 95%; border: thick $primary; background: $surface;
    }
    DiffScreen #titles { height: auto; padding: 0 1; background: $panel; }
    """

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.comparison = comparison
        self.changes_only = False

    def compose(self) -> ComposeResult:
        titles = Table(show_header=False, expand=True, box=None, padding=0)
        titles.add_column(ratio=1)
        titles.add_column(ratio=1)
        titles.add_row(event_title(self.comparison.left), event_title(self.comparison.right))
        with Vertical():
            yield Static(titles, id="titles")
            yield DiffView(rows_of(self.comparison, False), id="diff")
            yield Footer()

    def on_mount(self) -> None:
        self.query_one(DiffView).focus()

    def action_toggle_changes(self) -> None:
        self.changes_only = not self.changes_only
        self.query_one(DiffView).show(rows_of(self.comparison, self.changes_only))
        self.notify("Showing changes only" if self.changes_only else "Showing every line",
                    timeout=2)
