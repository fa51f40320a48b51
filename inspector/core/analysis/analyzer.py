"""Derive provider, verdict, kind and summary from an event's raw bytes."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Any

from inspector.core.analysis import decoding
from inspector.core.config import Route
from inspector.core.model import Event, Verdict
from inspector.core.providers import correlate
from inspector.core.providers.describe import described
from inspector.core.sanitize import FORMAT, clip, visible_line
from inspector.core.signatures import Check, Secrets, SignedRequest, verify_with
from inspector.core.signatures.resolve import Resolver

DESCRIBE_LIMIT = 1024 * 1024  # bodies above this are not parsed for a summary
# CPU seconds of analysis per event before the optional steps (summary, odd characters) are
# skipped. Every step is linear and capped; this is the backstop, well above what the largest
# body costs (about 40 ms for a 1 MiB JSON body of empty objects).
BUDGET = 0.25
# Past these a request is odd enough to say so on the event (a "Note" row in the Overview).
MANY_HEADERS = 100
LONG_HEADER_VALUE = 8 * 1024
LONG_PATH = 2048
BODY_METHODS = ("POST", "PUT", "PATCH")


class Analyzer:
    """Stateless apart from its resolver (routes, secrets, public URL: which scheme and secret
    verify a request); safe to call from the store's writer thread."""

    __slots__ = ("budget", "resolver")

    def __init__(self, secrets: Secrets | None = None, public_url: str = "",
                 routes: Sequence[Route] = (), budget: float = BUDGET, *,
                 resolver: Resolver | None = None) -> None:
        """`resolver`, or one made of `routes` (first match wins), `secrets` and the
        `public_url` senders call (for schemes that sign it: Twilio)."""
        self.resolver = resolver or Resolver(routes, secrets, public_url)
        self.budget = budget  # CPU seconds per event, see BUDGET

    def verify(self, event: Event, provider: str | None = None) -> Check:
        # Timestamps are judged at receive time, so a later re-check does not expire them.
        return self.verify_request(self.resolver.request_of(event), event.path, provider,
                                   now=event.received_at)

    def verify_request(self, req: SignedRequest, path: str, provider: str | None = None,
                       now: float | None = None) -> Check:
        """Check a request that arrived at `path` with the scheme and secret the resolver
        gives (a matching route's, unless `provider` names the scheme)."""
        found = self.resolver.resolve(req, path, provider)
        result = verify_with(req, found.provider, found.secrets, now)
        route = found.route
        if result.verdict is Verdict.NO_SECRET and route is not None and route.secret_env:
            result = replace(result, reason=f"no secret for route {route.path}: {found.hint}")
        if found.doubt:
            result = replace(result, reason=f"{result.reason} ({found.doubt})")
        return result

    def analyze(self, event: Event) -> Check:
        """Fill the event's derived fields and notes; returns the full check for the detail
        pane. Runs in the store's writer for every event, so every ack waits for it: each
        step is linear and capped, and past `budget` seconds of work the rest is skipped
        with a note (the event is stored all the same)."""
        return self.examine(event)[0]

    def examine(self, event: Event) -> tuple[Check, decoding.Decoded | None]:
        """`analyze`, and the decoded body when it was decoded (answer rules read it
        rather than decode it again)."""
        started = time.thread_time()
        decoded: decoding.Decoded | None = None
        result = self.verify(event)
        event.provider = result.provider
        event.verdict = result.verdict.value
        event.reason = storable(result.reason)
        notes = request_notes(event)
        if event.refused:
            event.kind, event.summary = "refused", event.refused
            self._link(event, None, None)  # a body cut short is not what was sent
        elif event.body and len(event.body) <= DESCRIBE_LIMIT and self._within(started):
            decoded = decoding.decode(event.body, event.headers, cap=DESCRIBE_LIMIT * 4,
                                      parse_limit=DESCRIBE_LIMIT)
            # Forms (Twilio, Slack commands) are described from their fields.
            value = dict(decoded.form) if decoded.kind == "form" else decoded.value
            self._describe(event, value)
            if not event.kind and decoded.kind not in ("empty", "binary"):
                event.kind = decoded.kind
            if self._within(started):
                notes += body_notes(event.body, decoded)
            else:
                notes.append(self._over(started, "the body was not checked for odd characters"))
        elif event.body:
            self._describe(event, None)  # what the headers say does not depend on the size
            if len(event.body) > DESCRIBE_LIMIT:
                notes.append(f"body of {event.body_size:,} bytes: too large to summarise or "
                             "check for odd characters (see the Body tab)")
            else:
                notes.append(self._over(started, "the body was not summarised or checked for "
                                        "odd characters"))
        else:
            self._describe(event, None)
            if event.method in BODY_METHODS:
                notes.append(f"empty body on a {event.method}")
        if notes:
            event.notes += notes
        return result, decoded

    def _describe(self, event: Event, value: Any) -> None:
        source, kind, summary = described(event.provider, event.headers, value)
        # JSON may carry lone surrogates ("\ud800"): SQLite cannot store those.
        event.kind, event.summary = storable(kind), storable(summary)
        self._link(event, source if value is not None else None, value)

    @staticmethod
    def _link(event: Event, source: str | None, value: Any) -> None:
        """What the event is about and which delivery it is (the store links retries)."""
        related, delivery = correlate.keys(source, event.headers, value, event.body)
        event.related = None if related is None else storable(related)
        event.delivery = None if delivery is None else storable(delivery)

    def _within(self, started: float) -> bool:
        return time.thread_time() - started <= self.budget

    def _over(self, started: float, skipped: str) -> str:
        spent = (time.thread_time() - started) * 1000
        return (f"analysis stopped after {spent:,.0f} ms (budget {self.budget * 1000:,.0f} ms): "
                f"{skipped}")


