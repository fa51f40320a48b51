"""The hostile matrix, terminal output class: no escape from a stranger reaches a terminal.

Untrusted text reaches the terminal from many places: the path, the method, headers, the
kind (a JSON `type`/`event`, `X-Event-Type`, `X-GitHub-Event`), the summary, the body, the
notes, and what replay and forward targets answer (status line, headers, body, errors). Each
is sent here for real (over HTTP, or from a real local target answering raw bytes), then
every face that shows it is looked at as the terminal would get it:

- the TUI (the real app under Pilot): the list with every column, the detail tabs, the
  toasts, the dialogs (editor, compare, help, filter error); what Textual would write is
  scanned segment by segment;
- every command as a real process (`serve` text and JSON, `trigger`, `verify`, `export`,
  `import`, `connectly register`, click's own errors): the bytes of stdout and stderr.

Nothing in Unicode categories Cc, Cf, Cs, Zl or Zp may reach the terminal (the sanitiser's
set: ESC, BEL, C1 such as U+009B CSI, bidi overrides, ...), apart from the line feeds that
end lines; and the hostile text must still be shown, as visible escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import threading
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.segment import Segment
from textual._compositor import LayoutUpdate
from textual.widgets import Input, Static

from inspector.core.model import Event, new_id
from inspector.faces.tui.app import InspectorApp
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.filter_bar import FilterBar
from tests.conftest import running_app, wait_for
from tests.reliability.conftest import (
    ROOT,
    assert_terminal_safe,
    child_env,
    inspector_argv,
    port_of,
    request,
    send_raw,
    serve,
    wait_until,
)
from tests.test_injection import terminal_output

CLIPBOARD = "\x1b]52;c;aGk=\x07"  # OSC 52: puts "hi" in the clipboard
TITLE = "\x1b]2;OWNED\x07"  # OSC 2: the window title
WIPE = "\x1b[2J"  # clears the screen
C1 = "\x9b31m"  # CSI as one C1 character
BIDI = "\u202egnp.exe"  # right-to-left override
SEEN_CLIPBOARD = "\\x1b]52;c;aGk=\\x07"  # how the escapes must look instead
SEEN_TITLE = "\\x1b]2;OWNED\\x07"
SEEN_WIPE = "\\x1b[2J"

JSON = (b"content-type", b"application/json")
# What the hostile target answers: a status line, a header and a body full of escapes (h11
# lets ESC and BEL through in a reason phrase and a header value; C1 arrives as latin-1).
ANSWER_BODY = f"answer {WIPE} {BIDI} {CLIPBOARD}".encode()
ANSWER = (f"HTTP/1.1 200 OK{CLIPBOARD}\r\n".encode("latin-1")
          + f"X-Evil: {TITLE}\x9b31m\r\n".encode("latin-1")
          + b"Content-Type: text/plain; charset=utf-8\r\n"
          + f"Content-Length: {len(ANSWER_BODY)}\r\nConnection: close\r\n\r\n".encode()
          + ANSWER_BODY)


def unsafe_in(text: str) -> set[str]:
    """Characters a terminal would act on (or that reorder or hide text), except LF."""
    return {c for c in text if c != "\n"
            and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")}


def assert_bytes_inert(where: str, data: bytes) -> str:
    text = data.decode("utf-8")  # also: nothing unencodable (a lone surrogate) got out
    found = unsafe_in(text)
    assert not found, f"{sorted(found)} reached the terminal from {where}: {text[-600:]!r}"
    return text


# -- a target that answers with escapes -----------------------------------------------------------


class HostileTarget:
    """A real HTTP server on loopback that answers every request with `ANSWER`."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: stop
                return
            with conn:
                conn.settimeout(10)
                with contextlib.suppress(OSError):
                    self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        self.requests += 1
        conn.sendall(ANSWER)

    def close(self) -> None:
        """Stop listening: from now on, connections are refused."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        self.sock.close()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def hostile_target() -> Iterator[HostileTarget]:
    target = HostileTarget()
    try:
        yield target
    finally:
        target.close()


# -- hostile deliveries ---------------------------------------------------------------------------


def deliveries() -> list[bytes]:
    """One request per place a stranger's text is shown, escapes in each."""
    connectly = {"sender": {"id": f"+1{TITLE}"}, "message": {"text": f"{CLIPBOARD} {BIDI}"}}
    return [
        # The kind from JSON `type` (the OSC 52 of the report) and from JSON `event`.
        request(headers=[JSON], body=json.dumps({"type": CLIPBOARD}).encode()),
        request(headers=[JSON], body=json.dumps({"event": f"{WIPE}{BIDI}\u0085"}).encode()),
        # The kind from headers.
        request(headers=[(b"x-event-type", TITLE.encode())], body=b"{}"),
        request(headers=[(b"x-github-event", (WIPE + "\x9b31m").encode("latin-1")), JSON],
                body=json.dumps({"action": CLIPBOARD}).encode()),
        # A summary (Connectly), signed wrongly: the reason is shown too.
        request(target="/webhooks/connectly",
                headers=[(b"x-connectly-hmac-sha256", b"AAAA"), JSON],
                body=json.dumps(connectly).encode()),
        # Headers, path (percent-encoded: raw controls are refused by the parser), body.
        request(target=b"/hook/%1b%5D0;t%07/%E2%80%AE?q=%1b[2J",
                headers=[(b"x-evil", (TITLE + C1).encode("latin-1")),
                         (b"content-type", b"text/plain; charset=utf-8")],
                body=f"{CLIPBOARD}\n{WIPE}\t{BIDI}\u200b\x00".encode()),
        # A note quoting the declared content type.
        request(headers=[(b"content-type", f"text/x{TITLE}".encode())], body=b"\x00\x01\x02"),
    ]


