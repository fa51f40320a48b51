"""Many viewers of one capture (issue 14): how soon a viewer shows what was committed, and
what an idle viewer costs.

`inspector serve` receives; `inspector view` runs in a real terminal (tmux) on the same
database. Events are posted one at a time at random gaps (so the viewer's polls are met at
every phase), each with a marker in its path:

- feed: from the 2xx (sent only after the commit) until a Follower in this process, the
  same code the viewer runs, reports the event: the change feed's own latency;
- screen: from the 2xx until the marker is on the viewer's screen (read with capture-pane,
  every 10 ms: it adds up to that much).

Then both sit idle and their CPU use is measured over a window (% of one core).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench.fixture import Delivery
from bench.procs import CpuMeter
from bench.targets import Serve, inspector_argv
from bench.tui import Screen, Tmux


def _viewing(screen: Screen) -> bool:
    return bool(screen) and "viewer of http://" in screen[0]


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "mean_ms": None, "max_ms": None}
    ms = [v * 1000 for v in values]
    return {"p50_ms": round(statistics.median(ms), 1), "mean_ms": round(statistics.mean(ms), 1),
            "max_ms": round(max(ms), 1)}


class FeedClock:
    """A Follower in this process (the code every viewer runs) on the database at `db`:
    `lag` posts one delivery and says how long after its 2xx the feed reported it."""

    def __init__(self, db: str | Path) -> None:
        from inspector.core.store import Changes, open_store
        from inspector.core.store.follow import Follower

        self.store = open_store(db, index=False)
        self.seen: dict[int, float] = {}

        def heard(changes: Changes) -> None:
            now = time.perf_counter()
            for seq in changes.inserted:
                self.seen.setdefault(seq, now)

        self.follower = Follower(self.store, heard)
        self.follower.start()

    async def lag(self, client: httpx.AsyncClient, url: str, delivery: Delivery
                  ) -> tuple[float, float | None]:
        """(when the 2xx came, seconds from it to the feed; None: not within 5 s)."""
        answer = await client.post(url, content=delivery.body, headers=delivery.headers)
        acked = time.perf_counter()
        event = await asyncio.to_thread(self.store.event_by_id, answer.json()["id"])
        assert event is not None
        while event.seq not in self.seen and time.perf_counter() - acked < 5:
            await asyncio.sleep(0.002)
        at = self.seen.get(event.seq)
        return acked, None if at is None else max(0.0, at - acked)

    async def close(self) -> None:
        await self.follower.stop()
        self.store.close()


async def _latencies(base: str, db: Path, delivery: Delivery, tmux: Tmux, samples: int
                     ) -> dict[str, Any]:
    clock = FeedClock(db)
    feed: list[float] = []
    screen: list[float] = []
    missed = 0
    try:
        async with httpx.AsyncClient() as client:
            for n in range(samples):
                await asyncio.sleep(random.uniform(0.05, 0.3))
                acked, lag = await clock.lag(client, f"{base}{delivery.path}?n=f{n}", delivery)
                if lag is not None:
                    feed.append(lag)
                mark = f"?n=f{n} "

                def shown(screen: list[str], mark: str = mark) -> bool:
                    return any(mark in line for line in screen)

                waited, _ = await asyncio.to_thread(tmux.wait, shown, 5.0)
                if waited is None:
                    missed += 1
                else:
                    screen.append(time.perf_counter() - acked)
    finally:
        await clock.close()
    return {"samples": samples, "feed": _stats(feed), "screen": _stats(screen),
            "missed": missed}


def run(folder: Path, delivery: Delivery, secret: str, samples: int, idle_s: float
        ) -> dict[str, Any]:
    db = folder / "follow.db"
    receiver = Serve("h11", folder, db, secret)
    receiver.start()
    tmux = Tmux(folder)
    try:
        tmux.launch([*inspector_argv(), "view", "--db", str(db)])
        waited, last = tmux.wait(_viewing, timeout=30, interval=0.05)
        if waited is None:
            raise RuntimeError("the viewer did not come up:\n" + "\n".join(last[-10:]))
        viewer_pid = tmux.app_pid()
        time.sleep(2.0)  # start-up done: what follows is the idle cost
        meter = CpuMeter({"viewer": viewer_pid, "receiver": receiver.pid()})
        time.sleep(idle_s)
        idle = meter.percent()
        latency = asyncio.run(_latencies(f"http://127.0.0.1:{receiver.port}", db, delivery,
                                         tmux, samples))
    finally:
        tmux.kill()
        receiver.finish()
    return {"idle_s": idle_s, "idle_cpu_percent": idle, **latency}
