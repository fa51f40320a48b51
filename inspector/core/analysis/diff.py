"""Compare two events: headers and pretty-printed bodies, side by side (difflib).

The text is made visible (control characters as escapes) before it is compared, so what
the screen shows is exactly what was compared. No Textual here: the screen renders it.

Bodies come from strangers, and difflib's worst case is cubic, so the work is bounded: the
common head and tail are matched first (linear); the rest is aligned on lines that occur
once on each side (every other line is difflib "junk"), and only when it is at most
ALIGN_LINES a side; past that the differing stretch is compared line by line and the
section says why. Pairing similar lines stops once PAIR_BUDGET is spent.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest

from inspector.core.analysis import decoding
from inspector.core.model import Event
from inspector.core.sanitize import visible_line

EQUAL, CHANGED, LEFT_ONLY, RIGHT_ONLY = "equal", "changed", "left", "right"
BODY_LINES = 5000  # lines per side compared; the rest is summarised
LINE_LIMIT = 2000  # characters per line compared and shown
ALIGN_LINES = 2000  # a differing stretch longer than this (a side) is compared line by line
PAIR_CUTOFF = 0.6  # lines at least this similar are shown as one changed line
PAIR_SEARCH = 10_000  # bigger replaced blocks are shown as removed + added lines
PAIR_BUDGET = 4_000_000  # work to pair similar lines in a section (under 0.5 s at worst)


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
    note: str = ""  # how the comparison was cut short, if it was

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
    decoded = decoding.decode(event.body, event.headers, parse_limit=decoding.PRETTY_LIMIT)
    lines = decoding.readable_lines(decoded)
    out = []
    for line in lines[:BODY_LINES]:
        shown = visible_line(line)
        out.append(shown if len(shown) <= LINE_LIMIT else shown[: LINE_LIMIT - 1] + "…")
    if len(lines) > BODY_LINES:
        out.append(f"… {len(lines) - BODY_LINES:,} more lines not compared")
    return out


def side_by_side(left: list[str], right: list[str]) -> tuple[list[Pair], str]:
    """Align two line lists; replaced lines are paired with their changed spans. Returns the
    rows and a note when the work was cut short (see the module's docstring)."""
    head = 0
    while head < min(len(left), len(right)) and left[head] == right[head]:
        head += 1
    tail = 0
    while (tail < min(len(left), len(right)) - head
           and left[-1 - tail] == right[-1 - tail]):
        tail += 1
    olds, news = left[head : len(left) - tail], right[head : len(right) - tail]
    pairs = [Pair(EQUAL, a, a) for a in left[:head]]
    budget = [PAIR_BUDGET]
    note = ""
    if max(len(olds), len(news)) > ALIGN_LINES:
        note = (f"{len(olds):,} and {len(news):,} lines differ, more than {ALIGN_LINES:,} "
                "can be aligned: compared line by line")
        pairs += _by_position(olds, news)
    else:
        pairs += _aligned(olds, news, budget)
    pairs += [Pair(EQUAL, a, a) for a in left[len(left) - tail :]]
    if budget[0] <= 0 and not note:
        note = "too many changed lines to pair them all: some show as removed and added"
    return pairs, note


def _aligned(left: list[str], right: list[str], budget: list[int]) -> list[Pair]:
    # Only lines found once on each side anchor the alignment: difflib then costs about
    # len(left) per step instead of len(left) * repeats.
    counts: dict[str, int] = {}
    for line in left:
        counts[line] = counts.get(line, 0) + 1
    for line in right:
        counts[line] = counts.get(line, 0) + 2
    matcher = difflib.SequenceMatcher(lambda line: counts[line] != 3, left, right,
                                      autojunk=False)
    pairs: list[Pair] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs.extend(Pair(EQUAL, a, a) for a in left[i1:i2])
        else:
            pairs.extend(_replace(left[i1:i2], right[j1:j2], budget))
    return pairs


def _by_position(left: list[str], right: list[str]) -> list[Pair]:
    """Line i against line i: linear, for stretches too long to align."""
    pairs = []
    for a, b in zip_longest(left, right):
        if a is None:
            pairs.append(Pair(RIGHT_ONLY, None, b))
        elif b is None:
            pairs.append(Pair(LEFT_ONLY, a, None))
        elif a == b:
            pairs.append(Pair(EQUAL, a, a))
        else:
            pairs.append(Pair(CHANGED, a, b, (Span(0, len(a)),), (Span(0, len(b)),)))
    return pairs


def _replace(olds: list[str], news: list[str], budget: list[int]) -> list[Pair]:
    """A replaced block: the most similar lines are paired as changed (like difflib's
    Differ), the rest shown as removed or added. `budget[0]` is what is left of the work
    allowed (about len(a) * len(b) per pair of lines looked at closely); at zero, nothing
    more is paired."""
    best, at = PAIR_CUTOFF, None
    if len(olds) * len(news) <= PAIR_SEARCH:
        for i, a in enumerate(olds):
            for j, b in enumerate(news):
                if budget[0] <= 0:
                    break
                matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
                if matcher.real_quick_ratio() > best:
                    budget[0] -= len(a) + len(b)
                    if matcher.quick_ratio() > best:
                        budget[0] -= len(a) * len(b)
                        ratio = matcher.ratio()
                        if ratio > best:
                            best, at = ratio, (i, j, matcher)
    if at is None:
        return ([Pair(LEFT_ONLY, a, None) for a in olds]
                + [Pair(RIGHT_ONLY, None, b) for b in news])
    i, j, matcher = at
    spans = _spans(matcher)
    return [*_replace(olds[:i], news[:j], budget),
            Pair(CHANGED, olds[i], news[j], spans[0], spans[1]),
            *_replace(olds[i + 1 :], news[j + 1 :], budget)]


def _spans(matcher: difflib.SequenceMatcher[str]) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Character ranges that differ between two paired lines (the matcher that paired
    them has done the work already)."""
    left: list[Span] = []
    right: list[Span] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            left.append(Span(i1, i2))
        if j2 > j1:
            right.append(Span(j1, j2))
    return tuple(left), tuple(right)


def compare(left: Event, right: Event) -> Comparison:
    return Comparison(left, right,
                      Section("Headers", *side_by_side(header_lines(left), header_lines(right))),
                      Section("Body", *side_by_side(body_lines(left), body_lines(right))))