def storable(text: str) -> str:
    """`text`, with lone surrogates (which UTF-8 cannot encode) written as escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# -- notes: what was odd about a request -----------------------------------------------------
#
# Paths and header values are latin-1 decodings of the bytes received; bodies are bytes. The
# common case (ASCII with no control character) costs a few length checks and one
# bytes.translate() per part: about 2.5 µs for a Connectly delivery (bench_notes.py).

CONTROL, BIDI, HIDDEN = 1, 2, 4
_FLAG_WORDS = ((CONTROL, "control characters"), (BIDI, "bidi override characters"),
               (HIDDEN, "invisible format characters"))
_PLAIN = bytes(range(0x20, 0x7F)) + b"\t\n\r"  # what a body or header usually holds
_BIDI_CHARS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{_BIDI_CHARS}]")
# Every format character sanitize escapes, but the bidi ones.
_HIDDEN = re.compile(f"(?![{_BIDI_CHARS}])[{FORMAT}]")
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The same, written as JSON escapes in an ASCII body ("\u001b" decodes to ESC).
_ESCAPED_CONTROL = re.compile(
    rb"\\u00(?:0[0-8bcefBCEF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])")
_ESCAPED_BIDI = re.compile(rb"\\u(?:061[cC]|200[eEfF]|202[a-eA-E]|206[6-9])")
_ESCAPED_HIDDEN = re.compile(rb"\\u(?:00[aA][dD]|200[b-dB-D]|206[0-4]|[fF][eE][fF][fF])")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PERCENT_CONTROL = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")


def request_notes(event: Event) -> list[str]:
    """Notes about the request line and headers (the body is judged by `body_notes`)."""
    notes: list[str] = []
    path = event.path
    if len(path) > LONG_PATH:
        notes.append(f"path of {len(path):,} bytes")
    if "%" in path:
        if _BAD_PERCENT.search(path):
            notes.append("path is not valid percent-encoding")
        if _PERCENT_CONTROL.search(path):
            notes.append("percent-encoded control characters in the path")
    query = event.query
    if "%" in query and _BAD_PERCENT.search(query):
        notes.append("query is not valid percent-encoding")
    headers = event.headers
    if len(headers) > MANY_HEADERS:
        notes.append(f"{len(headers):,} headers")
    values = " ".join(map(itemgetter(1), headers))
    if len(values) > LONG_HEADER_VALUE:
        longest, name = max((len(v), k) for k, v in headers)
        if longest > LONG_HEADER_VALUE:
            notes.append(f"header value of {longest:,} bytes ({visible_line(clip(name, 60))})")
    found = [(_text_flags(path), "path"), (_text_flags(query), "query"),
             (_text_flags(values), "headers")]
    if found[0][0] or found[1][0] or found[2][0]:
        notes += _place_notes(found)
    return notes


def body_notes(body: bytes, decoded: decoding.Decoded) -> list[str]:
    """Notes about a body (already decoded by the caller): what the decoder found wrong
    (e.g. "gzip: stopped decompressing at 4,194,304 bytes ..."), and odd characters in a
    textual body."""
    notes = decoded.odd
    data = decoded.data
    if decoded.kind == "binary":
        # Control bytes are what binary data is made of; in a body declared as text, the
        # decoder said so already.
        if decoded.textual and b"\x00" in data:
            notes = [*notes, "NUL bytes in the body"]
        return notes
    if decoded.kind == "empty":
        return notes
    flags = _body_flags(data)
    if flags:
        notes = notes + _place_notes([(flags, "body")])
    return notes


def _text_flags(text: str) -> int:
    """CONTROL/BIDI/HIDDEN flags for text that holds latin-1-decoded bytes (a path, header
    values): the UI shows them as latin-1, so a stray byte 0x80-0x9f is a C1 control."""
    return _bytes_flags(text.encode("latin-1", "replace"), latin1=True)


def _body_flags(data: bytes) -> int:
    flags = _bytes_flags(data, latin1=False)
    if b"\\u" in data:  # JSON escapes decode to the same characters
        if _ESCAPED_CONTROL.search(data):
            flags |= CONTROL
        if _ESCAPED_BIDI.search(data):
            flags |= BIDI
        if _ESCAPED_HIDDEN.search(data):
            flags |= HIDDEN
    return flags


def _bytes_flags(data: bytes, *, latin1: bool) -> int:
    # One C pass drops printable ASCII, TAB, LF and CR: usually nothing is left.
    rest = data.translate(None, _PLAIN)
    if not rest:
        return 0
    if rest.isascii():
        return CONTROL
    # Non-ASCII: the characters a person would read, as UTF-8 (what senders mean).
    try:
        return _char_flags(data.decode("utf-8"))
    except UnicodeDecodeError:
        flags = _char_flags(data.decode("utf-8", "replace"))
    if latin1 and _C1_BYTES.search(rest):
        flags |= CONTROL  # not UTF-8: shown as latin-1, where 0x80-0x9f are controls
    return flags


def _char_flags(text: str) -> int:
    # One C search per flag: looping over the matches would cost Python time per control
    # character, and a body can hold millions.
    flags = CONTROL if _CONTROL_CHARS.search(text) else 0
    if _BIDI.search(text):
        flags |= BIDI
    if _HIDDEN.search(text):
        flags |= HIDDEN
    return flags


def _place_notes(found: list[tuple[int, str]]) -> list[str]:
    """"control characters in the path and headers", ... from (flags, place) pairs."""
    notes = []
    for flag, words in _FLAG_WORDS:
        where = [place for flags, place in found if flags & flag]
        if where:
            joined = where[0] if len(where) == 1 else ", ".join(where[:-1]) + " and " + where[-1]
            notes.append(f"{words} in the {joined}")
    return notes
