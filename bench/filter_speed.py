"""Filter speed over 100,000 stored events, and what the search costs the writer.

    .venv/bin/python -m bench.filter_speed [--events 100000] [--pad-bytes 0] [--runs 5]

1. Builds a database of the Connectly fixtures (bodies padded with --pad-bytes of JSON to
   try bigger payloads) through the store's own insert path.
2. Times each filter (median and worst of --runs, in ms) three ways: with no free-text
   index (every text term scans), with the trigram index built, and the index build itself.
3. Times `writes.insert_many` (the writer's per-event cost on the ingest path) on a schema-1 and a
   schema-2 database, to show what schema 2 adds.
Prints a table; the target is < 200 ms per filter at 100k events.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench.fixture import deliveries, secret
from inspector.core.analysis.analyzer import Analyzer
from inspector.core.model import Event
from inspector.core.signatures import Secrets
from inspector.core.store import EventStore, open_store
from inspector.core.store.sqlite import schema, search, writes

QUERIES = [
    "",
    "method:POST",
    "verdict:invalid",
    "kind:delivery_status verdict:valid",
    "path:/webhooks/*",
    "status:5xx",
    "since:10m",
    "since:30d",
    '"TEST 12"',
    "delivery_failed verdict:valid",
    "+16315555500",
    "connectly",
    "zzzqqq",
    "-connectly",
    "12",
]


def events(count: int, pad: int, start: float) -> list[Event]:
    analyzer = Analyzer(secrets=Secrets(default=secret()))
    templates = []
    for d in deliveries():
        body = d.body
        if pad and body.rstrip().endswith(b"}"):
            body = body.rstrip()[:-1] + b',"pad":"' + b"x" * pad + b'"}'
        event = Event(id="", received_at=0.0, method="POST", path=d.path, query="",
                      headers=[("host", "127.0.0.1:8765"), *d.headers.items()], body=body)
        analyzer.analyze(event)
        templates.append(event)
    out = []
    for i in range(count):
        t = templates[i % len(templates)]
        out.append(Event(
            id=f"{i:026d}", received_at=start + i * 0.5, method=t.method, path=t.path,
            query=f"n={i}", headers=t.headers, body=t.body, client="127.0.0.1:40000",
            provider=t.provider, kind=t.kind, summary=t.summary, verdict=t.verdict,
            reason=t.reason))
    return out


def build(path: Path, count: int, pad: int, now: float) -> float:
    start = time.perf_counter()
    store = open_store(path, index=False)
    batch = events(count, pad, now - count * 0.5)  # one every half second, ending now
    for i in range(0, count, 2000):
        store.import_events_sync([(e, []) for e in batch[i : i + 2000]])
    store.close()
    return time.perf_counter() - start


def time_queries(store: EventStore, runs: int, now: float) -> dict[str, tuple[float, float, int]]:
    out = {}
    for text in QUERIES:
        times = []
        found = 0
        for _ in range(runs):
            t0 = time.perf_counter()
            found = len(store.search(text, now=now))
            times.append((time.perf_counter() - t0) * 1000)
        out[text] = (statistics.median(times), max(times), found)
    return out


def build_index(path: Path) -> float:
    conn = search.indexer_connection(str(path))
    start = time.perf_counter()
    while search.index_batch(conn):
        pass
    conn.close()
    return time.perf_counter() - start


def writer_cost(folder: Path, version: int, n: int = 20_000, batch: int = 64) -> float:
    """µs per event of `writes.insert_many` (the writer's work per delivery, minus analysis)."""
    path = folder / f"writer-v{version}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for step in range(version):
        schema.MIGRATIONS[step](conn)
    sample = events(n, 0, time.time())
    best = float("inf")
    for _ in range(3):
        conn.execute("DELETE FROM events")
        conn.execute("DELETE FROM bodies")
        start = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN IMMEDIATE")
            writes.insert_many(conn, sample[i : i + batch], None)
            conn.execute("COMMIT")
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    conn.close()
    return best


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--pad-bytes", type=int, default=0, help="extra bytes per body")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="filter-speed-") as tmp:
        folder = Path(tmp)
        path = folder / "events.db"
        now = time.time()
        built = build(path, args.events, args.pad_bytes, now)
        size = path.stat().st_size / 1e6
        print(f"{args.events:,} events (bodies +{args.pad_bytes} B), built in {built:.1f} s, "
              f"database {size:.0f} MB")
        store = open_store(path, index=False)
        scan = time_queries(store, args.runs, now)
        store.close()
        seconds = build_index(path)
        side = Path(search.path_for(str(path))).stat().st_size / 1e6
        print(f"trigram index: built in {seconds:.1f} s "
              f"({seconds / args.events * 1e6:.0f} µs/event, in the background), {side:.0f} MB")
        store = open_store(path, index=False)
        indexed = time_queries(store, args.runs, now)
        store.close()
        print(f"\n{'filter':<38} {'matches':>8} {'no index ms (med/max)':>22} "
              f"{'indexed ms (med/max)':>22}")
        for text in QUERIES:
            med0, max0, n0 = scan[text]
            med1, max1, n1 = indexed[text]
            assert n0 == n1, text
            print(f"{text or '(everything)':<38} {n1:>8,} {med0:>13.1f} / {max0:>6.1f} "
                  f"{med1:>13.1f} / {max1:>6.1f}")
        worst = max(v[1] for v in indexed.values())
        print(f"\nworst indexed filter: {worst:.1f} ms (target < 200 ms)")
        v1, v2 = writer_cost(folder, 1), writer_cost(folder, 2)
        print(f"writer, insert_many per event: schema 1 {v1:.1f} µs, schema 2 {v2:.1f} µs "
              f"(+{v2 - v1:.1f} µs)")


if __name__ == "__main__":
    main()
