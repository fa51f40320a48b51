"""Send sample event: a signed Connectly delivery posted to this inspector (a first-run demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.core.providers.connectly import samples

if TYPE_CHECKING:

    from inspector.faces.tui.base import BaseApp


def send_sample(app: BaseApp, kind: str) -> None:
    app.run_worker(_send(app, kind), group="sample", exit_on_error=False)


async def _send(app: BaseApp, kind: str) -> None:
    import httpx  # on first use: its import is a good part of the start-up

    url = app.session.url
    if not url:
        app.notify("The receiver is not running.", severity="error")
        return
    secret = next(iter(app.session.live.secrets.for_provider("connectly")), None)
    sample = samples.build(kind, secret=secret)
    try:
        await app.http.post(url.rstrip("/") + sample.path, content=sample.body,
                            headers=sample.headers)
    except httpx.HTTPError as exc:
        app.notify(f"could not send the sample: {exc}", severity="error", markup=False)
        return
    if not sample.signed:
        app.notify("Sent unsigned: set a secret (--secret or Set secret…) to sign samples.",
                   severity="warning")
