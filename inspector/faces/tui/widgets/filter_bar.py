"""`/`: the filter bar. An Input that parses the search grammar as you type.

It posts `FilterBar.Changed(query)` about DEBOUNCE seconds after the last key (at once on
enter), only when the text parses and differs from the last query posted. A parse error
shows below the input as inert text, and the last good query stays applied. Enter posts
`FilterBar.Accepted` (keep the filter, back to the list); Escape clears the filter (posting
an empty query) and posts `FilterBar.Closed` (back to the list): either way the keys that
follow act on the list, never land in the box by surprise.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from inspector.core.store.filter import HELP, THIS, FilterError, Query, parse
from inspector.faces.tui.widgets.inert import inert
from inspector.faces.tui.widgets.later import Later, when_mounted

DEBOUNCE = 0.15


class FilterBar(Later):
    DEFAULT_CSS = """
    FilterBar { height: auto; background: $panel; }
    FilterBar > Input { border: tall $primary; }
    FilterBar > #filter-error { color: $error; height: auto; padding: 0 1; display: none; }
    FilterBar.-error > #filter-error { display: block; }
    """

    class Changed(Message):
        """A new filter to apply (an empty query shows every event)."""

        def __init__(self, query: Query) -> None:
            super().__init__()
            self.query = query

    class Accepted(Message):
        """Enter: the user is done typing (the app may move focus to the list)."""

    class Closed(Message):
        """Escape: the filter is cleared (the app hides the bar, focuses the list)."""

    def __init__(self, value: str = "", *, this: Callable[[], str | None] = lambda: None,
                 id: str | None = None) -> None:
        """`this()`: the id of the event `related:this` means (the one selected), or None."""
        super().__init__(id=id)
        self._this = this
        self._initial = value
        self._timer: Timer | None = None
        self.applied = Query()  # the last query posted
        self.error = ""

    async def mount_later(self) -> None:
        """The input, after the first frame (the bar starts closed)."""
        await self.mount(Input(self._initial, placeholder=f"filter: {HELP}", id="filter-input"),
                         Static(Text(""), id="filter-error"))

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    @when_mounted
    def focus_input(self) -> None:
        # At once, not on the next turn as focus() does: keys typed right after `/` are
        # already queued, and each goes where the focus is when its turn comes.
        self.screen.set_focus(self.input)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self._apply)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()
        if not self.error:
            self.post_message(self.Accepted())

    def on_key(self, event: events.Key) -> None:
        if event.key != "escape":
            return
        event.stop()
        event.prevent_default()
        self.clear()
        self.post_message(self.Closed())

    @when_mounted
    def clear(self) -> None:
        """Empty the input and show every event again (posted at once)."""
        self.set_text("")

    @when_mounted
    def set_text(self, text: str) -> None:
        """Put `text` in the input and apply it at once."""
        with self.input.prevent(Input.Changed):
            self.input.value = text
        self._apply()

    def _apply(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        text = self.input.value
        try:
            # related:this is the event selected now: kept as typed, fixed when applied.
            query = parse(text, this=self._this() if THIS in text.lower() else None)
        except FilterError as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        if query.terms != self.applied.terms:
            self.applied = query
            self.post_message(self.Changed(query))

    def _show_error(self, message: str) -> None:
        self.error = message
        self.query_one("#filter-error", Static).update(inert(message, line=True))
        self.set_class(bool(message), "-error")
