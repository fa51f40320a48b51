"""The replay editor, driven by Pilot in a tiny app; its result sent to a real server."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.app import App
from textual.errors import NoWidget
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, TextArea

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.delivery import replay
from inspector.core.delivery.resign import Signer, signer_for
from inspector.core.model import Event, new_id
from inspector.core.signatures import Secrets
from inspector.faces.tui.screens.replay_editor import (
    ReplayEditor,
    escape_body,
    parse_headers,
    unescape_body,
)
from tests.conftest import SECRET, Recorder, connectly_event

SIZE = (120, 40)


class Host(App[None]):
    """Opens the editor on mount and keeps what it dismissed with."""

    def __init__(self, event: Event, signer: Signer | None = None,
                 target: str = "http://localhost:3000/") -> None:
        super().__init__()
        self.event = event
        self.signer = signer
        self.target = target
        self.result: Any = "not dismissed"

    def on_mount(self) -> None:
        def done(result: Any) -> None:
            self.result = result

        self.push_screen(ReplayEditor(self.event, self.target, self.signer), done)


def connectly(name: str = "text", body: bytes | None = None, summary: str = "") -> Event:
    case = connectly_event(name)
    headers = [("host", "inspector.example"), ("content-length", "9"), *case["headers"].items()]
    event = Event(new_id(), 0.0, "POST", case["path"], "", headers,
                  case["body"].encode() if body is None else body, seq=7)
    Analyzer(Secrets(default=SECRET)).analyze(event)  # as the receiver stores it
    event.summary = summary
    return event


def editor(app: App[None]) -> ReplayEditor:
    screen = app.screen
    assert isinstance(screen, ReplayEditor)
    return screen


async def test_edit_body_resign_and_send(recorder: Recorder) -> None:
    event = connectly()
    signer = signer_for(Analyzer(Secrets(default=SECRET)), event)
    app = Host(event, signer, target=recorder.url + "/")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = editor(app)
        assert screen.query_one("#url", Input).value == recorder.url + "/webhooks/connectly"
        body = screen.query_one("#body", TextArea)
        assert body.has_focus and body.language == "json"
        await pilot.press("space")  # the cursor starts at the top: valid JSON, other bytes
        await pilot.click("#resign")
        assert screen.query_one("#resign", Checkbox).value
        await pilot.click("#send")
        await pilot.pause()
    edit = app.result
    assert isinstance(edit, replay.Edit)
    assert edit.body == b" " + event.body and edit.resign and edit.edited
    assert edit.method == "POST" and edit.url == recorder.url + "/webhooks/connectly"
    assert [k for k, _ in edit.headers] == ["content-type", "user-agent", "accept-encoding",
                                            "x-connectly-hmac-sha256"]
    async with replay.new_client() as client:
        attempt = await replay.send_edit(client, event, edit, signer)
    assert attempt.status == 200 and attempt.resigned and attempt.edited
    got = recorder.requests[-1]
    digest = base64.b64encode(hmac.new(SECRET.encode(), got.body, hashlib.sha256).digest())
    assert got.body == b" " + event.body
    assert got.header("x-connectly-hmac-sha256") == digest.decode()


def on_screen(app: App[None], widget: Widget) -> bool:
    """Whether `widget` is where a person sees it (and a click lands on it)."""
    x, y = widget.region.center
    try:
        return app.screen.get_widget_at(int(x), int(y))[0] is widget
    except NoWidget:
        return False


async def test_at_80_by_24_resign_and_send_come_into_view() -> None:
    event = connectly()
    app = Host(event, signer_for(Analyzer(Secrets(default=SECRET)), event))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = editor(app)
        resign, send = screen.query_one("#resign", Checkbox), screen.query_one("#send")
        await pilot.press("tab")  # from the body
        await pilot.pause()
        assert resign.has_focus and on_screen(app, resign)
        await pilot.press("space", "tab", "tab")
        await pilot.pause()
        assert send.has_focus and on_screen(app, send)
        await pilot.click("#send")
        await pilot.pause()
    assert isinstance(app.result, replay.Edit) and app.result.resign


async def test_untouched_body_is_the_original_bytes_even_when_not_utf8() -> None:
    raw = b'{"a": "\xff\xfe"}\x00\x80'
    event = Event(new_id(), 0.0, "PUT", "/bin", "x=1", [("X-Raw", "caf\xe9"), ("Host", "h")],
                  raw, seq=2)
    app = Host(event)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = editor(app)
        assert "not valid UTF-8" in str(screen.query_one("#body-caption", Label).render())
        await pilot.click("#send")
        await pilot.pause()
    edit = app.result
    assert edit.body == raw  # byte-exact
    assert edit.headers == [("X-Raw", "caf\xe9")]  # the original pair, latin-1 byte and all
    assert edit.method == "PUT" and edit.url == "http://localhost:3000/bin?x=1"
    assert not edit.edited and not edit.resign


async def test_an_edited_non_utf8_body_is_sent_as_utf8_text() -> None:
    event = Event(new_id(), 0.0, "POST", "/bin", "", [], b"ab\xff", seq=2)
    app = Host(event)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("end", "!")
        await pilot.click("#send")
        await pilot.pause()
    assert app.result.body == "ab\ufffd!".encode() and app.result.edited


async def test_control_characters_are_escaped_and_come_back_when_edited() -> None:
    raw = b'{"t": "\x1b[31mred\\\\n"}'
    event = Event(new_id(), 0.0, "POST", "/x", "", [], raw, seq=2)
    app = Host(event)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        body = editor(app).query_one("#body", TextArea)
        assert "\x1b" not in body.text and "\\x1b[31m" in body.text
        await pilot.press("end", "space")
        await pilot.click("#send")
        await pilot.pause()
    assert app.result.body == raw + b" "


@given(st.text())
def test_escaped_bodies_round_trip(text: str) -> None:
    shown = escape_body(text)
    assert unescape_body(shown) == text
    assert "\x1b" not in shown and "\x9b" not in shown


async def test_header_edits_are_parsed_and_checked() -> None:
    app = Host(connectly())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = editor(app)
        headers = screen.query_one("#headers", TextArea)
        headers.text = headers.text + "\nno colon here"
        await pilot.click("#send")
        await pilot.pause()
        error = screen.query_one("#error", Label)
        assert "headers, line 5: 'no colon here' is not 'Name: value'" in str(error.render())
        assert app.result == "not dismissed"
        headers.text = "X-Note: café\nuser-agent: go-resty/2.6.0 (https://github.com/go-resty/resty)"
        await pilot.press("ctrl+s")  # the button ignores clicks while it shows a press
        await pilot.pause()
    assert app.result.headers == [
        ("X-Note", "café".encode().decode("latin-1")),
        ("user-agent", "go-resty/2.6.0 (https://github.com/go-resty/resty)"),
    ]
    assert app.result.edited


def test_parse_headers_keeps_untouched_lines_exact() -> None:
    original = [("X-Bin", "\xe9\x01")]
    shown = "X-Bin: \xe9\\x01"  # not UTF-8, so shown as latin-1 text; the control escaped
    assert parse_headers(shown + "\n\nA: 1", original) == [("X-Bin", "\xe9\x01"), ("A", "1")]
    with pytest.raises(ValueError, match="line 1: 'Bad Name: 1' is not"):
        parse_headers("Bad Name: 1", original)


async def test_a_bad_url_or_method_is_an_inline_error() -> None:
    app = Host(connectly())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = editor(app)
        screen.query_one("#url", Input).value = "localhost:3000"
        await pilot.click("#send")
        await pilot.pause()
        assert "URL: 'localhost:3000' is not an http(s) URL" in str(
            screen.query_one("#error", Label).render())
        screen.query_one("#url", Input).value = "http://localhost:3000/x"
        screen.query_one("#method", Input).value = "PO ST"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "method 'PO ST' is not an HTTP method" in str(
            screen.query_one("#error", Label).render())
        screen.query_one("#method", Input).value = "patch"
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.result.method == "PATCH" and app.result.edited
    assert app.result.url == "http://localhost:3000/x"


async def test_resign_is_off_with_the_reason_when_there_is_no_secret() -> None:
    event = connectly()
    app = Host(event, signer_for(Analyzer(Secrets()), event))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = editor(app)
        assert screen.query_one("#resign", Checkbox).disabled
        why = str(screen.query_one("#resign-why", Label).render())
        assert why == ("cannot re-sign: no secret for Connectly: pass --secret or set "
                       "CONNECTLY_WEBHOOK_SECRET")


async def test_escape_cancels() -> None:
    app = Host(connectly())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


async def test_event_text_is_shown_inert() -> None:
    app = Host(connectly(summary="[bold red]boom[/] \x1b]52;c;x\x07"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        title = str(editor(app).query(Label).first().render())
    assert "[bold red]boom[/]" in title  # markup shown as text, not applied
    assert "\x1b" not in title and "\\x1b]52;c;x\\x07" in title
