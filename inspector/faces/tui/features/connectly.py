"""The tunnel and Connectly: say when the public URL changes; register it for both topics,
point the existing registrations at it, list or delete registrations, through Connectly's
API (inspector.core.providers.connectly.api); or copy any of these as curl commands, which
read the key from $CONNECTLY_API_KEY.

Connectly keeps one address per topic: registering a topic that has one answers 409, and
the registration is then offered for an update to the tunnel's address instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from inspector.core.capture.tunnel import TunnelState
from inspector.core.providers.connectly import api
from inspector.core.sanitize import clip, visible_line
from inspector.faces.tui.screens.prompt import Confirm, TextPrompt

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp

Job = Callable[[api.Webhooks], Awaitable[None]]
KEY_FROM = "they read your key from $CONNECTLY_API_KEY"


def tunnel_changed(app: BaseApp, state: TunnelState) -> None:
    status = app.status_bar
    previous, status.tunnel = status.tunnel, state.describe()
    if state.phase == "up" and state.url and state.url not in previous:
        again = " again: the URL changed" if state.restarts else ""
        app.notify(f"{state.url}\nRegister it with Connectly{again} (command palette: "
                   "Register tunnel with Connectly, or Point Connectly webhooks at the "
                   "tunnel).", title="Tunnel up", markup=False, timeout=12)
    elif state.phase == "down" and state.reason and "down" not in previous:
        app.notify(state.describe(), title="Tunnel down", severity="warning", markup=False)


def _tunnel_address(app: BaseApp) -> str | None:
    """The address Connectly should call: the tunnel's URL + /webhooks/connectly."""
    state = app.session.tunnel_state
    if state is None or state.phase != "up":
        app.notify("No tunnel is up: start the inspector with --tunnel cloudflared (or "
                   "ngrok, localtunnel, ssh).", severity="warning")
        return None
    try:
        return api.address_for(state.url)
    except api.RegistrationError as exc:
        app.notify(str(exc), severity="error", markup=False)
        return None


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


def _with_api(app: BaseApp, title: str, job: Job) -> None:
    """Ask for the business id and the API key when they are not set yet, then run `job` in
    a worker; a refusal or a failure of the API is one toast, titled `title`."""
    live, settings = app.session.live, app.session.settings

    def start(business: str) -> None:
        async def run() -> None:
            try:
                await job(api.Webhooks(app.http, business_id=business,
                                       api_key=live.connectly_api_key,
                                       api_base=settings.connectly_api_base))
            except api.RegistrationError as exc:
                app.notify(str(exc), title=title, severity="error", markup=False, timeout=15)

        app.run_worker(run(), group="connectly", exit_on_error=False)

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


def _shown(text: str) -> str:
    """Text from Connectly's API (an address, an id), fit for one line of a dialog."""
    return visible_line(clip(text, 200))


# -- through the API -----------------------------------------------------------------------------


def register(app: BaseApp) -> None:
    """Both topics to the tunnel's address; a topic taken already (409) is offered for an
    update to it."""
    address = _tunnel_address(app)
    if address is None:
        return

    async def job(hooks: api.Webhooks) -> None:
        for topic in api.TOPICS:
            try:
                done = await hooks.create(topic, address)
            except api.Conflict as exc:
                if exc.existing is None:
                    raise
                await _offer_update(app, hooks, exc.existing, address)
                continue
            app.notify(f"{address} → HTTP {done.status}", title=f"Registered {topic}",
                       markup=False)

    _with_api(app, "Registering with Connectly failed", job)


async def _offer_update(app: BaseApp, hooks: api.Webhooks, hook: api.Webhook,
                        address: str) -> None:
    if hook.address == address:
        app.notify(f"{hook.topic} already goes to {address}.", title="Nothing to change",
                   markup=False)
        return
    question = (f"{hook.topic} already has a webhook: {_shown(hook.id)} → "
                f"{_shown(hook.address)}. Connectly keeps one address per topic.\n\n"
                f"Point it at {address} instead?")
    if await app.push_screen_wait(Confirm(question, "Update", variant="primary")):
        done = await hooks.update(hook.id, address=address)
        app.notify(f"{_shown(hook.id)} → {address} (HTTP {done.status})",
                   title=f"Updated {hook.topic}", markup=False)


