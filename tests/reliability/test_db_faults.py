"""Database faults: locked, read-only, corrupt, someone else's, from a newer schema, disk
full. Each is one clear line and an option (never a traceback), at startup and at runtime;
and schema-1 and schema-2 databases upgrade to the current schema keeping their events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inspector.core.model import Answer, Attempt, Event, new_id
from inspector.core.store import StoreError, VerdictChange, explain, open_store
from inspector.core.store.sqlite import dbcheck
from inspector.core.store.sqlite.schema import SCHEMA_VERSION
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import connectly_event, make_runtime, make_settings, running_app, wait_for
from tests.reliability.conftest import ROOT, child_env, inspector_argv

V1_SCHEMA = Path(__file__).with_name("v1_schema.sql").read_text()
V4_SCHEMA = Path(__file__).with_name("v4_schema.sql").read_text()


def require_dbcheck_wiring() -> None:
    """Fail at once (not after a 30 s timeout) while the CLI does not call dbcheck yet."""
    import inspector.faces.cli.main as cli

    assert "dbcheck" in Path(cli.__file__).read_text(), "the CLI does not call dbcheck yet"


# -- making faulty databases -----------------------------------------------------------------------


def new_db(path: Path) -> Path:
    open_store(path).close()
    return path


def corrupt_db(path: Path) -> Path:
    path.write_bytes(b"this is not SQLite at all\n" * 200)
    return path


def newer_db(path: Path) -> Path:
    new_db(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    conn.commit()
    conn.close()
    return path


def foreign_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.execute("INSERT INTO customers VALUES ('ada')")
    conn.commit()
    conn.close()
    return path


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


@contextlib.contextmanager
def write_lock(path: Path, *, readers_too: bool = False) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the database's write lock (BEGIN EXCLUSIVE) until released.
    `readers_too`: in exclusive locking mode, where even readers wait (in WAL mode they
    otherwise never do)."""
    exclusive = ("c.execute('PRAGMA locking_mode = EXCLUSIVE')\n" if readers_too else "")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
         + exclusive +
         "c.execute('BEGIN EXCLUSIVE')\n"
         "c.execute('SELECT count(*) FROM sqlite_master').fetchall()\n"
         "print('held', flush=True)\n"
         "sys.stdin.readline()\n"
         "c.execute('COMMIT')\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield holder
    finally:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.write("release\n")
            holder.stdin.flush()
            holder.wait(timeout=10)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    for _ in range(10):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)  # busy for a moment after the last file closes
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def read_only_db(tmp_path: Path) -> Iterator[Path]:
    """An inspector database on a read-only mount (root can write anywhere else)."""
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    new_db(source / "events.db")
    if not (_mount("--bind", str(source), str(view))
            and _mount("-o", "remount,bind,ro", str(view))):
        _umount(view)
        pytest.skip("cannot make a read-only bind mount here (needs root with CAP_SYS_ADMIN); "
                    "the message mapping is tested with a real sqlite error below")
    try:
        yield view / "events.db"
    finally:
        _umount(view)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`inspector ...` as a real process that should stop at once (30 s at most)."""
    return subprocess.run(inspector_argv(*args, "--port", "0"), capture_output=True,
                          text=True, timeout=30, env=child_env(), cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])


# -- at startup: `inspector` and `inspector serve` print one line and exit non-zero ----------------

COMMANDS = [pytest.param(["serve"], id="serve"), pytest.param([], id="tui")]


@pytest.mark.parametrize("command", COMMANDS)
def test_corrupt_database_at_startup(tmp_path: Path, command: list[str]) -> None:
    db = corrupt_db(tmp_path / "events.db")
    assert_one_clear_line(run_cli(*command, "--db", str(db)), "corrupt", "--db")


@pytest.mark.parametrize("command", COMMANDS)
def test_newer_schema_at_startup(tmp_path: Path, command: list[str]) -> None:
    db = newer_db(tmp_path / "events.db")
    assert_one_clear_line(run_cli(*command, "--db", str(db)),
                          f"schema {SCHEMA_VERSION + 7}", "upgrade", "--db")


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_database_at_startup(read_only_db: Path, command: list[str]) -> None:
    assert_one_clear_line(run_cli(*command, "--db", str(read_only_db)), "writable")


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_database_is_named_read_only_at_startup(read_only_db: Path,
                                                          command: list[str]) -> None:
    require_dbcheck_wiring()
    assert_one_clear_line(run_cli(*command, "--db", str(read_only_db)), "read-only", "--db")


@pytest.mark.parametrize("command", COMMANDS)
def test_locked_database_at_startup(tmp_path: Path, command: list[str]) -> None:
    require_dbcheck_wiring()
    db = new_db(tmp_path / "events.db")
    with write_lock(db):
        assert_one_clear_line(run_cli(*command, "--db", str(db)), "locked by another process",
                              "--db")


@pytest.mark.parametrize("command", COMMANDS)
def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path,
                                                             command: list[str]) -> None:
    require_dbcheck_wiring()
    db = foreign_db(tmp_path / "customers.db")
    result = run_cli(*command, "--db", str(db))
    assert tables(db) == {"customers"}  # today the store adds its tables to it
    assert_one_clear_line(result, "another program's SQLite database", "--db")


def test_reset_db_moves_a_corrupt_database_aside_and_starts(tmp_path: Path) -> None:
    require_dbcheck_wiring()
    db = corrupt_db(tmp_path / "events.db")
    proc = subprocess.Popen(inspector_argv("serve", "--port", "0", "--db", str(db),
                                           "--reset-db"),
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=child_env(), cwd=ROOT)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "moved" in first and ".broken-" in first, first
        assert "listening on" in proc.stderr.readline()  # and it started
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert [p.name for p in tmp_path.glob("events.db.broken-*")]
    assert "events" in tables(db)


# -- dbcheck, on real files ------------------------------------------------------------------------


def test_dbcheck_finds_each_fault_and_offers_an_option(tmp_path: Path) -> None:
    assert dbcheck.check(str(new_db(tmp_path / "ok.db"))) is None
    assert dbcheck.check(str(tmp_path / "new" / "fresh.db")) is None  # created on first use
    assert dbcheck.check(":memory:") is None
    cases = {
        "corrupt": (corrupt_db(tmp_path / "corrupt.db"), "--reset-db", True),
        "newer": (newer_db(tmp_path / "newer.db"), "--reset-db", True),
        "foreign": (foreign_db(tmp_path / "foreign.db"), "--db", False),
    }
    for kind, (path, option, resettable) in cases.items():
        problem = dbcheck.check(str(path))
        assert problem is not None and problem.kind == kind, (kind, problem)
        assert option in problem.message and str(path) in problem.message
        assert problem.resettable is resettable and "\n" not in problem.message
    assert tables(tmp_path / "foreign.db") == {"customers"}  # looked at, not touched
    folder = dbcheck.check(str(tmp_path))
    assert folder is not None and "is a folder" in folder.message


def test_dbcheck_finds_a_write_lock_held_by_another_process(tmp_path: Path) -> None:
    db = new_db(tmp_path / "events.db")
    with write_lock(db):
        problem = dbcheck.check(str(db), lock_wait=0.2)
    assert problem is not None and problem.kind == "locked" and not problem.resettable
    assert "locked by another process" in problem.message and "--db" in problem.message
    assert dbcheck.check(str(db)) is None  # released


def test_dbcheck_finds_corruption_past_the_first_page(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    open_store(db).close()
    events = [Event(id=new_id(), received_at=time.time(), method="POST", path="/x", query="",
                    headers=[], body=os.urandom(3000)) for _ in range(900)]
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO events (id, received_at, method, path, headers, body_size, status) "
        "VALUES (?, ?, 'POST', '/x', '[]', 0, 200)", [(e.id, e.received_at) for e in events])
    conn.commit()
    conn.close()
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    data[10 * page : 12 * page] = os.urandom(2 * page)  # two pages of the events table
    db.write_bytes(bytes(data))
    problem = dbcheck.check(str(db))
    assert problem is not None and problem.kind == "corrupt" and problem.resettable


def test_dbcheck_names_a_read_only_mount(read_only_db: Path) -> None:
    problem = dbcheck.check(str(read_only_db))
    assert problem is not None and problem.kind == "read-only", problem
    assert "(read-only file system)" in problem.message and "--db" in problem.message


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """chattr +i: not even root may write (ext4, xfs, btrfs; skipped elsewhere)."""
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here (needs root and ext4/xfs/btrfs)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_dbcheck_names_an_immutable_file_or_folder_read_only(tmp_path: Path) -> None:
    db = new_db(tmp_path / "data" / "events.db")
    with immutable(db):
        problem = dbcheck.check(str(db))
    assert problem is not None and problem.kind == "read-only"
    assert problem.message.startswith(f"{db} is read-only") and "--db" in problem.message
    with immutable(db.parent):
        problem = dbcheck.check(str(db))
    assert problem is not None and problem.kind == "read-only"
    assert "folder" in problem.message and "--db" in problem.message
    assert dbcheck.check(str(db)) is None


def test_read_only_message_from_the_real_sqlite_error(tmp_path: Path) -> None:
    """Root writes through permissions: the real error comes from a read-only connection."""
    db = new_db(tmp_path / "events.db")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        conn.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
    conn.close()
    assert "readonly" in str(raised.value)
    message = str(explain(raised.value, str(db)))
    assert message == f"{db} is read-only: use --db with a writable path"
    problem = dbcheck.problem_of(raised.value, str(db))
    assert problem.kind == "read-only" and problem.message == message


def test_reset_moves_the_database_and_its_companions_aside(tmp_path: Path) -> None:
    db = corrupt_db(tmp_path / "events.db")
    for suffix in ("-wal", "-shm", "-search"):
        Path(f"{db}{suffix}").write_bytes(b"old " + suffix.encode())
    moved = dbcheck.reset(str(db))
    assert not db.exists() and moved.read_bytes().startswith(b"this is not SQLite")
    assert Path(f"{moved}-wal").read_bytes() == b"old -wal"
    assert not Path(f"{db}-search").exists() and Path(f"{moved}-search").exists()
    assert dbcheck.check(str(db)) is None
    store = open_store(db)  # a new, empty database where the old one was
    assert store.count() == 0
    store.close()
    assert dbcheck.reset(str(corrupt_db(db))) != moved  # a second reset keeps both


# -- at runtime: 503 to the sender, and a visible error --------------------------------------------


async def test_locked_database_at_runtime_is_503_and_shown(tmp_path: Path) -> None:
    case = connectly_event("text")
    async with running_app(tmp_path) as (app, _pilot, base), httpx.AsyncClient(
            timeout=30) as client:
        ok = await client.post(base + "/before", content=case["body"].encode(),
                               headers=case["headers"])
        assert ok.status_code == 200
        with write_lock(tmp_path / "events.db"):
            refused = await client.post(base + "/during", content=case["body"].encode(),
                                        headers=case["headers"])
            assert refused.status_code == 503
            error = refused.json()["error"]
            assert "locked by another process" in error and "--db" in error
            status = app.query_one(StatusBar)
            await wait_for(lambda: "locked" in status.error, what="the status bar error")
            assert "locked" in str(status.render())
            assert app.is_running
        after = await client.post(base + "/after", content=case["body"].encode(),
                                  headers=case["headers"])
        assert after.status_code == 200
        assert app.store.event_by_id(after.json()["id"]) is not None
        assert app.store.count() == 2  # the refused one was not stored, not acknowledged
        await assert_error_cleared(status)


async def assert_error_cleared(status: StatusBar) -> None:
    """The header's storage error goes once a commit succeeds (it used to stay for ever)."""
    await wait_for(lambda: not status.error, what="the status bar error to clear")
    assert "⚠" not in str(status.render()) and not status.has_class("-error")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: a disk that fills up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN) to fill a disk")
    try:
        yield mount
    finally:
        _umount(mount)


