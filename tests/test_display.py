"""The display rules (core/display.py): the words every face uses for times, sizes, status
codes, verdicts, kinds and results."""

from __future__ import annotations

import pytest

from inspector.core import display
from inspector.core.model import Event, Verdict
from inspector.faces.serve import line


@pytest.mark.parametrize(("size", "short"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (150 * 1024, "150 KB"),
    (5 * 1024**2, "5.0 MB"), (3 * 1024**3, "3.0 GB"), (5000 * 1024**3, "5000 GB"),
])
def test_human_size(size: int, short: str) -> None:
    assert display.human_size(size) == short


def test_byte_size_adds_the_short_form_past_a_kilobyte() -> None:
    assert display.byte_size(1) == "1 byte"
    assert display.byte_size(1000) == "1,000 bytes"
    assert display.byte_size(1536) == "1,536 bytes (1.5 KB)"


def test_status_words() -> None:
    assert display.status_text(404) == "404 Not Found"
    assert display.status_text(599) == "599"  # no standard phrase
    assert display.status_text(None) == "no response"
    assert display.status_phrase(201) == "Created" and display.status_phrase(799) == ""


def test_verdict_kind_and_result_labels() -> None:
    assert display.verdict_label(Verdict.NO_SECRET) == "? no secret"
    assert display.verdict_label("odd") == "odd"
    assert display.kind_label("message", "", 200) == "message"
    assert display.kind_label("message", "body too large", 413) == "refused 413"
    assert display.result_label(None, None) == ""
    assert display.result_label(0, 12.0) == "✗ failed"
    assert display.result_label(200, 12.4) == "200 12ms"
    assert display.result_label(504, 30_000.0) == "504 30s"
    assert display.duration(2.6) == "3 ms"


@pytest.mark.parametrize("stamp", [1e308, float("nan"), -1e20])
def test_times_no_calendar_holds_keep_their_shape(stamp: float) -> None:
    assert display.local_time(stamp) == "??:??:??"
    assert display.local_time(stamp, display.DATE_TIME) == "????-??-?? ??:??:??"
    assert display.utc_iso(stamp) == "????-??-??T??:??:??.???Z"
    assert len(display.millis(stamp)) == 4


def test_times() -> None:
    assert display.utc_iso(1_800_000_000.25) == "2027-01-15T08:00:00.250Z"
    assert display.millis(1.0456) == ".045"
    assert len(display.file_stamp(0)) == len("19700101-000000")


def test_serve_writes_the_same_labels() -> None:
    event = Event("01HVZZZZZZZZZZZZZZZZZZZZZZ", 0.0, "POST", "/big", "", [], b"",
                  refused="too large", status=413, verdict=Verdict.UNSIGNED)
    assert "refused 413" in line(event) and "– unsigned" in line(event)
