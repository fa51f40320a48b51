"""Header lines and header lists: one rule for "Name: value", wherever a person types one.

A header a person types (`--response-header`, `verify --header`, a route's
`response_headers`, the replay editor, the "Add response header…" prompt) is read by
`parse_header_line`, with one rule:
- the name is the text before the first colon, surrounding spaces ignored, and must be an
  RFC 9110 token (no spaces, no colon, no control character);
- the value is the rest, surrounding whitespace ignored; a value to send may hold no control
  character but TAB (a CR or LF inside it would end the header on the wire, and HTTP
  clients refuse the others), a value as it was received (`received=True`, for
  `verify --header`) no NUL, CR or LF (no header on the wire holds those; a lenient
  receiver takes the other controls, and a check must be able to judge such a header);
- the value is kept as its UTF-8 bytes, decoded latin-1: the form headers have everywhere
  (`HeaderList`), so what is sent is exactly the bytes typed.
"""

from __future__ import annotations

import re

from inspector.core.sanitize import clip, visible_line

# Headers are kept as (name, value) pairs decoded as latin-1: lossless for every byte, in the
# order received, duplicates included.
HeaderList = list[tuple[str, str]]

# RFC 9110 tchar: methods and header names.
TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NEVER_RECEIVED = re.compile(r"[\x00\r\n]")

# Not end-to-end (RFC 9110 §7.6.1), or about one connection only: never passed on.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade"})


class HeaderLineError(ValueError):
    """A line that is not "Name: value"; the message says what is wrong."""


def parse_header_line(text: str, *, received: bool = False) -> tuple[str, str]:
    """'Name: value' into a pair (the value as UTF-8 bytes, kept as latin-1 text).
    `received`: the header as it arrived somewhere, to check rather than to send."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not TOKEN.fullmatch(name):
        raise HeaderLineError(f"{visible_line(clip(text, 60))!r} is not 'Name: value'")
    value = value.strip()
    if (_NEVER_RECEIVED if received else _CONTROL).search(value):
        raise HeaderLineError(f"the value of {name} has a control character")
    try:
        # surrogateescape: bytes that were not UTF-8 on a command line go back as they came.
        return name, value.encode("utf-8", "surrogateescape").decode("latin-1")
    except UnicodeEncodeError:
        raise HeaderLineError(f"the value of {name} is not text that can be sent") from None


def header_value(headers: HeaderList, name: str) -> str | None:
    """The first value of a header, by case-insensitive name."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None
