"""R: edit method, URL, headers and body, optionally re-sign, then send."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.core.delivery.replay import Edit
from inspector.core.delivery.resign import Signer
from inspector.core.model import Event
from inspector.faces.tui.features import selected_event
from inspector.faces.tui.features.replay import finished

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def edit_replay(app: BaseApp) -> None:
    event = selected_event(app)
    if event is None:
        app.notify("No event selected: nothing to edit.", severity="warning")
        return
    from inspector.faces.tui.screens.replay_editor import ReplayEditor  # TextArea: on use

    signer = app.replayer.signer(event)

    def chosen(edit: Edit | None) -> None:
        if edit is not None:
            app.run_worker(_send(app, event, edit, signer), group="replay", exit_on_error=False)

    app.push_screen(ReplayEditor(event, app.replayer.aim(event), signer), chosen)


async def _send(app: BaseApp, event: Event, edit: Edit, signer: Signer) -> None:
    finished(app, await app.replayer.edited(event, edit, signer))
