"""Turn a raw body into something readable: content-encoding, JSON, forms, text or hex.

Nothing here changes the stored bytes; it only builds views of them. Every function accepts
arbitrary bytes and never raises.
"""

from __future__ import annotations

import codecs
import json
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from inspector.model import HeaderList, header_value

INFLATE_CAP = 64 * 1024 * 1024  # stop decompressing past this many bytes (gzip bombs)
_CHUNK = 256 * 1024


@dataclass(slots=True)
class Decoded:
    """A readable view of a body."""

    data: bytes  # after content-encoding
    kind: str  # "empty", "json", "form", "xml", "text" or "binary"
    text: str = ""  # for textual kinds, decoded with invalid bytes shown as \xNN
    value: Any = None  # parsed JSON
    form: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was decoded, and what failed


def media_type(content_type: str) -> tuple[str, str]:
    """("application/json", "utf-8") from a Content-Type value."""
    parts = content_type.split(";")
    mtype = parts[0].strip().lower()
    charset = ""
    for param in parts[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return mtype, charset


def inflate(body: bytes, encoding: str, cap: int = INFLATE_CAP) -> tuple[bytes, str]:
    """Undo gzip/deflate content-encoding, stopping at `cap` bytes. Returns (data, note)."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    data = body
    notes = []
    # Codings are listed in the order applied; undo them in reverse.
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            notes.append(f"content-encoding {coding} is not supported; showing the raw bytes")
            break
        try:
            out, capped = _decompress(data, coding, cap)
        except zlib.error as exc:
            notes.append(f"{coding} decoding failed ({exc}); showing the raw bytes")
            break
        if capped:
            notes.append(
                f"{coding}: stopped decompressing at {cap:,} bytes (possible gzip bomb); "
                "the raw bytes are kept"
            )
            data = out
            break
        notes.append(f"decoded {coding}: {len(data):,} → {len(out):,} bytes")
        data = out
    return data, "; ".join(notes)


def _decompress(data: bytes, coding: str, cap: int) -> tuple[bytes, bool]:
    if coding == "deflate":
        # Servers send both zlib-wrapped and raw deflate under this name.
        wbits = 15 if data[:1] == b"\x78" else -15
    else:
        wbits = 16 + 15
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    while pending:
        piece = inflater.decompress(pending, _CHUNK)
        out += piece
        if len(out) > cap:
            return bytes(out[:cap]), True
        pending = inflater.unconsumed_tail
        if inflater.eof:
            break
    out += inflater.flush()
    if len(out) > cap:
        return bytes(out[:cap]), True
    return bytes(out), False


def _as_text(data: bytes, charset: str) -> tuple[str, bool]:
    """Decode; (text, clean). Invalid bytes become \\xNN so nothing is hidden."""
    codec = charset or "utf-8"
    try:
        if not getattr(codecs.lookup(codec), "_is_text_encoding", True):
            codec = "utf-8"  # base64, zlib ... are not charsets
    except LookupError:
        codec = "utf-8"
    try:
        return data.decode(codec), True
    except UnicodeDecodeError:
        return data.decode(codec, errors="backslashreplace"), False


def decode(body: bytes, headers: HeaderList, cap: int = INFLATE_CAP) -> Decoded:
    """The readable view of a body, given the request's headers."""
    notes: list[str] = []
    data = body
    encoding = header_value(headers, "content-encoding")
    if encoding:
        data, note = inflate(body, encoding, cap)
        if note:
            notes.append(note)
    if not data:
        return Decoded(data, "empty", notes=notes)
    mtype, charset = media_type(header_value(headers, "content-type") or "")
    text, clean = _as_text(data, charset)
    if mtype.endswith("json") or mtype.endswith("+json") or _looks_like_json(data):
        value, error = parse_json(text)
        if error is None:
            return Decoded(data, "json", text, value=value, notes=notes)
        if mtype.endswith("json"):
            notes.append(error)
            return Decoded(data, "text", text, notes=notes)
    if mtype == "application/x-www-form-urlencoded" and clean:
        return Decoded(data, "form", text, form=parse_qsl(text, keep_blank_values=True),
                       notes=notes)
    if "xml" in mtype or (clean and data.lstrip()[:1] == b"<"):
        return Decoded(data, "xml" if "xml" in mtype or data.lstrip()[:5] == b"<?xml" else "text",
                       text, notes=notes)
    if clean or mtype.startswith("text/"):
        if not clean:
            notes.append(f"body is not valid {charset or 'utf-8'}; invalid bytes shown as \\xNN")
        return Decoded(data, "text", text, notes=notes)
    return Decoded(data, "binary", notes=notes)


def _looks_like_json(data: bytes) -> bool:
    head = data.lstrip()[:1]
    return head in (b"{", b"[")


def parse_json(text: str) -> tuple[Any, str | None]:
    """Parse JSON; (value, None) or (None, "invalid JSON: ...")."""
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "JSON is nested too deeply to parse; shown as text"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"


def pretty_json(value: Any) -> str | None:
    """Indented JSON, or None when it cannot be re-serialised (too deep)."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (RecursionError, ValueError):
        return None


def hexdump(data: bytes, limit: int = 64 * 1024) -> list[str]:
    """Classic 16-bytes-per-line dump: offset, hex, ASCII."""
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  {ascii_}")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit:,} more bytes")
    return lines
