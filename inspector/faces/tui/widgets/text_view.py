"""A read-only, virtual view of many lines: only the visible ones are cut and rendered.

A 10 MiB body of newlines is ten million lines: as a list of strings it cost about 500 MB.
`Lines` keeps the (sanitised) text as one string and a sparse index, one entry per BLOCK
characters; the lines of a block are cut only when that block is looked at.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import overload

from rich.cells import cell_len
from rich.highlighter import Highlighter, JSONHighlighter
from rich.segment import Segment
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from inspector.core.sanitize import visible
from inspector.faces.tui.widgets.inert import ESCAPE_STYLE

WRAP_AT = 2000  # very long lines are cut into pieces so one line never costs megabytes
BLOCK = 64 * 1024  # characters per index entry (and per cut done when scrolling)


class Lines(Sequence[str]):
    """The display lines of a text: split on newlines, lines longer than WRAP_AT cut into
    pieces, every control character made visible. Safe to build in a thread; memory is the
    text plus a few numbers per BLOCK characters."""

    def __init__(self, text: str, *, sanitised: bool = False) -> None:
        self.text = text if sanitised else visible(text)
        # Block i covers text[starts[i]:starts[i + 1]] and holds display lines from
        # firsts[i] on. Blocks end after a newline, or inside a long line at a piece
        # boundary (so pieces are cut the same whichever block they fall in).
        self._starts: list[int] = []
        self._firsts: list[int] = []
        self._count = 0
        self.width = 0  # characters of the longest display line
        self._cut: dict[int, list[str]] = {}
        self._index()

    @classmethod
    def of(cls, lines: Sequence[str]) -> Lines:
        """Lines that are already made visible (one line each, no newline in them)."""
        out = cls("\n".join(lines), sanitised=True)
        if not lines:
            out._count = 0
        return out

    def _index(self) -> None:
        text, size = self.text, len(self.text)
        pos = line_start = 0
        while pos < size:
            found = text.rfind("\n", pos, pos + BLOCK)
            if found >= 0:
                line_start = found + 1
            end = text.find("\n", pos + BLOCK, pos + 2 * BLOCK) + 1
            if not end:
                if pos + 2 * BLOCK >= size:
                    end = size
                else:
                    # Inside a line at least BLOCK long: cut at its next piece boundary, so
                    # the next block starts with a whole piece.
                    past = pos + BLOCK - line_start
                    end = min(line_start + -(-past // WRAP_AT) * WRAP_AT, size)
            count, widest = _measure(text[pos:end], final=end == size)
            self._starts.append(pos)
            self._firsts.append(self._count)
            self._count += count
            self.width = max(self.width, widest)
            if text[end - 1] == "\n":
                line_start = end
            pos = end
        if not self._starts:  # the empty text is one empty line
            self._starts.append(0)
            self._firsts.append(0)
            self._count = 1
        self._starts.append(size)

    def __len__(self) -> int:
        return self._count

    @property
    def prepared(self) -> int:
        """How many lines are cut and held right now (the rest exist only as the text)."""
        return sum(map(len, self._cut.values()))

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        block = bisect_right(self._firsts, index) - 1
        return self._block(block)[index - self._firsts[block]]

    def _block(self, block: int) -> list[str]:
        """The display lines of one block; the last few cut are kept (scrolling reuses
        them)."""
        cut = self._cut.get(block)
        if cut is None:
            start, end = self._starts[block], self._starts[block + 1]
            cut = _pieces(self.text[start:end], final=end == len(self.text))
            if len(self._cut) >= 2:
                self._cut.pop(next(iter(self._cut)))
            self._cut[block] = cut
        return cut


def _parts(block: str, *, final: bool) -> list[str]:
    parts = block.split("\n")
    if not final and block.endswith("\n"):
        parts.pop()  # the newline ends the last line; the next block starts a new one
    return parts


def _measure(block: str, *, final: bool) -> tuple[int, int]:
    """(display lines, longest display line) of a block."""
    parts = _parts(block, final=final)
    longest = max(map(len, parts))
    if longest <= WRAP_AT:
        return len(parts), longest
    return sum(max(1, -(-len(p) // WRAP_AT)) for p in parts), WRAP_AT


def _pieces(block: str, *, final: bool) -> list[str]:
    out: list[str] = []
    for part in _parts(block, final=final):
        if len(part) <= WRAP_AT:
            out.append(part)
        else:
            out.extend(part[i : i + WRAP_AT] for i in range(0, len(part), WRAP_AT))
    return out


def prepare_lines(text: str) -> Lines:
    """Sanitise and index text for a TextView (safe to call in a thread)."""
    return Lines(text)


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


class TextView(ScrollView, can_focus=True):
    """Read-only lines, rendered as they scroll into view (and a few hundred kept)."""

    ALLOW_SELECT = True
    DEFAULT_CSS = """
    TextView { background: $surface; color: $text; overflow: scroll; }
    TextView:focus { background-tint: $foreground 5%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines = Lines("")
        self.highlighter: Highlighter = EscapeHighlighter()
        self._strips: LRUCache[int, Strip] = LRUCache(512)

    @property
    def allow_select(self) -> bool:
        return True

    def show(self, lines: Lines | Sequence[str], *, json: bool = False) -> None:
        self.lines = lines if isinstance(lines, Lines) else Lines.of(lines)
        self.highlighter = JSONEscapeHighlighter() if json else EscapeHighlighter()
        self._strips.clear()
        # Wide characters take two cells: the width is an upper bound unless all ASCII.
        width = self.lines.width * (1 if self.lines.text.isascii() else 2)
        self.virtual_size = Size(width, len(self.lines))
        self.scroll_home(animate=False)
        self.refresh()

    def clear(self) -> None:
        self.show(Lines(""))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def selection_updated(self, selection: Selection | None) -> None:
        self._strips.clear()
        self.refresh()

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        start = selection.start.y if selection.start is not None else 0
        end = selection.end.y + 1 if selection.end is not None else len(self.lines)
        shifted = Selection(
            None if selection.start is None else selection.start - (0, start),
            None if selection.end is None else selection.end - (0, start))
        return shifted.extract("\n".join(self.lines[start:end])), "\n"

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        style = self.rich_style
        width = self.size.width
        if index >= len(self.lines):
            return Strip.blank(width, style)
        strip = self._strip(index)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x,
                                                                                  index)

    def _strip(self, index: int) -> Strip:
        selection = self.text_selection
        cached = self._strips.get(index) if selection is None else None
        if cached is not None:
            return cached
        line = self.lines[index].expandtabs()
        text = Text(line, no_wrap=True, end="")
        text.stylize(self.rich_style)
        self.highlighter.highlight(text)
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            text.stylize(self.screen.get_component_rich_style("screen--selection"), start,
                         len(text) if end == -1 else end)
        segments = list(text.render(self.app.console)) or [Segment("")]
        strip = Strip(segments, cell_len(line))
        if selection is None:
            self._strips[index] = strip
        return strip
