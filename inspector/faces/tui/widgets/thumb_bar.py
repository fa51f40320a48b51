"""A scrollbar that repaints only when what it shows changes.

A list that grows by a few rows a frame moves Textual's scrollbar by a fraction of a cell, or
not at all once it holds thousands of rows, yet every change of its size or position repaints
the whole bar: at 200 events a second that was 1.5-2 ms of every frame, time the receiver
sharing the loop waits for.
"""

from __future__ import annotations

from math import ceil
from typing import Self

from rich.console import RenderableType
from textual.geometry import Region
from textual.scrollbar import ScrollBar

# ScrollBarRender draws the thumb's ends in eighths of a cell.
_EIGHTHS = 8


class ThumbBar(ScrollBar):
    _shown: tuple[object, ...] | None = None  # the look last rendered
    _settling = False

    def look(self) -> tuple[object, ...]:
        """Everything the bar's picture depends on: the thumb's ends in eighths of a cell
        (ScrollBarRender.render_bar's arithmetic), its size, hover, grab and colours."""
        size = self.size.height if self.vertical else self.size.width
        virtual = ceil(self.window_virtual_size)
        window = ceil(self.window_size) if self.window_size < self.window_virtual_size else 0
        thumb: tuple[int, int] | None = None
        if window and size and virtual and size != virtual:
            thumb_size = max(1, window / (virtual / size))
            at = (size - thumb_size) * (self.position / (virtual - window))
            start = int(at * _EIGHTHS)
            thumb = (start, start + ceil(thumb_size * _EIGHTHS))
        styles = self.parent.styles if self.parent is not None else self.styles
        return (self.size, self.thickness, thumb, self.mouse_over, self.grabbed,
                styles.scrollbar_color, styles.scrollbar_background,
                styles.scrollbar_color_hover, styles.scrollbar_background_hover,
                styles.scrollbar_color_active, styles.scrollbar_background_active)

    def render(self) -> RenderableType:
        self._shown = self.look()
        return super().render()

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> Self:
        if regions or layout or recompose or self._shown is None or not self.is_mounted:
            return super().refresh(*regions, repaint=repaint, layout=layout,
                                   recompose=recompose)
        # The list's size and its scroll position change one after the other (the thumb
        # moves, then moves back): look once both are set.
        if not self._settling:
            self._settling = True
            self.call_later(self._settle)
        return self

    def _settle(self) -> None:
        self._settling = False
        if self._shown != self.look():
            super().refresh()
