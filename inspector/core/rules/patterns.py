"""Globs and regular expressions written in rules: checked when written, bounded when used.

A rule is matched against every request a stranger sends, so a pattern must never take long,
whatever the path or body:

- A **glob** (`*` any text, `?` one character, `[a-z]` a class; `*` crosses `/` as in the
  routes) is matched by Python's `re` on its atomic translation (fnmatch's: no backtracking
  across stars) while the text is short, which is fast; past `SHORT` characters by RE2, which
  is linear in the text whatever the pattern. A glob longer than `GLOB_LIMIT` characters or
  with more than `WILDCARD_LIMIT` wildcards is refused when written.
- A **regular expression** (`matches` in a `when` expression) is compiled by RE2 (Google's
  linear-time engine): what could take exponential time elsewhere (backreferences,
  lookaround) is refused when written, with RE2's reason, and so is a pattern whose program
  would be larger than `REGEX_MEMORY`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

GLOB_LIMIT = 256  # characters
WILDCARD_LIMIT = 16  # `*`, `?` and classes in one glob
SHORT = 2048  # characters of text below which `re` is used (worst case ~ SHORT × glob)
REGEX_LIMIT = 1024  # characters of a regular expression
REGEX_MEMORY = 1 << 20  # bytes RE2 may use for one compiled pattern


class PatternError(ValueError):
    """A glob or regular expression that is refused; the message says why."""


def _re2_options() -> Any:
    import re2  # an optional import cost: only rules that use a pattern pay it

    options = re2.Options()
    options.log_errors = False  # RE2 would write to stderr: the TUI's terminal
    options.max_mem = REGEX_MEMORY
    return options


def _re2(pattern: str) -> Any:
    import re2

    try:
        return re2.compile(pattern, _re2_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(f"{reason}: only what runs in linear time is allowed (no "
                           "backreferences or lookaround)") from None


@dataclass(frozen=True, slots=True)
class Glob:
    """A checked glob; `matches(text)` is True when the whole text matches."""

    text: str
    _fast: re.Pattern[str] = field(repr=False, compare=False)
    _linear: str = field(repr=False, compare=False)  # the same glob for RE2
    _cache: list[Any] = field(default_factory=list, repr=False, compare=False)

    def matches(self, text: str) -> bool:
        if len(text) <= SHORT:
            return self._fast.match(text) is not None
        if not self._cache:
            self._cache.append(_re2(self._linear))
        return self._cache[0].fullmatch(text) is not None


def glob(text: str) -> Glob:
    """A glob, checked (PatternError says what is wrong)."""
    if len(text) > GLOB_LIMIT:
        raise PatternError(f"a glob of {len(text):,} characters is too long to match quickly "
                           f"(the limit is {GLOB_LIMIT})")
    wildcards = text.count("*") + text.count("?") + text.count("[")
    if wildcards > WILDCARD_LIMIT:
        raise PatternError(f"{wildcards} wildcards would make matching slow on long paths "
                           f"(the limit is {WILDCARD_LIMIT})")
    linear = _linear(text)
    try:
        fast = re.compile(fnmatch.translate(text))
    except re.error as exc:
        raise PatternError(f"not a glob: {exc}") from None
    return Glob(text, fast, linear)


def _linear(text: str) -> str:
    """The glob as a regular expression without atomic groups (RE2 needs none: it never
    backtracks). Classes as fnmatch reads them: `[!a]` negates, a `]` first is literal."""
    out = ["(?s)"]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and text[j] == "!":
                j += 1
            if j < n and text[j] == "]":
                j += 1
            while j < n and text[j] != "]":
                j += 1
            if j >= n:
                out.append(r"\[")
                continue
            inner = text[i:j].replace("\\", "\\\\")
            i = j + 1
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            elif inner.startswith("^"):
                inner = "\\" + inner
            out.append(f"[{inner}]")
        else:
            out.append(re.escape(c))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Regex:
    """A checked regular expression; `search(text)` is True when it matches anywhere."""

    text: str
    _compiled: Any = field(repr=False, compare=False)

    def search(self, text: str) -> bool:
        return self._compiled.search(text) is not None


def regex(text: str) -> Regex:
    """A regular expression for RE2, checked (PatternError says what is wrong)."""
    if len(text) > REGEX_LIMIT:
        raise PatternError(f"a regular expression of {len(text):,} characters is too long "
                           f"(the limit is {REGEX_LIMIT})")
    return Regex(text, _re2(text))
