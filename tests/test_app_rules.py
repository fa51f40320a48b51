"""The TUI's answer rules and breakpoints, driven with Pilot against real HTTP: the Rules
screen (add, edit with errors as you type, turn off, reorder, delete, save), the list and
the Overview showing each event's rule and answer, the `b` breakpoint with the held
requests' counter and view, and the targets changed from the palette."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Label, TextArea

from inspector.core.config import load_file
from inspector.core.rules.rule import Rule, rule_from_text
from inspector.faces.tui.screens.held import AnswerEditor, HeldScreen
from inspector.faces.tui.screens.prompt import URLPrompt
from inspector.faces.tui.screens.rules import RuleEditor, RulesScreen
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import Recorder, running_app, wait_for
from tests.test_injection import terminal_output


def screen(app: Any) -> str:
    return terminal_output(app)[1]


def header(app: Any) -> str:
    return str(app.query_one(StatusBar).render())


def problem(app: Any) -> str:
    return str(app.screen.query_one("#problem", Label).render())


async def opened(app: Any, kind: type[Screen[Any]], selector: str) -> None:
    """Wait until `kind` is the screen and has composed `selector`."""
    await wait_for(lambda: isinstance(app.screen, kind) and app.screen.query(selector),
                   what=f"{kind.__name__} open")


async def edit_to(pilot: Any, text: str) -> None:
    """Replace the editor's text, as a paste would."""
    area = pilot.app.screen.query_one("#source", TextArea)
    area.load_text(text)
    await pilot.pause()


async def test_rules_are_added_checked_edited_and_used_live(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        await pilot.press("a")
        await opened(app, RulesScreen, "#table-detail")
        assert "No rules" in str(app.screen.query_one("#table-detail").render())
        await pilot.press("a")
        await opened(app, RuleEditor, "#problem")
        await wait_for(lambda: problem(app), what="the check")
        assert problem(app).startswith("✓ /webhooks/* → 503, 503, 200")  # the template
        await edit_to(pilot, 'name = "teapot"\npath = "/tea/*"\nrespond = [418, 700]\n')
        assert problem(app) == ("✗ line 3: rule 1 (teapot): respond answer 2: status 700 is "
                                "not a final HTTP status (200 to 599)")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, RuleEditor)  # a bad rule is not applied
        await edit_to(pilot, 'name = "teapot"\npath = "/tea/*"\nrespond = 418\n')
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), what="applied")
        assert [r.name for r in app.session.rules.rules] == ["teapot"]
        assert (await client.post(base + "/tea/1", content=b"{}")).status_code == 418
        assert (await client.post(base + "/coffee", content=b"{}")).status_code == 200

        # A second rule, then reorder, turn off and delete with the keys.
        await pilot.press("a")
        await opened(app, RuleEditor, "#source")
        await edit_to(pilot, 'name = "all"\nrespond = 500\n')
        await pilot.press("ctrl+s")
        await wait_for(lambda: len(app.session.rules.rules) == 2, what="two rules")
        await pilot.press("K")
        assert [r.name for r in app.session.rules.rules] == ["all", "teapot"]
        assert (await client.post(base + "/tea/2", content=b"{}")).status_code == 500
        await pilot.press("space")
        assert not app.session.rules.rules[0].enabled
        assert (await client.post(base + "/tea/3", content=b"{}")).status_code == 418
        table = app.screen.query_one(DataTable)
        assert table.get_row_at(0)[1].plain == "off"
        await wait_for(lambda: table.get_row_at(1)[5].plain == "2", what="the hits counted")
        await pilot.press("d")
        await pilot.click("#ok")
        await wait_for(lambda: [r.name for r in app.session.rules.rules] == ["teapot"],
                       what="deleted")
        # Editing a rule's name to one that is taken is refused in the editor.
        await pilot.press("a")
        await opened(app, RuleEditor, "#source")
        await edit_to(pilot, 'name = "teapot"\n')
        assert "rule 2 (teapot): has no action" in problem(app)  # nothing to do: refused
        await edit_to(pilot, 'name = "teapot"\nrespond = 503\n')
        assert "name: 'teapot' is taken by rule 1" in problem(app)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), what="the editor closed")
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, RulesScreen),
                       what=f"back, not {app.screen!r} focus {app.focused!r}")
        events = app.query_one(EventList)
        assert events.show_answers
        await wait_for(lambda: len(events.seqs) == 4, what="rows")
        await pilot.press("k", "k", "k")  # /tea/1
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None and pane.detail.event.path == "/tea/1",
                       what="the detail")
        await wait_for(lambda: re.search(r"Answered +418 I'm a Teapot", screen(app)),
                       what="the answer in the Overview")
        assert re.search(r"Answer rule +teapot", screen(app))
        assert re.search(r"/tea/1 .* 418 teapot", screen(app))  # the list's answer column


