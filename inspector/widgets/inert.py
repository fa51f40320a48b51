"""Untrusted text as Rich `Text`: never parsed as markup, escapes made visible and dimmed."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from inspector.sanitize import clip, pieces

ESCAPE_STYLE = Style(color="magenta", italic=True)


def inert(text: str, style: Style | str = "", *, line: bool = False, limit: int = 0) -> Text:
    """A `Text` showing `text` literally. `line=True` also escapes TAB and LF."""
    if limit:
        text = clip(text, limit)
    out = Text(style=style, no_wrap=line, end="")
    for chunk, escaped in pieces(text, line=line):
        out.append(chunk, ESCAPE_STYLE if escaped else None)
    return out