def stored_event(path: str, method: str = "POST") -> Event:
    """An event as an import (or any other way in) could bring it: escapes in the method and
    the raw path, which HTTP itself would refuse."""
    return Event(id=new_id(), received_at=time.time(), method=method, path=path, query="",
                 headers=[("content-type", "application/json")],
                 body=json.dumps({"type": TITLE}).encode())


# -- the TUI --------------------------------------------------------------------------------------


def _segments(app: InspectorApp) -> list[Segment]:
    """Every segment Textual would write for the screen as it is now (after line filters)."""
    update = app.screen._compositor.render_update(full=True)
    assert isinstance(update, LayoutUpdate)  # what a full update is
    return [segment for line in update.strips for strip in line for segment in strip
            if not segment.control]


def look(app: InspectorApp, where: str) -> str:
    """The screen as the terminal would receive it: checked inert; its plain text."""
    for segment in _segments(app):
        found = unsafe_in(segment.text)
        assert not found, f"{sorted(found)} reached the terminal in {where}: {segment.text!r}"
    output, text = terminal_output(app)
    assert_terminal_safe(output)
    return text


async def test_the_tui_shows_every_stranger_text_inert(tmp_path: Path) -> None:
    # h11: it lets more through than httptools (the default), which refuses, for one, an
    # escape in a header value (400, not recorded).
    with hostile_target() as target:
        async with running_app(tmp_path, size=(200, 50), notifications=True,
                               replay_to=target.url + "/", forward_to=target.url + "/",
                               http="h11") as (app, pilot, base):
            app.animation_level = "none"
            await _walk_the_tui(app, pilot, port_of(base), target)


