"""Worker failures: one hostile event, or a database gone bad, is an error on the screen and
never an app exit (follow mode would select the same event again after every restart).

Through the real app, real HTTP and real replay/forward targets: charsets whose codecs raise
a plain UnicodeError (undefined, punycode, idna) in a body and in a target's answer, then the
detail, compare and re-verify workers failing on a damaged database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from textual.pilot import Pilot

from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.features import secrets
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from tests.conftest import Recorder, running_app, wait_for
from tests.reliability.conftest import assert_terminal_safe, port_of, request, send_raw
from tests.test_injection import terminal_output

RAISING_CHARSETS = ["undefined", "punycode", "idna", "x-unknown\x7f", "base64", "utf-8\\x00"]


async def screen_text(app: InspectorApp, pilot: Pilot[int], tab: str) -> str:
    """What the terminal shows on a detail tab: checked safe, no traceback."""
    app.detail_pane.show_tab(tab)
    await pilot.pause()
    output, text = terminal_output(app)
    assert_terminal_safe(output)
    assert "Traceback" not in text
    return text


async def still_running(app: InspectorApp) -> None:
    """The app runs and handles a key (f toggles follow mode, twice)."""
    events = app.query_one(EventList)
    before = events.follow
    for expected in (not before, before):
        app.simulate_key("f")
        await wait_for(lambda: events.follow == expected,  # noqa: B023 (called before the loop moves on)
                       what="the f key handled")
    assert app.is_running and app.return_code is None


def toasts(app: InspectorApp) -> str:
    """Every notification shown: titles and messages."""
    return " ".join(f"{n.title}: {n.message}" for n in app._notifications)


@pytest.mark.parametrize("charset", RAISING_CHARSETS)
async def test_a_body_in_a_raising_charset_is_shown_with_a_note(tmp_path: Path,
                                                                 charset: str) -> None:
    # h11: httptools (the default) refuses a DEL in a header value before any charset is read.
    async with running_app(tmp_path, size=(160, 45), http="h11") as (app, pilot, base):
        app.animation_level = "none"
        head = [(b"content-type", f"text/plain; charset={charset}".encode("latin-1"))]
        pane = app.query_one(DetailPane)
        for _ in range(2):  # the second one is selected by follow mode, like a restart would
            answer = await send_raw(port_of(base), request(headers=head,
                                                           body=b"caf\xe9 ok \xff"))
            assert answer.status == 200
            event_id = answer.json()["id"]
            await wait_for(lambda: pane.detail is not None
                           and pane.detail.event.id == event_id,  # noqa: B023 (called before the loop moves on)
                           what="the detail shown")
        assert pane.detail is not None
        body = await screen_text(app, pilot, "body")
        assert "caf\\xe9 ok \\xff" in body
        assert "is not supported; decoded as utf-8" in body
        await still_running(app)


async def test_a_target_answering_in_a_raising_charset(tmp_path: Path) -> None:
    """Forward and replay targets whose answer the Replay tab cannot decode as declared."""
    target = Recorder(body=b"caf\xe9 answered", content_type="text/plain; charset=undefined")
    target.start()
    try:
        async with running_app(tmp_path, forward_to=target.url + "/",
                               replay_to=target.url + "/") as (app, pilot, base):
            app.animation_level = "none"
            answer = await send_raw(port_of(base), request(body=b'{"type": "ping"}'))
            assert answer.status == 200
            event_id = answer.json()["id"]
            pane = app.query_one(DetailPane)
            await wait_for(lambda: pane.detail is not None and pane.detail.event.id == event_id
                           and len(pane.detail.attempts) == 1, what="the forward shown")
            assert "caf\\xe9 answered" in await screen_text(app, pilot, "replay")
            app.action_run("focus-list")
            await pilot.press("r")
            await wait_for(lambda: pane.detail is not None and len(pane.detail.attempts) == 2,
                           what="the replay shown")
            assert len(target.requests) == 2
            assert "caf\\xe9 answered" in await screen_text(app, pilot, "replay")
            await still_running(app)
    finally:
        target.stop()


async def test_workers_failing_on_a_damaged_database_are_errors_not_exits(
        tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base):
        app.animation_level = "none"
        for text in ("first", "second"):
            answer = await send_raw(port_of(base), request(body=text.encode()))
            assert answer.status == 200
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None and pane.detail.event.seq == 2,
                       what="the newest event shown")
        # Another program damages the database while the app runs.
        other = sqlite3.connect(tmp_path / "events.db")
        other.execute("DROP TABLE bodies")
        other.close()

        app.action_run("focus-list")
        await pilot.press("up")  # the detail worker fails to read the older event
        await wait_for(lambda: "Could not show this event" in toasts(app),
                       what="the detail failure shown")
        assert pane.detail is None
        overview = await screen_text(app, pilot, "overview")
        assert "Could not show this event" in overview and "bodies" in overview

        await pilot.press("space", "space")  # mark both, then compare them
        await pilot.press("equals_sign")
        await wait_for(lambda: "Could not compare the events" in toasts(app),
                       what="the compare failure shown")

        secrets.reverify(app)
        await wait_for(lambda: "Re-verifying failed" in toasts(app),
                       what="the re-verify failure shown")
        assert "Traceback" not in toasts(app)
        await still_running(app)
