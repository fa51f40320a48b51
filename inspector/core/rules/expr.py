"""The `when` language of answer rules: a small, safe expression about one request.

    body.statusUpdate.status == "read"
    body.amount > 100 and method == "POST"
    exists(body.context) or header("X-Retry") == "1"
    body.message.text matches "^(STOP|stop)$"
    body.items[0].sku in ["A1", "B2"]

Values: `body` (the JSON body, or a form's fields), `header("Name")` (also
`headers["Name"]`; the first value, the name in any case), `method`, `path`, `query`,
`provider`, `kind`, `verdict`; literals "text" 'text' 12 3.5 true false null and [lists].
Steps into a value: `.name`, `[0]` (`[-1]` the last), `["a key"]`. Operators: `==` `!=`
`<` `<=` `>` `>=`, `in`, `contains`, `matches` (a regular expression, RE2), `and`/`&&`,
`or`/`||`, `not`/`!`, parentheses. Functions: `exists(value)`, `len(value)`, `lower(value)`.

Safe by construction: parsed by hand into a tree (nothing is ever eval'd), at most
`MAX_TEXT` characters, `MAX_NODES` nodes and `MAX_DEPTH` levels of nesting; every operation
is linear in its operands, and regular expressions run on RE2 (patterns.py).

A step that finds nothing, or a value of the wrong type (`body.amount > 100` when amount is
a string), raises `EvalError`: the rule does not match, and the failure is counted and shown.
`exists(...)` asks without failing. Numbers and strings are never equal (`1 == "1"` is false),
nor booleans and numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from inspector.core.rules.patterns import PatternError, Regex, regex

MAX_TEXT = 2000  # characters of one expression
MAX_NODES = 200
MAX_DEPTH = 24
ROOTS = ("body", "method", "path", "query", "provider", "kind", "verdict")
FUNCTIONS = ("exists", "len", "lower", "header")
KEYWORDS = {"and", "or", "not", "in", "contains", "matches", "true", "false", "null"}
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">", "in", "contains", "matches")


class ExprError(ValueError):
    """An expression that cannot be read; `column` (1-based) says where."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.reason = message


class EvalError(Exception):
    """An expression that cannot be evaluated for this request (missing field, wrong type):
    the rule does not match."""


class Subject(Protocol):
    """The request an expression is evaluated against."""

    def root(self, name: str) -> Any:
        """One of ROOTS (EvalError when it has no value, such as a body that is not JSON)."""

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""


# -- the tree ----------------------------------------------------------------------------------


class Node:
    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source  # the expression's text for this node, for messages

    def value(self, subject: Subject) -> Any:
        raise NotImplementedError

    def test(self, subject: Subject) -> bool:
        """The node's value as a condition: it must be true or false."""
        value = self.value(subject)
        if not isinstance(value, bool):
            raise EvalError(f"{self.source} is {describe(value)}, not true or false")
        return value


class Literal(Node):
    __slots__ = ("literal",)

    def __init__(self, source: str, literal: Any) -> None:
        super().__init__(source)
        self.literal = literal

    def value(self, subject: Subject) -> Any:
        return self.literal