async def test_disk_full_at_runtime_is_503_and_shown_and_recovers(tiny_disk: Path) -> None:
    body = json.dumps({"type": "filler", "data": os.urandom(24_000).hex()}).encode()
    acked: list[str] = []
    async with running_app(tiny_disk) as (app, _pilot, base), httpx.AsyncClient(
            timeout=30) as client:
        for n in range(400):
            answer = await client.post(f"{base}/fill/{n}", content=body)
            if answer.status_code != 200:
                break
            acked.append(answer.json()["id"])
        assert answer.status_code == 503, "the disk never filled up"
        assert "disk full" in answer.json()["error"] and "free some space" in \
            answer.json()["error"]
        status = app.query_one(StatusBar)
        await wait_for(lambda: "disk full" in status.error, what="the status bar error")
        assert app.is_running and len(acked) > 10
        # Every acknowledged event is readable; none of the refused ones was stored.
        assert all(app.store.event_by_id(i) is not None for i in acked)
        assert app.store.count() == len(acked)
        # Space is freed: deliveries are stored again.
        assert _mount("-o", "remount,size=64m", str(tiny_disk))
        again = await client.post(base + "/after", content=b'{"ok": 1}')
        assert again.status_code == 200
        assert app.store.event_by_id(again.json()["id"]) is not None
        await assert_error_cleared(status)


