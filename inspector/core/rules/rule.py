"""An answer rule: which requests it matches, and what they are answered.

In `inspector.toml` (or the TUI's Rules screen, which edits the same text):

    [[rule]]
    name = "flaky endpoint"
    path = "/webhooks/*"                       # a glob on the path (* crosses /)
    when = 'body.statusUpdate.status == "read"'  # optional (see expr.py)
    respond = [503, 503, 200]                  # per delivery; one number = always

    [[rule]]
    path = "/hang/*"
    fault = "close"                            # close | reset | timeout

Matching (all that are given must hold): `method` ("POST" or a list), `path`, `header`
("Name" present, or "Name: value" equal; or a list of those), `provider`, `kind`,
`verdict`, `when`.

Answering: `respond` is a status, a fault name, a table `{status = 503, body = "…",
headers = ["Retry-After: 1"]}` or a fault `{fault = "timeout"}`, or a list of those: the
n-th delivery with the same delivery key (the provider's delivery id, else the body's hash)
gets the n-th, and the last one repeats. `body` and `headers` apply to every answer that
sets none; `delay` (seconds) comes before any answer; `fault` is `respond = ["fault"]`;
`timeout` caps the timeout fault (seconds, default 60). `hold = true` (or a number of
seconds, default 25) pauses matching requests at a breakpoint before they are answered;
`forward = false` keeps them from --forward-to; `forward_retries = N` retries their failed
forwards; `hold_forward = true` pauses their forward so it can be edited before it leaves.
`enabled = false` keeps a rule without using it.

A rule must do something (a match alone would only hide the rules after it). Every
mistake is a `RuleError` naming the line and the reason; nothing is skipped.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from inspector.core.capture.answers import (
    MAX_DELAY,
    PolicyError,
    answer_header,
    check_delay,
    check_status,
    read_body,
)
from inspector.core.display import count
from inspector.core.headers import TOKEN
from inspector.core.model import Verdict
from inspector.core.rules.expr import Expr, ExprError, parse
from inspector.core.rules.patterns import Glob, PatternError, glob
from inspector.core.sanitize import clip, visible_line
from inspector.core.toml_lines import Lines

FAULTS = {
    "close": "closed the connection without an answer",
    "reset": "reset the connection (TCP RST)",
    "timeout": "held the connection without an answer until the sender gave up",
}
DEFAULT_HOLD = 25.0  # seconds: under most providers' timeouts (10-30 s)
DEFAULT_TIMEOUT = 60.0  # seconds the timeout fault holds a connection at most
MAX_RETRIES = 20
MAX_SEQUENCE = 100  # answers in one `respond` list
NAME_LIMIT = 80
MATCH_KEYS = ("method", "path", "header", "provider", "kind", "verdict", "when")
ACTION_KEYS = ("respond", "body", "headers", "delay", "fault", "timeout", "hold", "forward",
               "forward_retries", "hold_forward")
KEYS = ("name", "enabled", *MATCH_KEYS, *ACTION_KEYS)
_VERDICTS = tuple(v.value for v in Verdict)
_ENABLED_LINE = re.compile(r"(?m)^\s*enabled\s*=.*$")


class RuleError(ValueError):
    """A rule that cannot be used: one line naming the place and the reason."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer of a rule: a status (with a body and headers when given), or a fault."""

    status: int = 200
    body: bytes | None = None  # None: our JSON
    headers: tuple[tuple[str, str], ...] = ()
    fault: str = ""  # close | reset | timeout: no answer

    def describe(self) -> str:
        if self.fault:
            return self.fault
        extra = " + body" if self.body is not None else ""
        if self.headers:
            extra += f" + {count(len(self.headers), 'header')}"
        return f"{self.status}{extra}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed rule. `source` is its TOML, as written (what the editor shows and what is
    saved back to the file)."""

    name: str
    enabled: bool = True
    methods: frozenset[str] = frozenset()
    path: Glob | None = None
    headers: tuple[tuple[str, str | None], ...] = ()  # (name, value; None: present)
    provider: str = ""
    kind: str = ""
    verdict: str = ""
    when: Expr | None = None
    replies: tuple[Reply, ...] = ()  # empty: the default answer
    delay: float | None = None  # None: the answer policy's
    hold: float = 0.0  # seconds at a breakpoint (0: none)
    timeout: float = DEFAULT_TIMEOUT
    forward: bool | None = None  # None: as configured
    forward_retries: int | None = None
    hold_forward: float = 0.0
    source: str = field(default="", compare=False)
    where: str = field(default="", compare=False)  # "inspector.toml:12", for messages

    def describe_match(self) -> str:
        """"POST /webhooks/* provider:stripe when …": what it matches, in one line."""
        parts = []
        if self.methods:
            parts.append(",".join(sorted(self.methods)))
        if self.path is not None:
            parts.append(self.path.text)
        for name, value in self.headers:
            parts.append(f"{name}: {value}" if value is not None else f"{name}: present")
        parts += [f"{k}:{v}" for k, v in (("provider", self.provider), ("kind", self.kind),
                                          ("verdict", self.verdict)) if v]
        if self.when is not None:
            parts.append(f"when {self.when.text}")
        return " ".join(parts) or "every request"

    def describe_action(self) -> str:
        """"503, 503, 200 · after 2 s · hold 25 s": what it does, in one line."""
        parts = [", ".join(r.describe() for r in self.replies)] if self.replies else []
        if self.delay:
            parts.append(f"after {self.delay:g} s")
        if self.hold:
            parts.append(f"hold {self.hold:g} s")
        if self.forward is False:
            parts.append("not forwarded")
        if self.forward_retries is not None:
            parts.append(f"{count(self.forward_retries, 'forward retry', 'forward retries')}")
        if self.hold_forward:
            parts.append(f"hold forward {self.hold_forward:g} s")
        return " · ".join(parts) or "the default answer"

    def toggled(self) -> Rule:
        """The same rule, enabled or disabled, its source saying so."""
        enabled = not self.enabled
        line = "enabled = true" if enabled else "enabled = false"
        if _ENABLED_LINE.search(self.source):
            source = _ENABLED_LINE.sub(line, self.source, count=1)
        else:
            source = self.source.rstrip("\n") + f"\n{line}\n"
        return replace(self, enabled=enabled, source=source)


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """Where `@file` bodies are read from, and whether they must stay inside that folder
    (an inspector.toml found rather than named: see answers.read_body)."""

    base: Path | None = None
    confined: bool = False


Locate = Callable[[str], str]  # a key -> "file:line" (or "line 3" in the editor)


def rule_from_table(table: Mapping[str, Any], *, number: int, locate: Locate,
                    source: str = "", where: str = "", context: Context | None = None
                    ) -> Rule:
    """A rule from its TOML table; RuleError names the line and the reason. `number` is
    its position (1-based): an unnamed rule is called "rule N"."""
    context = context or Context()
    given = table.get("name")
    label = (f"rule {number} ({visible_line(clip(given, 40))})" if isinstance(given, str)
             and given else f"rule {number}")

    def fail(key: str, what: str) -> RuleError:
        return RuleError(f"{locate(key)}: {label}: {visible_line(key)} {what}")

    for key in table:
        if key not in KEYS:
            raise fail(key, f"is not a known key (known: {', '.join(KEYS)})")
    name = _name(table, fail) or f"rule {number}"
    enabled = _flag(table, "enabled", fail, True)
    methods = _methods(table, fail)
    path = None
    if "path" in table:
        text = _text(table, "path", fail)
        if not text.startswith(("/", "*")):
            raise fail("path", "must start with / (it is matched against the request path)")
        try:
            path = glob(text)
        except PatternError as exc:
            raise fail("path", f"is refused: {exc}") from None
    headers = _headers(table, fail)
    provider = _text(table, "provider", fail).lower() if "provider" in table else ""
    kind = _text(table, "kind", fail) if "kind" in table else ""
    verdict = _text(table, "verdict", fail).lower() if "verdict" in table else ""
    if verdict and verdict not in _VERDICTS:
        raise fail("verdict", f"must be one of {', '.join(_VERDICTS)}")
    when = None
    if "when" in table:
        try:
            when = parse(_text(table, "when", fail))
        except ExprError as exc:
            raise fail("when", f"{exc}") from None
    replies = _replies(table, fail, context)
    delay = None
    if "delay" in table:
        delay = _seconds(table, "delay", fail, allow_zero=True)
    timeout = _seconds(table, "timeout", fail) if "timeout" in table else DEFAULT_TIMEOUT
    hold = _hold(table, "hold", fail)
    hold_forward = _hold(table, "hold_forward", fail)
    forward = _flag(table, "forward", fail, None) if "forward" in table else None
    retries = None
    if "forward_retries" in table:
        retries = table["forward_retries"]
        if not isinstance(retries, int) or isinstance(retries, bool) or not (
                0 <= retries <= MAX_RETRIES):
            raise fail("forward_retries", f"must be a whole number from 0 to {MAX_RETRIES}")
    if forward is False and (retries is not None or hold_forward):
        key = "forward_retries" if retries is not None else "hold_forward"
        raise fail(key, "makes no sense with forward = false")
    if not (replies or delay is not None or hold or forward is False or retries is not None
            or hold_forward):
        # It would match, record its name and answer as if no rule had: surely a mistake
        # (a forgotten respond), and it hides every rule after it.
        first = next(iter(table), "respond")
        raise RuleError(f"{locate(first)}: {label}: has no action (it would answer as if no "
                        "rule matched, and hide the rules after it): give it respond, fault, "
                        "body, headers, delay, hold, forward = false, forward_retries or "
                        "hold_forward")
    return Rule(name, enabled, methods, path, headers, provider, kind, verdict, when,
                replies, delay, hold, timeout, forward, retries, hold_forward,
                source=source, where=where)


def rule_from_text(text: str, *, number: int, context: Context | None = None) -> Rule:
    """A rule as the editor holds it: the keys of one [[rule]] table (the header line may
    be there or not). Places are "line N" of `text`."""
    lines = text.splitlines()
    body = [line for line in lines if not re.match(r"\s*\[\[\s*rule\s*\]\]", line)]
    where = Lines("line", lines)
    if len(body) != len(lines):
        text = "\n".join(body)
        where = Lines("line", body)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"not valid TOML: {visible_line(str(exc))}") from None
    except RecursionError:
        raise RuleError("not valid TOML: nested too deeply") from None
    return rule_from_table(table, number=number, locate=lambda key: where.key(None, key),
                           source=text.strip("\n") + "\n", context=context)


# -- one key each ------------------------------------------------------------------------------

Fail = Callable[[str, str], RuleError]


def _text(table: Mapping[str, Any], key: str, fail: Fail) -> str:
    value = table[key]
    if not isinstance(value, str):
        raise fail(key, "must be a string")
    return value


def _name(table: Mapping[str, Any], fail: Fail) -> str:
    if "name" not in table:
        return ""
    name = _text(table, "name", fail).strip()
    if not name or len(name) > NAME_LIMIT or any(not c.isprintable() for c in name):
        raise fail("name", f"must be printable text of 1 to {NAME_LIMIT} characters")
    return name


def _flag(table: Mapping[str, Any], key: str, fail: Fail, default: bool | None
          ) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, bool):
        raise fail(key, "must be true or false")
    return value


def _methods(table: Mapping[str, Any], fail: Fail) -> frozenset[str]:
    if "method" not in table:
        return frozenset()
    value = table["method"]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            isinstance(m, str) and TOKEN.fullmatch(m) for m in items):
        raise fail("method", 'must be a method or a list of methods, such as "POST"')
    return frozenset(items)


def _headers(table: Mapping[str, Any], fail: Fail) -> tuple[tuple[str, str | None], ...]:
    if "header" not in table:
        return ()
    value = table["header"]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(h, str) for h in items):
        raise fail("header", 'must be "Name" (present), "Name: value" (equal), or a list')
    out: list[tuple[str, str | None]] = []
    for item in items:
        name, colon, wanted = item.partition(":")
        name = name.strip()
        if not TOKEN.fullmatch(name):
            raise fail("header", f"{visible_line(clip(item, 60))!r} does not start with a "
                                 "header name")
        out.append((name, wanted.strip() if colon else None))
    return tuple(out)


def _seconds(table: Mapping[str, Any], key: str, fail: Fail, *,
             allow_zero: bool = False) -> float:
    value = table[key]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(key, "must be a number of seconds")
    try:
        seconds = check_delay(value)
    except PolicyError as exc:
        raise fail(key, f"is wrong: {exc}") from None
    if not seconds and not allow_zero:
        raise fail(key, "must be more than 0 seconds")
    return seconds


def _hold(table: Mapping[str, Any], key: str, fail: Fail) -> float:
    """`hold = true` (the default deadline), a number of seconds, or false."""
    if key not in table:
        return 0.0
    value = table[key]
    if isinstance(value, bool):
        return DEFAULT_HOLD if value else 0.0
    if not isinstance(value, int | float) or not 0 < value <= MAX_DELAY:
        raise fail(key, f"must be true, false or seconds (up to {MAX_DELAY:g})")
    return float(value)


def _replies(table: Mapping[str, Any], fail: Fail, context: Context) -> tuple[Reply, ...]:
    body = headers = None
    try:
        if "body" in table:
            body = read_body(_text(table, "body", fail), context.base,
                             confined=context.confined)
    except PolicyError as exc:
        raise fail("body", f"is wrong: {exc}") from None
    if "headers" in table:
        headers = _answer_headers(table["headers"], "headers", fail)
    if "fault" in table and "respond" in table:
        raise fail("fault", "and respond are both set: put the fault in respond, such as "
                            'respond = [503, "close"]')
    if "fault" in table:
        items: list[Any] = [_text(table, "fault", fail)]
        key = "fault"
    elif "respond" in table:
        value = table["respond"]
        items = value if isinstance(value, list) else [value]
        key = "respond"
        if not items:
            raise fail(key, "is empty: give a status, such as 503, or a list")
        if len(items) > MAX_SEQUENCE:
            raise fail(key, f"has {len(items)} answers; the limit is {MAX_SEQUENCE}")
    else:
        if body is not None or headers is not None:
            return (Reply(200, body, headers or ()),)
        return ()
    return tuple(_reply(item, n, key, fail, context, body, headers)
                 for n, item in enumerate(items, 1))


def _reply(item: Any, n: int, key: str, fail: Fail, context: Context, body: bytes | None,
           headers: tuple[tuple[str, str], ...] | None) -> Reply:
    # "respond answer 2 …" names an answer of the list; `fault` holds one, named by the key.
    lead = f"answer {n} " if key == "respond" else ""
    at = f"answer {n}: " if key == "respond" else ""
    if isinstance(item, bool):
        raise fail(key, f"{lead}is true or false: give a status or a fault")
    if isinstance(item, int):
        return Reply(_status(item, key, at, fail), body, headers or ())
    if isinstance(item, str):
        if item not in FAULTS:
            raise fail(key, f"{lead}{visible_line(clip(item, 40))!r} is not a fault (use "
                            f"{', '.join(FAULTS)})")
        return Reply(0, fault=item)
    if isinstance(item, dict):
        known = ("status", "body", "headers", "fault")
        for k in item:
            if k not in known:
                raise fail(key, f"{at}{visible_line(str(k))!r} is not one of "
                                f"{', '.join(known)}")
        if "fault" in item:
            if len(item) > 1 or item["fault"] not in FAULTS:
                raise fail(key, f"{at}a fault is alone, and one of {', '.join(FAULTS)}")
            return Reply(0, fault=item["fault"])
        status = item.get("status", 200)
        if not isinstance(status, int) or isinstance(status, bool):
            raise fail(key, f"{at}status must be a whole number, such as 503")
        own_body = body
        if "body" in item:
            if not isinstance(item["body"], str):
                raise fail(key, f"{at}body must be a string")
            try:
                own_body = read_body(item["body"], context.base, confined=context.confined)
            except PolicyError as exc:
                raise fail(key, f"{at}body is wrong: {exc}") from None
        own_headers = headers
        if "headers" in item:
            own_headers = _answer_headers(item["headers"], key, fail, at)
        return Reply(_status(status, key, at, fail), own_body, own_headers or ())
    raise fail(key, f"{lead}must be a status, a fault or a table")


def _status(status: int, key: str, at: str, fail: Fail) -> int:
    """`at`: "answer 2: " before the reason, or nothing."""
    try:
        return check_status(status)
    except PolicyError as exc:
        raise fail(key, f"{at}{exc}") from None


def _answer_headers(value: Any, key: str, fail: Fail, at: str = ""
                    ) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(key, f'{at}headers must be a list of "Name: value" strings')
    try:
        return tuple(answer_header(h) for h in value)
    except PolicyError as exc:
        raise fail(key, f"{at}{exc}") from None
