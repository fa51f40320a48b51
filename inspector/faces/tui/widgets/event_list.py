"""The event list: a virtual list over the store.

Only seqs live in memory (8 bytes per event in an array). Rows for the visible window are
read from SQLite on demand and kept in a small cache; each visible line is rendered once
into a Strip and cached. New events append seqs in O(1); nothing is mounted per event.
"""

from __future__ import annotations

import asyncio
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from inspector.core.display import (
    answer_label,
    human_size,
    kind_label,
    local_time,
    result_label,
    retry_label,
    verdict_label,
)
from inspector.core.model import Event, Row
from inspector.core.sanitize import visible_line
from inspector.core.store import StoreError
from inspector.faces.tui.widgets.thumb_bar import ThumbBar

ROW_CACHE = 4096
STRIP_CACHE = 512

# (title, width); None shares what is left between path and summary.
COLUMNS: list[tuple[str, int | None]] = [
    ("time", 8),
    ("method", 7),
    ("path", None),
    ("kind", 15),
    ("summary", None),
    ("size", 7),
    ("signature", 11),
    ("result", 11),
]
# Shown while answer rules or breakpoints exist: what the sender got, and from which rule.
ANSWER_COLUMN = ("answer", 18)


_HEADER = (-1, False)  # the header's key among the cached strips (no seq is negative)
_BOLD = Style(bold=True)
_VERDICT_STYLE = {"valid": "valid", "invalid": "invalid", "unsigned": "unsigned",
                  "no_secret": "no-secret"}


