"""The hostile input matrix: each row through the real receiver and the real UI.

For every row: what the sender gets, that nothing crashed, that every detail tab renders
without a payload character reaching the terminal, that a key press is still handled, and
the note on the event saying what was odd. One app serves the whole module (h11, the parser
a fresh install uses); each row is its own test.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from inspector.core.capture.receiver import DEFAULT_MAX_BODY
from inspector.core.capture.server import MALFORMED
from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.widgets.detail import Detail, DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from tests.conftest import running_app, wait_for
from tests.reliability.conftest import Answer, assert_terminal_safe, port_of, request, send_raw
from tests.test_injection import terminal_output

pytestmark = pytest.mark.asyncio(loop_scope="module")

TABS = ["overview", "headers", "body", "raw", "signature", "replay"]
JSON_TYPE = (b"content-type", b"application/json")
TEXT_TYPE = (b"content-type", b"text/plain; charset=utf-8")
ANSI = "\x1b]0;pwned\x07\x1b[2J\x1b[31m[bold]big[/bold] [@click=app.quit]quit"
BIDI = "\u202egnp.exe \u2066x\u2069"


@dataclass
class UI:
    app: InspectorApp
    pilot: Pilot[Any]
    port: int

    @property
    def events(self) -> EventList:
        return self.app.query_one(EventList)

    @property
    def pane(self) -> DetailPane:
        return self.app.query_one(DetailPane)

    async def deliver(self, data: bytes) -> Answer:
        return await send_raw(self.port, data)

    async def opened(self, event_id: str) -> Detail:
        """Wait until the detail pane shows this event (follow mode selects the newest)."""
        pane = self.pane
        await wait_for(lambda: pane.detail is not None and pane.detail.event.id == event_id,
                       timeout=30, what=f"the detail of {event_id}")
        assert pane.detail is not None
        return pane.detail

    async def look(self) -> dict[str, str]:
        """Every tab as a terminal would receive it: checked safe; the plain text by tab."""
        texts = {}
        for tab in TABS:  # the action the 1-6 keys run (a key press costs 0.1 s in Pilot)
            self.app.detail_pane.show_tab(tab)
            await self.pilot.pause()
            output, text = terminal_output(self.app)
            assert_terminal_safe(output)
            assert "Traceback" not in text
            texts[tab] = text
        self.app.detail_pane.show_tab("overview")
        await self.pilot.pause()
        return texts

    async def responsive(self) -> None:
        """A key press is handled, and the app is still running."""
        events = self.events
        before = events.follow
        for expected in (not before, before):
            self.app.simulate_key("f")  # a real key event through the bindings
            await wait_for(lambda: events.follow == expected,  # noqa: B023 (called before the loop moves on)
                           what="the f key handled")
        assert self.app.is_running and self.app.return_code is None

    async def check(self, answer: Answer, *notes: str) -> tuple[Detail, dict[str, str]]:
        """The standard row check: stored, listed, shown safely, noted, still responsive."""
        event_id = answer.json()["id"]
        detail = await self.opened(event_id)
        texts = await self.look()
        said = [detail.event.refused, *detail.event.notes]
        overview = _unwrapped(texts["overview"])
        if any(note[:50] not in overview for note in notes):
            # A long URL can push the Note rows below the fold: scroll down to them.
            scroller = self.app.query_one("#tab-overview").query_one(VerticalScroll)
            scroller.scroll_end(animate=False)
            await self.pilot.pause()
            output, text = terminal_output(self.app)
            assert_terminal_safe(output)
            overview += _unwrapped(text)
            scroller.scroll_home(animate=False)
        for note in notes:
            assert any(note in n for n in said), (note, said)
            assert note[:50] in overview, note
        assert not any(n.startswith("analysis failed") for n in detail.event.notes)
        await self.responsive()
        return detail, texts

    async def refused_by_parser(self, *requests: bytes, status: int = 400) -> None:
        """The HTTP parser refuses each: a clear answer, nothing recorded, the UI unaffected."""
        count = self.app.store.count()
        for data in requests:
            answer = await self.deliver(data)
            assert answer.status == status
            assert answer.json()["ok"] is False and answer.json()["error"]
        assert self.app.store.count() == count
        await self.look()
        await self.responsive()


def _unwrapped(text: str) -> str:
    """Screen text with the table's folded lines joined back (for notes that wrap)."""
    return " ".join(line.strip() for line in text.splitlines())


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def ui(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UI]:
    folder = tmp_path_factory.mktemp("hostile")
    async with running_app(folder, size=(170, 50), http="h11") as (app, pilot, base):
        app.animation_level = "none"  # tab switches without the 0.3 s underline slide
        yield UI(app, pilot, port_of(base))


