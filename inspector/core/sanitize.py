"""Make untrusted text inert: control characters and escapes become visible.

Bodies, headers and paths come from strangers. Nothing here knows about Rich markup: the UI
shows the result as `rich.text.Text`, which never parses markup. This module only makes sure
no character that a terminal would act on (ESC, OSC, BEL, C1 controls), that reorders or
hides text (bidi overrides, zero-width and tag characters: Trojan Source, ASCII smuggling),
or that cannot be written to a UTF-8 terminal at all (lone surrogates) survives.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Every character of Unicode categories Cc (controls), Cf (format: bidi, zero-width, tags),
# Cs (surrogates), Zl and Zp (line/paragraph separators), as of Unicode 15.1, with the
# unassigned gaps of those blocks included so a newer Python never lets a new one through.
# TAB and LF are handled apart (kept by `visible`, escaped by `visible_line`).
# tests/reliability/test_properties.py checks this against unicodedata.
FORMAT = (  # Cf, Zl, Zp and Cs: the characters that are not controls (a regex class body)
    "\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f" + FORMAT
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_LINE_RE = re.compile(f"[{_UNSAFE}\t\n]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str) -> str:
    """Keep TAB and LF; show every other control or format character as an escape."""
    return _UNSAFE_RE.sub(_escape, text)


def visible_line(text: str) -> str:
    """Like `visible`, for one line: TAB and LF are escaped too."""
    return _UNSAFE_LINE_RE.sub(_escape, text)


def has_unsafe(text: str, *, line: bool = False) -> bool:
    """True when `visible` (`visible_line` with line=True) would change something."""
    return (_UNSAFE_LINE_RE if line else _UNSAFE_RE).search(text) is not None


def replace_unsafe(text: str, replacement: Callable[[str], str]) -> str:
    """Every character `visible_line` would escape, replaced by `replacement(char)`."""
    return _UNSAFE_LINE_RE.sub(lambda match: replacement(match.group()), text)


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
