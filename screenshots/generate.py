"""Regenerate screenshots/*.svg and *.png from the real app fed with the Connectly fixtures.

Run with `make screenshots`. Events arrive over real HTTP on loopback; a local server stands
in for "your app" so the replay screenshot shows a real round trip. The Timeline's story
spans minutes, which nobody waits for: it is written through the real store and analysis
with the times it would have had (tests/snapshot_data.py, as its snapshot test does).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TZ", "UTC")

import httpx  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from inspector.core.capture.tunnel import parse_spec  # noqa: E402
from inspector.core.config import load_file  # noqa: E402
from inspector.core.session import Session  # noqa: E402
from inspector.core.settings import Settings  # noqa: E402
from inspector.faces.tui.app import InspectorApp  # noqa: E402
from inspector.faces.tui.features import samples  # noqa: E402
from inspector.faces.tui.widgets.detail import DetailPane  # noqa: E402
from tests.conftest import CONNECTLY, Recorder, make_runtime, make_settings, wait_for  # noqa: E402
from tests.snapshot_data import RULES, build_db  # noqa: E402

STANDIN = ROOT / "tests" / "bin" / "tunnel_standin.py"

OUT = ROOT / "screenshots"
SIZE = (150, 42)
MONO = "DejaVu Sans Mono"


def to_png(svg_path: Path) -> Path:
    """Render with a local monospace font: the SVG names Fira Code, which is not installed."""
    import cairosvg

    svg = svg_path.read_text()
    svg = re.sub(r"font-family:\s*\"?Fira Code\"?(, monospace)?", f"font-family: {MONO}", svg)
    svg = svg.replace('font-family: "Fira Code"', f"font-family: {MONO}")
    # cairosvg ignores textLength, so size the font to the SVG's 12.2 px cell grid:
    # DejaVu Sans Mono advances 0.602 em per character.
    svg = svg.replace("font-size: 20px", "font-size: 20.26px")
    png = svg_path.with_suffix(".png")
    cairosvg.svg2png(bytestring=svg.encode(), write_to=str(png), output_width=1800)
    return png


async def one_shot(settings: Settings, name: str,
                   prepare: Callable[[Session, InspectorApp, Pilot[int]], Awaitable[None]]
                   ) -> Path:
    """The app on its own session, made ready by `prepare`, saved as NAME.svg."""
    runtime = make_runtime(settings)
    app = InspectorApp(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await prepare(runtime, app, pilot)
        path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT)))
        await app.action_quit()
    runtime.close()
    return path


async def tunnel_shot(tmp: Path) -> Path:
    """The header with a tunnel up. No internet here: a stand-in cloudflared prints the real
    tool's output (tests/bin/tunnel_standin.py)."""
    folder = tmp / "bin"
    folder.mkdir()
    (tmp / "state").mkdir()
    wrapper = folder / "cloudflared"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" cloudflared "$@"\n')
    wrapper.chmod(0o755)
    os.environ["PATH"] = f"{folder}:{os.environ['PATH']}"
    os.environ["STANDIN_STATE"] = str(tmp / "state")
    settings = make_settings(tmp / "t", port=0, tunnel=parse_spec("cloudflared"),
                             connectly_business_id="your-business-id")
    (tmp / "t").mkdir()

    async def prepare(runtime: Session, app: InspectorApp, pilot: Pilot[int]) -> None:
        await wait_for(lambda: runtime.tunnel and runtime.tunnel.state.url)
        samples.send_sample(app, "text")
        samples.send_sample(app, "delivery_status")
        await wait_for(lambda: len(app.query_one("EventList").seqs) == 2)
        await pilot.pause(0.5)

    return await one_shot(settings, "tunnel", prepare)


async def timeline_shot(tmp: Path) -> Path:
    """A message's story: sent, delivered, read, then the customer's reply, answered 503
    twice before the app took it, each retry marked with what the try before it got."""
    folder = tmp / "story"
    folder.mkdir()
    build_db(folder / "events.db", story=True)

    async def prepare(runtime: Session, app: InspectorApp, pilot: Pilot[int]) -> None:
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail and pane.detail.event.retry == 2)  # the newest
        await pilot.press("7")
        await wait_for(lambda: len(app.query_one("#timeline").rows) == 6)
        await pilot.pause(0.3)

    return await one_shot(make_settings(folder, port=0), "timeline", prepare)


