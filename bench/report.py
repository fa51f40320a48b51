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
    if s := results.get("steady"):
        w = s["wrk"]
        lines.append(
            f"{'steady ' + str(s['target_rate']) + ' req/s':<22}"
            f"p50 {w['p50_ms']:.2f} ms  p99 {w['p99_ms']:.2f} ms  max {w['max_ms']:.1f} ms  "
            f"(achieved {w['req_per_s']:,.0f} req/s, {s['http']}; non-2xx {w['non_2xx']}, "
            f"acked {s['acked']:,}, stored {s['stored']:,}, RSS {_n(s['rss_peak_mb'])} MB)"
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
    if pg := results.get("postgres"):
        lines += postgres.table_line(pg)
    checks = results.get("checks", [])
    if checks:
        lines.append("")
        lines.append("targets (issues 3, 14, 18): " + "   ".join(
            f"{c['name']} {c['value']} {_verdict(c)}" for c in checks))
    return "\n".join(lines)


# -- the targets of issue 3 ------------------------------------------------------------------


def _verdict(check: dict[str, Any]) -> str:
    if "info" in check["name"]:
        return ""
    return "PASS" if check["ok"] else "FAIL"


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, value: float | None, ok: bool, shown: str) -> None:
        out.append({"name": name, "value": shown, "ok": bool(ok) and value is not None})

    for run in results.get("ingest", []):
        ratio = run["tui"].get("ratio")
        if run["http"] == "h11":
            add(f"ratio {run['http']} ≥0.50", ratio, (ratio or 0) >= 0.5, _n(ratio, 2))
        else:
            # httptools is optional (not a dependency): its ratio is reported, not a target.
            out.append({"name": f"ratio {run['http']} (optional, info)",
                        "value": _n(ratio, 2), "ok": True})
        if "rules" in run:  # issue 13: ten rules cost at most 10% of the ingest rate
            vs = run["rules"].get("ratio_vs_tui")
            add(f"rules/tui {run['http']} ≥0.90", vs, (vs or 0) >= 0.9, _n(vs, 2))
    runs = [*results.get("ingest", []), results.get("steady"), results.get("flood")]
    lost = non2xx = 0
    for run in runs:
        if not run:
            continue
        for part in ([run["tui"], *([run["rules"]] if "rules" in run else [])] if "tui" in run
                     else [run]):
            lost += part.get("lost", 0)
            non2xx += part.get("non_2xx", part.get("wrk", {}).get("non_2xx", 0))
    if any(runs):
        add("lost=0", lost, lost == 0, str(lost))
        add("non-2xx=0", non2xx, non2xx == 0, str(non2xx))
    if s := results.get("steady"):
        p99 = s["wrk"]["p99_ms"]
        add("p99≤10ms", p99, p99 <= 10, f"{p99:.1f}")
    if f := results.get("flood"):
        rps, key = f["redraws"]["redraws_per_s"], f["keys"]["max_ms"]
        add("redraws≥4/s", rps, rps >= 4 and f["redraws"]["list_advanced"], f"{rps:.1f}")
        add("key≤150ms", key, key is not None and key <= 150 and not f["keys"]["missed"],
            _n(key))
    if fo := results.get("follow"):
        worst = fo["screen"]["max_ms"]
        add("follow≤250ms", worst, worst is not None and worst <= 250 and not fo["missed"],
            _n(worst))
    if pg := results.get("postgres"):  # issue 18
        pg_lost = pg["ingest1"]["lost"] + pg["ingest2"]["lost"]
        add("pg lost=0", pg_lost, pg_lost == 0, str(pg_lost))
        worst = pg["follow"]["max_ms"]
        add("pg follow≤500ms", worst, worst is not None and worst <= 500
            and not pg["follow"]["missed"], _n(worst))
    if sc := results.get("scale"):
        paint, rss = sc["first_paint_s"], sc["rss_mb"]
        jumps = [sc[k] for k in ("home_s", "end_s", "g_s", "G_s")]
        jump = None if None in jumps else max(jumps)
        add("paint≤1.5s", paint, (paint or 99) <= 1.5, _n(paint, 2))
        add("RSS<300MB", rss, (rss or 999) < 300, _n(rss))
        add("jump≤0.3s", jump, jump is not None and jump <= 0.3, _n(jump, 3))
    return out
