"""A team on one capture (issue 18): two `inspector serve` processes write to one PostgreSQL
database, and a viewer sees every event of both, once. Then the database goes away under
load: deliveries get 503 with the reason, the receivers reconnect by themselves, and every
acknowledged event is stored."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from textual.widgets import Static

from inspector.core.capture.answers import DEFAULT_POLICY
from inspector.core.control.protocol import ControlError
from inspector.core.session import Session
from inspector.core.settings import DB_ENV
from inspector.core.store import Changes, open_store
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import EventList
from inspector.faces.tui.widgets.status_bar import StatusBar
from tests.conftest import SECRET, Heard, connectly_event, make_settings, running_app, wait_for
from tests.postgres import Cluster
from tests.reliability.conftest import ROOT, Pty, child_env, inspector_argv, serve
from tests.test_two_terminals import last_count, post


@dataclass
class Viewer(Heard):
    """What a viewer heard through the feed, with when it heard each event."""

    inserted: list[int] = field(default_factory=list)
    heard_at: dict[int, float] = field(default_factory=dict)

    def changed(self, changes: Changes) -> None:
        now = time.monotonic()
        self.inserted += changes.inserted
        for seq in changes.inserted:
            self.heard_at.setdefault(seq, now)


async def deliver(client: httpx.AsyncClient, base: str, count: int,
                  acked: dict[str, float]) -> list[int]:
    """Send `count` Connectly deliveries, 8 at a time; the ids of the 2xx answers go into
    `acked` with when they were answered. Returns the other statuses."""
    case = connectly_event("text")
    others: list[int] = []
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            queue.pop()
            try:
                answer = await client.post(base + case["path"], content=case["body"].encode(),
                                           headers=case["headers"])
            except httpx.TransportError:
                others.append(0)
                continue
            if answer.status_code == 200:
                acked[answer.json()["id"]] = time.monotonic()
            else:
                others.append(answer.status_code)

    await asyncio.gather(*(worker() for _ in range(8)))
    return others


async def test_two_receivers_and_a_viewer_on_one_database(tmp_path: Path, pg_url: str) -> None:
    viewer = Session(make_settings(tmp_path, db=pg_url), None, view=True)
    heard = Viewer()
    viewer.subscribe(heard)
    await viewer.start()
    acked: dict[str, float] = {}
    try:
        with serve(tmp_path, pg_url, name="one") as one, \
                serve(tmp_path, pg_url, name="two") as two:
            async with httpx.AsyncClient(timeout=30) as client:
                failed = await asyncio.gather(deliver(client, one.base, 150, acked),
                                              deliver(client, two.base, 150, acked))
            assert not any(failed) and len(acked) == 300  # no delivery refused
            store = viewer.store
            await wait_for(lambda: len(heard.inserted) >= 300, 10, "the viewer to see all")
            stored = {e.id: e.seq for e in store.iter_events(store.seqs())}
            assert set(stored) == set(acked)  # both receivers' events, ids never collide
            assert sorted(heard.inserted) == sorted(stored.values())  # each once
            # Each receiver printed its own events, and lists the other's through the feed.
            lines = [len((tmp_path / f"{name}.out").read_text().splitlines())
                     for name in ("one", "two")]
            assert sum(lines) == 300 and min(lines) > 0
        late = sorted(heard.heard_at[stored[i]] - acked[i] for i in acked)
        assert late[-1] < 5.0, late[-10:]  # the figure itself is make bench's
    finally:
        await viewer.stop()


async def test_a_viewer_of_a_shared_database_says_why_it_cannot_change_the_answer(
        tmp_path: Path, pg_url: str) -> None:
    """The receivers of a shared database may run on other hosts: a viewer has none to ask,
    and says so (not that no receiver runs, while one does); its own secrets still apply."""
    viewer = Session(make_settings(tmp_path, db=pg_url), None, view=True)
    await viewer.start()
    try:
        with serve(tmp_path, pg_url, name="one"):
            with pytest.raises(ControlError) as refused:
                await viewer.control.set_policy(replace(DEFAULT_POLICY, status=503))
            assert "shared PostgreSQL database has no one receiver to ask" in str(refused.value)
            assert "no receiver is running" not in str(refused.value)
            await viewer.control.set_secret("stripe", "whsec_viewer")
            assert viewer.live.secrets.by_provider["stripe"] == ("whsec_viewer",)
    finally:
        await viewer.stop()


async def test_a_viewers_header_on_a_shared_database_names_it(tmp_path: Path,
                                                               pg_url: str) -> None:
    """It said "looking for the receiver…" forever: on a shared database there is no one
    receiver to find, and the header says whose capture it shows instead."""
    from inspector.faces.tui.app import InspectorApp

    app = InspectorApp(Session(make_settings(tmp_path, db=pg_url), None, view=True))
    async with app.run_test(size=(160, 45)):
        status = app.query_one(StatusBar)
        await wait_for(lambda: "◇ viewer of postgresql://" in str(status.render()),
                       what="the header")
        assert status.viewer.endswith("(shared by its receivers)")  # the header cuts it here
        assert "looking for" not in str(status.render())


async def test_the_database_going_away_under_load_loses_nothing_acknowledged(
        tmp_path: Path) -> None:
    # Its own cluster, since this test crashes it; and one whose default would acknowledge
    # commits before they are on disk: the store must not rely on the server's defaults.
    cluster = Cluster.start("-c synchronous_commit=off")
    try:
        url = cluster.new_database()
        with serve(tmp_path, url, name="one") as one, \
                serve(tmp_path, url, name="idle") as idle:
            acked: dict[str, float] = {}
            async with httpx.AsyncClient(timeout=30) as client:
                assert await deliver(client, idle.base, 1, acked) == []  # it has connected
                load = asyncio.create_task(deliver(client, one.base, 3000, acked))
                await wait_for(lambda: len(acked) > 200, 30, "deliveries to start")
                await asyncio.to_thread(cluster.stop, "immediate")  # a crash of the server
                case = connectly_event("text")
                down = await client.post(one.base + case["path"], content=case["body"].encode(),
                                         headers=case["headers"])
                assert down.status_code == 503
                assert "not stored: database unreachable" in down.json()["error"]
                await asyncio.to_thread(cluster.start_again)
                others = await asyncio.wait_for(load, 120)
                # A receiver idle through the outage: its dead connection is replaced
                # before its first delivery is refused.
                first = await client.post(idle.base + case["path"],
                                          content=case["body"].encode(), headers=case["headers"])
                assert first.status_code == 200, first.text
                acked[first.json()["id"]] = time.monotonic()
                # Back by itself: new deliveries are stored again.
                again = await client.post(one.base + case["path"],
                                          content=case["body"].encode(), headers=case["headers"])
                assert again.status_code == 200
            assert set(others) <= {503}  # refused while down, never a false 2xx
            err = (tmp_path / "one.err").read_text()
            assert "error: database unreachable" in err and "Traceback" not in err
        store = open_store(url)
        try:
            ids = {e.id for e in store.iter_events(store.seqs())}
        finally:
            store.close()
        assert set(acked) <= ids, f"{len(set(acked) - ids)} acknowledged events lost"
    finally:
        cluster.destroy()


def test_every_command_takes_the_database_from_inspector_db(tmp_path: Path,
                                                            pg_url: str) -> None:
    """serve, events, wait, export, import and verify --event, on one PostgreSQL
    database named only by INSPECTOR_DB (a URL with a password stays off command lines)."""
    env = child_env(**{DB_ENV: pg_url})

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(inspector_argv(*args), capture_output=True, text=True, env=env,
                              cwd=ROOT, stdin=subprocess.DEVNULL, timeout=timeout)

    case = connectly_event("text")

    def post(base: str) -> str:
        answer = httpx.post(base + case["path"], content=case["body"].encode(),
                            headers=case["headers"])
        assert answer.status_code == 200
        event_id: str = answer.json()["id"]
        return event_id

    with serve(tmp_path, pg_url, name="one") as one:
        first = post(one.base)
        # Counts what came in the last 10 minutes, then follows the feed for the rest.
        waiting = subprocess.Popen(inspector_argv("wait", "--timeout", "60", "--count", "2",
                                                  "--since", "10m", "--filter", "kind:message"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=env, cwd=ROOT)
        try:
            second = post(one.base)
            out, err = waiting.communicate(timeout=90)
        finally:
            if waiting.poll() is None:
                waiting.kill()
        assert waiting.returncode == 0 and first in out and second in out, err
    event_id = second
    listed = run("events", "list", "--json")
    assert listed.returncode == 0
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [first, second]
    assert run("events", "body", event_id).stdout.encode() == case["body"].encode()
    verified = run("verify", "--event", event_id, "--secret", SECRET)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    exported = tmp_path / "capture.jsonl"
    assert run("export", "--format", "jsonl", str(exported)).returncode == 0
    other = tmp_path / "copy.db"
    done = run("import", "--db", str(other), str(exported))
    assert done.returncode == 0, done.stderr
    store = open_store(str(other))
    try:
        copied = list(store.iter_events(store.seqs()))
        assert [e.id for e in copied] == [first, second]
        assert copied[1].body == case["body"].encode()
    finally:
        store.close()


@pytest.mark.parametrize("stop", ["fast", "immediate"])  # every session closed; a crash
async def test_the_tui_rides_out_a_database_restart(tmp_path: Path, pg_cluster: Cluster,
                                                    pg_url: str, stop: str) -> None:
    """The real TUI receiving into PostgreSQL, and `inspector view` on the same database:
    the server stops, the header says why, deliveries get 503, keys still work; it starts
    again, and both carry on by themselves with nothing acknowledged lost."""
    async with running_app(tmp_path, notifications=True, db=pg_url) as (app, pilot, base):
        status, events = app.query_one(StatusBar), app.query_one(EventList)
        detail = app.query_one(DetailPane)
        term = Pty(inspector_argv("view", "--db", pg_url))
        try:
            await wait_for(lambda: last_count(term) == 0, 30, "the viewer")
            before = [await post(base) for _ in range(3)]
            assert [a.status_code for a in before] == [200] * 3
            acked = {a.json()["id"] for a in before}
            await wait_for(lambda: len(events.seqs) == 3, what="the events in the list")
            await wait_for(lambda: last_count(term) == 3, what="them in the viewer")

            def header() -> str:
                return str(status.render())

            def shown() -> str:
                return str(detail.query_one("#detail-title", Static).render())

            await asyncio.to_thread(pg_cluster.stop, stop)
            try:
                # Said before any delivery fails, by the receiver and by the viewer.
                await wait_for(lambda: "database unreachable" in header(),
                               what="the header saying why")
                await wait_for(lambda: "database unreachable" in term.text(),
                               what="the viewer saying why")
                down = [await post(base) for _ in range(3)]
                assert [a.status_code for a in down] == [503] * 3  # never 200 unstored
                for answer in down:  # why, without psycopg's noise: the socket path again
                    error = answer.json()["error"]
                    assert "not stored: database unreachable" in error, error
                    assert "connection to server on socket" not in error, error
                # Keys are handled: the selection moves, and the pane says why it is empty.
                await pilot.press("home")
                assert events.selected == events.seqs[0]
                await pilot.press("down")
                assert events.selected == events.seqs[1]
                await wait_for(lambda: "database unreachable" in shown(),
                               what="the detail pane saying why")
            finally:
                await asyncio.to_thread(pg_cluster.start_again)

            # Back by itself, before any delivery: the warning clears, the event shows.
            await wait_for(lambda: "database unreachable" not in header(),
                           what="the header's warning to clear")
            second = events.row(events.seqs[1])
            assert second is not None
            await wait_for(lambda: second.id in shown(), what="the selected event again")
            again = await post(base)
            assert again.status_code == 200, again.text
            acked.add(again.json()["id"])
            await wait_for(lambda: len(events.seqs) == 4, what="the new event in the list")
            await wait_for(lambda: last_count(term) == 4, 30, what="it in the viewer")
            store = app.session.store
            assert {e.id for e in store.iter_events(store.seqs())} == acked
            said = [f"{n.title}: {n.message}" for n in app._notifications]
            assert said and not [s for s in said if "Error" in s or "Traceback" in s], said
            assert "Traceback" not in term.text()
        finally:
            term.close()
