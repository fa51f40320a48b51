"""The UI under a flood, read from the terminal: list redraws per second and key latency."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.tui import Screen, Tmux, list_rows, marks


def redraws(tmux: Tmux, seconds: float, hz: float = 20) -> dict[str, Any]:
    """Sample the screen at `hz` and count how often the visible list rows change."""
    period = 1 / hz
    start = time.perf_counter()
    previous: list[str] | None = None
    samples = changes = 0
    newest: list[float] = []
    next_at = start
    while True:
        now = time.perf_counter()
        if now - start >= seconds:
            break
        if next_at > now:
            time.sleep(next_at - now)
        next_at += period
        rows = list_rows(tmux.capture())
        samples += 1
        if previous is not None and rows != previous:
            changes += 1
        previous = rows
        seen = marks(rows)
        if seen:
            newest.append(float(seen[-1].split(".")[-1]))
    elapsed = time.perf_counter() - start
    return {
        "seconds": round(elapsed, 2),
        "samples": samples,
        "sample_hz": round(samples / elapsed, 1),
        "changes": changes,
        "redraws_per_s": round(changes / elapsed, 2),
        "list_advanced": bool(newest) and newest[-1] > newest[0],
        "rows_visible": len(previous or []),
    }


def _top_shows(text: str) -> Callable[[Screen], bool]:
    return lambda screen: bool(screen) and text in screen[0]


def _follow_on(tmux: Tmux) -> bool:
    top = tmux.capture(top_line_only=True)
    return bool(top) and "follow on" in top[0]


def key_latency(tmux: Tmux, presses: int, timeout: float = 3) -> dict[str, Any]:
    """Press `f` (follow on/off, shown in the top line) and time until the terminal shows it.

    Each press toggles back the previous one; the app is left with follow on.
    """
    times: list[float] = []
    missed = 0
    for _ in range(presses):
        want = "follow off" if _follow_on(tmux) else "follow on"
        start = time.perf_counter()
        tmux.send("f")
        waited, _screen = tmux.wait(_top_shows(want), timeout, interval=0.002,
                                    top_line_only=True)
        if waited is None:
            missed += 1
        else:
            times.append(time.perf_counter() - start)
        time.sleep(random.uniform(0.1, 0.3))  # land at different points of the frame cycle
    if not _follow_on(tmux):
        tmux.send("f")
    ms = [t * 1000 for t in times]
    return {
        "presses": presses,
        "missed": missed,
        "median_ms": round(statistics.median(ms), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "all_ms": [round(m, 1) for m in ms],
    }
