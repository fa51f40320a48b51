"""Compare two events: headers and pretty-printed bodies, side by side (difflib).

The text is made visible (control characters as escapes) before it is compared, so what
the screen shows is exactly what was compared. No Textual here: the screen renders it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from inspector import decoding
from inspector.model import Event
from inspector.sanitize import visible_line

EQUAL, CHANGED, LEFT_ONLY, RIGHT_ONLY = "equal", "changed", "left", "right"
BODY_LINES = 5000  # lines per side compared; the rest is summarised
LINE_LIMIT = 2000  # characters per line compared and shown
PAIR_CUTOFF = 0.6  # lines at least this similar are shown as one changed line
PAIR_SEARCH = 10_000  # bigger replaced blocks are shown as removed + added lines


@dataclass(frozen=True, slots=True)
class Span:
    """A changed stretch of a line: [start, end) in characters."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Pair:
    """One row of the side-by-side view. `left`/`right` is None where that side has no line."""

    tag: str  # equal, changed, left (only on the left), right (only on the right)
    left: str | None
    right: str | None
    left_spans: tuple[Span, ...] = ()
    right_spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    pairs: list[Pair]

    @property
    def changes(self) -> int:
        return sum(p.tag != EQUAL for p in self.pairs)


@dataclass(frozen=True, slots=True)
class Comparison:
    left: Event
    right: Event
    headers: Section
    body: Section

    @property
    def same(self) -> bool:
        return not self.headers.changes and not self.body.changes


def header_lines(event: Event) -> list[str]:
    return [visible_line(f"{name}: {value}") for name, value in event.headers]


def body_lines(event: Event) -> list[str]:
    """The body as the Body tab shows it: JSON indented, forms as key = value, text as is,
    binary as a hex dump. Every line is made visible."""
    decoded = decoding.decode(event.body, event.headers)
    if decoded.kind == "empty":
        return []
    text: str | None = None
    if decoded.kind == "json":
        text = decoding.pretty_json(decoded.value)
    elif decoded.kind == "form":
        text = "\n".join(f"{k} = {v}" for k, v in decoded.form)
    elif decoded.kind != "binary":
        text = decoded.text
    lines = decoding.hexdump(decoded.data) if text is None else text.split("\n")
    out = []
    for line in lines[:BODY_LINES]:
        shown = visible_line(line)
        out.append(shown if len(shown) <= LINE_LIMIT else shown[: LINE_LIMIT - 1] + "…")
    if len(lines) > BODY_LINES:
        out.append(f"… {len(lines) - BODY_LINES:,} more lines not compared")
    return out


def side_by_side(left: list[str], right: list[str]) -> list[Pair]:
    """Align two line lists; replaced lines are paired with their changed spans."""
    pairs: list[Pair] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs.extend(Pair(EQUAL, a, a) for a in left[i1:i2])
            continue
        pairs.extend(_replace(left[i1:i2], right[j1:j2]))
    return pairs


def _replace(olds: list[str], news: list[str]) -> list[Pair]:
    """A replaced block: the most similar lines are paired as changed (like difflib's
    Differ), the rest shown as removed or added."""
    best, at = PAIR_CUTOFF, None
    if len(olds) * len(news) <= PAIR_SEARCH:
        for i, a in enumerate(olds):
            for j, b in enumerate(news):
                matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
                if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
                    ratio = matcher.ratio()
                    if ratio > best:
                        best, at = ratio, (i, j)
    if at is None:
        return ([Pair(LEFT_ONLY, a, None) for a in olds]
                + [Pair(RIGHT_ONLY, None, b) for b in news])
    i, j = at
    spans = _spans(olds[i], news[j])
    return [*_replace(olds[:i], news[:j]),
            Pair(CHANGED, olds[i], news[j], spans[0], spans[1]),
            *_replace(olds[i + 1 :], news[j + 1 :])]


def _spans(a: str, b: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Character ranges that differ between two paired lines."""
    left: list[Span] = []
    right: list[Span] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            left.append(Span(i1, i2))
        if j2 > j1:
            right.append(Span(j1, j2))
    return tuple(left), tuple(right)


def compare(left: Event, right: Event) -> Comparison:
    return Comparison(
        left, right,
        Section("Headers", side_by_side(header_lines(left), header_lines(right))),
        Section("Body", side_by_side(body_lines(left), body_lines(right))),
    )
