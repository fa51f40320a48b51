"""Send a captured event again: same method, same bytes, same headers (minus hop-by-hop)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from inspector.model import Attempt, Event, HeaderList

RESPONSE_BODY_LIMIT = 1024 * 1024
DEFAULT_TIMEOUT = 10.0

# Not end-to-end, or recomputed by the client for the new connection.
DROP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class ReplayError(Exception):
    """A target that cannot be used; the message says why."""


def check_target(url: str) -> str:
    """Validate a target URL; returns it stripped, or raises ReplayError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ReplayError(f"{url!r} is not an http(s) URL (for example http://localhost:3000/)")
    if not parts.hostname:
        raise ReplayError(f"{url!r} has no host (for example http://localhost:3000/)")
    return url


def target_url(base: str, event: Event) -> str:
    """The path rule: a target without a path, or ending in '/', gets the event's path+query."""
    base = check_target(base)
    parts = urlsplit(base)
    if parts.path in ("", "/") or parts.path.endswith("/"):
        if parts.query or parts.fragment:
            return base
        return base.rstrip("/") + event.target
    return base


def replay_headers(headers: HeaderList) -> HeaderList:
    return [(k, v) for k, v in headers if k.lower() not in DROP_HEADERS]


async def send(
    client: httpx.AsyncClient,
    event: Event,
    url: str,
    *,
    kind: str = "replay",
    method: str | None = None,
    headers: HeaderList | None = None,
    body: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    resigned: bool = False,
    edited: bool = False,
) -> Attempt:
    """Send once and describe the outcome; never raises for network trouble."""
    method = method or event.method
    attempt = Attempt(event_seq=event.seq, kind=kind, at=time.time(), method=method, url=url,
                      resigned=resigned, edited=edited)
    pairs = replay_headers(event.headers if headers is None else headers)
    started = time.perf_counter()
    try:
        request = httpx.Request(
            method,
            url,
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs],
            content=event.body if body is None else body,
        )
        response = await client.send(request, stream=True)
        try:
            data = bytearray()
            async for chunk in response.aiter_raw():
                data += chunk
                if len(data) > RESPONSE_BODY_LIMIT:
                    del data[RESPONSE_BODY_LIMIT:]
                    break
        finally:
            await response.aclose()
        attempt.status = response.status_code
        attempt.response_headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
        ]
        attempt.response_body = bytes(data)
    except httpx.ConnectError as exc:
        attempt.error = f"connection refused: nothing answers at {url} (is your app running?)"
        if "Name or service not known" in str(exc) or "nodename" in str(exc):
            attempt.error = f"unknown host in {url}"
    except httpx.TimeoutException:
        attempt.error = f"timed out after {timeout:g} s waiting for {url}"
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
        attempt.error = f"bad URL {url!r}: {exc}"
    except httpx.HTTPError as exc:
        attempt.error = f"request failed: {type(exc).__name__}: {exc}"
    attempt.elapsed_ms = (time.perf_counter() - started) * 1000
    return attempt


def new_client(timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    # No proxies from the environment: replay goes where the user says, byte-exact.
    return httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)
