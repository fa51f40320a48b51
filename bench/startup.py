"""First paint with an empty database, against a minimal Textual app (issue 17, target 3).

Both run in the same tmux terminal, alternated A B A B in the same run: the baseline
(bench/baseline_app.py, a DataTable with a header row) and the inspector TUI on a new
database. Each is timed from launch until its table header is on the screen.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

from bench.fixture import secret
from bench.targets import Tui
from bench.tui import Screen, Tmux, is_header

BASELINE = [sys.executable, "-m", "bench.baseline_app"]


def _header(screen: Screen) -> bool:
    return any(is_header(line) for line in screen)


def baseline(folder: Path) -> float | None:
    """First paint of the minimal Textual app (a DataTable: bench/baseline_app.py), from
    launch until its header row shows, in the same terminal as the inspector."""
    tmux = Tmux(folder)
    tmux.launch(BASELINE)
    try:
        waited, _ = tmux.wait(_header, timeout=30, interval=0.005)
    finally:
        tmux.kill()
    return waited


def empty(folder: Path, n: int, http: str) -> float | None:
    """First paint of the inspector on a new database (its list header)."""
    db = folder / f"startup-{n}.db"
    tui = Tui(http, folder, db, secret())
    tui.launch()
    try:
        waited, _ = tui.tmux.wait(_header, timeout=30, interval=0.005)
    finally:
        tui.tmux.kill()
    return waited


def run(folder: Path, launches: int, http: str) -> dict[str, Any]:
    bare: list[float] = []
    inspector: list[float] = []
    for n in range(launches):
        if (b := baseline(folder)) is not None:
            bare.append(b)
        if (i := empty(folder, n, http)) is not None:
            inspector.append(i)
    out: dict[str, Any] = {
        "launches": launches, "http": http,
        "baseline_s": [round(x, 3) for x in bare],
        "inspector_s": [round(x, 3) for x in inspector],
        "missed": 2 * launches - len(bare) - len(inspector),
    }
    if bare and inspector:
        out["baseline_median_s"] = round(statistics.median(bare), 3)
        out["inspector_median_s"] = round(statistics.median(inspector), 3)
        out["ratio"] = round(out["inspector_median_s"] / out["baseline_median_s"], 2)
    return out
