"""The results: machine description, the table, target checks, and the JSON copies."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import postgres
from bench.procs import ROOT

RESULTS = Path(__file__).resolve().parent / "results"


def _out(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def machine(wrk: str | None) -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    versions: dict[str, str | None] = {}
    for name in ("webhook-inspector", "textual", "uvicorn", "starlette", "h11", "httptools"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "packages": versions, "wrk": (_out([wrk, "-v"]).splitlines() or [""])[0] if wrk else None,
        "tmux": _out(["tmux", "-V"]) if shutil.which("tmux") else None,
        "git_commit": _out(["git", "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(_out(["git", "status", "--porcelain", "--", "inspector"])),
    }


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def write(results: dict[str, Any], complete: bool) -> Path:
    """<timestamp>.json and latest.json; an incomplete run goes to <timestamp>.json.tmp only."""
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(results["started"]))
    path = RESULTS / (f"{stamp}.json" if complete else f"{stamp}.json.tmp")
    text = json.dumps(results, indent=2) + "\n"
    path.write_text(text)
    if complete:
        (RESULTS / "latest.json").write_text(text)
    return path


# -- the table -------------------------------------------------------------------------------


def _n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _pair(a: float | None, b: float | None) -> str:
    return f"{_n(a, 1)} / {_n(b, 1)}"


HEAD = (f"{'':<22}{'bare req/s':>11}{'inspector req/s':>17}{'ratio':>7}"
        f"{'bare p50/p99 ms':>18}{'insp p50/p99 ms':>18}{'non-2xx':>9}{'acked':>11}"
        f"{'stored':>11}{'RSS MB':>8}{'CPU% main/all':>15}")


def _ingest_row(label: str, bare: dict[str, Any], other: dict[str, Any]) -> str:
    return (f"{label:<22}{_n(bare['req_per_s']):>11}{_n(other['req_per_s']):>17}"
            f"{_n(other.get('ratio'), 2):>7}{_pair(bare['p50_ms'], bare['p99_ms']):>18}"
            f"{_pair(other['p50_ms'], other['p99_ms']):>18}{other['non_2xx']:>9,}"
            f"{other['acked']:>11,}{other['stored']:>11,}{_n(other['rss_peak_mb']):>8}"
            f"{_cpu(other['cpu_percent']):>15}")


def _cpu(cpu: dict[str, float]) -> str:
    return f"{_n(cpu.get('app_main_thread'))} / {_n(cpu.get('app'))}"


def table(results: dict[str, Any]) -> str:
    lines = [HEAD] if results.get("ingest") else []
    for run in results.get("ingest", []):
        lines.append(_ingest_row(run["http"], run["bare"], run["tui"]))
        if "bare_h11" in run:
            lines.append(f"{'':<22}bare h11 {_n(run['bare_h11']['req_per_s'])} req/s: the "
                         f"TUI on {run['http']} makes {_n(run['tui'].get('ratio_vs_h11'), 2)}× "
                         f"that")
        if "serve" in run:
            lines.append(_ingest_row(f"{run['http']} (serve)", run["bare"], run["serve"]))
        if "rules" in run:
            rules = run["rules"]
            lines.append(_ingest_row(f"{run['http']} (rules)", run["bare"], rules))
            lines.append(f"{'':<22}with rules / without: {_n(rules.get('ratio_vs_tui'), 2)} "
                         f"req/s (rounds {rules.get('vs_tui')}), "
                         f"{_n(rules.get('per_cpu_vs_tui'), 2)} req per CPU-second")
    if "serve_note" in results:
        lines.append(f"{'inspector serve':<22}{results['serve_note']}")
    for s in results.get("steady") or []:
        w = s["wrk"]
        lines.append(
            f"{'steady ' + str(s['target_rate']) + ' req/s':<22}"
            f"p50 {w['p50_ms']:.2f} ms  p99 {w['p99_ms']:.2f} ms  max {w['max_ms']:.1f} ms  "
            f"(achieved {w['req_per_s']:,.0f} req/s, {s['http']}; non-2xx {w['non_2xx']}, "
            f"acked {s['acked']:,}, stored {s['stored']:,}, RSS {_n(s['rss_peak_mb'])} MB, "
            f"CPU {_cpu(s['cpu_percent'])})"
            + (f"; bare app p50 {s['bare']['p50_ms']:.2f} p99 {s['bare']['p99_ms']:.2f} ms"
               if "bare" in s else "")
        )
    if f := results.get("flood"):
        k, r = f["keys"], f["redraws"]
        lines.append(
            f"{'UI during flood':<22}redraws/s {r['redraws_per_s']:.1f}"
            f" (newest shown: {'yes' if r['list_advanced'] else 'NO'})  key latency median "
            f"{_n(k['median_ms'])} ms  max {_n(k['max_ms'])} ms"
            + (f" ({k['missed']} missed)" if k["missed"] else "")
            + f"  (flood {f['wrk']['req_per_s']:,.0f} req/s, {f['http']}; non-2xx "
            f"{f['wrk']['non_2xx']}, acked {f['acked']:,}, stored {f['stored']:,})"
        )
    if sc := results.get("scale"):
        label = f"{sc['events'] // 1000}k events"
        lines.append(
            f"{label:<22}first paint {_n(sc['first_paint_s'], 2)} s"
            f"  RSS {_n(sc['rss_mb'])} MB  Home {_n(sc['home_s'], 3)} s  End "
            f"{_n(sc['end_s'], 3)} s  g {_n(sc['g_s'], 3)} s  G {_n(sc['G_s'], 3)} s"
            + (f"  (worst of {len(sc['launches'])} launches)" if len(sc["launches"]) > 1 else "")
        )
    if fo := results.get("follow"):
        feed, screen, idle = fo["feed"], fo["screen"], fo["idle_cpu_percent"]
        lines.append(
            f"{'viewer follows':<22}commit→feed p50 {_n(feed['p50_ms'])} ms max "
            f"{_n(feed['max_ms'])} ms  commit→screen p50 {_n(screen['p50_ms'])} ms max "
            f"{_n(screen['max_ms'])} ms ({fo['samples']} events"
            + (f", {fo['missed']} missed" if fo["missed"] else "") + ")  idle CPU: viewer "
            f"{_n(idle.get('viewer'), 1)}%, receiver {_n(idle.get('receiver'), 1)}%")
    if st := results.get("startup"):
        lines.append(
            f"{'first paint, empty db':<22}inspector {_n(st.get('inspector_median_s'), 3)} s"
            f"  minimal Textual app {_n(st.get('baseline_median_s'), 3)} s  (medians of "
            f"{st['launches']}, {st['http']}; all: {st['inspector_s']} / {st['baseline_s']})")
    if pg := results.get("postgres"):
        lines += postgres.table_line(pg)
    checks = results.get("checks", [])
    if checks:
        lines += ["", f"{'target':<50}{'value':>10}  {'bound':<9}"]
        lines += [f"{c['name']:<50}{_shown(c['value']):>10}  {c['target'] or '':<9}"
                  f"{_verdict(c)}" for c in checks]
    return "\n".join(lines)


# -- the targets (issues 3, 13, 14, 17) ---------------------------------------------------------
#
# results["checks"] is a list of {"name", "value", "target", "passed"}: `value` the measured
# figure (None when it could not be measured: a FAIL), `target` the bound as text ("≥ 0.8"),
# `passed` True/False, or None for a figure reported without a target. A phase adds its own
# with `Checks.add`; `checks(results)` builds the list from every phase's results.

_OPS = {"≥": float.__ge__, "≤": float.__le__, "<": float.__lt__, "=": float.__eq__}


class Checks:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, value: float | None, op: str, limit: float,
            ok: bool = True) -> None:
        """A target: `value op limit` (and `ok`, another condition) passes."""
        passed = value is not None and ok and _OPS[op](float(value), float(limit))
        self.items.append({"name": name, "value": value, "target": f"{op} {limit:g}",
                           "passed": passed})

    def info(self, name: str, value: float | None) -> None:
        """A figure reported without a target."""
        self.items.append({"name": name, "value": value, "target": None, "passed": None})


def _verdict(check: dict[str, Any]) -> str:
    return "" if check["passed"] is None else "PASS" if check["passed"] else "FAIL"


def _shown(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}"


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = Checks()
    for run in results.get("ingest", []):
        tui, http = run["tui"], run["http"]
        if http == "h11":
            out.info("ingest TUI on h11 / bare h11", tui.get("ratio"))
        else:  # the default parser: issue 17, target 1
            out.add(f"ingest TUI ({http}) / bare h11", tui.get("ratio_vs_h11"), "≥", 0.8)
            out.add(f"ingest TUI ({http}) / bare {http}", tui.get("ratio"), "≥", 0.5)
        if "serve" in run:
            out.info(f"ingest serve ({http}) / bare {http}", run["serve"].get("ratio"))
        if "rules" in run:  # issue 13: ten rules cost at most 10% of the ingest rate
            out.add(f"ingest with rules / without ({http})", run["rules"].get("ratio_vs_tui"),
                    "≥", 0.9)
    steady = results.get("steady") or []
    for s in steady:
        limit = 10 if s["target_rate"] <= 200 else 20
        out.add(f"steady {s['target_rate']} req/s p99 ms (TUI)", s["wrk"]["p99_ms"], "≤", limit)
        if "bare" in s:  # the same load on the bare app: the machine's own share
            out.info(f"steady {s['target_rate']} req/s p99 ms (bare app)", s["bare"]["p99_ms"])
    if f := results.get("flood"):
        out.add("flood redraws/s", f["redraws"]["redraws_per_s"], "≥", 4,
                ok=f["redraws"]["list_advanced"])
        out.add("flood key latency max ms", f["keys"]["max_ms"], "≤", 150,
                ok=not f["keys"]["missed"])
    lost = non2xx = 0
    runs = [*results.get("ingest", []), *steady, results.get("flood")]
    for run in runs:
        if not run:
            continue
        parts = ([run["tui"], *([run["rules"]] if "rules" in run else []),
                  *([run["serve"]] if "serve" in run else [])] if "tui" in run else [run])
        for part in parts:
            lost += part.get("lost", 0)
            non2xx += part.get("non_2xx", part.get("wrk", {}).get("non_2xx", 0))
    if any(runs):
        out.add("lost (acknowledged, not stored)", lost, "=", 0)
        out.add("non-2xx answers", non2xx, "=", 0)
    baseline = None
    if st := results.get("startup"):
        baseline = st.get("baseline_median_s")
        out.info("first paint, minimal Textual app s", baseline)
        out.info("first paint, empty database s", st.get("inspector_median_s"))
        out.add("first paint, empty database / minimal app", st.get("ratio"), "≤", 1.5,
                ok=not st["missed"])
    if sc := results.get("scale"):  # issue 17, target 4: the phase judges its own figures
        out.items += sc["checks"]
    if fo := results.get("follow"):  # issue 14: kept as it was
        out.add("viewer follow, commit to screen max ms", fo["screen"]["max_ms"], "≤", 250,
                ok=not fo["missed"])
    if pg := results.get("postgres"):  # issue 18
        out.add("PostgreSQL lost (acknowledged, not stored)",
                pg["ingest1"]["lost"] + pg["ingest2"]["lost"], "=", 0)
        out.add("PostgreSQL viewer follow, commit to feed max ms", pg["follow"]["max_ms"],
                "≤", 500, ok=not pg["follow"]["missed"])
    return out.items
