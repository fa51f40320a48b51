"""The search grammar shared by the filter bar (`/`) and `inspector export --filter`.

    stripe "card declined" method:POST verdict:invalid -kind:ping since:10m answered:4xx

Two fields are about status codes, and they mean different things: `answered:` is what the
sender got from the inspector (413 for a refused body, 401 under --reject-invalid, what an
answer rule chose, `none` when a rule's fault gave no answer at all);
`result:` is what the latest replay or forward of the event got from your app (the list's
RESULT column). `status:` is the old name of `result:`, kept so that existing filters and
scripts still work. `rule:NAME` finds the events an answer rule decided (a glob, like
`path:`; quote a name with spaces).

`related:ID` finds the events about the same object as the event with that id, or about
the object with that id (a Connectly message id, a Stripe object, `owner/repo#12`, a
delivery id): the object's story, retries included. `related:this` is the event selected
in the TUI (`parse(text, this=its id)`). `retry:yes` finds deliveries that repeat an
earlier one, `retry:no` the first deliveries.

Words and "quoted phrases" are free text: each must appear (case-insensitive for ASCII) in
the path and query, a header name or value, or the body. `field:value` narrows by a field.
Terms are ANDed; a leading `-` negates one. `parse` turns text into a `Query` or raises
`FilterError` with a one-line message. This module is the grammar only: each backend
compiles a `Query` into its own SQL (SQLite: inspector.core.store.sqlite.queries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from inspector.core.model import Verdict

FIELDS = ("method", "verdict", "provider", "kind", "path", "answered", "result", "rule", "since",
          "related", "retry", "id")
ALIASES = {"status": "result"}  # the name `result:` had before `answered:` existed
HELP = ('text "a phrase" method:POST verdict:invalid provider:stripe kind:delivery_status '
        'path:/webhooks/* answered:4xx result:5xx rule:"flaky endpoint" since:10m '
        "related:this retry:yes -exclude")
THIS = "this"  # related:this, the event selected in the TUI
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_VERDICTS = {v.value: v.value for v in Verdict} | {"no-secret": "no_secret",
                                                  "nosecret": "no_secret"}
_FIELD_RE = re.compile(r"([A-Za-z_]+):")
_STATUS = re.compile(r"[1-5]xx|[1-5]\d\d")


class FilterError(ValueError):
    """A query that cannot be understood; the message says where and what to type."""


@dataclass(frozen=True, slots=True)
class Term:
    field: str  # "text" for free text, else one of FIELDS
    value: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...] = ()
    source: str = ""

    def __bool__(self) -> bool:
        return bool(self.terms)

    @property
    def texts(self) -> list[str]:
        return [t.value for t in self.terms if t.field == "text" and not t.negated]


# -- parsing -------------------------------------------------------------------------------


def parse(text: str, *, this: str | None = None) -> Query:
    """Parse a filter; raises FilterError with the column of the problem. `this`: the id of
    the event `related:this` means (None: there is none, and `related:this` is an error)."""
    terms: list[Term] = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        start = pos
        negated = text[pos] == "-"
        if negated:
            if pos + 1 == n or text[pos + 1].isspace():
                raise FilterError(f"'-' at column {pos + 1} must be followed by what to "
                                  "exclude (for example -kind:ping)")
            pos += 1
        match = _FIELD_RE.match(text, pos)
        name = match.group(1).lower() if match else ""
        name = ALIASES.get(name, name)
        # "https://x" or "12:30" is text, not a field.
        if match and not text.startswith("//", match.end()):
            if name not in FIELDS:
                raise FilterError(
                    f"unknown field {name!r} at column {pos + 1}: use "
                    f"{', '.join(FIELDS[:-1])} or {FIELDS[-1]} (quote text with a colon: "
                    f'"{text[pos:match.end()]}...")'
                )
            pos = match.end()
            value, pos = _value(text, pos)
            if not value:
                raise FilterError(f"{name}: at column {start + 1} needs a value "
                                  f"(for example {_EXAMPLES[name]})")
            if name == "related" and value.lower() == THIS:
                if this is None:
                    raise FilterError("related:this means the event selected in the list: "
                                      "select one, or give an id (related:01J...)")
                value = this
            terms.append(Term(name, _check(name, value), negated))
            continue
        value, pos = _value(text, pos)
        if value:
            terms.append(Term("text", value, negated))
    return Query(tuple(terms), text)


_EXAMPLES = {
    "method": "method:POST",
    "verdict": "verdict:invalid",
    "provider": "provider:stripe",
    "kind": "kind:delivery_status",
    "path": "path:/webhooks/*",
    "answered": "answered:4xx",
    "result": "result:5xx",
    "rule": 'rule:"flaky endpoint"',
    "since": "since:10m",
    "related": "related:this",
    "retry": "retry:yes",
    "id": "id:01J...",
}


def _value(text: str, pos: int) -> tuple[str, int]:
    """A bare word up to the next space, or a "quoted phrase" (\\" and \\\\ escaped)."""
    n = len(text)
    if pos < n and text[pos] == '"':
        out = []
        i = pos + 1
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n and text[i + 1] in '"\\':
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                return "".join(out), i + 1
            out.append(ch)
            i += 1
        raise FilterError(f'unterminated quote at column {pos + 1}: close it with "')
    end = pos
    while end < n and not text[end].isspace():
        end += 1
    return text[pos:end], end


def _check(name: str, value: str) -> str:
    """Validate and normalise a field's value."""
    if name == "method":
        methods = [m.strip().upper() for m in value.split(",") if m.strip()]
        if not methods or any(not m.isalpha() for m in methods):
            raise FilterError(f"method:{value} is not a method (for example method:POST)")
        return ",".join(methods)
    if name == "verdict":
        verdict = _VERDICTS.get(value.lower())
        if verdict is None:
            raise FilterError(f"verdict:{value} is not a verdict: use valid, invalid, "
                              "unsigned or no_secret")
        return verdict
    if name in ("provider", "kind"):
        return value.lower()
    if name == "result":
        value = value.lower()
        if not (_STATUS.fullmatch(value) or value in ("failed", "none")):
            raise FilterError(f"result:{value} is not a replay/forward result: use 2xx, 5xx, "
                              "an exact code such as 404, failed (no answer) or none (never "
                              "sent)")
        return value
    if name == "answered":
        value = value.lower()
        if not (_STATUS.fullmatch(value) or value == "none"):
            raise FilterError(f"answered:{value} is not a status the sender got: use 2xx, "
                              "4xx, an exact code such as 413, or none (an answer rule's "
                              "fault: no answer)")
        return value
    if name == "since":
        since_seconds(value, 0.0)  # raises when bad
        return value
    if name == "retry":
        value = value.lower()
        if value not in ("yes", "no"):
            raise FilterError(f"retry:{value} is not yes or no (retry:yes finds deliveries "
                              "that repeat an earlier one)")
        return value
    return value


def status_range(value: str) -> tuple[int, int]:
    """The codes a status value (`answered:`, `result:`) takes in: 4xx, or one code."""
    if value.endswith("xx"):
        low = int(value[0]) * 100
        return low, low + 99
    return int(value), int(value)


def since_seconds(value: str, now: float) -> float:
    """The Unix time `since:value` starts at: 10m, 2h, 1d, 30s, 1w or an ISO date/time."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", value.strip().lower())
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(f"since:{value} is not a duration or date: use 30s, 10m, 2h, 1d, "
                          "1w or 2026-11-27T12:00") from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as the list shows it
    return when.astimezone(UTC).timestamp()