# -- bodies ----------------------------------------------------------------------------------------


async def test_non_utf8_body(ui: UI) -> None:
    answer = await ui.deliver(request(headers=[TEXT_TYPE], body=b"caf\xe9 \xff\xfe ok"))
    assert answer.status == 200
    _detail, texts = await ui.check(answer, "body is not valid utf-8")
    assert "caf\\xe9 \\xff\\xfe ok" in texts["body"]


async def test_invalid_json(ui: UI) -> None:
    answer = await ui.deliver(request(headers=[JSON_TYPE], body=b'{"a": 1,, "b": }'))
    assert answer.status == 200
    detail, texts = await ui.check(answer, "invalid JSON: Expecting")
    assert detail.content_kind == "text" and '{"a": 1,, "b": }' in texts["body"]


async def test_empty_body(ui: UI) -> None:
    answer = await ui.deliver(request(headers=[JSON_TYPE]))
    assert answer.status == 200
    _, texts = await ui.check(answer, "empty body on a POST")
    assert "(empty body)" in texts["body"]


async def test_nul_bytes(ui: UI) -> None:
    answer = await ui.deliver(request(headers=[TEXT_TYPE], body=b"a\x00b\x00c\x00"))
    assert answer.status == 200
    detail, texts = await ui.check(answer, "NUL bytes in the body",
                                   "declared text/plain but holds NUL or control bytes")
    assert detail.content_kind == "binary"  # a hex dump, not a wall of escapes
    assert "61 00 62 00 63 00" in texts["body"]
    assert "a\\x00b\\x00c\\x00" in texts["raw"]


async def test_10_mib_body_is_accepted(ui: UI) -> None:
    body = b"a" * DEFAULT_MAX_BODY
    answer = await ui.deliver(request(headers=[TEXT_TYPE], body=body))
    assert answer.status == 200
    detail, _ = await ui.check(answer, "body of 10,485,760 bytes: too large to summarise")
    assert detail.event.body_size == DEFAULT_MAX_BODY and not detail.event.refused
    stored = ui.app.store.event_by_id(answer.json()["id"])
    assert stored is not None and stored.body == body


async def test_one_byte_over_the_limit_is_413_and_listed(ui: UI) -> None:
    answer = await ui.deliver(request(headers=[TEXT_TYPE], body=b"a" * (DEFAULT_MAX_BODY + 1)))
    assert answer.status == 413
    assert "10,485,761 bytes; the limit is 10,485,760" in answer.json()["error"]
    detail, _ = await ui.check(answer, "10,485,761 bytes; the limit is 10,485,760")
    assert detail.event.refused and detail.event.status == 413
    row = ui.events.render_line(ui.events.cursor - int(ui.events.scroll_y) + 1).text
    assert "refused 413" in row
    # Without a content-length (chunked), the limit is found while reading.
    chunk = b"b" * (1024 * 1024)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(11)) + b"0\r\n\r\n"
    head = b"POST /chunked HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    answer = await ui.deliver(head + chunks)
    assert answer.status == 413 and "at least" in answer.json()["error"]
    await ui.check(answer, "the limit is 10,485,760")


