"""N stored events (100,000; `--scale 1000000`): first paint, memory, jumps to either end
in a real terminal, filters, and the database's size (issue 17, target 4).

The database is built once with the project's own store and analyzer, its free-text index
with it, then cached (keyed by event count, schema version and fixtures) and copied for each
run. Every event's path carries ?n=<index>, so the screen shows which end of the list is
painted. The minimal Textual app (bench/baseline_app.py) is launched in the same terminal,
alternated with the inspector, as the first paint's baseline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fixture import EVENTS, deliveries, secret
from bench.procs import memory_mb
from bench.startup import baseline, empty
from bench.targets import Tui
from bench.tui import ROW, Screen, is_header, list_rows, marks

BATCH = 5000


def cache_path(folder: Path, count: int) -> Path:
    from inspector.core.store.sqlite.schema import SCHEMA_VERSION

    digest = hashlib.sha256(EVENTS.read_bytes()).hexdigest()[:10]
    return folder / f"scale-{count}-schema{SCHEMA_VERSION}-{digest}.db"


def build(path: Path, count: int) -> float:
    """Write `count` analysed events into a new database at `path`; returns seconds taken.

    Each fixture is analysed once by the project's analyzer; the events are copies of those
    (their own id, time, query and client) stored through the store's import path, so a
    million events take about a minute rather than the analyzer's ~5 minutes."""
    from dataclasses import replace

    from inspector.core.analysis.analyzer import Analyzer
    from inspector.core.model import Event, new_id
    from inspector.core.signatures import Secrets
    from inspector.core.store import open_store
    from inspector.core.store.sqlite import search

    start = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for name in (str(partial), search.path_for(str(partial))):
        for stale in (Path(name), Path(f"{name}-wal"), Path(f"{name}-shm")):
            stale.unlink(missing_ok=True)
    analyzer = Analyzer(secrets=Secrets(default=secret()))
    templates = []
    for d in deliveries():
        template = Event(id="", received_at=0.0, method="POST", path=d.path, query="",
                         headers=[("host", "127.0.0.1:8765"), *d.headers.items(),
                                  ("content-length", str(len(d.body)))], body=d.body)
        analyzer.analyze(template)
        templates.append(template)
    store = open_store(partial, index=False)
    first = time.time() - count * 0.5  # one event every half second, ending now
    try:
        for offset in range(0, count, BATCH):
            batch = []
            for i in range(offset, min(offset + BATCH, count)):
                t = templates[i % len(templates)]
                at = first + i * 0.5
                batch.append((replace(t, id=new_id(at), received_at=at, query=f"n={i}",
                                      client=f"127.0.0.1:{40000 + i % 20000}",
                                      notes=list(t.notes)), ()))
            store.import_events_sync(batch)
    finally:
        store.close()
    # The free-text index, as a long-running capture has it (the TUI builds it in the
    # background, while traffic is calm): built here once, copied with the database.
    conn = search.indexer_connection(str(partial))
    try:
        while search.index_batch(conn, 10 * BATCH):
            pass
    finally:
        conn.close()
    os.replace(search.path_for(str(partial)), search.path_for(str(path)))
    os.replace(partial, path)
    return time.perf_counter() - start


def prepared_db(cache_dir: Path, count: int, folder: Path) -> tuple[Path, float | None]:
    """A fresh copy of the cached database (built first if needed): (path, build seconds)."""
    from inspector.core.store.sqlite import search

    cached = cache_path(cache_dir, count)
    side = Path(search.path_for(str(cached)))
    built = None if cached.exists() and side.exists() else build(cached, count)
    copy = folder / f"scale-{count}.db"
    shutil.copyfile(cached, copy)
    shutil.copyfile(side, search.path_for(str(copy)))
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


# Filters timed on the database (what the TUI's filter runs, off its loop: Listing.search).
# The fixtures repeat every 10 events: each field value and body word below is in a tenth of
# the events or more. `n=123456` is in one path (and ten more: n=1234560...).
FIELD_FILTERS = ("verdict:invalid", "kind:delivery_status", "path:/webhook")
TEXT_FILTERS = ('"TEST 12"', "+16315555500 delivery_failed", "n=123456", "zzzqqq")
# Reported, not judged: filters most events pass, whose cost is the size of the answer; ""
# is no filter, what the list loads at start-up (every seq).
BROAD_FILTERS = ("path:/webhooks/*", "provider:connectly", "method:POST verdict:valid", "")
FIELD_MS, TEXT_MS = 300, 500  # issue 17, target 4


