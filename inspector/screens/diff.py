"""`=`: two events side by side, headers then bodies, with the differences highlighted.

Everything shown comes from inspector.diff, already made visible; it is drawn as Rich
`Text` (never markup), so a hostile header or body cannot style or escape the screen.
"""

from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from inspector import clock
from inspector.diff import CHANGED, EQUAL, LEFT_ONLY, RIGHT_ONLY, Comparison, Pair, Section
from inspector.model import VERDICT_LABELS, Event
from inspector.widgets.inert import inert

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
    keep = set()
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


def section_table(section: Section, changes_only: bool) -> Table:
    table = Table(show_header=False, expand=True, box=None, padding=(0, 1), pad_edge=False)
    table.add_column(ratio=1, overflow="fold")
    table.add_column(width=1)
    table.add_column(ratio=1, overflow="fold")
    if not section.pairs:
        table.add_row(Text("(empty)", style=MISSING), "", Text("(empty)", style=MISSING))
    for pair in shown_pairs(section.pairs, changes_only):
        if pair is None:
            table.add_row(Text("⋯", style=MISSING), "", Text("⋯", style=MISSING))
            continue
        left, right = pair_texts(pair)
        table.add_row(left, Text("│" if pair.tag == EQUAL else "≠", style="dim"), right)
    return table


def event_title(event: Event) -> Text:
    when = clock.local(event.received_at, "%Y-%m-%d %H:%M:%S")
    verdict = VERDICT_LABELS.get(event.verdict, event.verdict or "–")
    out = Text(f"{when}  ", style="bold")
    out.append_text(inert(f"{event.method} {event.target}", line=True, limit=80))
    out.append(f"  {verdict}  {event.id}", style="dim")
    return out


def section_heading(section: Section) -> Text:
    total = len(section.pairs)
    if section.changes:
        note = f"{section.changes} of {total} lines differ"
    else:
        note = "identical" if total else "both empty"
    return Text.assemble((section.title, "bold underline"), "  ", (note, "dim"))


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
    DiffScreen VerticalScroll { height: 1fr; padding: 0 1; }
    DiffScreen .heading { margin-top: 1; }
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
            with VerticalScroll():
                if self.comparison.same:
                    yield Static(Text("The two events are identical (headers and body).",
                                      style="bold"), classes="heading")
                for name, section in (("headers", self.comparison.headers),
                                      ("body", self.comparison.body)):
                    yield Static(section_heading(section), classes="heading")
                    yield Static(section_table(section, False), id=f"{name}-diff")
            yield Footer()

    def action_toggle_changes(self) -> None:
        self.changes_only = not self.changes_only
        for name, section in (("headers", self.comparison.headers),
                              ("body", self.comparison.body)):
            self.query_one(f"#{name}-diff", Static).update(
                section_table(section, self.changes_only))
        self.notify("Showing changes only" if self.changes_only else "Showing every line",
                    timeout=2)
