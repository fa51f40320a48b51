"""Two terminals on one capture (issue 14): a receiver process and viewers, all real.

`inspector serve` runs as a process; one viewer is the real TUI driven by Pilot, another is
`inspector view` as a process on a pseudo-terminal. Events, replay results, answers and
deletes made in one show in the others; the receiver stopping and starting again too.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from inspector.core.capture.answers import ResponsePolicy
from inspector.core.session import Session
from inspector.core.signatures import Secrets
from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.features import answers, delete
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import Recorder, connectly_event, make_settings, running_app, wait_for
from tests.reliability.conftest import Pty, child_env, inspector_argv, serve


async def post(base: str, name: str = "text") -> httpx.Response:
    case = connectly_event(name)
    async with httpx.AsyncClient() as client:
        return await client.post(base + case["path"], content=case["body"].encode(),
                                 headers=case["headers"])


def last_count(term: Pty) -> int:
    """The event count the viewer's header showed last."""
    counts = re.findall(r"(\d+) events?\b", term.text())
    return int(counts[-1]) if counts else -1


async def test_serve_and_two_viewers_follow_each_other(
        tmp_path: Path, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delete, "UNDO_SECONDS", 60.0)
    db = tmp_path / "e.db"
    with serve(tmp_path, db) as served:
        settings = make_settings(tmp_path, db=str(db), replay_to=recorder.url + "/",
                                 secrets=Secrets())
        app = InspectorApp(Session(settings, None, view=True))
        term = Pty(inspector_argv("view", "--db", str(db)))
        try:
            async with app.run_test(size=(160, 45)) as pilot:
                status = app.query_one(StatusBar)
                events = app.query_one(EventList)
                whose = f"viewer of {served.base}/ (pid {served.proc.pid})"
                await wait_for(lambda: whose in str(status.render()), what="the header")
                await wait_for(lambda: whose in term.text(), what="the other viewer's header")

                # An event received by serve shows in both viewers.
                assert (await post(served.base)).status_code == 200
                await wait_for(lambda: len(events.seqs) == 1, what="the event in the viewer")
                await wait_for(lambda: '"TEST 11"' in term.text(), what="it in the other")

                # A replay from one viewer: its result shows in the other.
                await pilot.press("r")
                await wait_for(lambda: recorder.requests, what="the replay")
                await wait_for(lambda: re.search(r"200 \d+ms", term.text()),
                               what="the replay result in the other viewer")

                # The answer belongs to the receiver: a viewer changes it there.
                answers.set_policy(app, ResponsePolicy(status=202))
                await wait_for(lambda: "answer: 202" in str(status.render()),
                               what="the new answer in the header")
                assert (await post(served.base)).status_code == 202
                await wait_for(lambda: "answer: 202" in term.text(), what="it in the other")
                await wait_for(lambda: len(events.seqs) == 2, what="the second event")
                await wait_for(lambda: last_count(term) == 2, what="two events there")

                # A delete in one viewer leaves the other at once (not when its undo window
                # ends: a minute here); an undo brings it back there too, in its place.
                await pilot.press("d")
                await wait_for(lambda: last_count(term) == 1, what="the delete there")
                await pilot.press("u")
                await wait_for(lambda: last_count(term) == 2, what="the undo there")
                await wait_for(lambda: len(events.seqs) == 2, what="the undo here")
                await pilot.press("d")
                await wait_for(lambda: last_count(term) == 1, what="deleted again")

                # The receiver stops: both say so, and keep what is stored.
                served.proc.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(served.proc.wait, 20) == 0
                await wait_for(lambda: "no receiver runs" in str(status.render()),
                               what="the header saying the receiver stopped")
                await wait_for(lambda: "no receiver runs" in term.text(), what="the other")
                assert len(events.seqs) == 1

                # One starts again on the database: both pick it up.
                with serve(tmp_path, db, name="again") as again:
                    whose = f"viewer of {again.base}/ (pid {again.proc.pid})"
                    await wait_for(lambda: whose in str(status.render()), what="the new one")
                    await wait_for(lambda: whose in term.text(), what="it in the other")
                    assert (await post(again.base, "delivery_status")).status_code == 200
                    await wait_for(lambda: len(events.seqs) == 2, what="its event")
                    await wait_for(lambda: last_count(term) == 2, what="its event there")
                await app.action_quit()
        finally:
            term.close()


async def test_a_replay_in_a_viewer_shows_in_the_receivers_tui(
        tmp_path: Path, recorder: Recorder) -> None:
    async with running_app(tmp_path) as (app, _pilot, base):
        events = app.query_one(EventList)
        term = Pty(inspector_argv("view", "--db", app.session.settings.db, "--replay-to",
                                  recorder.url + "/"))
        try:
            await wait_for(lambda: f"viewer of {base}/" in term.text(), what="the viewer")
            assert (await post(base)).status_code == 200
            await wait_for(lambda: '"TEST 11"' in term.text(), what="the event there")
            term.press("r")
            await wait_for(lambda: recorder.requests, what="the viewer's replay")
            await wait_for(lambda: (r := events.row(events.seqs[0])) is not None
                           and r.result == 200, what="its result in the receiver's list")
            assert "(pid" not in str(app.query_one(StatusBar).render())  # the receiver's own
        finally:
            term.close()


def test_a_second_receiver_is_refused_and_a_second_tui_becomes_a_viewer(
        tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    with serve(tmp_path, db) as served:
        again = subprocess.run(inspector_argv("serve", "--port", "0", "--db", str(db)),
                               capture_output=True, text=True, timeout=60, env=child_env())
        assert again.returncode == 1
        assert again.stderr.splitlines() == [
            f"error: another inspector is receiving into {db} (pid {served.proc.pid}, "
            f"receiving on {served.base}/): `inspector view --db {db}` shows it live; give "
            "this one another --db to receive separately"]
        term = Pty(inspector_argv("--db", str(db), "--port", "0", "--tunnel", "ngrok"))
        try:
            term.wait_for(r"this one opens as its viewer \(ignored: --port, --tunnel\)")
            term.wait_for(rf"viewer of {re.escape(served.base)}/ \(pid {served.proc.pid}\)")
        finally:
            term.close()


@pytest.mark.parametrize(("db", "code", "said"), [
    ("missing.db", 1, "does not exist yet: start the receiver first"),
    (":memory:", 2, "there is nothing to view"),
])
def test_view_says_what_is_missing(tmp_path: Path, db: str, code: int, said: str) -> None:
    path = db if db == ":memory:" else str(tmp_path / db)
    done = subprocess.run(inspector_argv("view", "--db", path), capture_output=True,
                          text=True, timeout=60, env=child_env())
    assert done.returncode == code and said in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_viewer_points_to_the_receiver_for_rules_and_breakpoints(tmp_path: Path) -> None:
    """Rules, breakpoints, held requests and forwards live in the receiver: a viewer editing
    its own copy would answer nothing, so it says where to go instead."""
    settings = make_settings(tmp_path, db=str(tmp_path / "e.db"), secrets=Secrets())
    app = InspectorApp(Session(settings, None, view=True))
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        screen = app.screen
        for key in ("a", "h", "b"):
            await pilot.press(key)
            assert app.screen is screen, key
        assert not app.session.rules.hold_all
        said = [n.message for n in app._notifications]
        assert len(said) == 3 and all("belong to the receiver" in m for m in said), said
