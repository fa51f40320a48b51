"""Answer rules without a server: the `when` language, patterns that never take long, rules
read from TOML (the issue's syntax as written; every mistake with its line and reason), the
rule book's matching and sequences, and saving rules back to the file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from inspector.core.config import ConfigError, load_config, load_file, save_rules
from inspector.core.model import Event, Plan, new_id
from inspector.core.rules.book import Request, RuleBook
from inspector.core.rules.expr import MAX_DEPTH, EvalError, ExprError, parse
from inspector.core.rules.patterns import GLOB_LIMIT, PatternError, glob, regex
from inspector.core.rules.rule import DEFAULT_HOLD, RuleError, rule_from_text

ISSUE_SYNTAX = """\
[[rule]]
name = "flaky endpoint"
path = "/webhooks/*"
when = 'body.statusUpdate.status == "read"'   # optional
respond = [503, 503, 200]                      # a sequence per delivery key; one number = always

[[rule]]
path = "/hang/*"
fault = "close"                                # close | reset | timeout
"""


def event(body: Any = None, *, path: str = "/webhooks/connectly", method: str = "POST",
          headers: list[tuple[str, str]] | None = None, raw: bytes | None = None) -> Event:
    data = raw if raw is not None else json.dumps(body).encode()
    return Event(id=new_id(), received_at=time.time(), method=method, path=path, query="",
                 headers=headers or [("content-type", "application/json")], body=data)


def test_when(expr: str, body: Any, **kw: Any) -> bool:
    return parse(expr).test(Request(event(body, **kw)))


test_when.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


# -- the `when` language -----------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "body", "expected"), [
    ('body.statusUpdate.status == "read"', {"statusUpdate": {"status": "read"}}, True),
    ('body.statusUpdate.status == "read"', {"statusUpdate": {"status": "sent"}}, False),
    ("body.amount > 100", {"amount": 150}, True),
    ("body.amount > 100", {"amount": 100.0}, False),
    ("body.amount >= 100 && body.amount <= 200", {"amount": 100}, True),
    ("exists(body.context)", {"context": {"id": 1}}, True),
    ("exists(body.context)", {"message": {}}, False),
    ("exists(body.context) and body.context.id == 1", {"message": {}}, False),
    ("not exists(body.a.b.c)", {"a": 1}, True),
    ('body.items[0].sku in ["A1", "B2"]', {"items": [{"sku": "B2"}]}, True),
    ("body.items[-1] == 3", {"items": [1, 2, 3]}, True),
    ('body["a key"] == true', {"a key": True}, True),
    ('body.text contains "STOP"', {"text": "please STOP now"}, True),
    ('body.tags contains "x"', {"tags": ["y", "x"]}, True),
    ('body.text matches "^(STOP|stop)$"', {"text": "stop"}, True),
    ('body.text matches "^(STOP|stop)$"', {"text": "stopped"}, False),
    ('lower(body.text) == "hi"', {"text": "HI"}, True),
    ("len(body.items) == 2", {"items": [1, 2]}, True),
    ('body.n == 1 || body.n == "1"', {"n": "1"}, True),
    ('body.n == 1', {"n": "1"}, False),  # a string is never a number
    ("body.flag == 1", {"flag": True}, False),  # nor a boolean
    ("body.x == null", {"x": None}, True),
    ('method == "POST" and path matches "^/webhooks/"', {}, True),
    ('header("Content-Type") == "application/json"', {}, True),
    ('headers["content-type"] contains "json"', {}, True),
    ("!(body.a == 1)", {"a": 2}, True),
    ("body.ok", {"ok": True}, True),
])
def test_expressions(expr: str, body: Any, expected: bool) -> None:
    assert test_when(expr, body) is expected


@pytest.mark.parametrize(("expr", "body", "reason"), [
    ("body.amount > 100", {"amount": "150"}, "cannot compare a string with a number"),
    ("body.statusUpdate.status == 1", {"message": {}}, "body has no field 'statusUpdate'"),
    ("body.items[3] == 1", {"items": [1]}, "body.items has 1 items: no [3]"),
    ("body.a.b == 1", {"a": "text"}, "body.a is a string, not an object"),
    ("body.ok", {"ok": "yes"}, "body.ok is a string, not true or false"),
    ('header("X-Missing") == "1"', {}, "there is no header X-Missing"),
    ("len(body.n) == 1", {"n": 5}, "len: body.n is a number"),
])
def test_a_failing_evaluation_says_why(expr: str, body: Any, reason: str) -> None:
    with pytest.raises(EvalError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        test_when(expr, body)


def test_a_body_that_is_not_json_fails_to_evaluate_but_forms_are_read() -> None:
    with pytest.raises(EvalError, match="the body is text, not JSON or a form"):
        parse('body.a == "1"').test(Request(event(raw=b"plain words",
                                                  headers=[("content-type", "text/plain")])))
    form = event(raw=b"Body=STOP&From=%2B1555",
                 headers=[("content-type", "application/x-www-form-urlencoded")])
    assert parse('body.Body == "STOP" and body.From == "+1555"').test(Request(form))


@pytest.mark.parametrize(("expr", "column", "reason"), [
    ("body.a ==", 10, "expected a value, found the end"),
    ("body.a = 1", 8, "unexpected '='"),
    ('body.a == "open', 11, "the string is not closed"),
    ("bodee.a == 1", 1, "unknown name 'bodee'"),
    ("body.a == 1 body.b == 2", 13, "expected and, or, or the end"),
    ("body.a < 1 < 2", 12, "use parentheses"),
    ('body.a matches "(a)\\\\1"', 16, "the regular expression is refused"),
    ("body.a matches body.b", 16, "matches takes a regular expression in quotes"),
    ("body[1.5] == 1", 6, "expected a whole number"),
    ("", 1, "empty"),
])
def test_a_bad_expression_names_the_column(expr: str, column: int, reason: str) -> None:
    with pytest.raises(ExprError) as caught:
        parse(expr)
    assert caught.value.column == column
    assert reason in str(caught.value)


def test_expressions_are_bounded_when_written() -> None:
    with pytest.raises(ExprError, match="nested more than"):
        parse("(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ExprError, match="more than 200 parts"):
        parse(" or ".join(["body.a == 1"] * 100))
    with pytest.raises(ExprError, match="longer than"):
        parse("body.a == " + '"x' + "y" * 3000 + '"')
    parse(" or ".join(["body.a == 1"] * 40))  # long, but within the bounds


def test_no_expression_is_evaluated_by_python() -> None:
    for hostile in ("__import__('os').system('true')", "open('x')", "body.a.__class__()"):
        with pytest.raises(ExprError):
            parse(hostile)
    # A step is a key of the JSON, never an attribute of a Python object.
    with pytest.raises(EvalError, match="body has no field '__class__'"):
        test_when("body.__class__ == 1", {})


# -- patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("/webhooks/*", "/webhooks/connectly", True),
    ("/webhooks/*", "/webhooks/a/b/c", True),  # * crosses /, as the routes do
    ("/webhooks/*", "/other", False),
    ("/w?/x", "/wa/x", True),
    ("/[abc]/x", "/b/x", True),
    ("/[!abc]/x", "/b/x", False),
    ("*.json", "/a.json", True),
])
def test_globs(pattern: str, text: str, expected: bool) -> None:
    compiled = glob(pattern)
    assert compiled.matches(text) is expected
    long = text + "/" + "x" * 5000  # past SHORT: the linear engine decides the same way
    assert compiled.matches(long) is glob(pattern).matches(long)


def test_a_glob_that_could_take_long_is_refused_when_written() -> None:
    with pytest.raises(PatternError, match="too long"):
        glob("/" + "a" * GLOB_LIMIT)
    with pytest.raises(PatternError, match="wildcards would make matching slow"):
        glob("/" + "*a" * 17)


def test_hostile_patterns_stay_linear_in_the_text() -> None:
    """The worst glob allowed, and a regex that backtracks exponentially in other engines, on
    long hostile text: compared with a trivial pattern on the same text (a ratio)."""
    worst = glob("*" + "[a-z]*" * 7 + "b")
    plain = glob("/x*")
    text = "a" * 200_000

    def timed(match: Any) -> float:
        started = time.perf_counter()
        for _ in range(3):
            match(text)
        return time.perf_counter() - started

    assert timed(worst.matches) < 50 * timed(plain.matches) + 0.05
    nested = regex("(a+)+$")
    simple = regex("a$")
    assert not nested.search(text + "b")
    assert timed(lambda t: nested.search(t + "b")) < 20 * timed(
        lambda t: simple.search(t + "b")) + 0.05


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(?<!a)b"])
def test_regexes_that_need_backtracking_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError, match="linear time"):
        regex(pattern)


# -- rules from TOML ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inspector.toml"
    path.write_text(text)
    return path


def test_the_issue_syntax_works_as_written(tmp_path: Path) -> None:
    routes, rules = load_file(write(tmp_path, ISSUE_SYNTAX))
    assert routes == []
    flaky, hang = rules
    assert flaky.name == "flaky endpoint" and flaky.path is not None
    assert flaky.when is not None and [r.status for r in flaky.replies] == [503, 503, 200]
    assert hang.name == "rule 2" and [r.fault for r in hang.replies] == ["close"]
    assert flaky.source.startswith('name = "flaky endpoint"')
    config = load_config(str(tmp_path / "inspector.toml"))
    assert config.describe().endswith("0 routes, 2 answer rules")


def test_every_key_of_a_rule(tmp_path: Path) -> None:
    (tmp_path / "busy.json").write_text('{"busy": true}')
    _, (rule,) = load_file(write(tmp_path, """
