"""Pilot without guessing: keys and pauses wait for the app to handle them, not for "idle".

Textual's Pilot decides that the app is done by watching the process's CPU time
(`textual._wait.wait_for_idle`): twice after every key and in every pause. That guess costs
up to a second whenever anything else in the process works (the receiver, the store's
writer, a test server's thread), which was a third of the suite's time, and it is wrong on
a loaded machine, where a process that gets no CPU looks idle and the wait ends early.

Here a key is sent, then the app and the current screen's widgets are waited for until
their message queues are empty, the screen redrawn each round as its refresh timer would
(a key handled by the app is forwarded to the focused widget, which posts messages of its
own; a scroll waits for the next refresh and may animate: a few rounds). That is
deterministic. Whatever happens off the message queues (a worker thread, a timer, a
socket) a test waits for with `wait_for`, as it must anyway.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import textual.app
import textual.pilot
from textual.pilot import Pilot

ROUNDS = 100  # a handful is the most seen; this bounds a widget that keeps posting

R = TypeVar("R")  # what the app returns: ours replace methods of the generic Pilot


async def _settle(pilot: Pilot[R]) -> None:
    """Until the app and every widget of the current screen have no message waiting, and
    the screen is drawn."""
    app = pilot.app
    for _ in range(ROUNDS):
        await pilot._wait_for_screen()
        await app.animator.wait_until_complete()  # a scroll may animate, even at level none
        # What the screen's refresh timer does: lay out, draw, then post the callbacks
        # waiting for a refresh (`call_after_refresh`, which a scroll uses) as messages.
        app.screen._on_timer_update()
        pumps = [app, *app.screen.walk_children(with_self=True)]
        if not any(pump.message_queue_size for pump in pumps):
            return


async def _no_guess(min_sleep: float = 0.0, max_sleep: float = 1.0) -> None:
    await asyncio.sleep(0)


async def _press(self: Pilot[R], *keys: str) -> None:
    for key in keys:  # one at a time: a key may open a screen that takes the next one
        await self.app._press_keys([key])
        await _settle(self)


async def _pause(self: Pilot[R], delay: float | None = None) -> None:
    if delay is not None:  # an explicit delay is a test's own business
        await asyncio.sleep(delay)
    await _settle(self)


def install() -> None:
    textual.app.wait_for_idle = _no_guess  # type: ignore[attr-defined]
    textual.pilot.wait_for_idle = _no_guess  # type: ignore[attr-defined]
    Pilot.press = _press  # type: ignore[method-assign]
    Pilot.pause = _pause  # type: ignore[method-assign]
