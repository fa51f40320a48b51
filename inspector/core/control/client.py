"""A viewer's end of the control channel: find the receiver, watch it, ask it for changes.

`Link` looks for the database's receiver (presence.find) a couple of times a second while
there is none; once one is found it keeps one connection open that the receiver writes its
state to at every change. When the receiver stops (cleanly or killed) that connection ends
at once, the viewer hears `None`, and the looking starts again: a receiver that starts
later is picked up. Requests (`request`) use a connection of their own each.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from inspector.core.background import Background
from inspector.core.capture.answers import DEFAULT_POLICY, ResponsePolicy
from inspector.core.control.presence import Record, find
from inspector.core.control.protocol import (
    MAX_LINE,
    TIMEOUT,
    Control,
    ControlError,
    ReceiverState,
    decode,
    encode,
    policy_to_json,
)
from inspector.core.store import is_url

INTERVAL = 0.5  # seconds between looks for a receiver while there is none

OnState = Callable[[ReceiverState | None], object]


class Link(Background):
    """The receiver of `db`, as far as a viewer knows it (`state`, None: none runs)."""

    name = "link"

    def __init__(self, db: str, on_state: OnState, *, interval: float = INTERVAL) -> None:
        self.db = db
        self.on_state = on_state
        self.interval = interval
        self.record: Record | None = None
        self.state: ReceiverState | None = None
        self._told = False  # the first look is told even when it finds nobody

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Ask the receiver; its answer. ControlError says why not, for a person."""
        record = self.record
        if record is None and is_url(self.db):  # receivers on other hosts: none to ask
            raise ControlError("a shared PostgreSQL database has no one receiver to ask: each "
                               "keeps its answer, secrets and tunnel; change them where it "
                               "runs (its TUI, or the flags of `inspector serve`)")
        if record is None:
            raise ControlError("no receiver is running on this database (start `inspector "
                               "serve` or `inspector` on it)")
        if not record.control:
            raise ControlError(f"the receiver {record.describe()} has no control channel")
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(record.control,
                                                                    limit=MAX_LINE)
                writer.write(encode({"op": op, **fields}))
                line = await reader.readline()
        except (OSError, TimeoutError, ValueError) as exc:
            why = "it did not answer in time" if isinstance(exc, TimeoutError) else str(exc)
            raise ControlError(f"cannot reach the receiver {record.describe()}: {why}"
                               ) from exc
        finally:
            if writer is not None:
                writer.close()
        if not line:
            raise ControlError(f"the receiver {record.describe()} closed the connection")
        answer = decode(line)
        if answer.get("ok") is not True:
            raise ControlError(str(answer.get("error") or "the receiver refused"))
        return answer

    async def _run(self) -> None:
        while True:
            record = find(self.db)
            if record is not None and record.control:
                with contextlib.suppress(OSError, ControlError, ValueError,
                                         asyncio.IncompleteReadError):
                    await self._watch(record)
            elif record is not None:  # no control channel: the record is all there is
                self.record = record
                self._heard(ReceiverState(record.pid, record.url, DEFAULT_POLICY))
            if record is None or record.control:
                self.record = None
                self._heard(None)
            await asyncio.sleep(self.interval)

    async def _watch(self, record: Record) -> None:
        reader, writer = await asyncio.open_unix_connection(record.control, limit=MAX_LINE)
        try:
            writer.write(encode({"op": "watch"}))
            line = await reader.readline()
            if not line:
                return
            state = ReceiverState.from_json(decode(line).get("state"))
            self.record = record
            self._heard(state)
            while line := await reader.readline():
                self._heard(ReceiverState.from_json(decode(line).get("state")))
        finally:
            writer.close()

    def _heard(self, state: ReceiverState | None) -> None:
        if state != self.state or not self._told:
            self.state = state
            self._told = True
            self.on_state(state)


class RemoteControl:
    """A viewer's `Control`: the change is asked of the receiver; a secret is also used here
    at once (`here`), even when no receiver runs (stored events can still be checked)."""

    def __init__(self, link: Link, here: Control) -> None:
        self.link = link
        self.here = here

    async def set_policy(self, policy: ResponsePolicy) -> None:
        await self.link.request("set_policy", policy=policy_to_json(policy))

    async def set_secret(self, provider: str, secret: str) -> None:
        await self.here.set_secret(provider, secret)
        if self.link.record is not None:
            await self.link.request("set_secret", provider=provider, secret=secret)
