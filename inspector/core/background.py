"""One task on the event loop, between `start` and `stop`: what a follower or a watcher runs."""

from __future__ import annotations

import abc
import asyncio
import contextlib


class Background(abc.ABC):
    """Runs `_run` as one task on the running loop; `stop` cancels it and waits."""

    name = "background"
    _task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def _run(self) -> None: ...

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