async def test_gzip_bomb_stops_at_the_cap_and_keeps_the_raw_bytes(ui: UI) -> None:
    bomb = gzip.compress(b"\0" * (24 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 64 * 1024
    answer = await ui.deliver(request(headers=[(b"content-encoding", b"gzip"), JSON_TYPE],
                                      body=bomb))
    assert answer.status == 200
    detail, texts = await ui.check(
        answer, "gzip: stopped decompressing at 4,194,304 bytes (possible gzip bomb)")
    assert any("stopped decompressing at 16,777,216 bytes" in n for n in detail.body_notes)
    assert "stopped decompressing" in texts["body"]
    stored = ui.app.store.event_by_id(answer.json()["id"])
    assert stored is not None and stored.body == bomb  # the raw bytes are the truth
    assert detail.content_kind == "binary" and len(detail.body_lines) <= 4097


async def test_json_nested_10k_levels(ui: UI) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    answer = await ui.deliver(request(headers=[JSON_TYPE], body=deep))
    assert answer.status == 200
    detail, _ = await ui.check(answer, "JSON nested too deeply to parse (10,000 levels)")
    assert detail.content_kind == "text"
    # 900 levels parses, but cannot be re-indented: shown as text, still no RecursionError.
    middle = b'{"a":' * 900 + b"1" + b"}" * 900
    answer = await ui.deliver(request(headers=[JSON_TYPE], body=middle))
    assert answer.status == 200
    detail, _ = await ui.check(answer)
    assert detail.content_kind == "json"


async def test_5_mb_single_line_json_keeps_the_ui_responsive(ui: UI) -> None:
    body = json.dumps({"type": "big", "items": ["x" * 90] * 55_000}).encode()
    assert len(body) > 5_000_000 and b"\n" not in body
    answer = await ui.deliver(request(headers=[JSON_TYPE], body=body))
    assert answer.status == 200
    event_id = answer.json()["id"]
    pane, tabs = ui.pane, ui.app.query_one(TabbedContent)

    def shown() -> bool:
        return pane.detail is not None and pane.detail.event.id == event_id

    # Keys pressed while the detail loads are handled (polling, not timing): at least one
    # of them is handled before the 5 MB detail is shown.
    handled_before_detail = 0
    key, tab = "2", "tab-headers"
    while not shown():
        ui.app.simulate_key(key)
        await wait_for(lambda: tabs.active == tab, what=f"key {key} handled")  # noqa: B023 (called before the loop moves on)
        handled_before_detail += not shown()
        key, tab = ("3", "tab-body") if key == "2" else ("2", "tab-headers")
    assert handled_before_detail >= 1
    detail, _texts = await ui.check(answer, "body of 5,")
    assert len(detail.body_lines) > 2000  # cut into 2,000-character lines


# -- headers ---------------------------------------------------------------------------------------


async def test_1000_headers(ui: UI) -> None:
    headers = [(b"x-h%d" % i, b"v%d" % i) for i in range(1000)]
    answer = await ui.deliver(request(headers=headers, body=b"{}"))
    assert answer.status == 200
    detail, _texts = await ui.check(answer, "1,002 headers")
    assert len(detail.event.headers) == 1002  # host and content-length too
    assert ui.app.query_one("#headers", DataTable).row_count == 1002


async def test_64_kib_header_value(ui: UI) -> None:
    value = b"v" * 65536
    answer = await ui.deliver(request(headers=[(b"x-big", value)], body=b"{}"))
    assert answer.status == 200
    detail, texts = await ui.check(answer, "header value of 65,536 bytes (x-big)")
    assert detail.event.header("x-big") == value.decode()
    assert "x-big" in texts["headers"] and "v" * 100 in texts["headers"]


async def test_head_over_the_limit_gets_431_and_is_not_recorded(ui: UI) -> None:
    many = [(b"x-%d" % i, b"v" * 100) for i in range(2000)]  # 2,000 headers, ~210 KB
    await ui.refused_by_parser(request(headers=[(b"x-big", b"v" * 200_000)]),
                               request(headers=many), status=431)


# -- paths -----------------------------------------------------------------------------------------


async def test_invalid_percent_encoding(ui: UI) -> None:
    answer = await ui.deliver(request(target=b"/hook/%zz/%E9%/end?q=%g1&ok=1"))
    assert answer.status == 200
    detail, texts = await ui.check(answer, "path is not valid percent-encoding",
                                   "query is not valid percent-encoding")
    assert detail.event.path == "/hook/%zz/%E9%/end" and detail.event.query == "q=%g1&ok=1"
    assert "/hook/%zz/%E9%/end?q=%g1&ok=1" in texts["overview"]


async def test_8_kib_path(ui: UI) -> None:
    path = "/" + "p" * 8191
    answer = await ui.deliver(request(target=path, body=b"{}"))
    assert answer.status == 200
    detail, texts = await ui.check(answer, "path of 8,192 bytes")
    assert detail.event.path == path
    assert "/ppppppppp" in texts["overview"]


# -- markup, ANSI and OSC sequences, bidi overrides ------------------------------------------------


async def test_markup_and_escapes_in_the_path(ui: UI) -> None:
    target = b"/hook/[bold]x[/bold]/[@click=app.quit]q/%1b%5D0;pwned%07/%E2%80%AE"
    answer = await ui.deliver(request(target=target, body=b"{}"))
    assert answer.status == 200
    _, texts = await ui.check(answer, "percent-encoded control characters in the path")
    assert "/hook/[bold]x[/bold]/[@click=app.quit]q/%1b%5D0;pwned%07/%E2%80%AE" in \
        texts["overview"]
    assert ui.app.title == "webhook-inspector"
    # Raw control bytes or bidi (non-ASCII) bytes in the request line: the parser refuses.
    await ui.refused_by_parser(*(request(target=raw) for raw in (
        b"/a\x1b]0;pwned\x07", b"/a\x1b[2J", "/a\u202eb".encode())))
    assert MALFORMED.startswith("malformed HTTP request")


async def test_markup_and_escapes_in_header_names_are_refused(ui: UI) -> None:
    names = (b"[bold]x", b"x-\x1b]0;t\x07", b"x-[@click=app.quit]", "x-\u202e".encode())
    await ui.refused_by_parser(*(request(headers=[(name, b"v")]) for name in names))


async def test_markup_ansi_osc_and_bidi_in_header_values(ui: UI) -> None:
    headers = [(b"x-ansi", ANSI.encode("latin-1")), (b"x-c1", b"\x9b31m"),
               (b"x-bidi", BIDI.encode("utf-8")),
               (b"x-connectly-hmac-sha256", b"[bold]not base64[/bold]")]
    answer = await ui.deliver(request(headers=headers, body=b"{}"))
    assert answer.status == 200
    _, texts = await ui.check(answer, "control characters in the headers",
                              "bidi override characters in the headers")
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m[bold]big[/bold]" in texts["headers"]
    assert "\\x9b31m" in texts["headers"]
    assert "[bold]not base64[/bold]" in texts["signature"]


async def test_markup_ansi_osc_and_bidi_in_the_body(ui: UI) -> None:
    # As raw text, and as JSON escapes that decode to the same characters (a summary).
    answer = await ui.deliver(request(headers=[TEXT_TYPE],
                                      body=f"{ANSI}\n{BIDI}\u200b".encode()))
    assert answer.status == 200
    _, texts = await ui.check(answer, "control characters in the body",
                              "bidi override characters in the body",
                              "invisible format characters in the body")
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m[bold]big[/bold] [@click=app.quit]quit" in \
        texts["body"]
    assert "\\u202egnp.exe \\u2066x\\u2069\\u200b" in texts["body"]
    message = {"sender": {"id": "[red]+1[/red]"},
               "message": {"text": f"{ANSI} {BIDI} \ud800"}}
    body = json.dumps(message).encode()  # \u001b, \u202e, a lone surrogate: all escaped
    answer = await ui.deliver(request(target="/webhooks/connectly",
                                      headers=[(b"x-connectly-hmac-sha256", b"AAAA"),
                                               JSON_TYPE], body=body))
    assert answer.status == 200
    detail, texts = await ui.check(answer, "control characters in the body",
                                   "bidi override characters in the body")
    assert detail.event.kind == "message"
    assert detail.event.summary.endswith("\\ud800\"")  # storable, and shown as an escape
    row = ui.events.render_line(ui.events.cursor - int(ui.events.scroll_y) + 1).text
    assert '[red]+1[/red] → "\\x1b]0;pwned\\x07' in row


async def test_the_app_survived_the_whole_matrix(ui: UI) -> None:
    """Last: the list holds every recorded row, and quitting still works (in teardown)."""
    events = ui.events
    assert len(events.seqs) == ui.app.store.count() >= 15
    texts = await ui.look()
    assert "Traceback" not in texts["overview"]
    await ui.responsive()

