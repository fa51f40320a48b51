"""Parts of a widget mounted once the first frame is on screen, and the calls that need them.

The detail pane's tabs and button and the filter bar's input were most of the start-up's
mount and of its first frame (issue 17), and none shows in it: nothing is selected yet and
the bar is closed. Such a widget mixes in `Later`, mounts those parts in `mount_later`, and
marks the methods that use them `@when_mounted`: called earlier, they run as soon as the
parts are mounted, in the order they were called.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Concatenate, ParamSpec, TypeVar

from textual.widget import Widget

P = ParamSpec("P")
W = TypeVar("W", bound="Later")


class Later(Widget):
    _mounted_later = False
    _waiting: tuple[Callable[[], None], ...] = ()  # what was called before (in order)

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_later)

    async def mount_later(self) -> None:
        """Mount the parts (awaited)."""

    async def _mount_later(self) -> None:
        await self.mount_later()
        self._mounted_later = True
        waiting, self._waiting = self._waiting, ()
        for call in waiting:
            call()


def when_mounted(method: Callable[Concatenate[W, P], None]) -> Callable[Concatenate[W, P], None]:
    """Run now if the widget's later parts are mounted, else as soon as they are."""

    @wraps(method)
    def run(widget: W, /, *args: P.args, **kwargs: P.kwargs) -> None:
        if widget._mounted_later:
            method(widget, *args, **kwargs)
        else:
            widget._waiting = (*widget._waiting, partial(method, widget, *args, **kwargs))

    return run
