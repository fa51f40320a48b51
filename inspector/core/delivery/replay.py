"""Send a captured event again: same method, same bytes, same headers (minus hop-by-hop).

Also: a replay with edits (`Edit`, from the replay editor), re-signed on request, and
`replay_many`, which replays a set of events one by one in their original order.
"""

from __future__ import annotations

import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.delivery.resign import ResignError, Signer, signer_for
from inspector.core.headers import HOP_BY_HOP
from inspector.core.model import Attempt, Event, HeaderList

if TYPE_CHECKING:
    import httpx

RESPONSE_BODY_LIMIT = 1024 * 1024
DEFAULT_TIMEOUT = 10.0

# Not end-to-end, or recomputed by the client for the new connection.
DROP_HEADERS = frozenset({*HOP_BY_HOP, "host", "content-length"})


class ReplayError(Exception):
    """A target that cannot be used; the message says why."""


def check_target(url: str) -> str:
    """Validate a target URL; returns it stripped, or raises ReplayError."""
    url = url.strip()
    if any(c.isspace() for c in url):
        raise ReplayError(f"{url!r} contains spaces (percent-encode them as %20)")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:  # "http://[" and the like
        raise ReplayError(f"{url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ReplayError(f"{url!r} is not an http(s) URL (for example http://localhost:3000/)")
    if not host:
        raise ReplayError(f"{url!r} has no host (for example http://localhost:3000/)")
    return url


def target_url(base: str, event: Event) -> str:
    """The path rule: a target without a path, or ending in '/', gets the event's path+query.

    Always as a path: the receiver records request targets that are not one, and
    "@evil.example/x" appended to "http://localhost:3000" would make a replay, a forward or
    a curl command go to the host a stranger chose."""
    base = check_target(base)
    parts = urlsplit(base)
    if parts.path in ("", "/") or parts.path.endswith("/"):
        if parts.query or parts.fragment:
            return base
        return base.rstrip("/") + request_path(event)
    return base


def request_path(event: Event) -> str:
    """The event's path and query, always as a path (see `target_url`)."""
    target = event.target
    return target if target.startswith("/") else "/" + target


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
    forced: bool = False,
    note: str = "",
) -> Attempt:
    """Send once and describe the outcome; never raises for network trouble."""
    import httpx  # on first use: its import is a good part of the start-up

    method = method or event.method
    attempt = Attempt(event_seq=event.seq, kind=kind, at=time.time(), method=method, url=url,
                      resigned=resigned, edited=edited, forced=forced, note=note)
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
    import httpx

    # No proxies from the environment: replay goes where the user says, byte-exact.
    return httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)


@dataclass(frozen=True, slots=True)
class Edit:
    """What the replay editor sends: the exact URL, and the request as the user left it."""

    method: str
    url: str  # used as it is (the path rule was applied when the editor was filled)
    headers: HeaderList
    body: bytes
    resign: bool = False
    edited: bool = False  # method, headers or body differ from the event's
    # The person confirmed re-signing an event that did not arrive valid (`Signer.doubt`).
    forced: bool = False


async def send_edit(client: httpx.AsyncClient, event: Event, edit: Edit,
                    signer: Signer | None = None, *, kind: str = "replay",
                    timeout: float = DEFAULT_TIMEOUT) -> Attempt:
    """Send an edited request, re-signed when `edit.resign`; never raises.

    A re-sign that cannot be done, or that would vouch for an event that did not arrive
    valid without `edit.forced`, is a failed attempt (nothing sent), with the reason.
    """
    headers = edit.headers
    doubt = ""  # a forced re-sign: how the event arrived
    if edit.resign:
        try:
            if signer is None:
                raise ResignError("cannot re-sign: no provider or secret known")
            if signer.ok and signer.doubt and not edit.forced:
                raise ResignError(f"not sent: re-signing needs your confirmation, because "
                                  f"{signer.doubt}")
            headers = signer.sign(edit.method, edit.url, headers, edit.body)
        except ResignError as exc:
            return Attempt(event_seq=event.seq, kind=kind, at=time.time(),
                           method=edit.method, url=edit.url, error=str(exc), edited=edit.edited)
        doubt = signer.doubt
    return await send(client, event, edit.url, kind=kind, method=edit.method, headers=headers,
                      body=edit.body, timeout=timeout, resigned=edit.resign, edited=edit.edited,
                      forced=bool(doubt), note=f"forced re-sign: {doubt}" if doubt else "")


