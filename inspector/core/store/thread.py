"""A store's helper thread (a search indexer, a listener): started once, stopped by an
event it waits on, joined on stop. Subclasses give `name` and `_run`, and wait on `_stop`."""

from __future__ import annotations

import abc
import threading


class StoreThread(abc.ABC):
    name = "store"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @abc.abstractmethod
    def _run(self) -> None: ...
