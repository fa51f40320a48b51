"""The receiver's socket and the limits that guard its connections, without uvicorn.

What runs before the first paint (binding, the checks of the command line) lives here and
imports neither uvicorn nor an HTTP parser; `serving` puts uvicorn, with these limits, on
the loop once the UI is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import heapq
import importlib.util
import ipaddress
import json
import math
import re
import socket
import struct
import typing
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from starlette.types import Scope


class BindError(Exception):
    """The port could not be taken; the message says what to do."""


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen before any UI starts, so a taken port is a clear error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from exc
    family, _, _, _, address = infos[0]
    # IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets whose proto is TCP.
    # Without it every response waits on Nagle + delayed ACK (measured: 360 vs 6,600 req/s).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise BindError(_bind_message(host, port, exc)) from exc
    return sock


def _bind_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another inspector?): "
            "stop that process, or pick another port with --port (0 picks a free one)"
        )
    if exc.errno == errno.EACCES:
        return (
            f"port {port} needs administrator privileges: use a port above 1023 "
            "with --port, for example --port 8765"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: this machine has no such address (check --host)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def url_of(sock: socket.socket, host: str) -> str:
    """The local URL of a bound socket."""
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


# -- limits for a receiver on the public internet --------------------------------------------
#
# uvicorn 0.54 times out idle keep-alive connections, and nothing else: a client that opens a
# connection and sends nothing, trickles its headers a byte at a time (slowloris) or drips a
# body holds its connection for ever; and h11 limits only a request head that arrives in
# pieces (httptools none at all). The guard below adds, for both parsers:
#   - a size limit on the request head (request line + headers): over it, 431 and close;
#   - a deadline for a whole head, counted from the connection's opening or from the head's
#     first byte: 408 and close (a connection that sent nothing is just closed);
#   - for a body: nothing for `body_timeout` seconds, an average under `body_rate` bytes a
#     second once `body_grace` is over, or more than `body_deadline` seconds in all: 408 and
#     close. The receiver records the event as refused 408, saying why (`BODY_CUT`);
#   - under pressure (connections near `concurrency`), idle keep-alive connections and bodies
#     under `body_rate` are closed early; at the limit itself, the requests that have been
#     arriving for longest (idle, head or body) make room for the new connection. Without
#     this, ~1,000 connections dripping a byte every 20 s held every slot for as long as they
#     dripped, and every real delivery got a 503.
#   - past `concurrency` connections, a JSON 503 (`Gate`; uvicorn's own limit also counted
#     requests that pruning had just cut, still being recorded, and answered in plain text).
# Requests refused in their head never reach the receiver: they are not recorded as events.


@dataclass(frozen=True, slots=True)
class Limits:
    head_bytes: int = 128 * 1024  # request line + headers; a 64 KiB header value fits
    head_timeout: float = 10.0  # seconds for a whole request head
    body_timeout: float = 30.0  # seconds without a byte inside a body
    # A body must average `body_rate` bytes a second once its first `body_grace` seconds are
    # over (each byte buys 1/body_rate s more), and arrive within `body_deadline` seconds:
    # 500 B/s is a 4 kbit/s link; providers give up on a delivery after 10-30 s anyway.
    body_rate: float = 500.0  # 0: no minimum rate
    body_grace: float = 10.0
    body_deadline: float = 300.0  # a 10 MiB body (the default --max-body) needs 35 KB/s
    keep_alive: int = 30  # seconds an idle keep-alive connection stays open
    concurrency: int = 1000  # connections past which new requests get 503
    prune_at: float = 0.8  # fraction of `concurrency` from which slow connections are closed
    prune_idle: float = 1.0  # seconds idle, or slow in a body, before being closed early


DEFAULT_LIMITS = Limits()
MALFORMED = ("malformed HTTP request (a control character in the request line or a header, a "
             "non-ASCII byte in the request line or a header name, a method the parser does not "
             "know, or bad framing): not recorded by webhook-inspector")
BAD_BODY = "malformed chunked body (a chunk size or a chunk's end is not valid)"
# scope["extensions"][BODY_CUT] = (status, reason): the guard answered `status` and closed
# the connection before the body was complete; the receiver records it so.
BODY_CUT = "inspector.body_cut"
# scope["extensions"][CONNECTION]: the request's connection (its Watch), so that an answer
# rule's fault can close or reset it without answering (`connection_of`).
CONNECTION = "inspector.connection"
_HEAD_END = re.compile(rb"\n\r?\n")


def _answer(status: int, phrase: str, error: str) -> bytes:
    body = json.dumps({"ok": False, "error": error}, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class _Parser(typing.Protocol):
    """What the guard needs from a uvicorn HTTP protocol."""

    @property
    def transport(self) -> asyncio.Transport: ...

    @property
    def connections(self) -> set[Any]: ...  # the server's open connections

    def head_pending(self) -> bool: ...  # the next bytes belong to a request head

    def in_body(self) -> bool: ...  # a request body is being received

    def answered(self) -> bool: ...  # the current request already has a response

    def reading_paused(self) -> bool: ...  # uvicorn stopped reading (flow control)

    def current(self) -> object: ...  # the request/response cycle (a new one per head)

    def busy(self) -> bool: ...  # a request is being answered

    def cut_body(self, status: int, reason: str) -> None: ...  # tell the app why it ended


class Watch:
    """One connection's guard: head size, head deadline, body idle time, rate and deadline."""

    __slots__ = ("body_base", "body_since", "body_timer", "conn", "cycle", "head_bytes",
                 "head_timer", "idle_since", "limits", "loop", "mark", "progress_at",
                 "received", "refused")

    def __init__(self, conn: _Parser, limits: Limits, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.limits = limits
        self.loop = loop
        self.head_bytes = 0  # bytes of the pending head seen so far
        self.received = 0  # every byte, for the body checks
        self.mark = 0  # `received` when progress was last seen
        self.refused = False
        self.cycle: object = None  # the parser's cycle before a read: a new one = a new head
        self.idle_since = loop.time()  # since when the connection waits for a request
        self.body_since = 0.0  # when the body being received began (0: not in a body)
        self.body_base = 0  # `received` when it began
        self.progress_at = 0.0  # when the body was last seen moving
        self.body_timer: asyncio.TimerHandle | None = None
        # A new connection must deliver a whole head in time, like any other head.
        self.head_timer: asyncio.TimerHandle | None = loop.call_later(
            limits.head_timeout, self._head_expired)

    def before(self, data: bytes) -> bool:
        """Called with each read before the parser; False: refused, do not parse it."""
        if self.refused:
            return False
        self.received += len(data)
        self.cycle = self.conn.current()
        if self.conn.head_pending():
            budget = self.limits.head_bytes - self.head_bytes
            if len(data) > budget and not _ends_head(data, budget):
                self.refuse(431, "Request Header Fields Too Large",
                            f"the request line and headers are over {self.limits.head_bytes:,} "
                            "bytes, the limit of this webhook-inspector")
                return False
            self.head_bytes += len(data)
        return True

    def after(self) -> None:
        """Called after the parser took a read: start or stop the deadlines."""
        conn = self.conn
        if self.refused:
            return
        # A whole head arrived in this read (maybe a whole request, and the parser is
        # already waiting for the next one): the count starts again.
        if conn.current() is not self.cycle or not conn.head_pending():
            self.head_bytes = 0
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None
        if not conn.in_body():
            if self.body_since:  # the body is complete
                self.body_since = 0.0
                if self.body_timer is not None:
                    self.body_timer.cancel()
                    self.body_timer = None
            if self.head_bytes and self.head_timer is None and conn.head_pending():
                self.head_timer = self.loop.call_later(self.limits.head_timeout,
                                                       self._head_expired)
        elif not self.body_since:
            self.body_since = self.progress_at = self.loop.time()
            self.body_base = self.mark = self.received
            if self.body_timer is not None:
                self.body_timer.cancel()
            self._body_check()

    def idle(self, now: float) -> bool:
        """Between requests (or never used) for a while: safe to close under pressure."""
        conn = self.conn
        return (not self.refused and self.head_bytes == 0 and not self.body_since
                and conn.head_pending() and not conn.busy()
                and now - self.idle_since >= self.limits.prune_idle)

    def slow(self, now: float) -> str:
        """Why this body should make room under pressure ("" if it should not): it has been
        arriving for `prune_idle` seconds at under `body_rate`."""
        limits = self.limits
        since = self.body_since
        if not since or self.refused or self.conn.reading_paused():
            return ""
        elapsed = now - since
        got = self.received - self.body_base
        if elapsed < limits.prune_idle or got >= limits.body_rate * elapsed:
            return ""
        return (f"the request body arrived too slowly ({got:,} bytes in {elapsed:.1f} s; the "
                f"minimum is {limits.body_rate:g} bytes/s while webhook-inspector is near its "
                f"limit of {limits.concurrency:,} connections)")

    def waiting(self) -> float | None:
        """Since when this connection has been waiting for (part of) a request; None when a
        request is being answered, or the connection is already refused."""
        if self.refused:
            return None
        if self.body_since:
            return self.body_since
        return None if self.conn.busy() else self.idle_since

    def evict(self) -> None:
        """Close to make room at the connection limit: a body is cut (and recorded), a
        partial head refused, an idle connection just closed."""
        if self.body_since:
            self.cut("the request body was still arriving when webhook-inspector reached its "
                     f"limit of {self.limits.concurrency:,} connections; the requests waiting "
                     "longest made room")
        elif self.head_bytes:
            self.refuse(408, "Request Timeout",
                        "the request head was still arriving when webhook-inspector reached "
                        f"its limit of {self.limits.concurrency:,} connections")
        else:
            self.refuse(0, "", "")

    def _head_expired(self) -> None:
        self.head_timer = None
        if self.refused or self.conn.transport.is_closing() or not self.conn.head_pending():
            return
        if self.head_bytes == 0:
            self.refuse(0, "", "")  # connected and said nothing: just close
            return
        self.refuse(408, "Request Timeout",
                    "the request line and headers did not arrive within "
                    f"{self.limits.head_timeout:g} s")

    def _body_check(self) -> None:
        """Cut a body that stalled, is too slow or too long; else check again when the next
        of those could happen."""
        self.body_timer = None
        conn = self.conn
        since = self.body_since
        if not since or self.refused or conn.transport.is_closing() or not conn.in_body():
            return
        limits = self.limits
        now = self.loop.time()
        if self.received != self.mark or conn.reading_paused():  # paused: not their fault
            self.mark = self.received
            self.progress_at = now
        elif now - self.progress_at >= limits.body_timeout:
            self.cut(f"the request body stalled: nothing arrived for {limits.body_timeout:g} s")
            return
        got = self.received - self.body_base
        allowed = (limits.body_grace + got / limits.body_rate if limits.body_rate
                   else limits.body_deadline)
        if now - since >= limits.body_deadline:
            self.cut(f"the request body did not arrive within {limits.body_deadline:g} s")
            return
        if now - since >= allowed and not conn.reading_paused():
            self.cut(f"the request body arrived too slowly: {got:,} bytes in "
                      f"{now - since:.1f} s (the minimum is {limits.body_rate:g} bytes/s "
                      f"after the first {limits.body_grace:g} s)")
            return
        rate_due = since + allowed
        if conn.reading_paused():  # not their fault: judge the rate later
            rate_due = max(rate_due, now + limits.body_timeout)
        due = min(self.progress_at + limits.body_timeout, since + limits.body_deadline, rate_due)
        self.body_timer = self.loop.call_at(due, self._body_check)

    def cut(self, reason: str, status: int = 408, phrase: str = "Request Timeout") -> None:
        """End a body early: answer `status` (the receiver records it so), or only close when
        an answer already went (413 before the body ended, say)."""
        if self.conn.answered():
            self.refuse(0, "", "")
        else:
            self.refuse(status, phrase, reason)

    def refuse(self, status: int, phrase: str, error: str) -> None:
        """Answer `status` (0: say nothing) and close the connection."""
        self.refused = True
        self.close()
        conn = self.conn
        conn.connections.discard(conn)  # its slot is free now, not when the close completes
        if status:
            conn.cut_body(status, error)
        transport = conn.transport
        if status and not transport.is_closing():
            transport.write(_answer(status, phrase, error))
        transport.close()

    def drop(self) -> None:
        """Close the connection without an answer (a fault an answer rule asked for)."""
        if not self.refused:
            self.refuse(0, "", "")

    def reset(self) -> None:
        """Reset the connection (TCP RST, no answer): what a crashed server looks like."""
        if self.refused:
            return
        transport = self.conn.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.refused = True
        self.close()
        self.conn.connections.discard(self.conn)
        transport.abort()

    def close(self) -> None:
        """Stop the timers (the connection is gone)."""
        if self.head_timer is not None:
            self.head_timer.cancel()
        if self.body_timer is not None:
            self.body_timer.cancel()
        self.head_timer = self.body_timer = None


def connection_of(scope: Scope) -> Watch | None:
    """The connection a request came on (None when not served by `make_server`)."""
    found = (scope.get("extensions") or {}).get(CONNECTION)
    return found if isinstance(found, Watch) else None


def _ends_head(data: bytes, budget: int) -> bool:
    """Does the pending head end within the first `budget` bytes of `data`?"""
    if budget < 0:
        return False
    if _HEAD_END.search(data, 0, budget) is not None:
        return True
    # The blank line may have begun at the end of the previous read.
    return data[:2] == b"\r\n" or data[:1] == b"\n"


class Pruner:
    """Makes room for new connections; one per server (it remembers its last sweep)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.swept = -math.inf

    def __call__(self, conn: asyncio.Protocol, connections: set[Any], now: float) -> None:
        """Near `concurrency` connections, close idle keep-alive connections and slow bodies;
        at the limit, also those waiting longest for their request, down to `prune_at`."""
        limits = self.limits
        count = len(connections)
        if count < limits.concurrency * limits.prune_at:
            return
        # A sweep reads every connection: a few a second at most, unless at the limit (and
        # then it makes room for the next ones too). A sweep per connection cost ~3 ms at
        # 1,000 connections, and saturated the loop under a reconnecting attack.
        if count < limits.concurrency and now - self.swept < limits.prune_idle / 4:
            return
        self.swept = now
        waiting: list[tuple[float, Watch]] = []
        for other in list(connections):
            watch = getattr(other, "watch", None)
            if other is conn or not isinstance(watch, Watch):
                continue
            if watch.idle(now):
                watch.refuse(0, "", "")
            elif reason := watch.slow(now):
                watch.cut(reason)
            elif (since := watch.waiting()) is not None:
                waiting.append((since, watch))
        if len(connections) >= limits.concurrency:
            keep = min(int(limits.concurrency * limits.prune_at), limits.concurrency - 1)
            for _, watch in heapq.nsmallest(len(connections) - keep, waiting,
                                            key=itemgetter(0)):
                watch.evict()



def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps a server to this machine (a host name other than
    localhost may resolve to anything)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """A one-line warning when `host` makes the receiver reachable from other machines."""
    if is_loopback(host):
        return None
    where = "every network interface" if host in ("", "0.0.0.0", "::") else host
    return (f"warning: listening on {where} (--host {host or '0.0.0.0'}): anyone who can "
            "reach this machine can send it events. Behind a tunnel, keep the default "
            "--host 127.0.0.1; otherwise consider --rate-limit N.")


def check_parser(http: str) -> None:
    """BindError when `--http` names a parser that is not installed (said before binding,
    without importing uvicorn)."""
    if http == "httptools" and importlib.util.find_spec("httptools") is None:
        raise BindError("--http httptools: httptools is not installed "
                        "(pip install httptools); or use --http h11")
