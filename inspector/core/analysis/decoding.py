"""Turn a raw body into something readable: content-encoding, JSON, forms, text or hex.

Nothing here changes the stored bytes; it only builds views of them. Every function accepts
arbitrary bytes and never raises.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from inspector.core.headers import HeaderList, header_value
from inspector.core.sanitize import clip

# Stop decompressing past this many bytes (gzip bombs). The detail pane decodes up to here; a
# readable view much larger than the 10 MiB body limit helps nobody and costs memory.
INFLATE_CAP = 16 * 1024 * 1024
_CHUNK = 256 * 1024
# JSON bigger than this is shown and compared as it came: parsing and re-indenting it would
# cost tens of times its size in memory.
PRETTY_LIMIT = 4 * 1024 * 1024


@dataclass(slots=True)
class Decoded:
    """A readable view of a body."""

    data: bytes  # after content-encoding
    kind: str  # "empty", "json", "form", "xml", "text" or "binary"
    text: str = ""  # for textual kinds, decoded with invalid bytes shown as \xNN
    value: Any = None  # parsed JSON
    form: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was decoded, and what failed
    odd: list[str] = field(default_factory=list)  # the notes about something wrong
    capped: bool = False  # decompression stopped at the cap
    textual: bool = False  # the content type says text (JSON, XML, a form, text/*)


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
    data, notes, _, _ = _inflate(body, encoding, cap)
    return data, "; ".join(notes)


def _inflate(body: bytes, encoding: str, cap: int) -> tuple[bytes, list[str], bool, bool]:
    """(data, notes, failed, capped): `failed` when a coding could not be undone."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    data = body
    notes: list[str] = []
    # Codings are listed in the order applied; undo them in reverse.
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            notes.append(f"content-encoding {clip(coding, 40)} is not supported; "
                         "showing the raw bytes")
            return body if data is body else data, notes, True, False
        try:
            out, capped = _decompress(data, coding, cap)
        except zlib.error as exc:
            notes.append(f"{coding} decoding failed ({exc}); showing the raw bytes")
            return data, notes, True, False
        if capped:
            notes.append(
                f"{coding}: stopped decompressing at {cap:,} bytes (possible gzip bomb); "
                "the raw bytes are kept"
            )
            return out, notes, False, True
        notes.append(f"decoded {coding}: {len(data):,} → {len(out):,} bytes")
        data = out
    return data, notes, False, False


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


# Text codecs that are not charsets a body is sent in: they raise a plain UnicodeError
# whatever the error handler (idna, punycode, undefined), read backslash escapes, or are
# slow on hostile input (punycode is quadratic).
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape",
                           "raw-unicode-escape"})


def charset_codec(charset: str) -> str | None:
    """The codec for a declared charset, or None when Python has no such charset."""
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):  # unknown; ValueError: a NUL in the name
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None  # base64, zlib, rot13 ... are not charsets
    return info.name


def _as_text(data: bytes, charset: str) -> tuple[str, bool, str]:
    """Decode; (text, clean, codec used). Invalid bytes become \\xNN so nothing is hidden.
    Never raises: a codec that fails in any way falls back to UTF-8."""
    codec = (charset_codec(charset) if charset else None) or "utf-8"
    for attempt in (codec, "utf-8"):
        try:
            return data.decode(attempt), True, attempt
        except UnicodeDecodeError:
            pass
        except Exception:  # UnicodeError and the like: a codec's own failure
            continue
        try:
            return data.decode(attempt, errors="backslashreplace"), False, attempt
        except Exception:
            continue
    return data.decode("latin-1"), False, "latin-1"  # cannot fail


