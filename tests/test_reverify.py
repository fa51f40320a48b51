"""Re-verification (inspector.core.analysis.reverify), without any UI: a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.core.analysis import reverify
from inspector.core.analysis.analyzer import Analyzer
from inspector.core.model import Event, Row, new_id
from inspector.core.signatures import Secrets
from inspector.core.store import open_store
from tests.conftest import SECRET, connectly_event


def test_the_visible_page_first_then_upwards_then_the_rest() -> None:
    seqs = list(range(1, 21))
    assert reverify.visible_first(seqs, top=5, page=3) == [
        6, 7, 8, 9, 5, 4, 3, 2, 1, *range(10, 21)]
    assert reverify.visible_first(seqs, top=-1, page=30) == seqs
    assert reverify.visible_first([], top=0, page=3) == []


async def test_changed_verdicts_are_written_and_reported_a_chunk_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reverify, "CHUNK", 2)
    blind = Analyzer(secrets=Secrets())  # no secret when they arrived
    store = open_store(tmp_path / "e.db", prepare=blind.analyze)
    try:
        names = ["text", "text-tampered", "media", "text-unsigned", "button"]
        stored = []
        for n, name in enumerate(names):
            case = connectly_event(name)
            stored.append(await store.add(Event(
                id=new_id(), received_at=1_700_000_000.0 + n, method="POST",
                path=case["path"], query="", headers=list(case["headers"].items()),
                body=case["body"].encode())))
        seqs = [e.seq for e in stored]
        assert [e.verdict for e in stored] == [
            "no_secret", "no_secret", "no_secret", "unsigned", "no_secret"]
        await store.delete([seqs[2]])  # deleted meanwhile: skipped

        reported: list[list[Row]] = []
        knowing = Analyzer(secrets=Secrets(default=SECRET))
        changed = reverify.reverify(store, knowing, seqs, changed=reported.append)

        assert changed == 3  # the unsigned one stays as it was
        assert [[r.verdict for r in rows] for rows in reported] == [
            ["valid", "invalid"], ["valid"]]
        rows = store.rows(seqs)
        assert [rows[s].verdict for s in seqs if s in rows] == [
            "valid", "invalid", "unsigned", "valid"]
        assert reverify.reverify(store, knowing, seqs, changed=reported.append) == 0
        assert len(reported) == 2  # nothing changed, nothing written or reported

        # A stop is heard between chunks.
        assert reverify.reverify(store, blind, seqs, cancelled=lambda: True) == 0
        assert store.rows([seqs[0]])[seqs[0]].verdict == "valid"
    finally:
        store.close()
