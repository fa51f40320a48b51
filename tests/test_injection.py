"""Untrusted text stays inert: markup shown literally, no escape reaches the terminal."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App

from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from tests.conftest import running_app, wait_for

SGR = re.compile(r"\x1b\[[0-9;]*[mH]")  # colours and cursor moves: what Textual emits
HOSTILE = "\x1b]0;pwned\x07\x1b[2J[bold]big[/bold] [/x] [@click=app.quit]quit \u202eevil"


def terminal_output(app: App[Any]) -> tuple[str, str]:
    """(what the terminal would receive, the plain text) for the current screen."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      force_terminal=True, color_system="truecolor", record=True)
    console.print(app.screen._compositor.render_update(full=True))
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue(), console.export_text()


def assert_inert(output: str) -> None:
    rest = SGR.sub("", output)
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in rest, f"{bad!r} reached the terminal"


async def test_hostile_body_path_and_headers(tmp_path: Path) -> None:
    body = json.dumps({"sender": {"id": "[red]+1[/red]"}, "message": {"text": HOSTILE}})
    head = (
        "POST /hook/[b]x[/b]/%1b%5D0;t HTTP/1.1\r\n"
        "host: localhost\r\n"
        "x-connectly-hmac-sha256: [bold]not base64[/bold]\r\n"
        "x-evil: [@click=app.quit]\x9b31m\r\n"  # C1 CSI as a raw latin-1 header byte
        f"content-length: {len(body.encode())}\r\n\r\n"
    )
    async with running_app(tmp_path) as (app, pilot, base):
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head.encode("latin-1") + body.encode())
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
        assert b" 200 " in status_line
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None, what="detail")
        for tab in "123456":
            await pilot.press(tab)
            await pilot.pause()
            output, text = terminal_output(app)
            assert_inert(output)
        await pilot.press("1")
        await pilot.pause()
        output, text = terminal_output(app)
        assert "[@click=app.quit]quit" in text  # markup shown literally
        assert "\\x1b]0;pwned\\x07" in text  # escapes made visible
        assert "/hook/[b]x[/b]/%1b%5D0;t" in text
        assert app.title == "webhook-inspector" and app.is_running
        rows = [app.query_one(EventList).render_line(y).text for y in range(3)]
        assert '[red]+1[/red] → "\\x1b]0;pwned' in rows[1]
        await pilot.press("2")
        await pilot.pause()
        _, text = terminal_output(app)
        assert "[@click=app.quit]\\x9b31m" in text
        await pilot.press("5")
        await pilot.pause()
        _, text = terminal_output(app)
        assert "[bold]not base64[/bold]" in text and "not base64" in text
