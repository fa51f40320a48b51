"""Replay orchestration (inspector.core.delivery.replayer), without any UI: a real session
and store, real replays into a real local server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inspector.core.delivery import replay
from inspector.core.delivery.replayer import DEFAULT_TARGET, Replayer
from inspector.core.interop.export import DEFAULT_CURL_TARGET
from inspector.core.model import Event, new_id
from inspector.core.session import Session
from tests.conftest import Heard, Recorder, connectly_event, make_runtime, make_settings


def event(name: str, at: float) -> Event:
    case = connectly_event(name)
    return Event(id=new_id(), received_at=at, method="POST", path=case["path"], query="",
                 headers=list(case["headers"].items()), body=case["body"].encode())


class Harness:
    """A replayer on a session (no receiver); what the sinks heard, the targets told of."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store
        self.heard = Heard()
        session.subscribe(self.heard)
        self.targets: list[str] = []
        self.client = replay.new_client()
        self.replayer = Replayer(session, lambda: self.client, on_target=self.targets.append)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(make_runtime(make_settings(tmp_path), listen=False))
    yield h
    await h.client.aclose()
    h.session.close()


def again(h: Harness, **settings: Any) -> Replayer:
    """Another session on the same database."""
    h.session.close()
    h.session = make_runtime(make_settings(Path(h.store.path).parent, **settings),
                             listen=False)
    return Replayer(h.session, h.replayer.http)


async def test_many_replays_in_arrival_order_stores_each_and_remembers_the_target(
        harness: Harness, recorder: Recorder) -> None:
    # Stored out of arrival order: the newest first.
    late = await harness.store.add(event("media", 1_700_000_300.0))
    early = await harness.store.add(event("text", 1_700_000_100.0))
    middle = await harness.store.add(event("button", 1_700_000_200.0))
    progress: list[tuple[int, int]] = []

    run = await harness.replayer.many([late.seq, early.seq, middle.seq], recorder.url + "/",
                                      lambda done, total: progress.append((done, total)))

    assert run is not None and run.summary.text() == "3 replayed: 200 ×3"
    assert [r.body for r in recorder.requests] == [early.body, middle.body, late.body]
    assert [a.event_seq for a in harness.heard.attempts] == [early.seq, middle.seq, late.seq]
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert harness.store.rows([late.seq])[late.seq].result == 200  # stored as they went
    assert harness.targets == [recorder.url + "/"]
    assert harness.store.meta("replay_target") == recorder.url + "/"

    await harness.replayer.many([early.seq], recorder.url + "/")
    assert harness.targets == [recorder.url + "/"]  # the same target: nothing to remember


async def test_a_bad_target_sends_nothing_and_deleted_events_are_said(
        harness: Harness, recorder: Recorder) -> None:
    stored = await harness.store.add(event("text", 1_700_000_000.0))
    with pytest.raises(replay.ReplayError, match="not an http"):
        await harness.replayer.many([stored.seq], "ftp://nope")
    assert not harness.targets and not harness.heard.attempts and not recorder.requests
    await harness.store.delete([stored.seq])
    assert await harness.replayer.many([stored.seq], recorder.url + "/") is None
    assert not recorder.requests


async def test_resigning_never_vouches_for_an_event_that_arrived_invalid(
        harness: Harness, recorder: Recorder) -> None:
    valid = await harness.store.add(event("text", 1_700_000_000.0))
    tampered = await harness.store.add(event("text-tampered", 1_700_000_001.0))
    assert (valid.verdict, tampered.verdict) == ("valid", "invalid")

    signer = harness.replayer.signer(tampered)
    assert signer.doubt  # the guard: a person would have to confirm it
    kept = await harness.replayer.resigned(tampered, recorder.url + "/", signer)
    assert not kept.resigned and kept.note.startswith("not re-signed")
    sent = recorder.requests[-1].header("x-connectly-hmac-sha256")
    assert sent == connectly_event("text-tampered")["headers"]["x-connectly-hmac-sha256"]

    fresh = await harness.replayer.resigned(valid, recorder.url + "/",
                                            harness.replayer.signer(valid))
    assert fresh.resigned and fresh.status == 200
    assert [a.event_seq for a in harness.heard.attempts] == [tampered.seq, valid.seq]


async def test_targets_offered_and_aimed_at(harness: Harness) -> None:
    replayer = harness.replayer
    stored = await harness.store.add(event("text", 1_700_000_000.0))
    assert replayer.target == "" and replayer.offer() == DEFAULT_TARGET
    assert replayer.aim(stored) == DEFAULT_TARGET.rstrip("/") + stored.path
    assert replayer.curl_target() == DEFAULT_CURL_TARGET  # no receiver: where it listens

    await replayer.remember("http://app.test/in")
    assert replayer.aim(stored) == "http://app.test/in"  # a path of its own: as it is
    assert replayer.curl_target() == "http://app.test/in"

    assert again(harness).target == "http://app.test/in"  # remembered across sessions
    fixed = again(harness, replay_to="http://fixed.test/")
    assert fixed.fixed == fixed.target == fixed.offer() == "http://fixed.test/"