async def send_resigned(client: httpx.AsyncClient, event: Event, url: str, signer: Signer,
                        *, kind: str = "replay", timeout: float = DEFAULT_TIMEOUT) -> Attempt:
    """Send the event's bytes with a fresh signature when it arrived valid and `signer` can
    make one; otherwise exactly as it arrived, and the attempt's note says why."""
    headers = replay_headers(event.headers)
    why = signer.doubt or signer.problem
    if not why:
        try:
            headers = signer.sign(event.method, url, headers, event.body)
        except ResignError as exc:  # a key the scheme cannot use
            why = str(exc)
    note = f"not re-signed: {why.removeprefix('cannot re-sign: ')}" if why else ""
    return await send(client, event, url, kind=kind, headers=headers, timeout=timeout,
                      resigned=not why, note=note)


@dataclass(slots=True)
class Summary:
    """The outcome of `replay_many`."""

    total: int = 0
    by_status: Counter[int] = field(default_factory=Counter)  # status code -> attempts
    failures: list[tuple[int, str]] = field(default_factory=list)  # (event seq, error)
    resigned: int = 0
    kept: int = 0  # re-signing was asked for, but they went as they arrived (see their notes)

    def add(self, attempt: Attempt) -> None:
        self.total += 1
        self.resigned += attempt.resigned
        self.kept += bool(attempt.note) and not attempt.resigned
        if attempt.status is None:
            self.failures.append((attempt.event_seq, attempt.error))
        else:
            self.by_status[attempt.status] += 1

    def text(self) -> str:
        """"3 replayed: 200 ×2, 500 ×1; 1 failed" (status codes in numeric order)."""
        parts = [f"{code} ×{n}" for code, n in sorted(self.by_status.items())]
        out = f"{self.total} replayed"
        if parts:
            out += ": " + ", ".join(parts)
        if self.failures:
            out += f"; {len(self.failures)} failed"
        if self.kept:
            out += (f"; {self.kept} not re-signed (they did not arrive with a valid signature, "
                    "or cannot be signed: see the Replay tab)")
        return out


OnAttempt = Callable[[int, int, Attempt], Awaitable[object] | object]


async def replay_many(
    client: httpx.AsyncClient,
    events: Iterable[Event],
    base_url: str,
    *,
    resign: Analyzer | None = None,
    on_attempt: OnAttempt | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[list[Attempt], Summary]:
    """Replay events one at a time, in the order they arrived (`received_at`, then `seq`),
    each to `target_url(base_url, event)`. A failure does not stop the run.

    `resign`: re-sign each event that arrived valid with this analyzer's routes and
    secrets; the others go as they arrived, with a note saying why (`send_resigned`).
    `on_attempt(done, total, attempt)` hears each attempt as it completes (it may be async;
    it is awaited before the next send, so a caller can store each attempt in order).
    Raises ReplayError for a bad `base_url` before anything is sent.
    """
    check_target(base_url)
    ordered = sorted(events, key=lambda e: (e.received_at, e.seq))
    attempts: list[Attempt] = []
    summary = Summary()
    for done, event in enumerate(ordered, 1):
        url = target_url(base_url, event)
        if resign is not None:
            attempt = await send_resigned(client, event, url, signer_for(resign, event),
                                          timeout=timeout)
        else:
            attempt = await send(client, event, url, timeout=timeout)
        attempts.append(attempt)
        summary.add(attempt)
        if on_attempt is not None:
            result = on_attempt(done, len(ordered), attempt)
            if inspect.isawaitable(result):
                await result
    return attempts, summary