async def _walk_the_tui(app: InspectorApp, pilot: Any, port: int,
                        target: HostileTarget) -> None:
    seen: list[str] = []
    events = app.query_one(EventList)

    async def select(index: int) -> None:
        events._move(index)
        await pilot.pause()

    async def tab(name: str, where: str) -> None:
        app.detail_pane.show_tab(name)
        await pilot.pause()
        seen.append(look(app, where))

    for data in deliveries():
        assert (await send_raw(port, data)).status == 200
    # Stored from elsewhere: escapes in the method and the raw path.
    await app.store.add(stored_event(f"/stored/{TITLE}", method=f"P{TITLE}"))
    await app.store.add(stored_event(f"/unreachable/{BIDI}\x9b"))
    count = len(deliveries()) + 2
    await wait_for(lambda: len(events.seqs) == count, what="every hostile event listed")
    # Every delivery was forwarded to the hostile target: its answers are on the events.
    await wait_for(lambda: all(row.result is not None
                               for row in app.store.rows(events.seqs).values()),
                   timeout=30, what="every forward answered (or failed)")
    await pilot.pause()

    # The list: every column, the kind and the method included.
    seen.append(look(app, "the event list"))
    rows = [events.render_line(y).text for y in range(1, count + 1)]
    assert any(SEEN_CLIPBOARD in row for row in rows), rows  # the kind, made visible
    assert any(f"P{SEEN_TITLE}"[:6] + "…" in row for row in rows), rows  # the method
    width = events.scrollable_content_region.width
    assert all(events.render_line(y).cell_length == width for y in range(count + 1))

    # Each event's detail, every tab (forward answers are in the Replay tab).
    pane = app.query_one(DetailPane)
    for index in range(count):
        await select(index)
        seq = events.seqs[index]
        await wait_for(lambda: pane.detail is not None and pane.detail.event.seq == seq,  # noqa: B023 (called before the loop moves on)
                       timeout=30, what=f"detail of row {index}")
        for name in ("overview", "headers", "body", "raw", "signature", "replay"):
            await tab(name, f"row {index}, {name} tab")
    app.detail_pane.show_tab("overview")

    # A replay into the hostile target: the toast, then its answer in the Replay tab.
    await select(0)
    replays = target.requests
    await pilot.press("r")
    await wait_for(lambda: target.requests > replays and app._notifications, what="replayed")
    await wait_for(lambda: "Replayed to" in look(app, "the replay toast"), what="toast")
    await tab("replay", "a replay's answer")

    # A replay that fails: the error (with the raw path in it) in a toast and on the event.
    target.close()
    await select(count - 1)
    app.clear_notifications()
    await pilot.press("r")
    await wait_for(lambda: "connection refused" in look(app, "the failure toast"),
                   what="the failure toast")
    text = look(app, "the replay failure toast")
    assert "/unreachable/\\u202egnp.exe\\x9b" in text, text
    seen.append(text)
    await wait_for(lambda: pane.detail is not None and any(
        a.error for a in pane.detail.attempts), what="the failed attempt shown")
    await tab("replay", "a failed replay on the Replay tab")
    app.clear_notifications()

    # Dialogs: the editor, the comparison, the help; a pasted filter with escapes.
    await select(count - 2)
    await pilot.press("R")
    await wait_for(lambda: app.screen.query("ReplayEditor #body"), what="editor")
    await pilot.pause()
    seen.append(look(app, "the replay editor"))
    await pilot.press("escape")
    await wait_for(lambda: not app.screen.query("ReplayEditor #body"), what="editor closed")
    events.marked.update(events.seqs[:2])
    await pilot.press("equals_sign")
    await wait_for(lambda: type(app.screen).__name__ == "DiffScreen", what="compare")
    await pilot.pause()
    seen.append(look(app, "the comparison"))
    await pilot.press("escape")
    await pilot.press("question_mark")
    await pilot.pause()
    seen.append(look(app, "the help"))
    await pilot.press("escape")
    await pilot.press("slash")
    bar = app.query_one(FilterBar)
    bar.query_one(Input).value = f"kind:{TITLE} bogus:{CLIPBOARD}"
    await wait_for(lambda: bar.error, what="a filter error")
    await pilot.pause()
    seen.append(look(app, "the filter error"))

    # Any other toast, as any part of the app may raise one with a stranger's text.
    app.notify(f"note {CLIPBOARD}", title=f"title {TITLE}", markup=False)
    await wait_for(lambda: SEEN_CLIPBOARD in look(app, "a toast"), what="the toast")
    seen.append(look(app, "a toast"))

    # Shown, not dropped: the escapes are there for a person to read.
    everything = "\n".join(seen)
    for shown in (SEEN_CLIPBOARD, SEEN_TITLE, SEEN_WIPE, "\\x9b31m", "\\u202egnp.exe",
                  "body is declared text/x\\x1b]2 but"):  # a note
        assert shown in everything, shown
    assert app.is_running and app.return_code is None


async def test_a_widget_that_forgets_still_writes_nothing_raw(tmp_path: Path) -> None:
    """The last guard (a line filter on every widget): even raw text rendered by mistake
    never reaches the terminal, and the line keeps its width."""
    async with running_app(tmp_path) as (app, pilot, _base):
        width = app.size.width
        await app.screen.mount(Static(f"raw {CLIPBOARD}{TITLE}{WIPE}{BIDI}\u00ad end",
                                      markup=False, id="careless"))
        await pilot.pause()
        look(app, "a careless widget")
        assert all(strip.cell_length == width
                   for strip in app.screen._compositor.render_strips())
        shown = app.screen.query_one("#careless").render_line(0).text
        assert "raw" in shown and "end" in shown


# -- every command, as a real process -------------------------------------------------------------


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(inspector_argv(*args), input=stdin, capture_output=True,
                          env=child_env(), cwd=ROOT, timeout=60)


def checked(proc: subprocess.CompletedProcess[bytes], what: str) -> str:
    out = assert_bytes_inert(f"{what} (stdout)", proc.stdout)
    err = assert_bytes_inert(f"{what} (stderr)", proc.stderr)
    assert "Traceback" not in err, err
    return out + err


async def _deliver_all(port: int) -> None:
    for data in deliveries():
        assert (await send_raw(port, data)).status == 200


