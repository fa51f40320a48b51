"""An App whose output stays inert and whose crash report holds no secret.

Everything the TUI shows comes from strangers at some point: every toast is made visible
(control characters as escapes), a last line filter catches escapes in any widget's output,
and a crash report shows no local variables and cuts out known secrets.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import rich
from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.filter import LineFilter
from textual.notifications import SeverityLevel

from inspector.core.redact import redact
from inspector.core.sanitize import visible, visible_line
from inspector.faces.tui.widgets.inert import InertFilter


class GuardedApp(App[int]):
    def __init__(self) -> None:
        super().__init__()
        # Printed after the app exits (a crash report): plain text, so the inert stderr of
        # the command line (inspector.faces.terminal) has no colour codes to escape.
        self.error_console = Console(markup=False, highlight=False, stderr=True,
                                     color_system=None)
        self._inert_filter = InertFilter()

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then the last guard against escapes in any widget's output."""
        return [*super().get_line_filters(), self._inert_filter]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast: control characters in the text shown as escapes (our callers pass
        markup=False whenever the text holds anything untrusted)."""
        super().notify(visible(message), title=visible_line(title), severity=severity,
                       timeout=timeout, markup=markup)

    def _fatal_error(self) -> None:
        """A crash: Textual's report shows every frame's local variables, secrets included.
        This one shows none, and cuts any known secret from the text (inspector.core.redact)."""
        from rich.traceback import Traceback  # here: with pygments, a tenth of the start-up

        report = io.StringIO()
        report.write("webhook-inspector stopped on an unexpected error (a bug: please report "
                     "it; known secrets are cut out as [secret]).\n")
        console = Console(width=100, file=report, color_system=None)
        console.print(Traceback(show_locals=False, width=100, suppress=[rich]))
        self.bell()
        self._exit_renderables.append(Text(visible(redact(report.getvalue()))))
        self._close_messages_no_wait()
