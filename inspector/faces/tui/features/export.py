"""e: the marked events, or the list as shown, to a file (jsonl, HAR or curl commands)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from inspector.core.display import count
from inspector.core.interop import export as files
from inspector.core.store import StoreError
from inspector.faces.tui.screens.prompt import TextPrompt

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def export(app: BaseApp) -> None:
    seqs = app.event_list.marked_or_listed()
    if not seqs:
        app.notify("Nothing to export.", severity="warning")
        return
    what = "marked" if app.event_list.marked else "listed"

    def check(path: str) -> str | None:
        if not path:
            return "give a file name"
        if files.format_for(path) is None:
            return "end the name in .jsonl, .har or .sh (curl commands)"
        return None

    def chosen(path: str | None) -> None:
        if path:
            export_events(app, seqs, path)

    chosen_events = count(len(seqs), f"{what} event")
    app.push_screen(TextPrompt(f"Export the {chosen_events} to which file? "
                               "(.jsonl lossless, .har for browser devtools, .sh curl)",
                               files.default_name("jsonl"), check, ok="Export"), chosen)


def export_events(app: BaseApp, seqs: list[int], path: str) -> None:
    """Write in a thread: a large export must not freeze the UI."""
    target = app.replayer.curl_target()
    app.run_worker(partial(_write, app, seqs, path, target), thread=True, group="export",
                   exit_on_error=False)


def _write(app: BaseApp, seqs: list[int], path: str, target: str) -> None:
    fmt = files.format_for(path) or "jsonl"
    try:
        written = files.export_to_file(app.store, seqs, fmt, Path(path), target)
    except (OSError, StoreError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        app.call_from_thread(app.notify, f"cannot write {path}: {reason}",
                             title="Export failed", severity="error", markup=False)
        return
    app.call_from_thread(app.notify, f"{count(written, 'event')} written to {path} ({fmt}).",
                         title="Exported", markup=False)