[[rule]]
name = "everything"
enabled = false
method = ["POST", "PUT"]
path = "/x/*"
header = ["X-GitHub-Event", "X-Tenant: a"]
provider = "GitHub"
kind = "push"
verdict = "valid"
when = "exists(body.ref)"
respond = [{status = 503, body = "@busy.json", headers = ["Retry-After: 1"]}, "reset", 200]
delay = 0.5
timeout = 3
hold = 10
forward_retries = 2
hold_forward = true
"""))
    assert not rule.enabled and rule.methods == {"POST", "PUT"}
    assert rule.headers == (("X-GitHub-Event", None), ("X-Tenant", "a"))
    assert (rule.provider, rule.kind, rule.verdict) == ("github", "push", "valid")
    first, second, third = rule.replies
    assert first.status == 503 and first.body == b'{"busy": true}'
    assert first.headers == (("Retry-After", "1"),)
    assert second.fault == "reset" and third.status == 200
    assert (rule.delay, rule.timeout, rule.hold, rule.hold_forward) == (0.5, 3, 10, DEFAULT_HOLD)
    assert rule.forward_retries == 2
    assert "503 + body + 1 header, reset, 200" in rule.describe_action()


@pytest.mark.parametrize(("text", "message"), [
    ('[[rule]]\npath = "/a"\nrespond = 700\n', "inspector.toml:3: rule 1: respond answer 1: "
     "status 700 is not a final HTTP status"),
    ('[[rule]]\nname = "x"\nwhen = "body.a = 1"\n', "inspector.toml:3: rule 1 (x): when "
     "column 8: unexpected '='"),
    ('[[rule]]\npath = "/a"\nrespond = 503\n\n[[rule]]\npaht = "/b"\n', "inspector.toml:6: "
     "rule 2: paht is "
     "not a known key"),
    ('[[rule]]\nfault = "explode"\n', "inspector.toml:2: rule 1: fault 'explode' is not a "
     "fault (use close, reset, timeout)"),
    ('[[rule]]\nrespond = [503, "explode"]\n', "inspector.toml:2: rule 1: respond answer 2 "
     "'explode' is not a fault"),
    ('[[rule]]\nrespond = [true]\n', "inspector.toml:2: rule 1: respond answer 1 is true or "
     "false"),
    ('[[rule]]\nname = "x"\npath = "/x"\n', "inspector.toml:2: rule 1 (x): has no action "
     "(it would answer as if no rule matched, and hide the rules after it): give it respond"),
    ('[[rule]]\npath = "/x"\nhold = false\nforward = true\ntimeout = 5\n', "inspector.toml:2: "
     "rule 1: has no action"),
    ('[[rule]]\npath = "webhooks"\n', "inspector.toml:2: rule 1: path must start with /"),
    ('[[rule]]\npath = "/' + "*a" * 17 + '"\n', "inspector.toml:2: rule 1: path is refused: "
     "17 wildcards"),
    ('[[rule]]\nname = "a"\ndelay = 0\n[[rule]]\nname = "a"\nforward = false\n',
     "inspector.toml:5: rule 2: the name 'a' "
     "is also rule 1's"),
    ('[[rule]]\nverdict = "fine"\n', "inspector.toml:2: rule 1: verdict must be one of"),
    ('[[rule]]\nforward = false\nforward_retries = 2\n', "inspector.toml:3: rule 1: "
     "forward_retries makes no sense with forward = false"),
    ('[[rule]]\nhold = -1\n', "inspector.toml:2: rule 1: hold must be true, false or seconds"),
    ('[[rule]]\nrespond = [503, {status = 200, colour = "red"}]\n', "inspector.toml:2: rule 1: "
     "respond answer 2: 'colour' is not one of status, body, headers, fault"),
    ('rule = [{path = "/a"}]\n', "inspector.toml:1: write each rule as a [[rule]] table"),
])
def test_a_bad_rule_is_an_error_with_the_line_and_the_reason(tmp_path: Path, text: str,
                                                             message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_file(write(tmp_path, text))
    assert message in str(caught.value)


def test_the_editor_reads_one_rule_and_names_lines_in_its_text() -> None:
    rule = rule_from_text('[[rule]]\nname = "x"\nrespond = 503\n', number=4)
    assert rule.name == "x" and rule.source == 'name = "x"\nrespond = 503\n'
    with pytest.raises(RuleError, match="line 2: rule 4: respond answer 1: status 99"):
        rule_from_text('path = "/a"\nrespond = 99\n', number=4)
    with pytest.raises(RuleError, match="not valid TOML"):
        rule_from_text("respond = [", number=1)


def test_save_rules_replaces_only_the_rule_tables(tmp_path: Path) -> None:
    path = write(tmp_path, '# my config\n[[route]]\npath = "/s/*"\nprovider = "stripe"\n\n'
                 + ISSUE_SYNTAX + '\n[[route]]\npath = "/g"\n')
    _, rules = load_file(path)
    new = rule_from_text('name = "new one"\nmethod = "PUT"\nrespond = 418\n', number=3)
    save_rules(path, [rules[1].toggled(), new, rules[0]])
    text = path.read_text()
    assert text.startswith('# my config\n[[route]]\npath = "/s/*"')
    routes, again = load_file(path)
    assert [r.path for r in routes] == ["/s/*", "/g"]
    assert [r.name for r in again] == ["rule 1", "new one", "flaky endpoint"]
    assert not again[0].enabled and again[0].replies[0].fault == "close"
    assert "# a sequence per delivery key" in text  # comments inside a rule stay
    save_rules(tmp_path / "fresh.toml", [new])
    assert load_file(tmp_path / "fresh.toml")[1][0].name == "new one"


# -- the book: first match, sequences per delivery key, failures counted ----------------------


def test_the_first_matching_rule_decides_and_sequences_count_per_delivery_key() -> None:
    book = RuleBook([
        rule_from_text('name = "off"\nenabled = false\nrespond = 500\n', number=1),
        rule_from_text('name = "amount"\nwhen = "exists(body.amount) and body.amount > 100"\n'
                       'respond = 402\n', number=2),
        rule_from_text('name = "flaky"\npath = "/webhooks/*"\nrespond = [503, 503, 200]\n',
                       number=3),
    ])

    def answer(ev: Event) -> tuple[str, int]:
        plan = Plan()
        assert book.apply(ev, plan)
        return ev.rule, ev.status

    a, b = {"amount": 5, "n": "a"}, {"amount": 5, "n": "b"}
    assert [answer(event(a))[1] for _ in range(4)] == [503, 503, 200, 200]
    assert [answer(event(b))[1] for _ in range(3)] == [503, 503, 200]
    assert answer(event({"amount": 500})) == ("amount", 402)
    same_id = [("webhook-id", "msg_1")]  # the provider's delivery id beats the body
    assert [answer(event({"x": i}, headers=same_id))[1] for i in range(3)] == [503, 503, 200]
    failing = event({"amount": "lots"})
    assert answer(failing) == ("flaky", 503)  # rule 2 failed to evaluate: not a match
    entry = book.entries[1]
    assert entry.failures == 1 and "cannot compare a string with a number" in entry.failure
    assert "answer 1 of 3 (503): 1 delivery with this body so far" in failing.answer_note


def test_no_rule_and_no_breakpoint_is_inactive() -> None:
    book = RuleBook([rule_from_text("enabled = false\nrespond = 500\n", number=1)])
    assert not book.active
    book.toggle(0)
    assert book.active and book.entries[0].rule.source == "enabled = true\nrespond = 500\n"
    book.toggle(0)
    book.hold_all = 5.0
    assert book.active
    plan = Plan()
    assert not book.apply(event({}), plan) and plan.hold == 5.0


def test_the_rule_and_how_it_answered_survive_an_export_and_an_import() -> None:
    from inspector.core.interop import export, importing

    answered = event({"statusUpdate": {"status": "read"}})
    answered.status, answered.rule = 503, "flaky endpoint"
    answered.answer_note = "answer 1 of 3 (503): 1 delivery with this body so far"
    back, _ = importing.from_record(json.loads(export.line(export.record(answered, []))))
    assert (back.status, back.rule, back.answer_note) == (503, answered.rule,
                                                         answered.answer_note)
