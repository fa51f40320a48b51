"""The load phases: ingest (A B A B against the bare app), steady 200 req/s, UI under flood."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import ui
from bench.load import Load, WrkResult, finish
from bench.procs import CpuMeter
from bench.targets import Bare, Outcome, Serve, Target, Tui


@dataclass(frozen=True, slots=True)
class Setup:
    wrk: str
    request: Path  # the Lua request file (bench/load.py)
    secret: str
    folder: Path  # this run's scratch folder
    connections: int = 16
    rules: Path | None = None  # --rules N: an inspector.toml for the "rules" target


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _record(
    target: Target, main: WrkResult, warm: WrkResult | None, outcome: Outcome,
    cpu: dict[str, float],
) -> dict[str, Any]:
    acked = main.acked + (warm.acked if warm else 0)
    out: dict[str, Any] = {
        "kind": target.kind, "wrk": main.to_json(),
        "warmup": warm.to_json() if warm else None, "acked": acked,
        "cpu_percent": cpu,  # % of one core during the measured run: where the time goes
        **asdict(outcome),
    }
    if outcome.stored is not None:
        out["lost"] = max(0, acked - outcome.stored)  # acknowledged but not stored: must be 0
        out["unacked_stored"] = max(0, outcome.stored - acked)  # in flight when wrk stopped
    return out


def run_once(target: Target, load: Load, seconds: int, warmup: int) -> dict[str, Any]:
    """Start the target, warm up, load it for `seconds`, stop it cleanly, count."""
    target.start()
    try:
        warm = load.run(target.port, warmup) if warmup else None
        meter = CpuMeter(target.pids())
        main = load.run(target.port, seconds)
        cpu = meter.percent()
    finally:
        outcome = target.finish()
    return _record(target, main, warm, outcome, cpu)


def ingest(
    setup: Setup, http: str, rounds: int, seconds: int, warmup: int, serve: bool
) -> dict[str, Any]:
    """A B A B: the bare app, then the TUI (then `inspector serve`), per round. On another
    parser than h11 the bare app on h11 runs too: the reference of issue 17's first target."""
    load = Load(setup.wrk, setup.request, connections=setup.connections)
    makers: list[Callable[[int], Target]] = [
        lambda r: Bare(http, setup.folder),
        *([lambda r: Bare("h11", setup.folder, kind="bare_h11")] if http != "h11" else []),
        lambda r: Tui(http, setup.folder, setup.folder / f"tui-{http}-{r}.db", setup.secret),
    ]
    if serve:
        makers.append(
            lambda r: Serve(http, setup.folder, setup.folder / f"serve-{http}-{r}.db",
                            setup.secret)
        )
    if setup.rules is not None:
        rules = setup.rules
        makers.append(lambda r: Tui(http, setup.folder, setup.folder / f"rules-{http}-{r}.db",
                                    setup.secret, config=rules))
    runs: list[dict[str, Any]] = []
    for r in range(rounds):
        for make in makers:
            target = make(r)
            log(f"ingest {http} round {r + 1}/{rounds}: {target.kind} ({seconds} s)")
            runs.append({"round": r + 1, **run_once(target, load, seconds, warmup)})
            last = runs[-1]
            log(f"  {last['wrk']['req_per_s']:,.0f} req/s, p99 {last['wrk']['p99_ms']:.1f} ms, "
                f"CPU {last['cpu_percent']}"
                + (f", acked {last['acked']:,} stored {last['stored']:,}"
                   if last.get("stored") is not None else ""))
    out: dict[str, Any] = {"http": http, "connections": setup.connections, "seconds": seconds,
                           "rounds": runs}
    for kind in ("bare", "bare_h11", "tui", "serve", "rules"):
        mine = [x for x in runs if x["kind"] == kind]
        if mine:
            out[kind] = _summary(mine)
    if "rules" in out:  # the same TUI with and without rules, round by round
        pairs = list(zip((t for t in runs if t["kind"] == "tui"),
                         (x for x in runs if x["kind"] == "rules"), strict=False))
        per_round = [x["wrk"]["req_per_s"] / t["wrk"]["req_per_s"] for t, x in pairs
                     if t["wrk"]["req_per_s"]]
        out["rules"]["vs_tui"] = [round(x, 3) for x in per_round]
        vs_tui = _median(per_round)
        out["rules"]["ratio_vs_tui"] = None if vs_tui is None else round(vs_tui, 3)
        # On a shared machine the rate follows the CPU the process was given: requests per
        # CPU-second of the app, with rules against without, says what the rules cost.
        per_cpu = [(x["wrk"]["req_per_s"] / x["cpu_percent"]["app"])
                   / (t["wrk"]["req_per_s"] / t["cpu_percent"]["app"]) for t, x in pairs
                   if t["wrk"]["req_per_s"] and t["cpu_percent"].get("app")
                   and x["cpu_percent"].get("app")]
        per_cpu_median = _median(per_cpu)
        out["rules"]["per_cpu_vs_tui"] = (None if per_cpu_median is None
                                          else round(per_cpu_median, 3))
    for kind in ("tui", "serve", "rules"):
        if kind in out:
            for bare, key in (("bare", "ratio"), ("bare_h11", "ratio_vs_h11")):
                ratios = _ratios(runs, bare, kind)
                if ratios:
                    out[kind][key + "s"] = [round(x, 3) for x in ratios]
                    out[kind][key] = round(statistics.median(ratios), 3)
    return out


