"""c: the selected event as a byte-exact curl command, to the terminal's clipboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.core.delivery.curl import curl_command
from inspector.faces.tui.features import selected_event

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def copy_curl(app: BaseApp) -> None:
    event = selected_event(app)
    if event is None:
        app.notify("No event selected.", severity="warning")
        return
    target = app.replayer.curl_target()
    command = curl_command(event, target)
    app.copy_to_clipboard(command)
    app.notify(f"A curl command ({len(command):,} characters) that sends this event "
               f"byte-exact to {target}, sent to your terminal's clipboard (OSC 52; some "
               "terminals and tmux need it allowed). Also: inspector export --format "
               "curl.", title="Copy as curl", markup=False)
