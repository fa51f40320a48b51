"""Where replays and forwards go, changed while the inspector runs (command palette); the
header shows both."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from inspector.core.delivery.replay import ReplayError
from inspector.faces.tui.features.replay import target_problem
from inspector.faces.tui.features.rules import in_receiver
from inspector.faces.tui.screens.prompt import URLPrompt

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def replay_target(app: BaseApp) -> None:
    """Replays go to this URL without asking from now on (empty: ask each time)."""

    def chosen(url: str | None) -> None:
        if url is not None:
            app.run_worker(_replay_to(app, url), group="targets", exit_on_error=False)

    app.push_screen(URLPrompt("Replay to which URL from now on? (a URL ending in / gets the "
                              "event's path; empty: ask each time)", app.replayer.offer(),
                              check=_optional, ok="Set"), chosen)


def forward_target(app: BaseApp) -> None:
    """Forward every new event to this URL from now on (empty: stop forwarding)."""
    if not in_receiver(app, "Forwards"):
        return
    current = app.session.live.forward_to

    def chosen(url: str | None) -> None:
        if url is not None:
            app.run_worker(_forward_to(app, url), group="targets", exit_on_error=False)

    app.push_screen(URLPrompt("Forward every new event to which URL? (a URL ending in / gets "
                              "the event's path; empty: stop forwarding)",
                              current or app.replayer.offer(), check=_optional, ok="Set"),
                    chosen)


def _optional(url: str) -> str | None:
    return target_problem(url) if url else None


async def _replay_to(app: BaseApp, url: str) -> None:
    if await _changed(app, "replay", app.session.set_replay_target(url)):
        app.status_bar.replay_to = url or app.session.live.replay_target
        app.notify(f"Replays go to {url} from now on." if url else
                   "Each replay asks where to go.", markup=False)


async def _forward_to(app: BaseApp, url: str) -> None:
    if await _changed(app, "forward", app.session.set_forward_target(url)):
        app.status_bar.forward_to = url
        app.notify(f"New events are forwarded to {url}." if url else
                   "Forwarding stopped (what was queued went first).", markup=False)


async def _changed(app: BaseApp, what: str, change: Awaitable[None]) -> bool:
    try:
        await change
    except ReplayError as exc:
        app.notify(str(exc), title=f"The {what} target is unchanged", severity="error",
                   markup=False)
        return False
    return True
