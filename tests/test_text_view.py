"""The virtual text view: a body of any size costs the text and a bounded number of lines.

A displayed 10 MiB body of newlines used to add about 500 MB (ten million strings, twice:
Body and Raw), and repeated ones took the app to 2.2 GB.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.core.sanitize import visible
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.text_view import BLOCK, WRAP_AT, Lines, TextView
from tests.conftest import running_app, wait_for
from tests.test_injection import terminal_output


def reference(text: str) -> list[str]:
    """Every display line, the plain way: split, then cut long lines into pieces."""
    out = []
    for line in visible(text).split("\n"):
        out += [line[i : i + WRAP_AT] for i in range(0, len(line), WRAP_AT)] or [""]
    return out


# Texts around the block size: runs of short lines, long lines, newlines, controls.
runs = st.lists(st.tuples(st.sampled_from(["", "a", "é\x1b", "x" * 70, "y" * (WRAP_AT - 1),
                                           "z" * WRAP_AT, "w" * (3 * WRAP_AT + 5)]),
                          st.integers(1, 40), st.sampled_from(["\n", "", "\r\n"])),
                max_size=6).map(lambda rs: [(line, count * max(1, 2000 // max(len(line), 1)),
                                             end) for line, count, end in rs])


@settings(max_examples=40, deadline=None)
@given(runs=runs, tail=st.sampled_from(["", "\n", "end"]))
def test_lines_are_the_text_split_and_cut(runs: list[tuple[str, int, str]], tail: str) -> None:
    text = "".join((line + end) * count for line, count, end in runs) + tail
    lines = Lines(text)
    expected = reference(text)
    assert len(lines) == len(expected)
    assert list(lines) == expected
    assert lines.width == max(map(len, expected))
    assert lines.prepared <= 2 * (BLOCK + 2 * WRAP_AT)


def test_a_line_longer_than_a_block_is_cut_in_pieces_across_blocks() -> None:
    text = "a" * (5 * BLOCK + 7) + "\n" + "b" * (3 * BLOCK)
    assert list(Lines(text)) == reference(text)


async def test_a_10_mib_body_of_newlines_costs_a_bounded_number_of_lines(
        tmp_path: Path) -> None:
    size = 10 * 1024 * 1024
    body = b"\n" * (size - 3) + b"END"
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        app.animation_level = "none"
        answer = await client.post(base + "/big", content=body,
                                   headers={"content-type": "text/plain"}, timeout=60)
        assert answer.status_code == 200
        pane = app.query_one(DetailPane)
        await wait_for(lambda: pane.detail is not None, timeout=60, what="the detail")
        for tab, name, lines in (("body", "#body", size - 2), ("raw", "#raw", None)):
            app.detail_pane.show_tab(tab)
            await pilot.pause()
            view = app.query_one(name, TextView)
            if lines is not None:
                assert len(view.lines) == lines
            view.focus()
            await pilot.press("end")  # to the last line, through the keys
            await pilot.pause()
            assert "END" in terminal_output(app)[1]
            await pilot.press("pageup", "up", "home")
            await pilot.pause()
            # Ten million lines exist; only the blocks looked at are cut.
            assert view.lines.prepared <= 2 * (BLOCK + 1)
            assert len(view._strips) <= 512