def filters(db: Path, runs: int = 3) -> dict[str, dict[str, float]]:
    """Each filter's median and worst time (ms) over `runs`, and how many events it found."""
    from inspector.core.listing import Listing
    from inspector.core.store import open_store
    from inspector.core.store.filter import parse

    store = open_store(db, index=False)
    try:
        listing = Listing(store)
        out = {}
        for text in (*FIELD_FILTERS, *TEXT_FILTERS, *BROAD_FILTERS):
            query = parse(text)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                found = listing.search(query)
                times.append((time.perf_counter() - start) * 1000)
            out[text] = {"median_ms": round(statistics.median(times), 1),
                         "max_ms": round(max(times), 1), "found": len(found.seqs)}
    finally:
        store.close()
    return out


def check(name: str, value: float | None, op: str, limit: float) -> dict[str, Any]:
    """One target: {name, value, target, passed} (None: not measured, a FAIL)."""
    passed = value is not None and (value <= limit if op == "≤" else value < limit)
    return {"name": name, "value": value, "target": f"{op} {limit:g}", "passed": passed}


def run(cache_dir: Path, folder: Path, count: int, http: str, launches: int) -> dict[str, Any]:
    db, built = prepared_db(cache_dir, count, folder)
    base: list[float] = []
    new: list[float] = []
    runs: list[dict[str, Any]] = []
    for n in range(launches):  # alternated: A B C A B C
        if (b := baseline(folder)) is not None:
            base.append(b)
        if (e := empty(folder, n, http)) is not None:
            new.append(e)
        runs.append(launch(db, folder, str(count - 1), http))
    timed = filters(db)

    def worst(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return max(values) if values else None

    from inspector.core.store.sqlite import search

    side = Path(search.path_for(str(db)))
    out: dict[str, Any] = {
        "events": count,
        "db_mb": round(db.stat().st_size / 2**20, 1),
        "search_index_mb": round(side.stat().st_size / 2**20, 1) if side.exists() else None,
        "bytes_per_event": round(db.stat().st_size / count),
        "search_bytes_per_event": round(side.stat().st_size / count) if side.exists() else None,
        "built_s": None if built is None else round(built, 1),
        "http": http,
        "launches": runs,
        "baseline_s": [round(b, 3) for b in base],
        "empty_db_s": [round(e, 3) for e in new],
        "filters": timed,
        # Headline figures: the worst over the launches.
        "first_paint_s": worst("first_paint_s"),
        "rss_mb": worst("rss_peak_mb"),
        "home_s": worst("Home_s"),
        "end_s": worst("End_s"),
        "g_s": worst("g_s"),
        "G_s": worst("G_s"),
    }
    out["baseline_median_s"] = round(statistics.median(base), 3) if base else None
    out["empty_db_median_s"] = round(statistics.median(new), 3) if new else None
    painted = [r["first_paint_s"] for r in runs if r.get("first_paint_s") is not None]
    out["first_paint_median_s"] = round(statistics.median(painted), 3) if painted else None
    out["checks"] = checks(out)
    return out


def checks(sc: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 17, target 4, from this phase's figures."""
    label = f"{sc['events']:,} events"
    # Ratios of medians from the same rounds (A B C A B C); the absolute figures are worsts.
    paint = sc["first_paint_median_s"]
    base, new = sc["baseline_median_s"], sc["empty_db_median_s"]
    jumps = [sc[k] for k in ("home_s", "end_s", "g_s", "G_s")]
    timed = sc["filters"]
    field = max(timed[q]["median_ms"] for q in FIELD_FILTERS)
    text = max(timed[q]["median_ms"] for q in TEXT_FILTERS)
    return [
        check(f"first paint at {label} / minimal Textual app",
              None if paint is None or not base else round(paint / base, 2), "≤", 2),
        {"name": f"first paint at {label} / on an empty database (what the size adds)",
         "value": None if paint is None or not new else round(paint / new, 2), "target": None,
         "passed": None},
        check(f"RSS at {label} (MB)", sc["rss_mb"], "<", 300),
        check(f"Home/End/g/G at {label} (s)", None if None in jumps else max(jumps), "≤", 0.3),
        check(f"field filter at {label}, worst median (ms)", field, "≤", FIELD_MS),
        check(f"free-text filter at {label}, worst median (ms)", text, "≤", TEXT_MS),
        {"name": f"database bytes per event (+ search index) at {label}",
         "value": sc["bytes_per_event"], "target": None, "passed": None,
         "search_index": sc["search_bytes_per_event"]},
    ]


def summary(sc: dict[str, Any]) -> str:
    """The phase's targets, one per line, with PASS or FAIL."""
    lines = []
    for c in sc["checks"]:
        verdict = "" if c["passed"] is None else "PASS" if c["passed"] else "FAIL"
        lines.append(f"  {c['name']:<58} {c['value']!s:>8}  {c['target'] or '':<7} {verdict}")
    return "\n".join(lines)
