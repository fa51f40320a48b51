"""The tunnel and Connectly: say when the public URL changes, and register it (both topics)
through Connectly's API, or copy the registration as curl commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from inspector.core.capture.tunnel import TunnelState
from inspector.core.providers.connectly import api
from inspector.faces.tui.screens.prompt import TextPrompt

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def tunnel_changed(app: BaseApp, state: TunnelState) -> None:
    status = app.status_bar
    previous, status.tunnel = status.tunnel, state.describe()
    if state.phase == "up" and state.url and state.url not in previous:
        again = " again: the URL changed" if state.restarts else ""
        app.notify(f"{state.url}\nRegister it with Connectly{again} (command palette: "
                   "Register tunnel with Connectly).", title="Tunnel up", markup=False,
                   timeout=12)
    elif state.phase == "down" and state.reason and "down" not in previous:
        app.notify(state.describe(), title="Tunnel down", severity="warning", markup=False)


def _tunnel_url(app: BaseApp) -> str | None:
    state = app.session.tunnel_state
    if state is None or state.phase != "up":
        app.notify("No tunnel is up: start the inspector with --tunnel cloudflared (or "
                   "ngrok, localtunnel, ssh).", severity="warning")
        return None
    return state.url


def _with_business_id(app: BaseApp, then: Callable[[str], object]) -> None:
    live = app.session.live
    if live.connectly_business_id:
        then(live.connectly_business_id)
        return

    def chosen(value: str | None) -> None:
        if value:
            live.connectly_business_id = value
            then(value)

    app.push_screen(TextPrompt("Connectly business id (or set CONNECTLY_BUSINESS_ID)", "",
                               lambda v: None if v else "give the business id"), chosen)


def register(app: BaseApp) -> None:
    url = _tunnel_url(app)
    if url is None:
        return
    live = app.session.live

    def start(business: str) -> None:
        app.run_worker(_register(app, business, url), group="register", exit_on_error=False)

    def with_key(business: str) -> None:
        if live.connectly_api_key:
            start(business)
            return

        def chosen(key: str | None) -> None:
            if key:
                live.connectly_api_key = key  # memory only, never stored
                start(business)

        app.push_screen(TextPrompt("Connectly API key (or set CONNECTLY_API_KEY); kept in "
                                   "memory only", "", lambda v: None if v else
                                   "give the API key", password=True), chosen)

    _with_business_id(app, with_key)


async def _register(app: BaseApp, business: str, url: str) -> None:
    settings, live = app.session.settings, app.session.live
    try:
        address = api.address_for(url)
    except api.RegistrationError as exc:
        app.notify(str(exc), severity="error", markup=False)
        return
    for topic in api.TOPICS:
        try:
            done = await api.register(
                app.http, business_id=business, topic=topic, address=address,
                api_key=live.connectly_api_key, api_base=settings.connectly_api_base)
        except api.RegistrationError as exc:
            app.notify(str(exc), title=f"Registering {topic} failed", severity="error",
                       markup=False, timeout=15)
            return
        app.notify(f"{address} → HTTP {done.status}", title=f"Registered {topic}",
                   markup=False)


def copy_registration(app: BaseApp) -> None:
    url = _tunnel_url(app)
    if url is None:
        return

    def copy(business: str) -> None:
        settings = app.session.settings
        address = api.address_for(url)
        commands = [api.registration_curl(
            business_id=business, topic=topic, address=address,
            api_base=settings.connectly_api_base) for topic in api.TOPICS]
        app.copy_to_clipboard("\n\n".join(commands) + "\n")
        app.notify("Two curl commands (messages, delivery_status); they read your key "
                   "from $CONNECTLY_API_KEY.", title="Copied to the clipboard", markup=False)

    _with_business_id(app, copy)