# -- migrations ------------------------------------------------------------------------------------


def test_a_schema_1_database_upgrades_and_keeps_its_events(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    conn.executescript(V1_SCHEMA)
    conn.execute("PRAGMA user_version = 1")
    body = b'{"type": "v1", "binary": "\xff\x00"}'
    headers = [["content-type", "application/json"], ["x-dup", "1"], ["x-dup", "2"]]
    ids = [new_id() for _ in range(3)]
    for seq, ident in enumerate(ids, 1):
        conn.execute(
            "INSERT INTO events (seq, id, received_at, method, path, query, headers, body_size, "
            "status, notes, kind, summary, verdict) VALUES (?, ?, ?, 'POST', '/v1', 'a=1', ?, "
            "?, 200, ?, 'v1', 'old', 'unsigned')",
            (seq, ident, 1_700_000_000 + seq, json.dumps(headers), len(body),
             json.dumps([f"note {seq}"])))
        conn.execute("INSERT INTO bodies (seq, body) VALUES (?, ?)", (seq, body))
    conn.execute("INSERT INTO attempts (seq, kind, at, method, url, status, elapsed_ms) "
                 "VALUES (2, 'replay', 1700000100, 'POST', 'http://localhost:3000/', 201, 4.5)")
    conn.execute("INSERT INTO meta (key, value) VALUES ('replay_target', 'http://x/')")
    conn.commit()
    conn.close()

    store = open_store(db)
    try:
        version = sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
        assert store.count() == 3 and store.seqs() == [1, 2, 3]
        for seq, ident in enumerate(ids, 1):
            event = store.event_by_id(ident)
            assert event is not None and event.seq == seq
            assert event.body == body and event.headers == [tuple(h) for h in headers]
            assert event.query == "a=1" and event.notes == [f"note {seq}"]
        (attempt,) = store.attempts(2)
        assert attempt.status == 201 and attempt.url == "http://localhost:3000/"
        assert store.meta("replay_target") == "http://x/"
        # And it takes new events and attempts.
        fresh = Event(id=new_id(), received_at=time.time(), method="POST", path="/v2",
                      query="", headers=[], body=b"{}")
        (stored,) = store.import_events_sync([(fresh, [])])
        assert stored.seq == 4
        store.record_attempt_sync(Attempt(event_seq=4, kind="replay", at=time.time(),
                                          method="POST", url="http://y/"))
        assert len(store.attempts(4)) == 1
    finally:
        store.close()
    # Opening it again is a no-op.
    open_store(db).close()


def test_a_database_written_by_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    db = newer_db(tmp_path / "events.db")
    before = db.read_bytes()
    with pytest.raises(StoreError) as raised:
        open_store(db)
    assert "newer webhook-inspector" in str(raised.value) and "--db" in str(raised.value)
    assert db.read_bytes() == before


async def test_concurrent_deliveries_to_a_locked_database_are_answered_promptly(
        tmp_path: Path) -> None:
    """Today each of N queued deliveries waits its own 3 s busy timeout, one after another:
    8 concurrent deliveries get their 503 after about 30 s, past most senders' timeouts."""
    runtime = make_runtime(make_settings(tmp_path))
    await runtime.start()
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            assert (await client.post(runtime.url + "first", content=b"{}")).status_code == 200
            with write_lock(tmp_path / "events.db"):
                answers = await asyncio.wait_for(asyncio.gather(*(
                    client.post(f"{runtime.url}n/{n}", content=b"{}") for n in range(6))),
                    timeout=7)  # one busy timeout (3 s), and margin
        assert [a.status_code for a in answers] == [503] * 6
    finally:
        await runtime.stop()


def test_a_schema_2_database_upgrades_and_keeps_its_attempts(tmp_path: Path) -> None:
    """v3 adds `forced` and `note` to attempts; a v2 database's attempts read as neither.
    v4 adds the answers table, v5 the change feed's records."""
    db = tmp_path / "v2.db"
    conn = sqlite3.connect(db)
    conn.executescript(V1_SCHEMA)  # v2 changed no table, it only tied the search side file:
    conn.execute("INSERT INTO meta (key, value) VALUES ('search_id', '0123456789abcdef')")
    conn.execute("PRAGMA user_version = 2")
    ident = new_id()
    conn.execute(
        "INSERT INTO events (seq, id, received_at, method, path, headers, body_size, status, "
        "verdict) VALUES (1, ?, 1700000000, 'POST', '/v2', '[]', 2, 200, 'valid')", (ident,))
    conn.execute("INSERT INTO bodies (seq, body) VALUES (1, x'7b7d')")
    conn.execute("INSERT INTO attempts (seq, kind, at, method, url, status, resigned, edited) "
                 "VALUES (1, 'replay', 1700000100, 'POST', 'http://localhost:3000/', 200, 1, 1)")
    conn.commit()
    conn.close()

    store = open_store(db)
    try:
        assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.answers_for([1]) == {}  # v4: stored answers; this one got the default
        assert store.meta("search_id") == "0123456789abcdef"
        event = store.event_by_id(ident)
        assert event is not None and event.body == b"{}"
        # v6: no answer rule decided it; v7: nothing known of what it is about.
        assert (event.rule, event.answer_note, event.related, event.retry) == ("", "", None, 0)
        (old,) = store.attempts(1)
        assert old.resigned and old.edited and old.status == 200
        assert not old.forced and old.note == ""
        store.record_attempt_sync(Attempt(
            event_seq=1, kind="replay", at=time.time(), method="POST", url="http://y/",
            resigned=True, forced=True, note="forced re-sign: it arrived unsigned"))
        new = store.attempts(1)[-1]
        assert new.forced and new.note == "forced re-sign: it arrived unsigned"
    finally:
        store.close()
    open_store(db).close()  # opening it again is a no-op


async def test_a_schema_4_database_upgrades_and_its_changes_can_be_followed(
        tmp_path: Path) -> None:
    """v5 adds the change feed's records: a v4 database keeps its events, attempts and
    answers, and another store on it (a viewer) then follows its updates and deletes."""
    db = tmp_path / "v4.db"
    conn = sqlite3.connect(db)
    conn.executescript(V4_SCHEMA)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO meta (key, value) VALUES ('search_id', '0123456789abcdef')")
    conn.execute("INSERT INTO meta (key, value) VALUES ('top_seq', '3')")  # 3 was deleted
    ids = [new_id() for _ in range(2)]
    for seq, ident in enumerate(ids, 1):
        conn.execute(
            "INSERT INTO events (seq, id, received_at, method, path, headers, body_size, "
            "status, verdict) VALUES (?, ?, 1700000000, 'POST', '/v4', '[]', 2, 502, 'valid')",
            (seq, ident))
        conn.execute("INSERT INTO bodies (seq, body) VALUES (?, x'7b7d')", (seq,))
    conn.execute("INSERT INTO attempts (seq, kind, at, method, url, status, forced, note) "
                 "VALUES (1, 'forward', 1700000100, 'POST', 'http://app/', 502, 0, 'n')")
    conn.execute("INSERT INTO answers (seq, headers, body) VALUES (1, '[[\"x-a\", \"1\"]]', "
                 "x'646f776e')")
    conn.commit()
    conn.close()

    store, viewer = open_store(db), open_store(db)
    try:
        assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.seqs() == [1, 2] and store.meta("search_id") == "0123456789abcdef"
        assert store.answers_for([1, 2]) == {1: Answer([("x-a", "1")], b"down")}
        (old,) = store.attempts(1)
        assert old.kind == "forward" and old.status == 502 and old.note == "n"
        cursor = viewer.cursor()
        assert cursor.seq == 3  # the highest seq ever used, deleted or not
        assert not viewer.changes_since(cursor)
        await store.set_verdicts([VerdictChange(2, "connectly", "invalid", "re-checked")])
        await store.delete([1])
        fresh = await store.add(Event(id=new_id(), received_at=time.time(), method="POST",
                                      path="/v5", query="", headers=[], body=b"{}"))
        changes = viewer.changes_since(cursor)
        assert (changes.updated, changes.deleted, changes.inserted) == ([2], [1], [4])
        assert fresh.seq == 4
    finally:
        store.close()
        viewer.close()
    open_store(db).close()  # opening it again is a no-op
