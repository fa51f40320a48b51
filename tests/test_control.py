"""Who receives into a database (the lock and its record), and the control channel a viewer
uses to change the receiver's answer and secrets: real sessions, real sockets, real
processes."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from inspector.core.capture.answers import DEFAULT_POLICY, ResponsePolicy
from inspector.core.control import presence
from inspector.core.control.client import Link
from inspector.core.control.protocol import ControlError, ReceiverState
from inspector.core.session import Session
from inspector.core.signatures import Secrets
from inspector.core.sink import BaseSink
from tests.conftest import SECRET, connectly_event, make_runtime, make_settings, wait_for


def test_a_claim_is_exclusive_and_its_record_says_where_the_receiver_is(
        tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    assert presence.find(db) is None
    with presence.claim_database(db) as claim:
        assert presence.find(db) is None  # held, but nothing said yet: a receiver starting
        record = presence.Record(os.getpid(), "http://127.0.0.1:1/", "/x.sock", 1.0)
        claim.publish(record)
        assert presence.find(db) == record
        with pytest.raises(presence.Taken) as taken:
            presence.claim_database(db, patience=0.1)
        assert taken.value.record == record
        assert f"pid {os.getpid()}, receiving on http://127.0.0.1:1/" in str(taken.value)
    assert presence.find(db) is None  # released: nobody receives
    presence.claim_database(db).release()


def test_a_killed_receivers_record_is_stale(tmp_path: Path) -> None:
    """kill -9 leaves the record behind; the kernel drops the lock, and that decides."""
    db = str(tmp_path / "e.db")
    script = (
        "import sys, time\n"
        "from inspector.core.control import presence\n"
        f"claim = presence.claim_database({db!r})\n"
        f"claim.publish(presence.Record(12345, 'http://127.0.0.1:9/', '/gone.sock', 1.0))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        found = presence.find(db)
        assert found is not None and found.pid == 12345
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert Path(db + "-receiver").read_text()  # the record is still there...
    assert presence.find(db) is None  # ...and ignored
    with presence.claim_database(db) as claim:
        assert claim.stale is not None and claim.stale.control == "/gone.sock"


def test_a_viewer_looking_does_not_turn_a_starting_receiver_away(tmp_path: Path) -> None:
    """find() holds a shared lock for an instant; a receiver claiming then waits it out."""
    db = str(tmp_path / "e.db")
    presence.claim_database(db).release()  # the file exists
    fd = os.open(db + "-receiver", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    timer = threading.Timer(0.3, os.close, (fd,))
    timer.start()
    try:
        with presence.claim_database(db, patience=5):
            pass
    finally:
        timer.join()


async def test_a_second_receiver_on_the_database_is_refused(tmp_path: Path) -> None:
    first = make_runtime(make_settings(tmp_path))
    try:
        with pytest.raises(presence.Taken):
            make_runtime(make_settings(tmp_path))
    finally:
        first.close()


async def test_the_control_channel_is_private_and_changes_the_live_answer(
        tmp_path: Path) -> None:
    receiver = make_runtime(make_settings(tmp_path))
    await receiver.start()
    heard: list[ReceiverState | None] = []
    link = Link(receiver.settings.db, heard.append, interval=0.05)
    try:
        record = presence.find(receiver.settings.db)
        assert record is not None and record.pid == os.getpid()
        assert record.url == receiver.url
        mode = os.stat(record.control).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        folder = os.stat(Path(record.control).parent).st_mode
        assert stat.S_IMODE(folder) == 0o700

        link.start()
        await wait_for(lambda: heard and heard[-1] is not None, what="the receiver's state")
        state = heard[-1]
        assert state is not None and state.url == receiver.url
        assert state.policy == DEFAULT_POLICY

        hello = await link.request("hello")
        assert hello["protocol"] == 1
        with pytest.raises(ControlError, match="unknown request 'nope'"):
            await link.request("nope")
        with pytest.raises(ControlError, match="not a final HTTP status"):
            await link.request("set_policy", policy={"status": 99})
        with pytest.raises(ControlError, match="set by the server"):
            await link.request("set_policy", policy={"headers": [["Content-Length", "1"]]})

        await link.request("set_policy", policy={"status": 503, "body": "YnVzeQ==",
                                                  "delay": 0})
        await wait_for(lambda: heard[-1] is not None and heard[-1].policy.status == 503,
                       what="the new state, pushed")
        case = connectly_event("text")
        async with httpx.AsyncClient() as client:
            answer = await client.post(receiver.url.rstrip("/") + case["path"],
                                       content=case["body"].encode(), headers=case["headers"])
        assert answer.status_code == 503 and answer.content == b"busy"
        assert any("A viewer changed the answer: 503" in n for n in receiver.notices)

        await link.request("set_secret", provider="stripe", secret="whsec_from_a_viewer")
        assert receiver.live.secrets.by_provider["stripe"] == ("whsec_from_a_viewer",)
        got = await link.request("secrets")
        assert got["secrets"]["by_provider"]["stripe"] == ["whsec_from_a_viewer"]
        assert got["secrets"]["default"] == [SECRET]
    finally:
        await link.stop()
        await receiver.stop()
    assert presence.find(receiver.settings.db) is None
    assert not os.path.exists(record.control)  # the socket goes with the receiver


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
async def test_another_user_cannot_open_the_control_channel(tmp_path: Path) -> None:
    receiver = make_runtime(make_settings(tmp_path))
    await receiver.start()
    try:
        record = presence.find(receiver.settings.db)
        assert record is not None
        pid = os.fork()
        if pid == 0:  # the child: another user, trying the socket
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                socket.socket(socket.AF_UNIX).connect(record.control)
                code = 0
            except PermissionError:
                code = 13
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 13  # refused by the file system
    finally:
        await receiver.stop()


async def test_a_viewer_session_mirrors_the_receiver_and_sees_it_stop_and_start(
        tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    receiver = make_runtime(settings)
    await receiver.start()
    viewer = Session(replace(settings, secrets=Secrets()), None,
                     view=True)
    heard: list[ReceiverState | None] = []

    class Listen(BaseSink):
        def receiver(self, state: ReceiverState | None) -> None:
            heard.append(state)

    viewer.subscribe(Listen())
    try:
        await viewer.start()
        await wait_for(lambda: viewer.remote is not None, what="the receiver")
        assert viewer.url == receiver.url and viewer.store.indexed_upto() == 0
        # Its secrets serve the viewer too (the Signature tab, re-signing).
        await wait_for(lambda: viewer.live.secrets.default == (SECRET,), what="the secrets")
        await viewer.control.set_policy(ResponsePolicy(status=202))
        await wait_for(lambda: viewer.live.policy.status == 202, what="the policy, mirrored")
        assert receiver.live.policy.status == 202
        # A secret set in a viewer serves it at once, and the receiver from now on.
        await viewer.control.set_secret("github", "a-github-secret")
        assert viewer.live.secrets.by_provider["github"] == ("a-github-secret",)
        assert receiver.live.secrets.by_provider["github"] == ("a-github-secret",)
        await wait_for(lambda: heard[-1] is not None and heard[-1].secrets == 1,
                       what="the secrets counter, pushed")

        await receiver.stop()
        await wait_for(lambda: heard[-1] is None, what="the receiver stopped")
        assert viewer.url == ""
        with pytest.raises(ControlError, match="no receiver is running"):
            await viewer.control.set_policy(DEFAULT_POLICY)

        again = make_runtime(settings)
        await again.start()
        try:
            await wait_for(lambda: heard[-1] is not None, what="the new receiver")
            assert viewer.url == again.url
        finally:
            await again.stop()
    finally:
        await viewer.stop()
        receiver.close()