def _served_lines(tmp_path: Path, db: Path, target: HostileTarget, *args: str) -> str:
    # h11, as for the TUI: the parser that lets the most hostile text through.
    with serve(tmp_path, db, "--http", "h11", "--forward-to", target.url + "/", *args,
               name="serve-json" if args else "serve") as served:
        asyncio.run(_deliver_all(served.port))
        wanted = 2 * len(deliveries())  # one line per event, one per forward
        wait_until(lambda: served.out.read_bytes().count(b"\n") >= wanted, 30,
                   "every event and forward printed")
    out = assert_bytes_inert("serve's stdout", served.out.read_bytes())
    assert_bytes_inert("serve's stderr", served.err.read_bytes())
    return out


def test_every_command_writes_inert_bytes(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with hostile_target() as target:
        text = _served_lines(tmp_path, db, target)
        assert SEEN_CLIPBOARD in text and SEEN_TITLE in text  # kinds, shown as escapes
        assert len(text.splitlines()) == 2 * len(deliveries())  # one line each, no more
        lines = _served_lines(tmp_path, tmp_path / "json.db", target, "--json").splitlines()
        assert {json.loads(line)["type"] for line in lines} == {"event", "forward"}

        # trigger prints the target's status line: its reason phrase is the target's text.
        said = checked(run("trigger", "text", "--to", target.url + "/"), "trigger")
        assert "200 OK" + SEEN_CLIPBOARD in said and "answer \\x1b[2J" in said
        said = checked(run("trigger", "text", "--to", f"{target.url}/a{TITLE}"),
                       "trigger to a URL with escapes")
        assert "Invalid value for --to" in said

        # connectly register prints what the API answered.
        said = checked(run("connectly", "register", "--business-id", "b", "--topic",
                           "messages", "--address", "https://example.com", "--api-key",
                           "key-123456", "--api-base", target.url), "connectly register")
        assert "answer " + SEEN_WIPE in said

    # verify: a request given on the command line, then each stored event.
    said = checked(run("verify", "--provider", "github", "--secret", "s3cret-value",
                       "--header", f"X-Hub-Signature-256: sha256={TITLE}",
                       "--header", f"X-GitHub-Event: {CLIPBOARD}", "--body-file", "-",
                       stdin=CLIPBOARD.encode()), "verify")
    assert "verdict:" in said
    ids = [json.loads(line)["id"] for line in run("export", "--db", str(db), "--format",
                                                   "jsonl").stdout.splitlines()]
    assert len(ids) == len(deliveries())
    for event_id in ids:
        checked(run("verify", "--event", event_id, "--db", str(db)), f"verify --event {event_id}")

    # events and wait, in text and JSON; fixture scripts are written inert too.
    said = checked(run("events", "list", "--db", str(db), "--limit", "0"), "events list")
    assert SEEN_CLIPBOARD in said and len(said.splitlines()) == len(deliveries())
    checked(run("events", "list", "--db", str(db), "--json"), "events list --json")
    for event_id in ids:
        checked(run("events", "show", event_id, "--db", str(db)), f"events show {event_id}")
        checked(run("events", "show", event_id, "--db", str(db), "--json"), "events show --json")
    said = checked(run("wait", "--db", str(db), "--filter", "", "--since", ids[0],
                       "--count", str(len(ids) - 1), "--timeout", "30"), "wait")
    assert len(said.splitlines()) == len(ids)  # "waiting for …", then one line each
    folder = tmp_path / "fixtures"
    checked(run("export", "--db", str(db), "--format", "fixtures", str(folder)), "fixtures")
    for script in folder.glob("*/replay.sh"):
        assert_bytes_inert(str(script), script.read_bytes())

    # export in every format to the terminal, and import back.
    for fmt in ("jsonl", "har", "curl"):
        checked(run("export", "--db", str(db), "--format", fmt), f"export --format {fmt}")
    exported = tmp_path / "events.jsonl"
    checked(run("export", "--db", str(db), "--format", "jsonl", "-o", str(exported)), "export")
    said = checked(run("import", str(exported), "--db", str(tmp_path / "copy.db")), "import")
    assert f"imported {len(deliveries())} of {len(deliveries())} events" in said
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(f'{{"id": "{TITLE}", "oops": {CLIPBOARD}}}\n'.encode())
    checked(run("import", str(broken), "--db", str(tmp_path / "copy.db")), "a broken import")

    # click's own messages quote what was typed.
    for args in (["export", "--db", str(db), "--format", "jsonl", "--filter", f"kind:{TITLE} x:"],
                 ["--replay-to", f"ftp://host/{CLIPBOARD}", "--db", ":memory:"],
                 ["--tunnel", f"tool{TITLE}", "--db", ":memory:"],
                 ["verify", "--body-file", "-", "--header", f"{CLIPBOARD}: v"],
                 ["trigger", "text", "--to", f"ftp://host/{TITLE}"]):
        proc = run(*args)
        assert proc.returncode != 0
        checked(proc, " ".join(args))