async def rules_shots(tmp: Path) -> list[Path]:
    """The Rules screen, the list with each event's answer, and requests held at a
    breakpoint: a provider retrying into the "flaky endpoint" rule, and two held requests."""
    folder = tmp / "rules"
    folder.mkdir()
    config = folder / "inspector.toml"
    config.write_text(RULES)
    runtime = make_runtime(make_settings(folder, port=0, rules=load_file(config)[1]))
    app = InspectorApp(runtime)
    shots: list[Path] = []
    held: list[asyncio.StreamWriter] = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: runtime._running and runtime._running.server.started)
        base = runtime.url.rstrip("/")
        read = {"topic": "delivery_status", "statusUpdate": {"id": "m1", "status": "read"}}
        async with httpx.AsyncClient(base_url=base) as client:
            for case in CONNECTLY["events"][:3]:
                await client.post(case["path"], content=case["body"].encode(),
                                  headers=case["headers"])
            for _ in range(3):  # a provider retrying until it gets a 2xx
                await client.post("/webhooks/connectly", content=json.dumps(read).encode(),
                                  headers={"content-type": "application/json"})
            await client.post("/pay", content=b'{"amount": 500}')
            await client.post("/pay", content=b'{"amount": "lots"}')
        await pilot.press("b")  # the breakpoint: the next requests wait for a decision
        parts = urlsplit(runtime.url)
        for path, body in (("/held/order", b'{"order": 7}'),
                           ("/webhooks/connectly", b'{"statusUpdate": {"status": "sent"}}')):
            _, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}"
                         "\r\n\r\n".encode() + body)
            held.append(writer)
        await wait_for(lambda: len(runtime.holds) == 2)
        await wait_for(lambda: len(app.query_one("EventList").seqs) == 10)
        await pilot.press("k", "k", "k", "k", "k")  # the retry that got its second 503
        await pilot.pause(0.5)
        shots.append(Path(app.save_screenshot(filename="answers.svg", path=str(OUT))))
        await pilot.press("a", "down")
        await pilot.pause(0.3)
        shots.append(Path(app.save_screenshot(filename="rules.svg", path=str(OUT))))
        await pilot.press("escape")
        await pilot.pause(1.2)
        await pilot.press("h")
        await pilot.pause(0.3)
        shots.append(Path(app.save_screenshot(filename="held.svg", path=str(OUT))))
        await pilot.press("escape")
        await app.action_quit()
    for writer in held:
        writer.close()
    runtime.close()
    return shots


async def main() -> None:
    recorder = Recorder(body=b'{"ok":true,"handled":"message"}').start()
    tmp = Path(tempfile.mkdtemp())
    settings = make_settings(tmp, port=8765, replay_to=recorder.url + "/")
    try:
        runtime = make_runtime(settings)
    except Exception:
        runtime = make_runtime(make_settings(tmp, port=0, replay_to=recorder.url + "/"))
    app = InspectorApp(runtime)
    shots: list[Path] = []

    def save(name: str) -> None:
        path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT)))
        shots.append(path)

    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: runtime._running and runtime._running.server.started)
        async with httpx.AsyncClient() as client:
            for case in CONNECTLY["events"]:
                await client.post(runtime.url.rstrip("/") + case["path"],
                                  content=case["body"].encode(), headers=case["headers"])
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail and pane.detail.event.path == "/webhook")
        await pilot.press("k", "k", "k", "k")
        await wait_for(lambda: pane.detail.event.kind == "delivery_status")
        # The delivery_failed explained: scrolled to its last rows (the meaning, what to do,
        # the trace id to quote to support).
        await pilot.press("enter", "end")
        await pilot.pause(0.3)
        save("overview")
        await pilot.press("escape", "3")
        await pilot.pause(0.2)
        save("body")
        await pilot.press("k")
        await wait_for(lambda: pane.detail.event.summary.startswith("delivered"))
        await pilot.press("down", "down")
        await wait_for(lambda: "TEST 12" in pane.detail.event.summary)
        await pilot.press("5")
        await pilot.pause(0.2)
        save("signature")
        await pilot.press("r")
        await wait_for(lambda: pane.detail.attempts)
        await pilot.pause(0.3)
        save("replay")
        # Compare the genuine text event with the tampered one.
        await pilot.press("g", "space")
        await pilot.press("down", "down", "down", "down", "down", "space", "equals_sign")
        await wait_for(lambda: app.screen.__class__.__name__ == "DiffScreen")
        await pilot.pause(0.3)
        save("diff")
        await pilot.press("escape")
        await pilot.press("slash", *"kind:delivery_status")
        await wait_for(lambda: len(app.query_one("EventList").seqs) == 2)
        await pilot.pause(0.3)
        save("filter")
        await app.action_quit()
    runtime.close()
    recorder.stop()
    shots.append(await tunnel_shot(tmp))
    shots.append(await timeline_shot(tmp))
    shots += await rules_shots(tmp)
    for svg in shots:
        print(to_png(svg))


if __name__ == "__main__":
    asyncio.run(main())