def decode(body: bytes, headers: HeaderList, cap: int = INFLATE_CAP,
           parse_limit: int | None = None) -> Decoded:
    """The readable view of a body, given the request's headers. JSON longer than
    `parse_limit` characters is left as text: parsing holds the GIL, and a parsed value can
    take thirty times the memory of its text."""
    notes: list[str] = []
    odd: list[str] = []
    data = body
    capped = False
    encoding = header_value(headers, "content-encoding")
    if encoding:
        data, inflate_notes, failed, capped = _inflate(body, encoding, cap)
        notes += inflate_notes
        if failed or capped:
            odd.append(inflate_notes[-1])
    if not data:
        return Decoded(data, "empty", notes=notes, odd=odd, capped=capped)
    mtype, charset = media_type(header_value(headers, "content-type") or "")
    declared_json = mtype.endswith("json")  # also application/*+json
    textual = declared_json or mtype.startswith("text/") or "xml" in mtype or mtype in _FORMS
    if not charset.startswith(("utf-16", "utf-32")) and _looks_binary(data):
        # NUL or many control bytes: a text view would show each as a 4-character escape (a
        # 16 MiB gzip bomb of zeros would become 64 million characters); a hex dump is
        # bounded and says more.
        if textual:
            note = (f"body is declared {clip(mtype, 60)} but holds NUL or control bytes; "
                    "shown as a hex dump")
            notes.append(note)
            odd.append(note)
        return Decoded(data, "binary", notes=notes, odd=odd, capped=capped, textual=textual)
    text, clean, codec = _as_text(data, charset)
    if charset and charset_codec(charset) != codec:
        note = f"charset {clip(charset, 40)} is not supported; decoded as {codec}"
        notes.append(note)
        odd.append(note)
    if not clean and textual:
        note = f"body is not valid {codec}; invalid bytes shown as \\xNN"
        notes.append(note)
        odd.append(note)
    result = _classify(data, text, clean, mtype, declared_json, notes, odd, parse_limit)
    result.capped = capped
    result.textual = textual
    return result


_SAMPLE = 8192
_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100)) + b"\t\n\r"


def _looks_binary(data: bytes) -> bool:
    """Binary like git and grep judge it: a NUL, or more than 10% control bytes, in the
    first 8 KiB."""
    sample = data[:_SAMPLE]
    if b"\x00" in sample:
        return True
    return len(sample.translate(None, _PLAIN_BYTES)) * 10 > len(sample)


_FORMS = ("application/x-www-form-urlencoded",)


def _classify(data: bytes, text: str, clean: bool, mtype: str, declared_json: bool,
              notes: list[str], odd: list[str], parse_limit: int | None) -> Decoded:
    if declared_json or _looks_like_json(data):
        if parse_limit is not None and len(text) > parse_limit:
            notes.append(f"JSON of {len(text):,} characters: too large to parse here; "
                         "shown as it came")
            return Decoded(data, "text", text, notes=notes, odd=odd)
        value, error = parse_json(text)
        if error is None:
            return Decoded(data, "json", text, value=value, notes=notes, odd=odd)
        nested = error.startswith("JSON is nested")
        if nested:
            # Depth is counted on a prefix: a pathological body must stay cheap to describe.
            more = "+" if len(text) > _DEPTH_SCAN else ""
            levels = f"{json_depth(text[:_DEPTH_SCAN]):,}{more}"
            error = f"JSON nested too deeply to parse ({levels} levels); shown as text"
        # Say why when the body claims to be JSON (and is valid text), or is JSON too deep
        # to parse; a text body that merely starts with a bracket is just text.
        if nested or (declared_json and clean):
            notes.append(error)
            odd.append(error)
        if declared_json:
            return Decoded(data, "text", text, notes=notes, odd=odd)
    if mtype in _FORMS and clean:
        form, cut = form_fields(text)
        if cut:
            notes.append(f"form of more than {FORM_FIELDS:,} fields: the first "
                         f"{FORM_FIELDS:,} are shown (the Raw tab has them all)")
        return Decoded(data, "form", text, form=form, notes=notes, odd=odd)
    if "xml" in mtype or (clean and data.lstrip()[:1] == b"<"):
        kind = "xml" if "xml" in mtype or data.lstrip()[:5] == b"<?xml" else "text"
        return Decoded(data, kind, text, notes=notes, odd=odd)
    if clean or mtype.startswith("text/"):
        return Decoded(data, "text", text, notes=notes, odd=odd)
    return Decoded(data, "binary", notes=notes, odd=odd)


