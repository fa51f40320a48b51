"""100,000 stored events: first paint, memory, and jumps to either end, in a real terminal.

The database is built once with the project's own store and analyzer, then cached (keyed by
event count, schema version and fixtures) and copied for each run. Every event's path carries
?n=<index>, so the screen shows which end of the list is painted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fixture import EVENTS, deliveries, secret
from bench.procs import memory_mb
from bench.targets import Tui
from bench.tui import ROW, Screen, is_header, list_rows, marks

BATCH = 2000


def cache_path(folder: Path, count: int) -> Path:
    from inspector.core.store.sqlite.schema import SCHEMA_VERSION

    digest = hashlib.sha256(EVENTS.read_bytes()).hexdigest()[:10]
    return folder / f"scale-{count}-schema{SCHEMA_VERSION}-{digest}.db"


def build(path: Path, count: int) -> float:
    """Write `count` analysed events into a new database at `path`; returns seconds taken."""
    from inspector.core.analysis.analyzer import Analyzer
    from inspector.core.model import Event, new_id
    from inspector.core.signatures import Secrets
    from inspector.core.store import open_store

    start = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    analyzer = Analyzer(secrets=Secrets(default=secret()))
    store = open_store(partial)
    fixtures = deliveries()
    first = time.time() - count * 0.5  # one event every half second, ending now
    try:
        for offset in range(0, count, BATCH):
            batch = []
            for i in range(offset, min(offset + BATCH, count)):
                d = fixtures[i % len(fixtures)]
                at = first + i * 0.5
                event = Event(
                    id=new_id(at), received_at=at, method="POST", path=d.path, query=f"n={i}",
                    headers=[("host", "127.0.0.1:8765"), *d.headers.items(),
                             ("content-length", str(len(d.body)))],
                    body=d.body, client=f"127.0.0.1:{40000 + i % 20000}",
                )
                analyzer.analyze(event)
                batch.append(event)
            store.import_events_sync([(e, []) for e in batch])
    finally:
        store.close()
    os.replace(partial, path)
    return time.perf_counter() - start


def prepared_db(cache_dir: Path, count: int, folder: Path) -> tuple[Path, float | None]:
    """A fresh copy of the cached database (built first if needed): (path, build seconds)."""
    cached = cache_path(cache_dir, count)
    built = None if cached.exists() else build(cached, count)
    copy = folder / f"scale-{count}.db"
    shutil.copyfile(cached, copy)
    return copy, built


def _painted(screen: Screen) -> bool:
    return any(is_header(line) for line in screen) and any(ROW.search(s) for s in screen)


def _shows(mark: str) -> Callable[[Screen], bool]:
    return lambda screen: mark in marks(list_rows(screen))


def _jumped(mark: str, before: list[str]) -> Callable[[Screen], bool]:
    """The rows changed, and the row marked `mark` is among them."""
    return lambda screen: (rows := list_rows(screen)) != before and mark in marks(rows)


def launch(db: Path, folder: Path, newest: str, http: str) -> dict[str, Any]:
    """Start the TUI on `db`, time first paint, RSS, and the four jumps; then quit."""
    tui = Tui(http, folder, db, secret())
    out: dict[str, Any] = {}
    tui.launch()
    try:
        rows_s, screen = tui.tmux.wait(_painted, timeout=60)
        if rows_s is None:
            raise RuntimeError("the list never painted:\n" + "\n".join(screen[:10]))
        out["rows_painted_s"] = round(time.perf_counter() - tui.started_at, 3)
        if _shows(newest)(screen):  # the first painted screen already shows the newest
            out["first_paint_s"] = out["rows_painted_s"]
        elif tui.tmux.wait(_shows(newest), timeout=30)[0] is not None:
            out["first_paint_s"] = round(time.perf_counter() - tui.started_at, 3)
        else:
            out["first_paint_s"] = out["rows_painted_s"]
            out["note"] = "the newest event never showed; timed the first rows instead"
        time.sleep(1.0)
        mem = memory_mb(tui.pid())
        out["rss_after_paint_mb"] = round(mem.get("VmRSS", 0), 1)
        for key, mark in (("Home", "0"), ("End", newest), ("g", "0"), ("G", newest)):
            before = list_rows(tui.tmux.capture())
            start = time.perf_counter()
            tui.tmux.send(key)
            waited, _ = tui.tmux.wait(_jumped(mark, before), timeout=10, interval=0.005)
            out[f"{key}_s"] = None if waited is None else round(time.perf_counter() - start, 3)
            time.sleep(0.5)
        mem = memory_mb(tui.pid())
        out["rss_mb"] = round(mem.get("VmRSS", 0), 1)
        out["rss_peak_mb"] = round(mem.get("VmHWM", 0), 1)
        out["quit_s"], out["exit_code"] = tui.tmux.quit(tui.pid())
    finally:
        tui.tmux.kill()
    return out


def run(cache_dir: Path, folder: Path, count: int, http: str, launches: int) -> dict[str, Any]:
    db, built = prepared_db(cache_dir, count, folder)
    runs = [launch(db, folder, str(count - 1), http) for _ in range(launches)]

    def worst(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return max(values) if values else None

    return {
        "events": count,
        "db_mb": round(db.stat().st_size / 2**20, 1),
        "built_s": None if built is None else round(built, 1),
        "http": http,
        "launches": runs,
        # Headline figures: the worst over the launches.
        "first_paint_s": worst("first_paint_s"),
        "rss_mb": worst("rss_peak_mb"),
        "home_s": worst("Home_s"),
        "end_s": worst("End_s"),
        "g_s": worst("g_s"),
        "G_s": worst("G_s"),
    }
