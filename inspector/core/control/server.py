"""The receiver's end of the control channel: a unix socket only the same user can open.

Who may connect is decided by the file system: the socket lives in a private folder (the
user's runtime folder, mode 0700, else one in the temp folder that we own and keep 0700)
and is itself mode 0600; on Linux the peer's uid is checked too (SO_PEERCRED). There is no
password to leak and nothing listens on the network: a browser page, another user or
another machine cannot reach it.

The table of operations (`operations`) maps each request to a method of the receiver's
`Control`; a new kind of request is one more entry there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import stat
import struct
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from inspector.core.capture.answers import PolicyError
from inspector.core.control.protocol import (
    MAX_LINE,
    PROTOCOL,
    Control,
    ControlError,
    ReceiverState,
    decode,
    encode,
    policy_from_json,
    provider,
    secrets_to_json,
)
from inspector.core.settings import runtime_dir
from inspector.core.signatures import PROVIDERS, Secrets, mask

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
MAX_PENDING = 1024 * 1024  # bytes waiting for a watcher that does not read: it is dropped
MAX_PATH = 100  # a unix socket's path must fit in 108 bytes


def control_dir() -> Path:
    """A private folder for control sockets: in the user's runtime folder (XDG_RUNTIME_DIR,
    made by the system for this user alone), else one of ours in the temp folder (sticky:
    nobody else can move it). ControlError when neither can be made private."""
    folders = [Path(tempfile.gettempdir()) / f"webhook-inspector-{os.getuid()}"]
    runtime = runtime_dir()
    if runtime and _private(Path(runtime)):
        folders.insert(0, Path(runtime) / "webhook-inspector")
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue  # a symlink, or someone else's: never ours
            if info.st_mode & 0o077:
                folder.chmod(0o700)
            if len(str(folder)) < MAX_PATH - 30:
                return folder
    raise ControlError("no private folder for the control channel (the runtime folder and "
                       "the temp folder are not writable): viewers cannot change the answer "
                       "or the secrets")


def _private(folder: Path) -> bool:
    try:
        info = folder.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and \
        not info.st_mode & 0o077


def operations(control: Control, secrets: Callable[[], Secrets],
               say: Callable[[str], object]) -> dict[str, Handler]:
    """The requests a viewer may make, each a method of the receiver's `Control`; `say`
    tells the receiver's own face what a viewer changed."""

    async def get_secrets(_: dict[str, Any]) -> dict[str, Any]:
        return {"secrets": secrets_to_json(secrets())}

    async def set_policy(message: dict[str, Any]) -> None:
        policy = policy_from_json(message.get("policy"))
        await control.set_policy(policy)
        say(f"A viewer changed the answer: {policy.describe()}")

    async def set_secret(message: dict[str, Any]) -> None:
        name, secret = provider(message.get("provider")), message.get("secret")
        if not isinstance(secret, str) or not secret:
            raise ControlError("give the secret as text")
        await control.set_secret(name, secret)
        say(f"A viewer set the {PROVIDERS[name].title} secret ({mask(secret)}).")

    return {"secrets": get_secrets, "set_policy": set_policy, "set_secret": set_secret}


class ControlServer:
    """Answers requests (`handlers`) and tells watchers of every change of `state()`."""

    def __init__(self, handlers: Mapping[str, Handler], state: Callable[[], ReceiverState],
                 folder: Path | None = None) -> None:
        self.handlers = dict(handlers)
        self.state = state
        self.folder = folder
        self.path = ""
        self._server: asyncio.AbstractServer | None = None
        self._watchers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen; returns the socket's path. ControlError when it cannot."""
        folder = self.folder or control_dir()
        path = folder / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        try:
            self._server = await asyncio.start_unix_server(self._serve, path, limit=MAX_LINE)
            os.chmod(path, 0o600)
        except OSError as exc:
            raise ControlError(f"cannot open the control channel at {path}: "
                               f"{exc.strerror or exc}") from exc
        self.path = str(path)
        return self.path

    async def stop(self) -> None:
        """Stop listening; watchers see the connection close (the receiver stopped)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._watchers):
            writer.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def changed(self) -> None:
        """The state changed: tell every watcher (on the loop; never waits)."""
        if not self._watchers:
            return
        line = encode({"state": self.state().to_json()})
        for writer in list(self._watchers):
            if writer.transport.get_write_buffer_size() > MAX_PENDING:
                self._watchers.discard(writer)  # it stopped reading: it must reconnect
                writer.close()
            else:
                writer.write(line)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            if same_user(writer):
                await self._converse(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the viewer went away
        finally:
            self._watchers.discard(writer)
            if task is not None:
                self._connections.discard(task)
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than MAX_LINE
                writer.write(encode({"ok": False, "error": "the request is too long"}))
                return
            if not line:
                return
            try:
                message = decode(line)
            except ControlError as exc:
                writer.write(encode({"ok": False, "error": str(exc)}))
                return
            if message.get("op") == "watch":
                writer.write(encode({"ok": True, "state": self.state().to_json()}))
                self._watchers.add(writer)
                await reader.read()  # nothing more is expected: wait for the end
                return
            writer.write(encode(await self._answer(message)))
            await writer.drain()

    async def _answer(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        if op == "hello":
            return {"ok": True, "protocol": PROTOCOL, "state": self.state().to_json()}
        handler = self.handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            known = ", ".join(["hello", "watch", *self.handlers])
            return {"ok": False, "error": f"unknown request {op!r} (known: {known})"}
        try:
            extra = await handler(message)
        except (ControlError, PolicyError, ValueError, TypeError, KeyError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, **(extra or {})}


def same_user(writer: asyncio.StreamWriter) -> bool:
    """Whether the peer runs as this user (Linux); elsewhere the permissions decide."""
    sock = writer.get_extra_info("socket")
    peercred = getattr(socket, "SO_PEERCRED", None)
    if sock is None or peercred is None:
        return True
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    except OSError:
        return True
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())