async def test_save_writes_the_rules_to_the_config_file(tmp_path: Path,
                                                        monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inspector.toml").write_text('# mine\n[[route]]\npath = "/x"\n')
    async with running_app(tmp_path) as (app, pilot, _):
        app.session.put_rule(_rule('name = "kept"\nrespond = 202\n'))
        await pilot.press("a")
        await opened(app, RulesScreen, DataTable.__name__)
        # Nothing is on file until `w`: the title must not say the rules are saved.
        title = str(app.screen.query_one("#table-title").render())
        assert "w saves them to ./inspector.toml" in title and "saved to" not in title
        await pilot.press("w")
        await wait_for(lambda: "[[rule]]" in (tmp_path / "inspector.toml").read_text(),
                       what="saved")
    routes, rules = load_file(tmp_path / "inspector.toml")
    assert [r.path for r in routes] == ["/x"] and [r.name for r in rules] == ["kept"]


async def test_quitting_with_unsaved_rules_asks_first(tmp_path: Path, monkeypatch: Any) -> None:
    """Rules added in the TUI and never written were lost without a word at `q`."""
    from inspector.faces.tui.screens.prompt import Confirm

    monkeypatch.chdir(tmp_path)
    async with running_app(tmp_path) as (app, pilot, base):
        app.session.put_rule(_rule('name = "mine"\nrespond = 202\n'))
        await pilot.press("q")
        await opened(app, Confirm, "#ok")
        assert "lose the answer rules" in str(app.screen.query_one(Label).render())
        await pilot.press("escape")  # Cancel: still running, still answering
        await wait_for(lambda: not isinstance(app.screen, Confirm), what="the dialog closed")
        async with httpx.AsyncClient() as client:
            assert (await client.post(base + "/x", content=b"{}")).status_code == 202
        await pilot.press("a")
        await opened(app, RulesScreen, DataTable.__name__)
        await pilot.press("w")
        await wait_for(lambda: (tmp_path / "inspector.toml").exists(), what="saved")
        await pilot.press("escape", "q")  # saved: it quits at once
        await wait_for(lambda: app._stopping, what="quitting")
        assert not isinstance(app.screen, Confirm)


def _rule(text: str) -> Rule:
    return rule_from_text(text, number=1)


async def test_the_breakpoint_key_holds_requests_until_answered_in_the_held_view(
        tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        await pilot.press("b")
        assert "holding requests (b)" in header(app)
        first = asyncio.create_task(client.post(base + "/one", content=b'{"n": 1}'))
        second = asyncio.create_task(client.post(base + "/two", content=b'{"n": 2}'))
        await wait_for(lambda: "‖ 2 held (h)" in header(app), what="the counter")
        # The UI is not blocked while they wait: keys still work, events are listed.
        events = app.query_one(EventList)
        await wait_for(lambda: len(events.seqs) == 2, what="both listed")
        await wait_for(lambda: screen(app).count("‖ held") == 2, what="both shown as held")
        await pilot.press("h")
        await opened(app, HeldScreen, DataTable.__name__)
        table = app.screen.query_one(DataTable)
        await wait_for(lambda: table.row_count == 2, what="two rows")
        assert table.get_row_at(0)[5].plain == "/one"
        await pilot.press("a")
        await opened(app, AnswerEditor, "#body")
        app.screen.query_one("#status", Input).value = "201"
        app.screen.query_one("#body", TextArea).load_text('{"answered": "by hand"}')
        await pilot.press("ctrl+s")
        response = await first
        assert response.status_code == 201 and response.json() == {"answered": "by hand"}
        await wait_for(lambda: isinstance(app.screen, HeldScreen) and
                       app.screen.query_one(DataTable).row_count == 1, what="one left")
        await pilot.press("enter")  # release: the answer it would have had
        assert (await second).status_code == 200
        await wait_for(lambda: "held" not in header(app).split("webhook-inspector")[1]
                       .split("holding")[0], what="the counter gone")
        await pilot.press("escape", "b")
        assert "holding" not in header(app)
        assert (await client.post(base + "/three", content=b"{}")).status_code == 200


async def set_target(pilot: Any, what: str, url: str) -> None:
    """Set Replay or forward target… from the palette's action, as typed in its prompt."""
    app = pilot.app
    app.action_run(f"{what}-target")
    await opened(app, URLPrompt, "Input")
    # It sets a target and sends nothing: the button says so.
    assert str(app.screen.query_one("#ok", Button).label) == "Set"
    app.screen.query_one(Input).value = url
    await pilot.press("enter")
    await wait_for(lambda: f"{what} → {url}" in header(app), what=f"the {what} target shown")


async def test_targets_change_from_the_palette_and_show_in_the_header(
        tmp_path: Path, recorder: Recorder) -> None:
    async with running_app(tmp_path) as (_, pilot, base), httpx.AsyncClient() as client:
        await set_target(pilot, "forward", recorder.url + "/app/")
        await client.post(base + "/hook", content=b"{}")
        await wait_for(lambda: recorder.requests, what="forwarded")
        assert recorder.requests[0].path == "/app/hook"
        await set_target(pilot, "replay", recorder.url + "/replays/")
        await pilot.press("r")  # no question: the target is set
        await wait_for(lambda: any(r.path == "/replays/hook" for r in recorder.requests),
                       what="replayed to the new target")


async def test_the_replay_tab_shows_each_forward_retry(tmp_path: Path,
                                                       recorder: Recorder) -> None:
    recorder.statuses = [503]
    async with running_app(tmp_path, forward_to=recorder.url, forward_retries=2,
                           retry_schedule=(0.2,)) as (app, pilot, base), \
            httpx.AsyncClient() as client:
        await client.post(base + "/hook", content=b"{}")
        await wait_for(lambda: len(recorder.requests) == 2, what="the retry")
        await pilot.press("6")
        # The retry reached the recorder before its answer was stored: wait for both rows.
        await wait_for(lambda: "retry 1 of 2 in 0.2 s" in screen(app)
                       and re.search(r"forward .* 200 OK", screen(app)) is not None,
                       what="both attempts in the Replay tab")
        assert re.search(r"forward .* 503 Service Unavailable", screen(app))
