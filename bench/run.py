"""`make bench` (python -m bench.run): the benchmark of issues 3 and 17, on this machine.

  1. ingest: wrk (16 connections, a signed Connectly delivery) against a bare Starlette app and
     the inspector TUI in tmux, alternated A B A B, per uvicorn HTTP implementation;
  2. nothing lost: after each inspector run, acknowledged (2xx) vs stored events;
  3. latency at steady ~200 and ~500 req/s against the live TUI;
  4. the UI during a flood: list redraws per second and key latency, read from the terminal;
  5. start-up: first paint on an empty database, against a minimal Textual app (a DataTable)
     launched in the same terminal, alternated;
  6. 100k stored events: first paint, memory, Home/End/g/G repaint;
  7. follow: a viewer (`inspector view`) of `inspector serve`: commit to viewer (the change
     feed, and the screen), and the idle CPU of a viewer;
  8. postgres: `inspector serve` on PostgreSQL, one and two receivers on one database, and
     the follow latency to a viewer of both (bench/postgres.py).
Every target (issues 3, 14, 17 and 18) is printed with PASS or FAIL and written to the JSON
as "checks": [{name, value, target, passed}] (bench/report.py).
With --rules N, ingest also runs the TUI with N answer rules (bench/rules.py), alternated
with the others, and reports its rate against the same TUI without rules.
Prints a table; writes bench/results/<timestamp>.json and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import fixture, follow, load, phases, postgres, procs, report, rules, scale, startup
from bench.targets import Serve

PHASES = ("ingest", "steady", "ui", "startup", "scale", "follow", "postgres")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short runs, 1 round (a smoke test)")
    p.add_argument("--rounds", type=int, help="A B rounds per HTTP implementation [2]")
    p.add_argument("--duration", type=int, help="seconds of wrk per ingest run [10]")
    p.add_argument("--http", choices=["h11", "httptools", "both"], default="both")
    p.add_argument("--only", action="append", choices=PHASES, help="run only these phases")
    p.add_argument("--skip-scale", action="store_true", help="skip the 100k-event phase")
    p.add_argument("--event", default=fixture.DEFAULT_EVENT, help="fixture event to POST")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rules", type=int, default=0, metavar="N",
                   help="also ingest into the TUI running N answer rules (issue 13: 10)")
    p.add_argument("--rate", type=int, action="append", dest="rates", metavar="N",
                   help="a steady load, req/s (repeat) [200 and 500]")
    p.add_argument("--scale", "--scale-events", dest="scale_events", type=int, default=None,
                   metavar="N", help="events in the scale phase [100000]; given alone (no "
                   "--only), only that phase runs: --scale 1000000 is issue 17's million")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir())
                   / "webhook-inspector-bench", help="where the 100k-event database is kept")
    args = p.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (1 if quick else 2)
    args.duration = args.duration or (3 if quick else 10)
    args.warmup = 1
    args.steady_s = 3 if quick else 20
    args.redraw_s = 3.0 if quick else 8.0
    args.presses = 4 if quick else 10
    args.launches = 1 if quick else 2
    args.rates = args.rates or [200, 500]
    args.startups = 3 if quick else 7
    args.follow_samples = 6 if quick else 30
    args.idle_s = 3.0 if quick else 10.0
    if args.scale_events is not None and not args.only:
        args.only = ["scale"]
    args.scale_events = args.scale_events or 100_000
    args.phases = [x for x in (args.only or PHASES) if not (x == "scale" and args.skip_scale)]
    return args


def http_impls(choice: str) -> tuple[list[str], list[str]]:
    """(implementations to measure, notes about skipped ones)."""
    wanted = ["h11", "httptools"] if choice == "both" else [choice]
    have = [h for h in wanted if importlib.util.find_spec(h) is not None]
    notes = [f"{h} is not installed: skipped" for h in wanted if h not in have]
    return have, notes


def measure(args: argparse.Namespace, results: dict[str, Any], folder: Path) -> None:
    wrk = load.ensure_wrk() if set(args.phases) - {"scale", "follow", "startup"} else ""
    results["machine"] = report.machine(wrk)
    delivery = fixture.delivery(args.event)
    results["request"] = {"event": delivery.name, "path": delivery.path,
                          "body_bytes": len(delivery.body), "connections": args.connections}
    config = rules.config(args.rules, delivery, folder) if args.rules else None
    setup = phases.Setup(wrk, load.write_request(delivery, folder), fixture.secret(), folder,
                         args.connections, config)
    impls, results["notes"] = http_impls(args.http)
    if not impls:
        raise SystemExit("bench: no HTTP implementation to measure")
    main_http = impls[-1]  # httptools when measured: the default (`--http auto`)
    if "ingest" in args.phases:
        serve = Serve.available()
        if not serve:
            results["serve_note"] = "`inspector serve` not available yet: skipped"
        results["ingest"] = [
            phases.ingest(setup, h, args.rounds, args.duration, args.warmup, serve)
            for h in impls
        ]
    if "steady" in args.phases:
        results["steady"] = [phases.steady(setup, main_http, rate, args.steady_s)
                             for rate in args.rates]
    if "ui" in args.phases:
        results["flood"] = phases.flood(setup, main_http, args.redraw_s, args.presses)
    if "startup" in args.phases:
        phases.log(f"start-up: first paint, empty database, against a minimal Textual app "
                   f"({args.startups}x each)")
        results["startup"] = startup.run(folder, args.startups, main_http)
    if "scale" in args.phases:
        phases.log(f"{args.scale_events:,} events: build/copy the database, launch the TUI "
                   f"{args.launches}x")
        results["scale"] = scale.run(args.cache_dir, folder, args.scale_events, main_http,
                                     args.launches)
        print(scale.summary(results["scale"]), flush=True)
    if "follow" in args.phases:
        phases.log(f"follow: a viewer of `inspector serve`, {args.follow_samples} events, "
                   f"idle {args.idle_s:.0f} s")
        results["follow"] = follow.run(folder, delivery, setup.secret, args.follow_samples,
                                       args.idle_s)
    if "postgres" in args.phases:
        results["postgres"] = postgres.run(setup, main_http, delivery, args.duration,
                                           args.warmup, args.follow_samples)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    procs.install_handlers()
    folder = Path(tempfile.mkdtemp(prefix="inspector-bench-"))
    procs.on_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    results: dict[str, Any] = {
        "started": time.time(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "loadavg_before": report.loadavg(),
    }
    code = 0
    try:
        measure(args, results, folder)
    except KeyboardInterrupt:
        results["interrupted"] = True
        print("\nbench: interrupted; partial results follow", flush=True)
        code = 130
    except Exception as exc:
        traceback.print_exc()
        results["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        procs.cleanup()
    results["loadavg_after"] = report.loadavg()
    results["seconds"] = round(time.time() - results["started"], 1)
    results["checks"] = report.checks(results)
    path = report.write(results, complete=code == 0)
    print()
    if code:
        print(f"bench: incomplete ({results.get('error') or 'interrupted'}); "
              "latest.json left as it was")
    print(report.table(results))
    for note in results.get("notes", []):
        print(f"note: {note}")
    print(f"\nload average before/after: {results['loadavg_before']} / "
          f"{results['loadavg_after']}; results: {path.relative_to(procs.ROOT)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
