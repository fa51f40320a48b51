"""The search grammar, its SQL through the real store (with and without the trigram index),
the background indexer, the v1 → v2 migration, and the filter bar widget."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from inspector.core.model import Attempt, Event, new_id
from inspector.core.store.filter import FilterError, Query, Term, parse
from inspector.core.store.sqlite import SqliteStore, schema, search
from inspector.core.store.sqlite.schema import SCHEMA_VERSION
from inspector.faces.tui.widgets.filter_bar import FilterBar
from tests.conftest import running_app, wait_for

NOW = 1_800_000_000.0

# -- parsing ---------------------------------------------------------------------------------


def test_parse_fields_text_phrases_and_negation() -> None:
    query = parse('stripe "card declined" method:post,PUT -verdict:valid kind:Delivery_Status '
                  'path:"/web hooks/*" status:5xx since:10m -ping id:01J https://x.io/a 12:30 '
                  "answered:4XX result:failed")
    assert query.terms == (
        Term("text", "stripe"), Term("text", "card declined"), Term("method", "POST,PUT"),
        Term("verdict", "valid", negated=True), Term("kind", "delivery_status"),
        Term("path", "/web hooks/*"), Term("result", "5xx"), Term("since", "10m"),
        Term("text", "ping", negated=True), Term("id", "01J"), Term("text", "https://x.io/a"),
        Term("text", "12:30"), Term("answered", "4xx"), Term("result", "failed"))
    assert parse('"say \\"hi\\" \\\\ now"').terms == (Term("text", 'say "hi" \\ now'),)
    assert not parse("   ") and parse("a").texts == ["a"]
    assert parse("verdict:no-secret").terms[0].value == "no_secret"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metod:POST", "unknown field 'metod' at column 1: use method, verdict, provider"),
        ('"card declined', 'unterminated quote at column 1: close it with "'),
        ("status:6xx", "result:6xx is not a replay/forward result: use 2xx, 5xx, an exact"),
        ("answered:failed", "answered:failed is not a status the sender got: use 2xx, 4xx"),
        ("since:yesterday", "since:yesterday is not a duration or date: use 30s, 10m"),
        ("verdict:bad", "verdict:bad is not a verdict: use valid, invalid, unsigned"),
        ("method:", "method: at column 1 needs a value (for example method:POST)"),
        ("a - b", "'-' at column 3 must be followed by what to exclude"),
        ("method:P0ST", "method:P0ST is not a method"),
    ],
)
def test_parse_errors_are_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        parse(text)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


# -- a database to search ---------------------------------------------------------------------

WORDS = ["Card Declined", "card declined", "TEST 11", "100%_sure", "plain", "ümlaut Ä",
         "delivery_failed"]
PATHS = ["/webhooks/connectly", "/webhooks/stripe", "/other/x", "/a[b]/c"]


def make_event(i: int) -> Event:
    body = f'{{"n": {i}, "note": "{WORDS[i % len(WORDS)]}"}}'.encode()
    if i % 11 == 0:
        body = b"\x00\xff binary card " + bytes([i % 256])
    headers = [("host", "h"), ("content-type", "application/json"),
               ("x-trace", f"abc{i % 13}"), ("X-Trace", "dup")]
    return Event(
        id=new_id(), received_at=NOW - i * 3600.0, method=["POST", "PUT", "GET"][i % 3],
        path=PATHS[i % len(PATHS)], query=f"q={i % 9}" if i % 2 else "", headers=headers,
        body=body, provider=["stripe", "connectly", ""][i % 3],
        kind=["delivery_status", "message", "json"][i % 3],
        verdict=["valid", "invalid", "unsigned", "no_secret"][i % 4],
        status=[200, 401, 413, 200, 503][i % 5])


RESULTS = {3: 200, 4: 404, 5: 503, 6: 0, 7: 500}


def build(path: Path, count: int = 240) -> tuple[SqliteStore, dict[int, tuple[Event, int | None]]]:
    store = SqliteStore(path, index=False)
    events = store.import_events_sync([(make_event(i), []) for i in range(count)])
    known: dict[int, tuple[Event, int | None]] = {}
    for i, event in enumerate(events):
        status = RESULTS.get(i % 8)
        if status is not None:
            store.record_attempt_sync(Attempt(
                event_seq=event.seq, kind="replay", at=NOW, method="POST", url="http://x/",
                status=status or None, error="" if status else "refused"))
        known[event.seq] = (event, status)
    return store, known


def _fold(text: str) -> str:
    return text.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                        "abcdefghijklmnopqrstuvwxyz"))


def reference(query: Query, known: dict[int, tuple[Event, int | None]]) -> list[int]:
    """What the filter means, in plain Python."""
    import fnmatch

    from inspector.core.store.filter import since_seconds

    def term_ok(term: Term, event: Event, status: int | None) -> bool:
        value = term.value
        if term.field == "text":
            haystacks = [event.target, json.dumps(event.headers),
                         event.body.split(b"\x00")[0].decode("utf-8", "replace")]
            return any(_fold(value) in _fold(h) for h in haystacks)
        if term.field == "method":
            return event.method in value.split(",")
        if term.field in ("verdict", "provider", "kind"):
            return bool(getattr(event, term.field) == value)
        if term.field == "path":
            return fnmatch.fnmatchcase(event.path, value.replace("[", "[[]"))
        if term.field == "answered":
            if value.endswith("xx"):
                return event.status // 100 == int(value[0])
            return event.status == int(value)
        if term.field == "result":
            if status is None:
                return value == "none"
            if value == "failed":
                return status == 0
            if value.endswith("xx"):
                return status // 100 == int(value[0]) and status != 0
            return value.isdigit() and status == int(value)
        if term.field == "since":
            return event.received_at >= since_seconds(value, NOW)
        raise AssertionError(term)

    return [seq for seq, (event, status) in sorted(known.items())
            if all(term_ok(t, event, status) != t.negated for t in query.terms)]


QUERIES = [
    "", "method:POST", "method:post,put", "-method:GET", "verdict:invalid", "verdict:no-secret",
    "provider:stripe", "kind:delivery_status", "path:/webhooks/*", "path:/a[b]/*",
    "path:/webhooks/connectly", "status:5xx", "status:404", "status:failed", "status:none",
    "-status:5xx", "result:5xx", "answered:4xx", "answered:413", "-answered:2xx",
    "answered:2xx result:2xx", "since:1h", "since:2d", "card", '"card declined"', "CARD",
    "100%", "_sure",
    "abc1", "-card", "x-trace", "webhooks/stripe", "q=7", "binary",
    "card method:POST -verdict:valid since:5d", "TE", "zzzz", '"TEST 11" kind:json',
]


def check_all(store: SqliteStore, known: dict[int, tuple[Event, int | None]]) -> None:
    for text in QUERIES:
        query = parse(text)
        assert store.search(query, now=NOW) == reference(query, known), text


def test_filters_match_their_meaning_with_and_without_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, known = build(tmp_path / "e.db")
    assert store.indexed_upto() == 0
    check_all(store, known)  # no index yet: every text term scans
    conn = search.indexer_connection(store.path)
    assert search.index_batch(conn, 100) == 100
    assert store.indexed_upto() == min(known) + 99
    check_all(store, known)  # half indexed, half scanned
    while search.index_batch(conn, 100):
        pass
    assert store.indexed_upto() == max(known)
    check_all(store, known)  # fully indexed
    monkeypatch.setattr(search, "SCAN_BELOW", 5)
    assert not search.worth_using(store._reader(), "card", store.indexed_upto())
    assert search.worth_using(store._reader(), "abc12", store.indexed_upto())
    check_all(store, known)  # common terms scan, rare ones use the index
    # Events after the index: found by the scan of the tail.
    more = store.import_events_sync([(make_event(i), []) for i in range(240, 260)])
    known.update({e.seq: (e, None) for e in more})
    check_all(store, known)
    assert store.search("card", after=more[0].seq - 1, now=NOW) == reference(
        parse("card"), {e.seq: (e, None) for e in more})
    conn.close()


def test_non_ascii_text_is_found(tmp_path: Path) -> None:
    store, known = build(tmp_path / "e.db", 20)
    expected = [s for s, (e, _) in known.items() if "ümlaut Ä".encode() in e.body]
    assert expected and store.search("ümlaut") == expected
    conn = search.indexer_connection(store.path)
    search.index_batch(conn)
    assert store.search("ümlaut") == expected and store.search('"laut Ä"') == expected


async def test_background_indexer_catches_up_and_rebuilds_after_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "START_DELAY", 0.0)
    monkeypatch.setattr(search, "INTERVAL", 0.02)
    store = SqliteStore(tmp_path / "e.db")
    store.start()
    try:
        added = [await store.add(make_event(i)) for i in range(50)]
        await wait_for(lambda: store.indexed_upto() == added[-1].seq, what="index caught up")
        assert store.search('"card declined"') == [
            e.seq for e in added if b"ard Declined" in e.body or b"ard declined" in e.body]
        # Deleting the newest event never frees its seq for a new one.
        await store.delete([added[-1].seq])
        fresh = await store.add(make_event(1))
        assert fresh.seq == added[-1].seq + 1
        # Clear asks for a rebuild; stale entries never show.
        await store.clear()
        assert store.search("card") == []
        later = [await store.add(make_event(i)) for i in (1, 2)]
        assert later[0].seq > fresh.seq
        await wait_for(lambda: store.indexed_upto() == later[-1].seq, what="rebuilt index")
        assert store.search("card") == [later[0].seq]
    finally:
        store.close()


def test_migration_from_a_v1_database(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    schema._create_v1(conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO events (seq, id, received_at, method, path, headers, body_size, status, "
        "verdict) VALUES (7, 'OLD', ?, 'POST', '/webhooks/connectly', '[[\"x-a\", \"1\"]]', 5, "
        "200, 'valid')", (NOW,))
    conn.execute("INSERT INTO bodies (seq, body) VALUES (7, x'68656c6c6f')")
    conn.commit()
    conn.close()
    store = SqliteStore(path, index=False)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # v2 adds no index on events (each would cost every insert); it ties the search file.
    # v6's two are partial: an event without a related or delivery key costs them nothing.
    # v8 adds the three fields filtered most (a million events: a scan takes a second).
    indexes = dict(raw.execute("SELECT name, sql FROM sqlite_master WHERE type='index' "
                               "AND tbl_name = 'events' AND sql IS NOT NULL"))
    assert set(indexes) == {"events_related", "events_delivery", "events_verdict",
                            "events_kind", "events_path"}
    assert all(indexes[name].endswith("IS NOT NULL")
               for name in ("events_related", "events_delivery"))
    assert len(store.meta("search_id")) == 16
    event = store.event(7)
    assert event is not None and event.id == "OLD" and event.body == b"hello"
    # v6: an old event is about nothing known, and repeats nothing.
    assert (event.related, event.delivery, event.retry_of, event.retry) == (None, None, None, 0)
    assert store.search("hello verdict:valid path:/webhooks/*") == [7]
    assert store.import_events_sync([(make_event(1), [])])[0].seq == 8
    # v3 keeps custom answers; an old event got the default one.
    assert store.answers_for([7, 8]) == {}
    store.close()


def test_a_foreign_search_file_is_never_trusted(tmp_path: Path) -> None:
    """An index left by another database (same file name) covers nothing here."""
    first, _ = build(tmp_path / "e.db", 30)
    conn = search.indexer_connection(first.path)
    search.index_batch(conn)
    conn.close()
    first.close()
    side = tmp_path / "e.db-search"
    kept = side.read_bytes()
    for name in ("e.db", "e.db-wal", "e.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    side.write_bytes(kept)
    second, known = build(tmp_path / "e.db", 30)
    assert second.indexed_upto() == 0
    check_all(second, known)


@pytest.mark.slow
def test_100k_events_answer_right(tmp_path: Path) -> None:
    """100,000 events (the timing is in bench/filter_speed.py, not here)."""
    store = SqliteStore(tmp_path / "big.db", index=False)
    bodies = [b'{"text": "TEST 11"}', b'{"status": "delivered"}', b'{"error": "card declined"}',
              b'{"rare": "needle-%d"}']
    batch: list[Event] = []
    for i in range(100_000):
        batch.append(Event(
            id=f"{i:026d}", received_at=NOW - (100_000 - i), method="POST" if i % 4 else "PUT",
            path="/webhooks/connectly" if i % 2 else "/webhooks/stripe", query="",
            headers=[("content-type", "application/json")],
            body=bodies[3] % i if i % 1000 == 999 else bodies[i % 3],
            verdict="invalid" if i % 10 == 0 else "valid", kind="message"))
        if len(batch) == 5000:
            store.import_events_sync([(e, []) for e in batch])
            batch = []
    conn = search.indexer_connection(store.path)
    for _ in range(30):  # index the first 30,000; the rest is scanned
        search.index_batch(conn)
    assert store.indexed_upto() == 30_000
    assert len(store.search("")) == 100_000
    assert len(store.search("verdict:invalid")) == 10_000
    assert len(store.search("method:PUT path:/webhooks/stripe")) == 25_000
    def body(i: int) -> bytes:
        return bodies[3] % i if i % 1000 == 999 else bodies[i % 3]

    def seqs(keep: Any) -> list[int]:
        return [i + 1 for i in range(100_000) if keep(i)]  # seq = i + 1

    assert store.search('"card declined"') == seqs(lambda i: b"card" in body(i))
    assert store.search("needle-1999") == seqs(lambda i: b"needle-1999" in body(i))
    assert store.search("needle-98999") == [99_000]
    assert len(store.search("needle")) == 100
    assert store.search("since:100s", now=NOW) == seqs(lambda i: i >= 99_900)
    assert store.search("-delivered verdict:valid") == seqs(
        lambda i: b"delivered" not in body(i) and i % 10 != 0)
    conn.close()


# -- the filter bar -------------------------------------------------------------------------


class BarApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.changed: list[Query] = []
        self.closed = 0
        self.accepted = 0

    def compose(self) -> ComposeResult:
        yield FilterBar()

    def on_mount(self) -> None:
        self.query_one(FilterBar).focus_input()

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.changed.append(message.query)

    def on_filter_bar_closed(self, _: FilterBar.Closed) -> None:
        self.closed += 1

    def on_filter_bar_accepted(self, _: FilterBar.Accepted) -> None:
        self.accepted += 1


async def test_filter_bar_posts_parsed_queries_and_shows_errors() -> None:
    app = BarApp()
    async with app.run_test() as pilot:
        bar = app.query_one(FilterBar)
        # The input is mounted once the first frame is on screen (the bar starts closed).
        await wait_for(lambda: bar.query("#filter-input"), what="the input")
        assert "method:POST" in bar.input.placeholder and "since:10m" in bar.input.placeholder
        await pilot.press(*"kind:ping a")
        await wait_for(lambda: app.changed, what="debounced query")
        # Typed quickly: one query, the whole text.
        assert [q.terms for q in app.changed] == [(Term("kind", "ping"), Term("text", "a"))]

        bar.input.insert_text_at_cursor(" metod:x")  # as if typed
        await wait_for(lambda: bar.error, what="parse error")
        error = bar.query_one("#filter-error", Static)
        assert "unknown field 'metod'" in str(error.render())
        assert bar.has_class("-error") and len(app.changed) == 1  # the last good one stays

        await pilot.press("enter")
        assert app.accepted == 0  # not while the text is wrong
        await pilot.press("escape")  # clears at once, and closes
        assert bar.input.value == "" and not bar.error and not bar.has_class("-error")
        await wait_for(lambda: len(app.changed) == 2, what="cleared query")
        assert not app.changed[-1]
        await wait_for(lambda: app.closed == 1, what="closed")
        bar.input.insert_text_at_cursor("method:put,post")
        await pilot.press("enter")  # applies at once, no debounce wait
        assert app.accepted == 1 and app.changed[-1].terms == (Term("method", "PUT,POST"),)
        # Hostile input is shown inert in the error line: no markup, escapes visible.
        bar.input.insert_text_at_cursor(" method:[red]x\x1b")
        await wait_for(lambda: "is not a method" in bar.error, what="method error")
        shown = str(error.render())
        assert "method:[red]x\\x1b is not a method" in shown and "\x1b" not in shown


def test_a_corrupt_search_file_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "e.db-search").write_bytes(b"not sqlite at all" * 100)
    store, known = build(tmp_path / "e.db", 20)
    conn = search.indexer_connection(store.path)
    assert search.index_batch(conn) == 20
    assert store.indexed_upto() == max(known)
    check_all(store, known)


async def test_keys_typed_right_after_the_slash_go_to_the_filter(tmp_path: Path) -> None:
    """Typed in one burst (a paste, a script, type-ahead during a slow frame), the keys after
    `/` reached the list first: `e` opened Export. In a text box `/` is only a slash."""
    from textual import events
    from textual.widgets import Input

    from inspector.faces.tui.widgets.filter_bar import FilterBar

    names = {"/": "slash", ":": "colon"}
    async with running_app(tmp_path) as (app, pilot, _):
        bar = app.query_one(FilterBar)
        await wait_for(lambda: bar.query("#filter-input"), what="the filter's input")
        for char in "/verdict:e/x":
            app.post_message(events.Key(names.get(char, char), char))
        await wait_for(lambda: bar.input.value == "verdict:e/x", what="the typed filter")
        assert app.screen is app.screen_stack[0]  # no dialog opened (Export is `e`)
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.focused, Input), what="back to the list")


async def test_the_palette_opens_the_filter_and_a_dialog_keeps_its_slash(tmp_path: Path) -> None:
    """`/` is a priority key: over the help screen it opens nothing behind it; from the
    palette the filter still opens."""
    from textual.widgets import Input

    from inspector.faces.tui.widgets.filter_bar import FilterBar

    async with running_app(tmp_path) as (app, pilot, _):
        bar = app.query_one(FilterBar)
        await wait_for(lambda: bar.query("#filter-input"), what="the filter's input")
        await pilot.press("question_mark")
        await wait_for(lambda: app.screen is not app.screen_stack[0], what="the help")
        await pilot.press("slash")
        assert not bar.has_class("-open")
        await pilot.press("escape")
        await wait_for(lambda: app.screen is app.screen_stack[0], what="help closed")
        await pilot.press("ctrl+p")
        await wait_for(lambda: app.screen is not app.screen_stack[0], what="the palette")
        await pilot.press(*"Filter events")
        await pilot.press("enter")
        await wait_for(lambda: bar.has_class("-open") and isinstance(app.focused, Input),
                       what="the filter open from the palette")
