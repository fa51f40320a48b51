"""Frame pacing: how soon the list shows events that arrived.

Redraw on the next frame when events trickle in, but at most a few times a second during a
flood, so the loop's time goes to the receiver.
"""

from __future__ import annotations

from collections import deque

CALM_INTERVAL = 1 / 30
FLOOD_INTERVAL = 0.22  # ~4.5 redraws a second: the floor the UI promises, with margin
FLOOD_RATE = 50.0  # events per second above which we count as flooded
# Above this rate follow mode stops reloading the detail pane (a reload costs a few frames);
# it catches up with the newest event once traffic slows down.
BUSY_RATE = 10.0


class Rate:
    """Events per second over the last second, O(1) per call."""

    def __init__(self) -> None:
        self._marks: deque[tuple[float, int]] = deque()
        self._count = 0

    def add(self, n: int, now: float) -> None:
        self._marks.append((now, n))
        self._count += n
        self._trim(now)

    def per_second(self, now: float) -> float:
        self._trim(now)
        return float(self._count)

    def _trim(self, now: float) -> None:
        while self._marks and self._marks[0][0] < now - 1.0:
            self._count -= self._marks.popleft()[1]


class Pacer:
    """Counts arrivals and says when the next frame may draw them."""

    def __init__(self) -> None:
        self.rate = Rate()
        self._last_frame = 0.0

    def arrived(self, n: int, now: float) -> None:
        self.rate.add(n, now)

    def delay(self, now: float) -> float:
        """Seconds until the next frame may be drawn (0 or less: now)."""
        flooded = self.rate.per_second(now) > FLOOD_RATE
        return self._last_frame + (FLOOD_INTERVAL if flooded else CALM_INTERVAL) - now

    def drawn(self, now: float) -> float:
        """A frame was drawn; returns the rate to show."""
        self._last_frame = now
        return self.rate.per_second(now)

    def busy(self, now: float) -> bool:
        """Too many arrivals to follow each one in the detail pane."""
        return self.rate.per_second(now) > BUSY_RATE
