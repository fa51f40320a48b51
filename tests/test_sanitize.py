"""Untrusted text: control characters, escapes and bidi overrides become visible."""

from __future__ import annotations

from inspector.core.sanitize import clip, has_unsafe, pieces, visible, visible_line


def test_escape_sequences_become_visible() -> None:
    hostile = "a\x1b[31mred\x1b]0;title\x07b\x9b2J\u202egnp.exe"
    shown = visible(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "\u202e" not in shown
    assert shown == "a\\x1b[31mred\\x1b]0;title\\x07b\\x9b2J\\u202egnp.exe"


def test_tab_and_newline_kept_in_blocks_but_not_in_lines() -> None:
    assert visible("a\tb\nc\r") == "a\tb\nc\\r"
    assert visible_line("a\tb\nc") == "a\\tb\\nc"


def test_markup_is_untouched_text() -> None:
    # Markup is not our business here: Text() never parses it. It must survive unchanged.
    assert visible("[bold]x[/x] [@click=app.quit]") == "[bold]x[/x] [@click=app.quit]"


def test_pieces_mark_escapes() -> None:
    assert pieces("a\x00b") == [("a", False), ("\\x00", True), ("b", False)]
    assert has_unsafe("\x1b") and not has_unsafe("plain\ttext\n")


def test_clip() -> None:
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"
