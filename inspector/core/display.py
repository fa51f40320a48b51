"""The display rules every face follows: times, sizes, status codes, verdicts, kinds, replay
results and counted nouns. A face decides where and in which style; what the words are is
decided here, once.

Times come from stored Unix times that may be out of any calendar's range: a database can
hold a time no date function accepts (1e308 came in through an old import, and killed the
TUI on every start). The time functions never raise, and keep the width of the format.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http import HTTPStatus

from inspector.core.model import Verdict

VERDICT_LABELS: dict[str, str] = {
    Verdict.VALID: "✓ valid",
    Verdict.INVALID: "✗ invalid",
    Verdict.UNSIGNED: "– unsigned",
    Verdict.NO_SECRET: "? no secret",
}
TIME = "%H:%M:%S"
DATE_TIME = "%Y-%m-%d %H:%M:%S"
FILE_STAMP = "%Y%m%d-%H%M%S"


# -- counted nouns ------------------------------------------------------------------------------


def count(n: int, noun: str, plural: str = "") -> str:
    """`n` with thousands separators, then `noun`, or `plural` (default noun + "s")."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


# -- time ---------------------------------------------------------------------------------------


def local_time(stamp: float, fmt: str = TIME) -> str:
    """`stamp` in local time as `fmt`; question marks in place of digits when it has none."""
    try:
        return time.strftime(fmt, time.localtime(stamp))
    except (OverflowError, ValueError, OSError, TypeError):
        return "".join("?" if c.isdigit() else c for c in time.strftime(fmt, time.gmtime(0)))


def millis(stamp: float) -> str:
    """".123": the milliseconds of `stamp`, for a time shown to the millisecond."""
    try:
        return f".{int(stamp * 1000) % 1000:03d}"
    except (OverflowError, ValueError, TypeError):
        return ".???"


def utc_iso(stamp: float) -> str:
    """"2026-11-27T12:00:00.250Z", or the same shape in question marks."""
    try:
        when = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return "????-??-??T??:??:??.???Z"
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def file_stamp(now: float | None = None) -> str:
    """"20261127-120000": local time, for a file name."""
    return local_time(time.time() if now is None else now, FILE_STAMP)


def elapsed(seconds: float) -> str:
    """"40 ms", "4.2 s", "12 s", "3 min 5 s", "2 h 3 min", "3 days 2 h": the time between
    two events (a negative one, from a clock set back, as "-2.0 s")."""
    try:
        if seconds < 0:
            return "-" + elapsed(-seconds)
        if seconds < 1:
            return f"{seconds * 1000:.0f} ms"
        if seconds < 10:
            return f"{seconds:.1f} s"
        whole = int(seconds)
    except (OverflowError, ValueError, TypeError):
        return "? s"
    for unit, size, small, small_size in (("day", 86400, "h", 3600), ("h", 3600, "min", 60),
                                          ("min", 60, "s", 1)):
        if whole >= size:
            n, rest = divmod(whole, size)
            big = f"{n:,} {unit}{'s' if unit == 'day' and n != 1 else ''}"
            rest //= small_size
            return f"{big} {rest} {small}" if rest else big
    return f"{whole} s"


def duration(ms: float) -> str:
    """"12 ms": how long a replay or forward took."""
    return f"{ms:.0f} ms"


# -- sizes --------------------------------------------------------------------------------------


def human_size(size: int) -> str:
    """"512 B", "1.5 KB", "120 MB": short, for a column."""
    if size < 1024:
        return f"{size} B"
    for unit in ("KB", "MB", "GB"):
        size_f = size / 1024
        if size_f < 1024 or unit == "GB":
            return f"{size_f:.1f} {unit}" if size_f < 100 else f"{size_f:.0f} {unit}"
        size = int(size_f)
    return f"{size} B"


def byte_size(size: int) -> str:
    """"1,536 bytes (1.5 KB)": exact, with the short form past a kilobyte."""
    text = count(size, "byte")
    return f"{text} ({human_size(size)})" if size >= 1024 else text


# -- status codes, verdicts, kinds, results -----------------------------------------------------


def status_phrase(status: int) -> str:
    """"Not Found" for 404; "" for a code without a standard phrase."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def status_text(status: int | None) -> str:
    """"404 Not Found", "599", or "no response"."""
    if status is None:
        return "no response"
    phrase = status_phrase(status)
    return f"{status} {phrase}" if phrase else str(status)


def verdict_label(verdict: str) -> str:
    """"✓ valid" for a stored verdict; an unknown one as it is."""
    return VERDICT_LABELS.get(verdict, verdict)


def kind_label(kind: str, refused: str, status: int) -> str:
    """What the kind column says: "refused 413" for a refused delivery, else its kind ("" when
    none is known; each face has its own placeholder)."""
    return f"refused {status}" if refused else kind


def answered_text(status: int, note: str = "") -> str:
    """What the sender got, in words: "503 Service Unavailable", or for no answer at all (an
    answer rule's fault) "no answer (close)"."""
    if status:
        return status_text(status)
    fault = note.partition(":")[0] if ":" in note else ""
    return f"no answer ({fault})" if fault and " " not in fault else "no answer"


def answer_label(status: int, rule: str, note: str) -> str:
    """The list's answer column: "503 flaky endpoint", "✗ close hang", "200"."""
    fault = note.partition(":")[0] if status == 0 and ":" in note else ""
    what = str(status) if status else f"✗ {fault}" if fault and " " not in fault else "✗"
    return f"{what} {rule}" if rule else what


def retry_label(retry: int, first: str, since_first: float) -> str:
    """"retry #2 of 01J… (+4.0 s)": a delivery that repeats an earlier one, `first` naming the
    first delivery (its id; a list gives its time); "" for a first delivery."""
    if retry <= 0:
        return ""
    return f"retry #{retry} of {first} (+{elapsed(since_first)})"


def result_label(result: int | None, ms: float | None) -> str:
    """The latest replay or forward: "200 12ms", "✗ failed" (0: no answer), "" (never sent)."""
    if result is None:
        return ""
    if result == 0:
        return "✗ failed"
    ms = ms or 0
    return f"{result} {ms:.0f}ms" if ms < 10_000 else f"{result} {ms / 1000:.0f}s"
