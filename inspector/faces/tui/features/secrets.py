"""Set secret…: a provider's signing secret for this session, then every event re-verified,
the visible ones first."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.worker import get_current_worker

from inspector.core.analysis.reverify import reverify as reverify_events
from inspector.core.analysis.reverify import visible_first
from inspector.core.control.protocol import ControlError
from inspector.core.display import count
from inspector.core.model import Row
from inspector.core.signatures import PROVIDERS, mask, masks
from inspector.faces.tui.screens.secret import SecretPrompt

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def set_secret(app: BaseApp) -> None:
    events = app.event_list
    row = events.row(events.selected) if events.selected is not None else None
    provider = (row.provider if row else "") or "connectly"
    secrets = app.session.live.secrets
    choices = [(p.title, p.name) for p in PROVIDERS.values()]

    def chosen(result: tuple[str, str] | None) -> None:
        if result:
            app.run_worker(_set(app, *result), group="secret", exit_on_error=False)

    app.push_screen(SecretPrompt(choices, provider, masks(secrets.for_provider(provider))),
                    chosen)


async def _set(app: BaseApp, name: str, secret: str) -> None:
    """The receiver keeps it for what arrives next (a viewer sends it there too); this face
    re-verifies what is stored, and every viewer sees the verdicts change."""
    title = PROVIDERS[name].title
    try:
        await app.session.control.set_secret(name, secret)
    except ControlError as exc:
        app.notify(f"{exc}. It is set in this viewer only; re-verifying…",
                   title=f"{title} secret", severity="warning", markup=False)
    else:
        app.notify(f"{title} secret set ({mask(secret)}); re-verifying…", markup=False)
    reverify(app)


def reverify(app: BaseApp) -> None:
    """Re-check the listed events with the current secrets, in a thread."""
    events = app.event_list
    order = visible_first(events.seqs, int(events.scroll_y), events.page)
    app.run_worker(partial(_reverify, app, order), thread=True, exclusive=True,
                   group="reverify", exit_on_error=False)


def _reverify(app: BaseApp, order: list[int]) -> None:
    worker = get_current_worker()
    changed = reverify_events(
        app.store, app.session.analyzer, order, cancelled=lambda: worker.is_cancelled,
        changed=lambda rows: app.call_from_thread(_show, app, rows))
    if not worker.is_cancelled:
        app.call_from_thread(app.notify, f"Re-verified: {count(changed, 'verdict')} changed.")


def _show(app: BaseApp, rows: list[Row]) -> None:
    for row in rows:
        app.event_list.update_row(row)
    app.detail_pane.reload({row.seq for row in rows})
