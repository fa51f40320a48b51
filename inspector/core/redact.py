"""The last line of defence for secrets: known secret values are cut out of the text we
print where one could slip in (error messages, tracebacks, log lines on stderr).

Secrets are never meant to reach such text: tracebacks show no local variables and the
objects holding secrets mask them in their repr. This catches what still gets through, for
example a secret quoted in some library's exception message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

MIN_LENGTH = 6  # shorter values are ordinary words too often: cutting them garbles text
MARK = "[secret]"

_values: set[str] = set()
_sources: list[Callable[[], Iterable[str | None]]] = []


def remember(*values: str | None) -> None:
    """Secret values to cut from printed text from now on."""
    _values.update(v for v in values if v)


def watch(source: Callable[[], Iterable[str | None]]) -> None:
    """A live collection of secrets (one set later in the TUI counts too)."""
    _sources.append(source)


def known() -> list[str]:
    """Every secret worth cutting, longest first (so one that contains another goes whole)."""
    values = set(_values)
    for source in _sources:
        values.update(v for v in source() if v)
    return sorted((v for v in values if len(v) >= MIN_LENGTH), key=len, reverse=True)


def redact(text: str) -> str:
    for value in known():
        if value in text:
            text = text.replace(value, MARK)
    return text
