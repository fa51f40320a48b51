"""A team on one capture (issue 18): `inspector serve` writing to PostgreSQL.

A throwaway cluster of Debian's postgresql (tests/postgres.py), with fsync and
synchronous_commit on, as a real server would run, on a unix socket:

- ingest: wrk (16 connections) against one `inspector serve` on SQLite (the baseline, in
  the same run), one on PostgreSQL, then two at once (8 connections each) writing to one
  PostgreSQL database: requests/s, p99, acknowledged vs stored (lost must be 0: every 2xx
  is committed);
- follow: a Follower in this process (the code every viewer runs: LISTEN/NOTIFY, then the
  feed with its gap re-check) on the same database, while both receivers get events one at
  a time at random gaps, alternately: from the 2xx to the feed reporting the event.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from typing import Any

import httpx

from bench.fixture import Delivery
from bench.follow import FeedClock
from bench.load import Load, finish
from bench.phases import Setup, log
from bench.procs import CpuMeter, on_cleanup
from bench.targets import Serve
from tests.postgres import Cluster

DURABLE = "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"


def _count(url: str) -> int:
    from inspector.core.store import open_store

    store = open_store(url, index=False)
    try:
        return store.count()
    finally:
        store.close()


def _ingest(setup: Setup, http: str, url: str, receivers: int, seconds: int, warmup: int
            ) -> dict[str, Any]:
    """wrk against `receivers` serve processes on one database at once."""
    serves = [Serve(http, setup.folder, url, setup.secret) for _ in range(receivers)]
    for serve in serves:
        serve.start()
    load = Load(setup.wrk, setup.request, connections=setup.connections // receivers)
    try:
        if warmup:
            for proc in [load.start(s.port, warmup) for s in serves]:
                proc.proc.wait()
                finish(proc)
        before = _count(url)
        meter = CpuMeter({f"serve{i + 1}": s.pid() for i, s in enumerate(serves)})
        running = [load.start(s.port, seconds) for s in serves]
        for proc in running:
            proc.proc.wait()
        results = [finish(proc) for proc in running]
        cpu = meter.percent()
    finally:
        for serve in serves:
            serve.finish()
    stored = _count(url) - before
    acked = sum(r.acked for r in results)
    return {
        "receivers": receivers,
        "req_per_s": round(sum(r.req_per_s for r in results), 1),
        "p99_ms": max(r.p99_ms for r in results),
        "non_2xx": sum(r.non_2xx for r in results),
        "acked": acked, "stored": stored,
        "lost": max(0, acked - stored),  # acknowledged but not stored: must be 0
        "cpu_percent": cpu,
    }


async def _follow(bases: list[str], url: str, delivery: Delivery, samples: int
                  ) -> dict[str, Any]:
    clock = FeedClock(url)
    lags: list[float] = []
    missed = 0
    try:
        async with httpx.AsyncClient() as client:
            for n in range(samples):
                await asyncio.sleep(random.uniform(0.05, 0.3))
                _, lag = await clock.lag(
                    client, f"{bases[n % len(bases)]}{delivery.path}?n=p{n}", delivery)
                if lag is None:
                    missed += 1
                else:
                    lags.append(lag * 1000)
    finally:
        await clock.close()
    return {"samples": samples, "missed": missed,
            "p50_ms": round(statistics.median(lags), 1) if lags else None,
            "max_ms": round(max(lags), 1) if lags else None}


def run(setup: Setup, http: str, delivery: Delivery, seconds: int, warmup: int,
        samples: int) -> dict[str, Any]:
    cluster = Cluster.start(DURABLE)
    on_cleanup(cluster.destroy)
    out: dict[str, Any] = {"http": http, "seconds": seconds}
    log(f"postgres: the baseline, one serve on SQLite ({seconds} s)")
    out["sqlite1"] = _ingest(setup, http, str(setup.folder / "pg-baseline.db"), 1, seconds,
                             warmup)
    for receivers in (1, 2):
        url = cluster.new_database()
        log(f"postgres: ingest through {receivers} serve process(es) ({seconds} s)")
        out[f"ingest{receivers}"] = result = _ingest(setup, http, url, receivers, seconds,
                                                     warmup)
        log(f"  {result['req_per_s']:,.0f} req/s, p99 {result['p99_ms']:.1f} ms, acked "
            f"{result['acked']:,} stored {result['stored']:,}")
    url = cluster.new_database()
    serves = [Serve(http, setup.folder, url, setup.secret) for _ in range(2)]
    log(f"postgres: follow, {samples} events into two receivers")
    for serve in serves:
        serve.start()
    try:
        out["follow"] = asyncio.run(_follow([f"http://127.0.0.1:{s.port}" for s in serves],
                                            url, delivery, samples))
    finally:
        for serve in serves:
            serve.finish()
    return out


def table_line(pg: dict[str, Any]) -> list[str]:
    one, two, fo = pg["ingest1"], pg["ingest2"], pg["follow"]
    base = pg.get("sqlite1")
    versus = f" (SQLite serve {base['req_per_s']:,.0f})" if base else ""
    return [
        f"{'PostgreSQL ingest':<22}1 serve {one['req_per_s']:,.0f} req/s{versus} p99 "
        f"{one['p99_ms']:.1f} ms; 2 serves {two['req_per_s']:,.0f} req/s p99 "
        f"{two['p99_ms']:.1f} ms  (lost {one['lost'] + two['lost']}, non-2xx "
        f"{one['non_2xx'] + two['non_2xx']}; {pg['http']})",
        f"{'PostgreSQL follow':<22}commit→feed p50 {fo['p50_ms']} ms max {fo['max_ms']} ms "
        f"({fo['samples']} events into 2 receivers" + (f", {fo['missed']} missed" if
                                                       fo["missed"] else "") + ")",
    ]
