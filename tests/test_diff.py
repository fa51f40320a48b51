"""Comparing two events: the diff itself, and the side-by-side screen driven by Pilot."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from inspector.diff import CHANGED, EQUAL, LEFT_ONLY, RIGHT_ONLY, Span, compare
from inspector.model import Event, new_id
from inspector.screens.diff import NEW_SPAN, OLD_SPAN, DiffScreen
from tests.conftest import connectly_event, wait_for


def fixture(name: str, **changes: Any) -> Event:
    case = connectly_event(name)
    event = Event(id=new_id(), received_at=1_795_867_200.0, method="POST", path=case["path"],
                  query="", headers=list(case["headers"].items()), body=case["body"].encode())
    for key, value in changes.items():
        setattr(event, key, value)
    return event


def test_tampered_body_is_the_one_changed_line() -> None:
    result = compare(fixture("text"), fixture("text-tampered"))
    assert result.headers.changes == 0  # same signature header: the body was changed
    changed = [p for p in result.body.pairs if p.tag != EQUAL]
    assert len(changed) == 1
    pair = changed[0]
    assert pair.tag == CHANGED
    assert pair.left == '    "text": "TEST 11"' and pair.right == '    "text": "TEST 12"'
    assert pair.left_spans == (Span(19, 20),) and pair.right_spans == (Span(19, 20),)
    assert result.body.pairs[0] == type(pair)(EQUAL, "{", "{")  # pretty-printed JSON
    assert not result.same


def test_headers_changed_added_and_removed() -> None:
    left = fixture("text", headers=[("content-type", "application/json"), ("x-a", "1"),
                                    ("x-sig", "abc")])
    right = fixture("text", headers=[("content-type", "application/json"), ("x-sig", "abd"),
                                     ("x-new", "\x1b[31mred")])
    pairs = compare(left, right).headers.pairs
    assert [p.tag for p in pairs] == [EQUAL, LEFT_ONLY, CHANGED, RIGHT_ONLY]
    assert (pairs[2].left, pairs[2].right) == ("x-sig: abc", "x-sig: abd")
    assert pairs[1].right is None and pairs[3].left is None
    assert any(p.right == "x-new: \\x1b[31mred" for p in pairs)  # escapes made visible
    assert compare(left, left).same


def test_binary_bodies_compare_as_hex() -> None:
    left = fixture("text", headers=[], body=b"\x00\x01\x02" * 20)
    right = fixture("text", headers=[], body=b"\x00\x01\x02" * 10 + b"\xff" + b"\x01\x02"
                    + b"\x00\x01\x02" * 9)
    body = compare(left, right).body
    assert body.pairs[0].left is not None and body.pairs[0].left.startswith("00000000  00 01 02")
    assert body.changes >= 1


class DiffApp(App[None]):
    def __init__(self, left: Event, right: Event) -> None:
        super().__init__()
        self.comparison = compare(left, right)

    def compose(self) -> ComposeResult:
        yield Static("below")

    def on_mount(self) -> None:
        self.push_screen(DiffScreen(self.comparison))


def column_cells(table: Table, index: int) -> list[Any]:
    return list(table.columns[index]._cells)


def highlighted(text: Text, style: Any) -> str:
    return "".join(text.plain[s.start:s.end] for s in text.spans if s.style == style)


async def test_screen_highlights_test_11_against_test_12() -> None:
    app = DiffApp(fixture("text"), fixture("text-tampered"))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await wait_for(lambda: isinstance(app.screen, DiffScreen) and app.screen,
                                what="diff screen")
        body = screen.query_one("#body-diff", Static)
        table = body.content
        assert isinstance(table, Table)
        left, right = column_cells(table, 0), column_cells(table, 2)
        row = next(i for i, cell in enumerate(left) if "TEST 11" in cell.plain)
        assert right[row].plain == '    "text": "TEST 12"'
        assert highlighted(left[row], OLD_SPAN) == "1" and highlighted(right[row], NEW_SPAN) == "2"
        assert column_cells(table, 1)[row].plain == "≠"
        others = [i for i, cell in enumerate(column_cells(table, 1)) if cell.plain == "≠"]
        assert others == [row]  # the only highlighted line
        headings = " ".join(str(s.render()) for s in screen.query(".heading"))
        assert "1 of" in headings and "lines differ" in headings and "identical" in headings

        await pilot.press("c")  # changes only: equal lines far from the change collapse
        table = body.content
        cells = [c.plain for c in column_cells(table, 0)]
        assert "⋯" in cells and len(cells) < len(left)
        assert any("TEST 11" in c for c in cells)
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, DiffScreen), what="closed")
