"""The one way text leaves the command line for a terminal: made inert, secrets cut out.

`install()` runs first thing in `main()` and wraps sys.stdout and sys.stderr, so every
command's output, click's own messages, warnings, log lines and tracebacks go through it;
nothing can forget. On both streams control, escape and bidi characters become visible
escapes (TAB and LF stay). stderr, where errors and tracebacks go, also has every known
secret cut out (`inspector.core.redact`). stdout is not redacted: it carries exports, which must
stay byte-exact (they are inert by construction: JSON with ASCII escapes, or curl commands
with octal escapes, so making them inert changes nothing).

Nothing we print on purpose holds an escape sequence (no colours), so nothing is lost. The
TUI draws through Textual's driver on the real terminal, not through these streams. Output
that is not for a terminal (`inspector events body` into a pipe, the MCP server's protocol
on stdout) takes the stream underneath: `original`.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

from inspector.core.redact import redact
from inspector.core.sanitize import visible


class InertStream(io.TextIOBase):
    """A text stream that writes `visible(text)` (and redacted, if asked) to another."""

    def __init__(self, stream: TextIO, *, redacting: bool) -> None:
        super().__init__()
        self.stream = stream
        self.redacting = redacting

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click probes with b"" to tell binary from text
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        safe = visible(text)
        self.stream.write(redact(safe) if self.redacting else safe)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.stream.errors


def install() -> None:
    """Route sys.stdout and sys.stderr through `InertStream` (once)."""
    if not isinstance(sys.stdout, InertStream):
        sys.stdout = InertStream(sys.stdout, redacting=False)
    if not isinstance(sys.stderr, InertStream):
        sys.stderr = InertStream(sys.stderr, redacting=True)


def original(stream: TextIO) -> TextIO:
    """The stream under an `InertStream` (`stream` itself otherwise): for bytes that must go
    out exactly, and never to a terminal unless the caller made them inert."""
    return stream.stream if isinstance(stream, InertStream) else stream
