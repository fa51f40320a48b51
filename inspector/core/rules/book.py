"""The live answer rules of a session, in order, with what each has done so far.

`apply(event, plan)` runs in the store's writer thread, after the analysis and before the
insert (so the stored event records the rule and the answer it got): the first enabled rule
that matches decides. Edits come from the loop (the TUI's Rules screen, through the
session) and replace the whole tuple of entries at once, so the writer always reads a
consistent list; an entry's counters are written by the writer thread only.

Cost: rules are tried in order with the cheap tests first (method, path, headers, provider,
kind, verdict); a `when` expression decodes the body once per event, however many rules ask.
With no rule and no breakpoint the session does not call this at all (the fast path).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from inspector.core.analysis import decoding
from inspector.core.analysis.analyzer import DESCRIBE_LIMIT
from inspector.core.capture.answers import default_body, make_answer
from inspector.core.display import count
from inspector.core.model import Event, Plan
from inspector.core.providers.delivery import BODY, delivery_key
from inspector.core.rules.expr import EvalError
from inspector.core.rules.rule import FAULTS, Reply, Rule, RuleError

KEYS_KEPT = 10_000  # delivery keys a rule remembers for its sequence (the oldest go first)


@dataclass(eq=False, slots=True)
class Entry:
    """A rule and what it has done: matches, failed evaluations, deliveries per key."""

    rule: Rule
    hits: int = 0
    failures: int = 0  # `when` could not be evaluated (missing field, wrong type)
    failure: str = ""  # the last reason
    seen: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def delivery(self, key: str) -> int:
        """Count one more delivery with this key; its number (1 for the first)."""
        n = self.seen.pop(key, 0) + 1
        self.seen[key] = n
        if len(self.seen) > KEYS_KEPT:
            self.seen.popitem(last=False)
        return n


class Request:
    """An event as a `when` expression sees it (expr.Subject). The body is the one the
    analysis decoded (`decoded`), else decoded here, once."""

    __slots__ = ("_body", "decoded", "event")

    def __init__(self, event: Event, decoded: decoding.Decoded | None = None) -> None:
        self.event = event
        self.decoded = decoded
        self._body: tuple[Any, str] | None = None  # (value, "" or why there is none)

    def root(self, name: str) -> Any:
        if name != "body":
            return getattr(self.event, name)
        if self._body is None:
            self._body = self._decode()
        value, problem = self._body
        if problem:
            raise EvalError(problem)
        return value

    def header(self, name: str) -> str | None:
        return self.event.header(name)

    def _decode(self) -> tuple[Any, str]:
        event = self.event
        if len(event.body) > DESCRIBE_LIMIT:
            return None, f"the body is over {DESCRIBE_LIMIT:,} bytes: rules do not read it"
        decoded = self.decoded or decoding.decode(event.body, event.headers,
                                                  cap=DESCRIBE_LIMIT * 4,
                                                  parse_limit=DESCRIBE_LIMIT)
        if decoded.kind == "form":
            return dict(decoded.form), ""
        if decoded.kind == "json":
            return decoded.value, ""
        return None, f"the body is {decoded.kind}, not JSON or a form"


class RuleBook:
    """The session's rules (and its breakpoints), as the receiver's answers use them."""

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self.entries: tuple[Entry, ...] = ()
        self.hold_all = 0.0  # the TUI's breakpoint: hold every request this long (0: off)
        self.hold_forwards = 0.0  # hold every forward this long before it leaves (0: off)
        for rule in rules:
            self.put(rule)
        self.saved = tuple(self.rules)  # as the config file has them (see `unsaved`)

    @property
    def unsaved(self) -> bool:
        """Changed since they were read from the config file or last written to it."""
        return tuple(self.rules) != self.saved

    @property
    def active(self) -> bool:
        """Whether anything here can change an answer (else the receiver's fast path)."""
        return bool(self.hold_all or self.hold_forwards
                    or any(e.rule.enabled for e in self.entries))

    @property
    def rules(self) -> list[Rule]:
        return [e.rule for e in self.entries]

    # -- edits (on the loop) -----------------------------------------------------------------

    def put(self, rule: Rule, index: int | None = None) -> None:
        """Add `rule` at the end, or replace the one at `index` (its counts start again).
        RuleError when another rule has its name."""
        for n, entry in enumerate(self.entries):
            if entry.rule.name == rule.name and n != index:
                raise RuleError(f"the name {rule.name!r} is taken by rule {n + 1}: names "
                                "must differ (the filter rule:NAME finds a rule's events)")
        entries = list(self.entries)
        if index is None:
            entries.append(Entry(rule))
        else:
            entries[index] = Entry(rule)
        self.entries = tuple(entries)

    def move(self, index: int, to: int) -> None:
        entries = list(self.entries)
        entries.insert(to, entries.pop(index))
        self.entries = tuple(entries)

    def toggle(self, index: int) -> None:
        """Enable or disable a rule; its counts stay."""
        entries = list(self.entries)
        old = entries[index]
        entries[index] = replace(old, rule=old.rule.toggled())
        self.entries = tuple(entries)

    def remove(self, index: int) -> None:
        entries = list(self.entries)
        del entries[index]
        self.entries = tuple(entries)

    # -- matching (in the store's writer thread) ----------------------------------------------

    def apply(self, event: Event, plan: Plan, decoded: decoding.Decoded | None = None, *,
              handshake: bool = False) -> bool:
        """Let the first matching rule decide `event`'s answer and `plan`; then the
        breakpoints. True when a rule set the answer (else the answer policy's applies).
        `decoded`: the body, if the analysis decoded it. `handshake`: a provider's endpoint
        check, which only a rule naming its kind decides, and no breakpoint holds."""
        answered = False
        entry = self.match(event, decoded, named=handshake)
        if entry is not None:
            answered = self._decide(entry, event, plan)
        if handshake:
            return answered
        if self.hold_all and not plan.hold:
            plan.hold = self.hold_all
        if self.hold_forwards and not plan.hold_forward:
            plan.hold_forward = self.hold_forwards
        return answered

    def match(self, event: Event, decoded: decoding.Decoded | None = None, *,
              named: bool = False) -> Entry | None:
        """The first enabled rule that matches (counting it, and the failed evaluations of
        the rules before it); `named`: of the rules that name a kind."""
        request: Request | None = None
        for entry in self.entries:
            rule = entry.rule
            if not rule.enabled or (named and not rule.kind):
                continue
            if rule.methods and event.method not in rule.methods:
                continue
            if rule.path is not None and not rule.path.matches(event.path):
                continue
            if rule.headers and not all(
                    (found := event.header(name)) is not None and (want is None or found == want)
                    for name, want in rule.headers):
                continue
            if ((rule.provider and event.provider != rule.provider)
                    or (rule.kind and event.kind != rule.kind)
                    or (rule.verdict and event.verdict != rule.verdict)):
                continue
            if rule.when is not None:
                request = request or Request(event, decoded)
                try:
                    if not rule.when.test(request):
                        continue
                except EvalError as exc:
                    entry.failures += 1
                    entry.failure = str(exc)
                    continue
            entry.hits += 1
            return entry
        return None

    @staticmethod
    def _decide(entry: Entry, event: Event, plan: Plan) -> bool:
        rule = entry.rule
        event.rule = rule.name
        if rule.delay is not None:
            plan.delay = rule.delay
        plan.hold = rule.hold
        plan.forward = rule.forward is not False
        plan.retries = rule.forward_retries
        plan.hold_forward = rule.hold_forward
        if not rule.replies:
            return False
        total = len(rule.replies)
        if total == 1:
            reply, note = rule.replies[0], ""
        else:
            what, key = delivery_key(event.headers, event.body)
            n = entry.delivery(f"{what}:{key}")
            step = min(n, total)
            reply = rule.replies[step - 1]
            same = "body" if what == BODY else what
            note = (f"answer {step} of {total} ({reply.describe()}): "
                    f"{count(n, 'delivery', 'deliveries')} with this {same} so far")
        _answer(event, plan, rule, reply)
        if note:
            event.answer_note = f"{note}; {event.answer_note}" if event.answer_note else note
        return True


def _answer(event: Event, plan: Plan, rule: Rule, reply: Reply) -> None:
    """Set the event's status and answer (and the plan's fault) from a rule's reply."""
    if reply.fault:
        event.status = 0  # no answer at all
        plan.fault = reply.fault
        plan.timeout = rule.timeout
        cap = f" (at most {rule.timeout:g} s)" if reply.fault == "timeout" else ""
        event.answer_note = f"{reply.fault}: {FAULTS[reply.fault]}{cap}"
        return
    event.status = reply.status
    if reply.body is not None:
        headers = list(reply.headers)
        event.answer = make_answer(reply.status, reply.body, headers, event.id,
                                   default_type=False) if any(
            k.lower() == "content-type" for k, _ in headers) else make_answer(
            reply.status, reply.body, headers, event.id)
    elif reply.headers:
        event.answer = make_answer(reply.status, default_body(event), list(reply.headers),
                                   event.id)
