"""The inspector without a face: store + analysis + receiver + server, started and stopped.

The TUI and the headless runner both drive one of these; neither knows about the other.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable

from inspector.analysis import Analyzer
from inspector.config import Settings
from inspector.receiver import create_receiver
from inspector.server import Running, make_server, quiet_uvicorn, url_of
from inspector.store import CommitListener, Store


class Runtime:
    def __init__(self, settings: Settings, sock: socket.socket | None) -> None:
        """`sock` is bound by the caller (before any UI starts); None runs without a receiver."""
        self.settings = settings
        self.analyzer = Analyzer(secrets=settings.secrets, public_url=settings.public_url,
                                 routes=settings.routes)
        self.store = Store(settings.db, prepare=self.analyzer.analyze)
        self.sock = sock
        self.errors: list[Callable[[str], None]] = []
        self.app = create_receiver(self.store, max_body=settings.max_body, on_error=self._error)
        self._running: Running | None = None

    @property
    def url(self) -> str:
        return url_of(self.sock, self.settings.host) if self.sock else ""

    def on_commit(self, listener: CommitListener) -> None:
        self.store.listeners.append(listener)

    def _error(self, message: str) -> None:
        for listener in self.errors:
            listener(message)

    async def start(self) -> None:
        """Start the writer thread and the server on the running loop."""
        quiet_uvicorn()
        # A full collection of the start-up heap (Textual's widgets, modules) takes ~60 ms:
        # long enough to stall deliveries. Freeze it so later collections skip it.
        gc.collect()
        gc.freeze()
        # And make full collections ten times rarer than the default: each one pauses the
        # loop for 10-30 ms, which is the p99 of a delivery at a few hundred a second.
        gen0, gen1, _ = gc.get_threshold()
        gc.set_threshold(gen0, gen1, 100)
        self.store.start()
        if self.sock is not None:
            self._running = Running(make_server(self.app, http=self.settings.http), self.sock)
            self._running.start()

    async def stop(self) -> None:
        """Stop accepting, finish in-flight requests, flush the store, free the port."""
        if self._running is not None:
            await self._running.stop()
            self._running = None
        await asyncio.to_thread(self.store.close)

    def close(self) -> None:
        """Last-resort cleanup when the loop is already gone."""
        if self.sock is not None:
            self.sock.close()
        self.store.close()
