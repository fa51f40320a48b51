"""Who may use the web UI: whoever has the link `inspector web` printed, from this page only.

textual-serve has no authentication and no Origin check: any page the browser visits could
open its websocket and drive the inspector (replay, delete, change the answer). So:

- the printed URL carries a random token; the first visit trades it for a cookie
  (HttpOnly: scripts cannot read it; SameSite=Strict: other sites' pages do not send it),
  and is redirected to a URL without the token (not kept in history or the address bar);
- every request needs that cookie or the token: otherwise a 401 page says how to get in;
- the websocket also needs the page's own Origin (403 otherwise), and the Host must be one
  of the loopback names when bound to loopback (a DNS-rebinding page gets 403);
- every answer forbids loading anything from another host (Content-Security-Policy) and
  being framed by another page.
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler

from inspector.core.capture.server import is_loopback

COOKIE = "inspector_web"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def exposure_warning(host: str) -> str | None:
    """A one-line warning when the web UI is reachable from other machines."""
    if is_loopback(host):
        return None
    return (f"warning: the web UI listens on {host or 'every interface'}: anyone who can "
            "reach this machine and has the link (it carries the token) sees your events, "
            "replays them and changes the answer; it is plain HTTP, so the token crosses the "
            "network readable. Keep --host 127.0.0.1 unless you trust that network.")


def page(status: int, title: str, text: str) -> web.Response:
    """A small HTML page that says what happened and what to do (no script, no styles from
    elsewhere)."""
    body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:monospace;max-width:44em;margin:4em auto;"
            "background:#0c181f;color:#e8e8e8;line-height:1.5}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    headers = {"WWW-Authenticate": 'Bearer realm="webhook-inspector"'} if status == 401 else {}
    return web.Response(status=status, text=body, content_type="text/html", headers=headers)


class Guard:
    """The checks, for a web UI listening on `host`."""

    def __init__(self, token: str, host: str) -> None:
        self.token = token
        self.loopback = is_loopback(host)

    def allowed_host(self, request: web.Request) -> bool:
        """Bound to loopback, only loopback names reach us honestly: another name means a
        DNS-rebinding page. Bound wider, the names it is reached by cannot be known."""
        return not self.loopback or is_loopback(request.url.host or "")

    def same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin", "")
        return bool(origin) and origin == f"{request.scheme}://{request.host}"

    def has_token(self, request: web.Request) -> bool:
        return secrets.compare_digest(request.query.get("token", ""), self.token)

    def has_cookie(self, request: web.Request) -> bool:
        return secrets.compare_digest(request.cookies.get(COOKIE, ""), self.token)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler
                         ) -> web.StreamResponse:
        if not self.allowed_host(request):
            return page(403, "Forbidden", f"This inspector does not answer to the name "
                        f"{request.host!r}: open the URL `inspector web` printed.")
        if self.has_token(request) and request.path == "/":
            # Trade the token for the cookie, and drop it from the address bar.
            rest = {k: v for k, v in request.query.items() if k != "token"}
            found = web.HTTPFound("/" + (f"?{urlencode(rest)}" if rest else ""))
            found.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            return found
        if not (self.has_cookie(request) or self.has_token(request)):
            text = ("This inspector's web UI needs the link `inspector web` printed in its "
                    "terminal (it carries a token); open that link, or restart `inspector "
                    "web` for a new one.")
            if "token" in request.query:
                text = "That token is wrong or old. " + text
            return page(401, "Not signed in", text)
        if request.path == "/ws" and not self.same_origin(request):
            return page(403, "Forbidden", "The inspector's websocket answers only its own "
                        "page (this request came from another origin).")
        return await handler(request)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Nothing loads from another host, nothing frames the page, nothing is cached."""
    ws = f"ws://{request.host}"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
        f"connect-src 'self' {ws}; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-store")