class Root(Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def value(self, subject: Subject) -> Any:
        return subject.root(self.name)


class Header(Node):
    __slots__ = ("name",)

    def __init__(self, source: str, name: str) -> None:
        super().__init__(source)
        self.name = name

    def value(self, subject: Subject) -> Any:
        found = subject.header(self.name)
        if found is None:
            raise EvalError(f"there is no header {self.name}")
        return found


class Step(Node):
    """`base.key` or `base[index]`."""

    __slots__ = ("base", "key")

    def __init__(self, source: str, base: Node, key: str | int) -> None:
        super().__init__(source)
        self.base = base
        self.key = key

    def value(self, subject: Subject) -> Any:
        base = self.base.value(subject)
        key = self.key
        if isinstance(key, str):
            if not isinstance(base, dict):
                raise EvalError(f"{self.base.source} is {describe(base)}, not an object")
            if key not in base:
                raise EvalError(f"{self.base.source} has no field {key!r}")
            return base[key]
        if not isinstance(base, list):
            raise EvalError(f"{self.base.source} is {describe(base)}, not a list")
        if not -len(base) <= key < len(base):
            raise EvalError(f"{self.base.source} has {len(base)} items: no [{key}]")
        return base[key]


class Call(Node):
    __slots__ = ("arg", "name")

    def __init__(self, source: str, name: str, arg: Node) -> None:
        super().__init__(source)
        self.name = name
        self.arg = arg

    def value(self, subject: Subject) -> Any:
        if self.name == "exists":
            try:
                self.arg.value(subject)
            except EvalError:
                return False
            return True
        value = self.arg.value(subject)
        if self.name == "len":
            if isinstance(value, str | list | dict):
                return len(value)
            raise EvalError(f"len: {self.arg.source} is {describe(value)}")
        if not isinstance(value, str):  # lower
            raise EvalError(f"lower: {self.arg.source} is {describe(value)}, not a string")
        return value.lower()


class Not(Node):
    __slots__ = ("operand",)

    def __init__(self, source: str, operand: Node) -> None:
        super().__init__(source)
        self.operand = operand

    def value(self, subject: Subject) -> Any:
        return not self.operand.test(subject)


class Both(Node):
    """`and` / `or`, short-circuit: `exists(body.a) and body.a > 1` never fails."""

    __slots__ = ("any", "left", "right")

    def __init__(self, source: str, left: Node, right: Node, *, any: bool) -> None:
        super().__init__(source)
        self.left = left
        self.right = right
        self.any = any

    def value(self, subject: Subject) -> Any:
        if self.left.test(subject) is self.any:
            return self.any
        return self.right.test(subject)


class Compare(Node):
    __slots__ = ("left", "op", "pattern", "right")

    def __init__(self, source: str, op: str, left: Node, right: Node,
                 pattern: Regex | None = None) -> None:
        super().__init__(source)
        self.op = op
        self.left = left
        self.right = right
        self.pattern = pattern

    def value(self, subject: Subject) -> Any:
        op = self.op
        left = self.left.value(subject)
        if self.pattern is not None:  # matches
            if not isinstance(left, str):
                raise EvalError(f"matches: {self.left.source} is {describe(left)}, "
                                "not a string")
            return self.pattern.search(left)
        right = self.right.value(subject)
        if op == "==":
            return equal(left, right)
        if op == "!=":
            return not equal(left, right)
        if op == "in":
            return self._within(left, right, self.right.source)
        if op == "contains":
            return self._within(right, left, self.left.source)
        if (_number(left) and _number(right)) or (isinstance(left, str)
                                                and isinstance(right, str)):
            return _ORDER[op](left, right)
        raise EvalError(f"cannot compare {describe(left)} with {describe(right)} using {op} "
                        f"({self.source})")

    @staticmethod
    def _within(item: Any, container: Any, source: str) -> bool:
        if isinstance(container, list):
            return any(equal(item, x) for x in container)
        if isinstance(container, str | dict):
            if not isinstance(item, str):
                raise EvalError(f"{describe(item)} cannot be in {describe(container)} "
                                f"({source})")
            return item in container
        raise EvalError(f"{source} is {describe(container)}: nothing can be in it")


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _number(a) and _number(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    return bool(a == b)


def describe(value: Any) -> str:
    """"a string", "null", "the number 3": how a value is named in a failure."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if _number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "name", "string", "number", "op", "end"
    text: str
    start: int  # 0-based
    value: Any = None


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>()\[\],.!])
  | (?P<quote>["'])
""", re.VERBOSE)
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos, n = 0, len(text)
    while pos < n:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExprError(f"unexpected {text[pos]!r}", pos + 1)
        kind = match.lastgroup or ""
        if kind == "space":
            pos = match.end()
        elif kind == "quote":
            value, end = _string(text, pos)
            out.append(Token("string", text[pos:end], pos, value))
            pos = end
        elif kind == "number":
            raw = match.group()
            number = float(raw) if any(c in raw for c in ".eE") else int(raw)
            out.append(Token("number", raw, pos, number))
            pos = match.end()
        else:
            out.append(Token(kind, match.group(), pos))
            pos = match.end()
    out.append(Token("end", "", n))
    return out


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= n:
                break
            code = text[i + 1]
            if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if code not in _ESCAPES:
                raise ExprError(f"unknown escape \\{code} in a string", i + 1)
            out.append(_ESCAPES[code])
            i += 2
            continue
        out.append(c)
        i += 1
    raise ExprError(f"the string is not closed: end it with {quote}", start + 1)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.at = 0
        self.nodes = 0
        self.depth = 0

    # helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_(self, *texts: str) -> bool:
        token = self.token
        return token.kind in ("op", "name") and token.text in texts

    def expect(self, text: str, what: str) -> Token:
        if not self.is_(text):
            raise self.error(f"expected {text} {what}")
        return self.take()

    def error(self, message: str, token: Token | None = None) -> ExprError:
        token = token or self.token
        found = "the end" if token.kind == "end" else repr(token.text)
        return ExprError(f"{message}, found {found}", token.start + 1)

    def node(self, start: int) -> str:
        """Count a node (bounded) and return its source text from `start`."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExprError(f"too long: more than {MAX_NODES} parts", start + 1)
        end = self.tokens[self.at - 1]
        return self.text[start : end.start + len(end.text)].strip()

    def nested(self, start: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"nested more than {MAX_DEPTH} levels deep", start + 1)

    # grammar

    def parse(self) -> Node:
        node = self.either()
        if self.token.kind != "end":
            raise self.error("expected and, or, or the end")
        return node

    def either(self) -> Node:
        start = self.token.start
        node = self.both()
        while self.is_("or", "||"):
            self.take()
            right = self.both()
            node = Both(self.node(start), node, right, any=True)
        return node

    def both(self) -> Node:
        start = self.token.start
        node = self.negation()
        while self.is_("and", "&&"):
            self.take()
            right = self.negation()
            node = Both(self.node(start), node, right, any=False)
        return node

    def negation(self) -> Node:
        start = self.token.start
        if self.is_("not", "!"):
            self.take()
            self.nested(start)
            operand = self.negation()
            self.depth -= 1
            return Not(self.node(start), operand)
        return self.comparison()

    def comparison(self) -> Node:
        start = self.token.start
        left = self.operand()
        if not self.is_(*COMPARISONS):
            return left
        op = self.take().text
        at = self.token
        right = self.operand()
        pattern = None
        if op == "matches":
            if not isinstance(right, Literal) or not isinstance(right.literal, str):
                raise ExprError("matches takes a regular expression in quotes",
                                at.start + 1)
            try:
                pattern = regex(right.literal)
            except PatternError as exc:
                raise ExprError(f"the regular expression is refused: {exc}",
                                at.start + 1) from None
        if self.is_(*COMPARISONS):
            raise self.error(f"use parentheses to combine {op} with another comparison")
        return Compare(self.node(start), op, left, right, pattern)

    def operand(self) -> Node:
        start = self.token.start
        node = self.primary()
        while self.is_(".", "["):
            if self.take().text == ".":
                name = self.take()
                if name.kind != "name":
                    raise self.error("expected a field name after .", name)
                node = Step(self.node(start), node, name.text)
            else:
                index = self.take()
                if index.kind == "string" or (index.kind == "number"
                                              and isinstance(index.value, int)):
                    self.expect("]", "after the index")
                    node = Step(self.node(start), node, index.value)
                else:
                    raise self.error("expected a whole number or a \"key\" in [ ]", index)
        return node

    def primary(self) -> Node:
        token = self.take()
        start = token.start
        if token.kind in ("string", "number"):
            return Literal(self.node(start), token.value)
        if token.kind == "op" and token.text == "(":
            self.nested(start)
            node = self.either()
            self.depth -= 1
            self.expect(")", "to close (")
            return node
        if token.kind == "op" and token.text == "[":
            return self.literals(start)
        if token.kind != "name":
            raise self.error("expected a value", token)
        word = token.text
        if word in ("true", "false", "null"):
            return Literal(self.node(start), {"true": True, "false": False}.get(word))
        if word in FUNCTIONS and self.is_("("):
            self.take()
            self.nested(start)
            if word == "header":
                name = self.take()
                if name.kind != "string":
                    raise self.error("header takes a name in quotes", name)
                self.expect(")", "to close header(")
                self.depth -= 1
                return Header(self.node(start), name.value)
            arg = self.either()
            self.expect(")", f"to close {word}(")
            self.depth -= 1
            return Call(self.node(start), word, arg)
        if word == "headers":
            self.expect("[", 'after headers (headers["Name"])')
            name = self.take()
            if name.kind != "string":
                raise self.error("expected a header name in quotes", name)
            self.expect("]", "after the header name")
            return Header(self.node(start), name.value)
        if word in ROOTS:
            self.node(start)
            return Root(word)
        if word in KEYWORDS:
            raise self.error("expected a value", token)
        raise ExprError(f"unknown name {word!r}: start with body, header(\"Name\"), "
                        f"{', '.join(ROOTS[1:])}, or a function ({', '.join(FUNCTIONS)})",
                        start + 1)

    def literals(self, start: int) -> Node:
        items: list[Any] = []
        while not self.is_("]"):
            item = self.primary()
            if not isinstance(item, Literal):
                raise ExprError("a list holds only literals (\"text\", numbers, true, false, "
                                "null)", start + 1)
            items.append(item.literal)
            if not self.is_(","):
                break
            self.take()
        self.expect("]", "to close the list")
        return Literal(self.node(start), items)


@dataclass(frozen=True, slots=True)
class Expr:
    """A parsed `when` expression."""

    text: str
    tree: Node

    def test(self, subject: Subject) -> bool:
        """True or False; EvalError when it cannot be evaluated for this request."""
        try:
            return self.tree.test(subject)
        except RecursionError:  # cannot happen within MAX_DEPTH; never let it out
            raise EvalError("nested too deeply") from None


def parse(text: str) -> Expr:
    """Read an expression; ExprError (with a column) says what is wrong."""
    if len(text) > MAX_TEXT:
        raise ExprError(f"longer than {MAX_TEXT} characters", MAX_TEXT + 1)
    if not text.strip():
        raise ExprError("empty: write a condition such as body.status == \"read\"", 1)
    return Expr(text, _Parser(text).parse())