class EventList(ScrollView, can_focus=True):
    """Events, oldest at the top; the cursor marks the selected one. Its keys (moving, marking,
    opening) are its actions; the app binds them (inspector.faces.tui.actions)."""

    COMPONENT_CLASSES = {
        "event-list--header",
        "event-list--cursor",
        "event-list--valid",
        "event-list--invalid",
        "event-list--unsigned",
        "event-list--no-secret",
        "event-list--refused",
        "event-list--muted",
        "event-list--ok",
        "event-list--fail",
        "event-list--mark",
        "event-list--retry",
    }

    DEFAULT_CSS = """
    EventList { background: $surface; overflow-x: hidden; }
    EventList > .event-list--header { text-style: bold; color: $text-muted; background: $panel; }
    EventList > .event-list--cursor { background: $boost; text-style: bold; }
    EventList:focus > .event-list--cursor { background: $accent 40%; }
    EventList > .event-list--valid { color: $success; }
    EventList > .event-list--invalid { color: $error; }
    EventList > .event-list--unsigned { color: $text-muted; }
    EventList > .event-list--no-secret { color: $warning; }
    EventList > .event-list--refused { color: $error; }
    EventList > .event-list--muted { color: $text-muted; }
    EventList > .event-list--ok { color: $success; }
    EventList > .event-list--fail { color: $error; }
    EventList > .event-list--mark { color: $accent; text-style: bold; }
    EventList > .event-list--retry { color: $warning; }
    """

    cursor: reactive[int] = reactive(-1, always_update=True, repaint=False)

    class Selected(Message):
        """The cursor moved to another event (`by_user` is False for follow mode)."""

        def __init__(self, seq: int | None, by_user: bool) -> None:
            super().__init__()
            self.seq = seq
            self.by_user = by_user

    class Opened(Message):
        def __init__(self, seq: int) -> None:
            super().__init__()
            self.seq = seq

    class MarksChanged(Message):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    class FollowChanged(Message):
        def __init__(self, follow: bool) -> None:
            super().__init__()
            self.follow = follow

    def __init__(
        self,
        fetch: Callable[[Iterable[int]], dict[int, Row]],
        *,
        follow: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._fetch = fetch
        self.seqs: array[int] = array("q")
        self._rows: OrderedDict[int, Row] = OrderedDict()
        self._strips: OrderedDict[tuple[int, bool], Strip] = OrderedDict()
        self._widths: list[int] = []
        self._width_for = -1
        self.follow = follow
        self._by_user = False
        self._styles: dict[str, Style] | None = None
        self.marked: set[int] = set()  # seqs marked with space, for replay/export/compare
        self._answers = False  # the answer column is shown
        self._held: set[int] = set()  # seqs held at a breakpoint: not answered yet
        self._warming = False  # _warm and _prepaint are on their way

    # -- data -------------------------------------------------------------------------------

    def load(self, seqs: Iterable[int]) -> None:
        """Replace the whole list (start-up, clear, filter)."""
        self.seqs = seqs if isinstance(seqs, array) else array("q", seqs)
        self._rows.clear()
        self._strips.clear()
        self._resize_virtual()
        if self.seqs and (self.follow or self.cursor < 0):
            self._set_cursor(len(self.seqs) - 1, by_user=False)
        elif not self.seqs:
            self._set_cursor(-1, by_user=False)
        else:
            self._set_cursor(min(self.cursor, len(self.seqs) - 1), by_user=False)
        self.refresh()

    def append(self, events: list[Event]) -> None:
        """New events: O(len(events)), whatever the list size.

        Only the newest screenful become Rows now; older ones are read back from the store
        if the user ever scrolls to them.
        """
        for event in events[-(self.page + 8) :]:
            self._remember(Row.of(event))
        self.add([e.seq for e in events])

    def add(self, seqs: list[int]) -> None:
        """New events by seq, their rows read when shown (another process stored them).
        O(len(seqs)) at the end of the list; one stored out of order (an import beside a
        receiver) is put in its place."""
        if not seqs:
            return
        if not self.seqs or seqs[0] > self.seqs[-1]:
            self.seqs.extend(seqs)
        else:
            for seq in seqs:
                index = bisect_left(self.seqs, seq)
                if index == len(self.seqs) or self.seqs[index] != seq:
                    self.seqs.insert(index, seq)
            self._strips.clear()
        self._resize_virtual()
        if self.follow or self.cursor < 0:
            self._set_cursor(len(self.seqs) - 1, by_user=False)
        self.refresh()
        if self.is_mounted and not self._warming:
            self._warming = True
            asyncio.get_running_loop().call_soon(self._warm)

    # In follow mode every frame shows new rows. Rendering them inside the screen's paint made
    # it the longest callback on the loop the receiver shares (the p99 of a delivery at a few
    # hundred a second), so the work comes in three loop callbacks of its own, with
    # deliveries served in between: our rows, Textual's lines of them, and the paint, which
    # then only copies lines. Whatever changes in between is drawn by the paint, as always.

    def _warm(self) -> None:
        """The rows now in view, rendered into the strip cache."""
        if not self.is_attached:
            self._warming = False
            return
        for y in range(1, self.scrollable_content_region.height):
            self.render_line(y)
        asyncio.get_running_loop().call_soon(self._prepaint)

    def _prepaint(self) -> None:
        """Textual's lines of the list (styles, colour filter), ready for the paint (a
        refresh in between clears them: the paint then renders them itself)."""
        self._warming = False
        if self.is_attached and self.screen.is_current:
            self.render_lines(self.region.size.region)

    def update_row(self, row: Row) -> None:
        """A stored row changed (verdict, replay result): redraw it if cached."""
        if row.seq in self._rows:
            self._rows[row.seq] = row
        self._strips.pop((row.seq, True), None)
        self._strips.pop((row.seq, False), None)
        self.refresh()

    def reread(self, seqs: Iterable[int]) -> list[int]:
        """Stored rows changed (a replay or forward result): re-read the cached ones in one
        query and return their seqs; the others are read when scrolled to."""
        cached = [s for s in seqs if s in self._rows]
        for row in self._read(cached).values():
            self.update_row(row)
        return cached

    def discard(self, seqs: set[int]) -> None:
        """Deleted events (O(n): a user action, not per event)."""
        index = self.cursor
        self.seqs = array("q", (s for s in self.seqs if s not in seqs))
        for seq in seqs:
            self._rows.pop(seq, None)
        if self.marked & seqs:
            self.marked -= seqs
            self.post_message(self.MarksChanged(len(self.marked)))
        self._strips.clear()
        self._resize_virtual()
        self._set_cursor(min(index, len(self.seqs) - 1), by_user=True)
        self.refresh()

    def discard_upto(self, upto: int) -> None:
        """Every event with a seq up to `upto` is gone (retention pruned the oldest): one
        cut at the front, whatever the list size. The selection stays on its event while
        that one is kept."""
        cut = bisect_right(self.seqs, upto)
        if not cut:
            return
        selected = self.selected
        del self.seqs[:cut]
        for seq in [s for s in self._rows if s <= upto]:
            del self._rows[seq]
        if any(s <= upto for s in self.marked):
            self.marked = {s for s in self.marked if s > upto}
            self.post_message(self.MarksChanged(len(self.marked)))
        self._strips.clear()
        self._resize_virtual()
        if selected is not None and selected > upto:
            # The same event, at its new index: nothing to reload in the detail pane.
            self.set_reactive(EventList.cursor, self.cursor - cut)
            self._scroll_to_cursor()
        else:
            self._set_cursor(0 if self.seqs else -1, by_user=False)
        self.refresh()

    def restore(self, seq: int) -> None:
        """Put a removed event back in its place (seqs are in arrival order) and select it."""
        index = bisect_left(self.seqs, seq)
        if index < len(self.seqs) and self.seqs[index] == seq:
            return
        self.seqs.insert(index, seq)
        self._strips.clear()
        self._resize_virtual()
        self._move(index)
        self.refresh()

    @property
    def show_answers(self) -> bool:
        return self._answers

    @show_answers.setter
    def show_answers(self, show: bool) -> None:
        """Show the answer column (what each sender got, and the rule that decided it)."""
        if show != self._answers:
            self._answers = show
            self._width_for = -1
            self._strips.clear()
            self.refresh()

    def set_held(self, seqs: set[int]) -> None:
        """The events held at a breakpoint now (their answer column says so)."""
        for seq in seqs ^ self._held:
            self._strips.pop((seq, True), None)
            self._strips.pop((seq, False), None)
        self._held = seqs
        self.refresh()

    @property
    def columns(self) -> list[tuple[str, int | None]]:
        return [*COLUMNS[:-1], ANSWER_COLUMN, COLUMNS[-1]] if self._answers else COLUMNS

    def select_seq(self, seq: int) -> bool:
        """Move the cursor to this event; False when the list does not show it."""
        index = bisect_left(self.seqs, seq)
        if index == len(self.seqs) or self.seqs[index] != seq:
            return False
        self._move(index)
        return True

    def invalidate(self) -> None:
        """Forget cached rows (after a bulk change in the store)."""
        self._rows.clear()
        self._strips.clear()
        self.refresh()

    @property
    def selected(self) -> int | None:
        return self.seqs[self.cursor] if 0 <= self.cursor < len(self.seqs) else None

    def has_row(self, seq: int) -> bool:
        """Whether the row is cached (on screen or near it)."""
        return seq in self._rows

    def row(self, seq: int) -> Row | None:
        if seq not in self._rows:
            self._rows.update(self._read([seq]))
        return self._rows.get(seq)

    def _read(self, seqs: list[int]) -> dict[int, Row]:
        """Rows from the store; none while it cannot be read (a database server gone away:
        the header says so), so those lines stay blank and are read when drawn again."""
        try:
            return self._fetch(seqs)
        except StoreError:
            return {}

    def _remember(self, row: Row) -> None:
        self._rows[row.seq] = row
        if len(self._rows) > ROW_CACHE:
            self._rows.popitem(last=False)

    def _rows_for(self, first: int, last: int) -> None:
        """Make sure rows first..last (indexes) are cached, with one query for the misses."""
        missing = [s for s in self.seqs[max(first, 0) : last + 1] if s not in self._rows]
        if missing:
            for row in self._read(missing).values():
                self._remember(row)

    # -- cursor and scrolling ---------------------------------------------------------------

    @property
    def page(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _resize_virtual(self) -> None:
        size = Size(self.size.width, len(self.seqs) + 1)
        if size == self.virtual_size:
            return
        overflow = size.height > self.size.height
        if overflow != (self.virtual_size.height > self.size.height) or not self.is_mounted:
            self.virtual_size = size  # the scrollbar appears or goes: a layout pass is due
            if self.is_mounted:  # a scroll before it is clamped to the old height
                self.call_after_refresh(self._keep_cursor_in_view)
            return
        # Growing list, same scrollbar: skip the screen-wide layout pass that setting
        # virtual_size normally triggers, and only move the scrollbar thumb.
        self.set_reactive(EventList.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _set_cursor(self, index: int, *, by_user: bool) -> None:
        self._by_user = by_user
        self.cursor = index
        if index >= 0:
            self._scroll_to_cursor()

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        self.post_message(self.Selected(self.selected, self._by_user))

    def _keep_cursor_in_view(self) -> None:
        if self.cursor >= 0:
            self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.page:
            self.scroll_to(y=self.cursor - self.page + 1, animate=False, immediate=True)

    def _move(self, index: int) -> None:
        if not self.seqs:
            return
        index = max(0, min(index, len(self.seqs) - 1))
        follow = index == len(self.seqs) - 1 and self.follow
        if index != len(self.seqs) - 1 and self.follow:
            self.set_follow(False)
        self._set_cursor(index, by_user=True)
        if follow:
            self.set_follow(True)

    def set_follow(self, follow: bool) -> None:
        if follow != self.follow:
            self.follow = follow
            self.post_message(self.FollowChanged(follow))
        if follow and self.seqs:
            self._set_cursor(len(self.seqs) - 1, by_user=True)

    def toggle_follow(self) -> None:
        self.set_follow(not self.follow)

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_page_up(self) -> None:
        self._move(self.cursor - self.page)

    def action_page_down(self) -> None:
        self._move(self.cursor + self.page)

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        if self.seqs:
            self.set_follow(True)

    def action_toggle_mark(self) -> None:
        """Mark or unmark the selected event, then move down (like a mail reader)."""
        seq = self.selected
        if seq is None:
            return
        self.marked.symmetric_difference_update({seq})
        self._strips.pop((seq, True), None)
        self._strips.pop((seq, False), None)
        self.post_message(self.MarksChanged(len(self.marked)))
        if self.cursor < len(self.seqs) - 1:
            self._move(self.cursor + 1)
        else:
            self.refresh()

    def clear_marks(self) -> None:
        self.marked.clear()
        self._strips.clear()
        self.post_message(self.MarksChanged(0))
        self.refresh()

    def marked_in_order(self) -> list[int]:
        """Marked seqs, oldest first (the order they arrived in)."""
        return sorted(self.marked)

    def marked_or_selected(self) -> list[int]:
        """What `r` replays: the marked events, else the selected one."""
        selected = self.selected
        return self.marked_in_order() or ([selected] if selected is not None else [])

    def marked_or_listed(self) -> list[int]:
        """What export applies to: the marked events, else the whole (filtered) list."""
        return self.marked_in_order() or list(self.seqs)

    def pair(self) -> tuple[int, int] | None:
        """Two events to compare: the two marked, or the one marked and the selected one."""
        marked = self.marked_in_order()
        selected = self.selected
        if len(marked) == 1 and selected is not None and selected not in marked:
            marked = sorted([marked[0], selected])
        return (marked[0], marked[1]) if len(marked) == 2 else None

    def action_open(self) -> None:
        if self.selected is not None:
            self.post_message(self.Opened(self.selected))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= index < len(self.seqs):
            self._move(index)
            if event.chain == 2:
                self.action_open()

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Runs during layout, before the first paint: place the cursor now, so a large
        # database never flashes its oldest rows before jumping to the newest.
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if changed and self.cursor >= 0:
            self._resize_virtual()
            self._scroll_to_cursor()
        return changed

    def on_resize(self) -> None:
        self._resize_virtual()
        self._strips.clear()
        if self.cursor >= 0:
            self._scroll_to_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles = None

    def _style_table(self) -> dict[str, Style]:
        """Component styles, looked up once per theme change rather than once per row."""
        if self._styles is None:
            partial = {
                name: self.get_component_rich_style(f"event-list--{name}", partial=True)
                for name in ("valid", "invalid", "unsigned", "no-secret", "refused", "muted",
                             "ok", "fail", "mark", "retry")
            }
            base = self.rich_style
            cursor = base + self.get_component_rich_style("event-list--cursor")
            self._styles = {"base": base, "cursor": cursor,
                            "header": self.get_component_rich_style("event-list--header"),
                            **partial}
        return self._styles

    # -- rendering ----------------------------------------------------------------------------

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """Textual's, made a ThumbBar: the list grows every frame, its thumb rarely moves."""
        if self._vertical_scrollbar is None:
            bar = ThumbBar(vertical=True, name="vertical", thickness=self.scrollbar_size_vertical)
            bar.display = False
            self._vertical_scrollbar = bar
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    def _column_widths(self, width: int) -> list[int]:
        if width != self._width_for:
            columns = self.columns
            fixed = sum(w for _, w in columns if w) + len(columns)
            free = max(width - fixed, 20)
            # A wide screen lends the kind up to 11 cells more: Stripe's and GitHub's kinds
            # (payment_intent.succeeded, pull_request.opened) are longer than Connectly's.
            kind_extra = min(max(free - 90, 0) // 3, 11)
            free -= kind_extra
            path = max(min(free * 2 // 5, 48), 10)
            self._widths = [w if w else 0 for _, w in columns]
            self._widths[3] += kind_extra
            self._widths[2] = path
            self._widths[4] = max(free - path, 10)
            self._width_for = width
        return self._widths

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._column_widths(width)
        if y == 0:
            header = self._strips.get(_HEADER)
            if header is None or header.cell_length != width:
                style = self._style_table()["header"]
                cells = [title.upper() for title, _ in self.columns]
                header = self._strip(cells, [style] * len(cells), widths, style, width)
                self._strips[_HEADER] = header
            return header
        index = int(self.scroll_y) + y - 1
        if index >= len(self.seqs):
            return Strip.blank(width, self.rich_style)
        seq = self.seqs[index]
        is_cursor = index == self.cursor
        key = (seq, is_cursor)
        strip = self._strips.get(key)
        if strip is not None and strip.cell_length == width:
            self._strips.move_to_end(key)
            return strip
        if seq not in self._rows:
            top = int(self.scroll_y)
            self._rows_for(top - 10, top + self.page + 10)
        row = self._rows.get(seq)
        if row is None:
            return Strip.blank(width, self.rich_style)
        strip = self._render_row(row, is_cursor, widths, width)
        self._strips[key] = strip
        if len(self._strips) > STRIP_CACHE:
            self._strips.popitem(last=False)
        return strip

    def _render_row(self, row: Row, is_cursor: bool, widths: list[int], width: int) -> Strip:
        st = self._style_table()
        base = st["cursor" if is_cursor else "base"]
        verdict = _VERDICT_STYLE.get(row.verdict, "muted")
        path = row.path + ("?" + row.query if row.query else "")
        refused = bool(row.refused)
        kind = kind_label(row.kind, row.refused, row.status) or "—"
        result = "ok" if row.result and row.result < 400 else "fail"
        cells = [
            local_time(row.received_at),
            row.method,
            path,
            kind,
            summary_cell(row),
            human_size(row.size),
            verdict_label(row.verdict),
            result_label(row.result, row.result_ms),
        ]
        plain = st["refused"] if refused else None
        summary = plain or (st["retry"] if row.retry else None)
        styles = [
            base + st["muted"],
            base + _BOLD,
            base,
            base + plain if plain else base,
            base + summary if summary else base,
            base + st["muted"],
            base + st[verdict],
            base + st[result],
        ]
        if self._answers:
            fine = 200 <= row.status < 300 and not refused
            held = row.seq in self._held
            cells.insert(-1, f"‖ held {row.rule}".rstrip() if held else
                         answer_label(row.status, row.rule, row.answer_note))
            styles.insert(-1, base + st["mark" if held else "ok" if fine else "fail"])
        if row.seq in self.marked:
            return self._strip(cells, styles, widths, base, width, "●", base + st["mark"])
        return self._strip(cells, styles, widths, base, width)

    @staticmethod
    def _strip(
        cells: list[str], styles: list[Style], widths: list[int], base: Style, width: int,
        lead: str = " ", lead_style: Style | None = None,
    ) -> Strip:
        segments = [Segment(lead, lead_style or base)]
        used = 1
        gap = Segment(" ", base)
        for text, style, cell_width in zip(cells, styles, widths, strict=True):
            # Every cell goes through here: escapes made visible first, then measured (Rich
            # counts a control character as zero cells, so a raw one would skew the width).
            segments.append(Segment(_fit(visible_line(text), cell_width), style))
            segments.append(gap)
            used += cell_width + 1
        if used == width + 1:  # the usual case: the last gap is the cell past the edge
            segments.pop()
            return Strip(segments, width)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        strip = Strip(segments, max(used, width))
        return strip if used <= width else strip.crop(0, width)


def summary_cell(row: Row) -> str:
    """The summary, after "↻ retry #1 of 12:00:03 (+4.0 s)" when the event repeats an
    earlier delivery (named by its time, which the list shows)."""
    if not row.retry:
        return row.summary
    first = local_time(row.received_at - row.since_first)
    return f"↻ {retry_label(row.retry, first, row.since_first)} · {row.summary}"


# The glyphs of our own labels ("↻ retry #2 of … · …", "✓ valid", "—"), one cell each as Rich
# measures them: text of ASCII and these is cut as fast as ASCII, not measured by Rich.
_NARROW = str.maketrans({c: "." for c in "↻·—✓✗‖…→●" if cell_len(c) == 1})


def _fit(text: str, width: int) -> str:
    """Pad or cut to exactly `width` cells, with an ellipsis when cut."""
    if text.isascii() or text.translate(_NARROW).isascii():  # one cell per character
        return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(set_cell_size(text, width - 1) + "…", width)
