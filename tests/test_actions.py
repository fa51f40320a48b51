"""The actions table (inspector.faces.tui.actions) is the one source of the keys, the help
screen and the command palette: every action is reachable and every action is explained."""

from __future__ import annotations

from pathlib import Path

import httpx
from rich.table import Table
from textual.command import CommandList, CommandPalette
from textual.widgets import Static

from inspector.faces.tui import actions
from inspector.faces.tui.screens.help import HelpScreen
from inspector.faces.tui.widgets.event_list import EventList
from tests.conftest import CONNECTLY, running_app, wait_for


def lines(screen: HelpScreen) -> set[tuple[str, str]]:
    """The two-column lines the help screen shows, as plain text."""
    out: set[tuple[str, str]] = set()
    for static in screen.query(Static):
        table = static.content
        if isinstance(table, Table):
            first, second = ([str(cell) for cell in column.cells] for column in table.columns)
            out.update(zip(first, second, strict=True))
    return out


async def test_every_action_is_bound_or_in_the_palette_and_in_help(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, _base):
        assert app.event_list.has_focus
        active = app.screen.active_bindings  # the list's, the screen's, then the app's
        palette = {c.title: c for c in app.get_system_commands(app.screen)}
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        shown = lines(app.screen)

        for action in actions.ACTIONS:
            assert action.keys or action.palette, f"{action.id} cannot be reached"
            for key in action.keys:
                assert key.name in active, f"{action.id}: {key.name} is not bound"
                binding = active[key.name].binding
                if action.where == "app":
                    assert binding.action == f"run('{action.id}')", action.id
                elif action.where == "list":
                    assert binding.action == action.run, action.id
                    assert hasattr(EventList, f"action_{action.run}"), action.id
            if action.palette:
                assert action.title in palette, f"{action.id} is not in the palette"
            assert action.help_line() in shown, f"{action.id} is not in the help"
        footer = [b.key for b in app.BINDINGS if not isinstance(b, tuple) and b.show]
        assert footer == ["q", "r", "R", "f", "slash", "c", "e", "equals_sign", "d",
                          "question_mark"]


async def test_a_palette_command_and_a_key_run_the_same_action(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for case in CONNECTLY["events"][:3]:
            await client.post(base + case["path"], content=case["body"].encode(),
                              headers=case["headers"])
        events = app.event_list
        await wait_for(lambda: len(events.seqs) == 3, what="rows")
        await pilot.press("g", "space", "space")
        assert len(events.marked) == 2
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"Clear marks")
        matches = app.screen.query_one(CommandList)
        await wait_for(lambda: matches.option_count, what="the command found")
        await pilot.press("enter")
        await wait_for(lambda: not events.marked, what="marks cleared from the palette")
        assert "marked" not in str(app.status_bar.render())

        follow = events.follow
        await pilot.press("f")  # a key: through the table, the same way
        assert events.follow is not follow
        app.action_run("follow")
        assert events.follow is follow