FORM_FIELDS = 10_000  # fields parsed from a form (parsing costs about 0.5 µs a field)


def form_fields(text: str, limit: int = FORM_FIELDS) -> tuple[list[tuple[str, str]], bool]:
    """The first `limit` fields of a form, and whether there were more."""
    parts = text.split("&", limit)
    more = len(parts) > limit
    return parse_qsl("&".join(parts[:limit]), keep_blank_values=True), more


def _looks_like_json(data: bytes) -> bool:
    head = data.lstrip()[:1]
    return head in (b"{", b"[")


def parse_json(text: str) -> tuple[Any, str | None]:
    """Parse JSON; (value, None) or (None, "invalid JSON: ...")."""
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "JSON is nested too deeply to parse; shown as text"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc}"
    except ValueError:  # valid JSON: Python's guard on converting a long number to an int
        return None, (f"JSON with a number of more than {sys.get_int_max_str_digits():,} "
                      "digits, not converted (the time to convert one grows with the square "
                      "of its length); shown as text")


_DEPTH_SCAN = 64 * 1024
# One pass, never backtracking: a string runs to its closing quote or, unterminated, to the
# end of the text. (A pattern that needs the closing quote retries from every quote and is
# quadratic on `a\\"a\\"...`.)
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[{]+|[\]}]+', re.DOTALL)


def json_depth(text: str) -> int:
    """How deeply brackets nest in JSON-like text (strings skipped); no recursion."""
    depth = deepest = 0
    for run in _TOKENS.finditer(text):
        first = run.group()[0]
        if first == '"':
            continue
        size = run.end() - run.start()
        if first in "[{":
            depth += size
            deepest = max(deepest, depth)
        else:
            depth = max(depth - size, 0)
    return deepest


# A token of valid JSON: a string (unrolled, as above), a bracket or separator, or a
# literal (a number, true, false, null) as written.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]|[^\s\[\]{},:"]+')


def pretty_json(text: str) -> str:
    """Valid JSON text indented as json.dumps(indent=2) would, but from the text itself:
    numbers stay as written (`1.10`, `1e2`, `1e99999`, a 30-digit amount: json.loads and
    dumps would show 1.1, 100.0, Infinity and a rounded float), a repeated key stays
    repeated, and nesting has no recursion limit. Strings are shown unescaped (`\\u00e9`
    as é); control characters stay escaped."""
    out: list[str] = []
    indent = "\n"
    opened = False  # the last token opened a bracket: an empty one stays `{}`
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        first = token[0]
        if opened and first not in "]}":
            out.append(indent)
        opened = False
        if first in "[{":
            indent += "  "
            opened = True
            out.append(token)
        elif first in "]}":
            indent = indent[:-2]
            if out and out[-1] in ("[", "{"):
                out.append(token)
            else:
                out.append(indent + token)
        elif first == ",":
            out.append("," + indent)
        elif first == ":":
            out.append(": ")
        elif first == '"':
            out.append(json.dumps(json.loads(token), ensure_ascii=False))
        else:
            out.append(token)
    return "".join(out)


def readable_lines(decoded: Decoded) -> list[str]:
    """The body as a person reads it: JSON indented, forms as key = value, text and XML as
    they are, binary as a hex dump. Lines as they are: make them visible before showing."""
    if decoded.kind == "empty":
        return []
    text: str | None = None
    if decoded.kind == "json":
        text = pretty_json(decoded.text)
    elif decoded.kind == "form":
        text = "\n".join(f"{k} = {v}" for k, v in decoded.form)
    elif decoded.kind != "binary":
        text = decoded.text
    return hexdump(decoded.data) if text is None else text.split("\n")


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