def _ratios(runs: list[dict[str, Any]], bare: str, kind: str) -> list[float]:
    """`kind`'s rate over `bare`'s, round by round."""
    return [t["wrk"]["req_per_s"] / b["wrk"]["req_per_s"]
            for b, t in zip((x for x in runs if x["kind"] == bare),
                            (x for x in runs if x["kind"] == kind), strict=False)
            if b["wrk"]["req_per_s"]]


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        m = _median([x["wrk"][key] for x in runs])
        return None if m is None else round(m, 2)

    out: dict[str, Any] = {
        "req_per_s": med("req_per_s"), "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"),
        "non_2xx": sum(x["wrk"]["non_2xx"] + (x["warmup"] or {}).get("non_2xx", 0)
                       for x in runs),
        "socket_errors": sum(x["wrk"]["socket_errors"] for x in runs),
        "rss_peak_mb": max((x["rss_peak_mb"] or 0 for x in runs), default=None),
        "cpu_percent": {
            k: _median([x["cpu_percent"][k] for x in runs if k in x["cpu_percent"]])
            for k in runs[0]["cpu_percent"]
        },
    }
    if runs[0].get("stored") is not None:
        out["acked"] = sum(x["acked"] for x in runs)
        out["stored"] = sum(x["stored"] for x in runs)
        out["lost"] = sum(x["lost"] for x in runs)
    return out


def steady(setup: Setup, http: str, rate: int, seconds: int) -> dict[str, Any]:
    """A paced load of about `rate` req/s (8 connections, random gaps) against the live TUI."""
    conns = 8
    # Each connection waits uniform(0, 2*delay) after a response: rate ≈ conns / (delay + rtt).
    delay = max(1, round(conns * 1000 / rate) - 1)
    load = Load(setup.wrk, setup.request, connections=conns, delay_ms=delay)
    log(f"steady ~{rate} req/s against the bare app, then the TUI ({http}, {seconds} s)")
    # The bare app under the same load first: what this machine's scheduling alone costs.
    bare = run_once(Bare(http, setup.folder), load, seconds, warmup=1)["wrk"]
    tui = Tui(http, setup.folder, setup.folder / f"steady-{http}-{rate}.db", setup.secret)
    run = run_once(tui, load, seconds, warmup=1)
    w = run["wrk"]
    log(f"  {w['req_per_s']:,.0f} req/s, p50 {w['p50_ms']:.2f} p99 {w['p99_ms']:.2f} "
        f"max {w['max_ms']:.1f} ms (bare app: p99 {bare['p99_ms']:.2f} ms)")
    return {"http": http, "target_rate": rate, "connections": conns, "mean_delay_ms": delay,
            "bare": bare, **run}


def flood(setup: Setup, http: str, redraw_s: float, presses: int) -> dict[str, Any]:
    """wrk floods the TUI (distinct rows) while we watch the screen and press keys."""
    log(f"UI during a flood ({http}): redraws for {redraw_s:.0f} s, then {presses} key presses")
    load = Load(setup.wrk, setup.request, connections=setup.connections, vary=True)
    tui = Tui(http, setup.folder, setup.folder / f"flood-{http}.db", setup.secret)
    tui.start()
    wrk = None
    try:
        wrk = load.start(tui.port)
        time.sleep(1.5)  # let the flood reach its steady state
        meter = CpuMeter(tui.pids())
        redraws = ui.redraws(tui.tmux, redraw_s)
        keys = ui.key_latency(tui.tmux, presses)
        cpu = meter.percent()
        main = finish(wrk)
    finally:
        if wrk is not None:
            wrk.stop()
        outcome = tui.finish()
    run = _record(tui, main, None, outcome, cpu)
    log(f"  {redraws['redraws_per_s']} redraws/s, key median {keys['median_ms']} ms "
        f"max {keys['max_ms']} ms, {main.req_per_s:,.0f} req/s")
    return {"http": http, "redraws": redraws, "keys": keys, **run}
