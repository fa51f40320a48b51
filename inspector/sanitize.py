"""Make untrusted text inert: control characters and escapes become visible.

Bodies, headers and paths come from strangers. Nothing here knows about Rich markup: the UI
shows the result as `rich.text.Text`, which never parses markup. This module only makes sure
no byte that a terminal would act on (ESC, OSC, BEL, C1 controls, bidi overrides) survives.
"""

from __future__ import annotations

import re

# C0 controls except TAB and LF, DEL, C1 controls, and the bidi/zero-width format characters
# that can reorder or hide text (Trojan Source).
_UNSAFE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
)
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_LINE_RE = re.compile(f"[{_UNSAFE}\t\n]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """Keep TAB and LF; show every other control or format character as an escape."""
    return _UNSAFE_RE.sub(_escape, text)


def visible_line(text: str) -> str:
    """Like `visible`, for one line: TAB and LF are escaped too."""
    return _UNSAFE_LINE_RE.sub(_escape, text)


def has_unsafe(text: str) -> bool:
    """True when `visible` would change something."""
    return _UNSAFE_RE.search(text) is not None


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def pieces(text: str, *, line: bool = False) -> list[tuple[str, bool]]:
    """Split text into (chunk, escaped) pairs, so the UI can style the escapes apart."""
    pattern = _UNSAFE_LINE_RE if line else _UNSAFE_RE
    out: list[tuple[str, bool]] = []
    pos = 0
    for match in pattern.finditer(text):
        if match.start() > pos:
            out.append((text[pos : match.start()], False))
        out.append((_escape(match), True))
        pos = match.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out