def point(app: BaseApp) -> None:
    """Both topics to the tunnel's address: their registrations updated (no gap in
    delivery), created where there is none."""
    address = _tunnel_address(app)
    if address is None:
        return

    async def job(hooks: api.Webhooks) -> None:
        for topic, call in await hooks.plan_point(address):
            if call is None:
                app.notify(f"{topic} already goes to {address}.", title="Nothing to change",
                           markup=False)
                continue
            done = await hooks.send(call)
            how = "updated" if call.method == "PUT" else "registered"
            app.notify(f"{address} → HTTP {done.status}", title=f"{topic}: {how}",
                       markup=False)

    _with_api(app, "Pointing Connectly at the tunnel failed", job)


def list_webhooks(app: BaseApp) -> None:
    async def job(hooks: api.Webhooks) -> None:
        found = await hooks.list()
        lines = "\n".join(hook.line() for hook in found)
        app.notify(lines or f"None: no webhook is registered for business "
                   f"{_shown(hooks.business_id)}.",
                   title=f"Connectly webhooks ({len(found)})", markup=False, timeout=30)

    _with_api(app, "Listing Connectly webhooks failed", job)


def delete_webhook(app: BaseApp) -> None:
    """Pick a registration by its id, confirm, delete: its events stop at once."""
    async def job(hooks: api.Webhooks) -> None:
        found = {hook.id: hook for hook in await hooks.list()}
        if not found:
            app.notify("No webhook is registered: nothing to delete.", markup=False)
            return
        listed = "\n".join(hook.line() for hook in found.values())
        only = next(iter(found)) if len(found) == 1 else ""
        chosen = await app.push_screen_wait(TextPrompt(
            f"Delete which webhook? Its id:\n{listed}", only,
            lambda v: None if v in found else "give one of the ids listed above", ok="Next"))
        hook = found.get(chosen or "")
        if hook is None:
            return
        sure = await app.push_screen_wait(Confirm(
            f"Delete {hook.line()}?\n\nConnectly stops sending {_shown(hook.topic)} events at "
            "once; this cannot be undone. (To move a topic to a new address, Point Connectly "
            "webhooks at the tunnel updates it without a gap.)", "Delete"))
        if sure:
            done = await hooks.delete(hook.id)
            app.notify(f"{hook.line()} (HTTP {done.status})", title="Deleted", markup=False)

    _with_api(app, "Deleting a Connectly webhook failed", job)


# -- as curl -------------------------------------------------------------------------------------


def _copy(app: BaseApp, calls: list[api.Call], what: str) -> None:
    app.copy_to_clipboard("\n\n".join(api.curl(call) for call in calls) + "\n")
    app.notify(f"{what}; {KEY_FROM}.", title="Copied to the clipboard", markup=False)


def copy_registration(app: BaseApp) -> None:
    address = _tunnel_address(app)
    if address is None:
        return

    def copy(business: str) -> None:
        base = app.session.settings.connectly_api_base
        _copy(app, [api.create_call(base, business, topic, address) for topic in api.TOPICS],
              "Two curl commands (messages, delivery_status)")

    _with_business_id(app, copy)


def copy_list(app: BaseApp) -> None:
    def copy(business: str) -> None:
        _copy(app, [api.list_call(app.session.settings.connectly_api_base, business)],
              "The curl command that lists your Connectly webhooks")

    _with_business_id(app, copy)


def copy_point(app: BaseApp) -> None:
    """The update (or create) commands: the registrations' ids are looked up first."""
    address = _tunnel_address(app)
    if address is None:
        return

    async def job(hooks: api.Webhooks) -> None:
        calls = [call for _topic, call in await hooks.plan_point(address) if call is not None]
        if not calls:
            app.notify(f"Both topics already go to {address}: nothing to copy.",
                       title="Nothing to change", markup=False)
            return
        _copy(app, calls, f"{len(calls)} curl command(s) that point Connectly at {address}")

    _with_api(app, "Looking up Connectly webhooks failed", job)


def copy_delete(app: BaseApp) -> None:
    def copy(business: str) -> None:
        def chosen(hook_id: str | None) -> None:
            if hook_id:
                call = api.delete_call(app.session.settings.connectly_api_base, business,
                                       hook_id)
                _copy(app, [call], f"The curl command that deletes webhook {_shown(hook_id)}")

        app.push_screen(TextPrompt("Copy the delete command of which webhook? Its id (List "
                                   "Connectly webhooks shows them)", "",
                                   lambda v: None if v else "give the webhook id"), chosen)

    _with_business_id(app, copy)
