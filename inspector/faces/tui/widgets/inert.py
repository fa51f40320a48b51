"""Untrusted text as Rich `Text`: never parsed as markup, escapes made visible and dimmed."""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.filter import LineFilter

from inspector.core.sanitize import clip, has_unsafe, pieces, replace_unsafe

ESCAPE_STYLE = Style(color="magenta", italic=True)


def inert(text: str, style: Style | str = "", *, line: bool = False, limit: int = 0) -> Text:
    """A `Text` showing `text` literally. `line=True` also escapes TAB and LF."""
    if limit:
        text = clip(text, limit)
    out = Text(style=style, no_wrap=line, end="")
    for chunk, escaped in pieces(text, line=line):
        out.append(chunk, ESCAPE_STYLE if escaped else None)
    return out


class InertFilter(LineFilter):
    """The TUI's last guard: no segment reaches the terminal holding a character it would act
    on (ESC, BEL, C1, bidi, TAB, LF, a lone surrogate).

    Widgets show untrusted text through `inert` or `visible`, which turn such characters into
    visible escapes; this only catches what a widget might forget, so it keeps the layout
    instead: a character Rich measures as zero cells is dropped, any other becomes U+FFFD
    cell for cell, and the line keeps its width.
    """

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if not has_unsafe("".join(s.text for s in segments if not s.control), line=True):
            return segments
        return [
            segment if segment.control else
            Segment(replace_unsafe(segment.text, _same_width), segment.style)
            for segment in segments
        ]


def _same_width(char: str) -> str:
    return "\ufffd" * cell_len(char)
