"""One event is "1 event" in every face (issue 10, item 16)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from inspector.core.capture.answers import build_policy
from inspector.core.display import count
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import connectly_event, running_app, wait_for
from tests.test_injection import terminal_output


def test_count() -> None:
    assert [count(n, "event") for n in (0, 1, 2, 12_000)] == [
        "0 events", "1 event", "2 events", "12,000 events"]
    assert count(1, "marked event") == "1 marked event"
    assert count(3, "body", "bodies") == "3 bodies"


async def test_the_tui_says_1_event(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        case = connectly_event("text")
        await client.post(base + case["path"], content=b"x", headers=case["headers"])
        status = app.query_one(StatusBar)
        await wait_for(lambda: "1 event " in str(status.render()), what="1 event")
        assert "1 events" not in str(status.render())
        await wait_for(lambda: re.search(r"Size +1 byte\b", terminal_output(app)[1]),
                       what="the overview's size")
        await pilot.press("slash")
        await pilot.press(*"kind:message")  # the filter: "0 of 1 event"
        await wait_for(lambda: "0 of 1 event " in str(status.render()), what="0 of 1 event")
        await pilot.press("escape", "escape", "D")
        await pilot.pause()
        assert "Delete all 1 event? This cannot be undone." in terminal_output(app)[1]


def test_the_command_line_says_1_event(tmp_path: Path) -> None:
    db, file = tmp_path / "e.db", tmp_path / "one.jsonl"
    line = ('{"id": "06H36G8W58XZ70NKH6J46D692W", "time": 1700000000, "method": "POST", '
            '"path": "/x", "query": "", "headers": [], "body_b64": "e30="}\n')
    file.write_text(line)

    def inspector(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout + proc.stderr

    assert "imported 1 of 1 event (jsonl)" in inspector("import", str(file), "--db", str(db))
    assert "exported 1 event to stdout" in inspector("export", "--db", str(db), "--format",
                                                     "jsonl")
    policy = build_policy(status=None, body="x", headers=("X-A: 1",), delay=None,
                          reject_invalid=False, respond_with_downstream=False)
    assert "custom body (1 byte)" in policy.describe() and "1 header" in policy.describe()
