"""The web UI: textual-serve's aiohttp app, guarded, with our page and a cap on tabs.

textual-serve starts one process per browser tab and bridges its terminal to the page over
a websocket. Here that process is `inspector view` on the database this process receives
into, so a tab never binds the receiver's port: every tab is a viewer, and this process,
started once, is the receiver (headless, as `serve`). What textual-serve lacks is added
around it, not rewritten: the guard (guard.py) as aiohttp middleware, our page template
(bundled font, no other host), a cap on tabs, and an aiohttp runner on our own socket and
event loop, the one the receiver runs on.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import sys
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from textual_serve.server import Server

from inspector.core.capture.server import url_of
from inspector.core.session import Session
from inspector.core.settings import hand_down_database
from inspector.core.store import is_url
from inspector.faces.serve import headless, until_stopped
from inspector.faces.web.guard import Guard, add_headers, exposure_warning, new_token

TEMPLATES = Path(__file__).parent / "templates"
SHUTDOWN_TIMEOUT = 5.0  # seconds for open tabs to close when the server stops


@dataclass(frozen=True, slots=True)
class Tabs:
    """What each tab runs (a viewer of `db`), and how many may be open at once."""

    db: str
    limit: int
    config: str | None = None
    replay_to: str = ""
    resign: bool = False
    receiver: str = ""  # on a shared database: where the tabs find this receiver

    def command(self) -> str:
        argv = [sys.executable, "-m", "inspector", "view"]
        if not is_url(self.db):  # a URL may carry a password: run_web hands it down
            argv += ["--db", str(Path(self.db).resolve())]
        if self.config:
            argv += ["--config", self.config]
        if self.replay_to:
            argv += ["--replay-to", self.replay_to]
        if self.resign:
            argv.append("--resign")
        if self.receiver:
            argv += ["--receiver", self.receiver]
        return shlex.join(argv)

    def too_many(self) -> str:
        return (f"Too many tabs: {self.limit} are open, the most `inspector web --max-tabs` "
                "allows. Close one, then press Restart.")


class WebServer(Server):
    """textual-serve's server with the guard, our page and the tab cap."""

    def __init__(self, tabs: Tabs, token: str, host: str) -> None:
        super().__init__(tabs.command(), host=host, title="webhook-inspector",
                         templates_path=TEMPLATES)
        self.tabs = tabs
        self.guard = Guard(token, host)
        self.open_tabs = 0
        self._tabs: set[asyncio.Task[Any]] = set()  # each open tab's websocket handler

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.guard.middleware)
        app.on_response_prepare.append(add_headers)
        return app

    async def on_startup(self, app: web.Application) -> None:
        pass  # textual-serve prints a banner here; `inspector web` says where it is itself

    async def on_shutdown(self, app: web.Application) -> None:
        for task in self._tabs:  # textual-serve closes the page and tells its app to quit
            task.cancel()

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, with URLs relative to how it was reached (127.0.0.1 or localhost)."""
        return {
            "font_size": max(8, min(32, _int(request.query.get("fontsize", ""), 16))),
            "app_websocket_url": f"ws://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if self.open_tabs >= self.tabs.limit:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER,
                           message=self.tabs.too_many().encode())
            return ws
        task = asyncio.current_task()
        assert task is not None
        self.open_tabs += 1
        self._tabs.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self.open_tabs -= 1
            self._tabs.discard(task)


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


async def run_web(session: Session, sock: socket.socket, tabs: Tabs, *, host: str,
                  open_browser: bool = False) -> None:
    """The receiver and the web UI until SIGINT or SIGTERM; then the tabs close first."""
    token = new_token()
    if is_url(tabs.db):  # textual-serve gives each tab a copy of this process's environment
        hand_down_database(tabs.db)
    server = WebServer(tabs, token, host)
    runner = web.AppRunner(await server._make_app(), handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
    async with headless(session) as err:
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            url = f"{url_of(sock, host)}?token={token}"
            warning = exposure_warning(host)
            if warning:
                err.write(warning + "\n")
            err.write(f"web UI on {url} (each tab is a viewer; --max-tabs {tabs.limit})\n")
            err.flush()
            if open_browser and not await asyncio.to_thread(webbrowser.open, url):
                err.write("could not open a browser here (none found, or it failed): open "
                          "the link above in one\n")
                err.flush()
            await until_stopped()
        finally:
            await runner.cleanup()
