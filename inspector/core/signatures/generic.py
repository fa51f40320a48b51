"""A generic HMAC scheme, configured per route: covers Linear, Zoom, Paddle-like senders.

The signed string is a template: `{body}`, `{timestamp}`, `{id}`, `{url}` and
`{header:Name}` are replaced by the request's bytes, anything else is literal text.
Never detected from headers; a route in the config file pins it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inspector.core.model import HeaderList, Verdict
from inspector.core.signatures.base import Check, SignedRequest
from inspector.core.signatures.diagnose import wire
from inspector.core.signatures.scheme import HmacProvider, Reading

ALGORITHMS = ("sha1", "sha256", "sha512")
ENCODINGS = ("hex", "base64")
DEFAULT_TOLERANCE = 300
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAMES = ("body", "timestamp", "id", "url")


@dataclass(frozen=True, slots=True)
class HmacSpec:
    """How one route's sender signs. Check it with `problems()` before use."""

    header: str
    prefix: str = ""  # before the signature in the header, e.g. "sha256=" or "v0="
    algorithm: str = "sha256"
    encoding: str = "hex"
    template: str = "{body}"
    timestamp_header: str = ""
    tolerance: int = DEFAULT_TOLERANCE  # seconds; 0 turns the check off
    id_header: str = ""

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for every mistake; empty when the spec is usable."""
        out = []
        if not self.header.strip():
            out.append(("header", "must name the signature header"))
        if self.algorithm not in ALGORITHMS:
            out.append(("algorithm", f"must be one of {', '.join(ALGORITHMS)}"))
        if self.encoding not in ENCODINGS:
            out.append(("encoding", f"must be one of {', '.join(ENCODINGS)}"))
        if self.tolerance < 0:
            out.append(("tolerance", "must be 0 or more seconds"))
        for name in _PLACEHOLDER.findall(self.template):
            if name not in _NAMES and not (name.startswith("header:") and name[7:].strip()):
                out.append(("template", f"has an unknown placeholder {{{name}}} (use {{body}}, "
                            "{timestamp}, {id}, {url} or {header:Name})"))
            elif name == "timestamp" and not self.timestamp_header:
                out.append(("template", "uses {timestamp} but timestamp_header is not set"))
            elif name == "id" and not self.id_header:
                out.append(("template", "uses {id} but id_header is not set"))
        return out


class Generic(HmacProvider):
    name = "generic"
    title = "generic HMAC"
    signature_headers = ()
    covers = "signed string"
    hint = "set the route's secret_env, or pass --secret"

    def __init__(self, spec: HmacSpec) -> None:
        self.spec = spec
        self.header = spec.header
        self.digest = spec.algorithm
        self.encoding = spec.encoding
        self.tolerance = spec.tolerance if spec.timestamp_header else 0
        self.timestamped = bool(spec.timestamp_header)

    def detect(self, req: SignedRequest) -> bool:
        return req.header(self.header) is not None

    def find(self, req: SignedRequest) -> tuple[str, str] | None:
        value = req.header(self.header)
        return None if value is None else (self.header, value)

    def unsigned(self) -> Check:
        return Check(Verdict.UNSIGNED, f"no {self.header} header", self.name)

    def read(self, req: SignedRequest, header: str, value: str) -> Reading | str:
        spec = self.spec
        for name in (spec.timestamp_header, spec.id_header, *_header_names(spec.template)):
            if name and req.header(name) is None:
                return f"no {name} header, which this route's signature needs"
        text = value.strip()
        problem = ""
        if text.startswith(spec.prefix):
            text = text[len(spec.prefix):]
        else:
            problem = f"{header} lacks the {spec.prefix} prefix"
        return Reading([text], stamp=_value(req, spec.timestamp_header),
                       ident=_value(req, spec.id_header), problem=problem)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [render_template(self.spec.template, req, reading, body)]

    def render(self, reading: Reading, digest: bytes) -> str:
        return self.spec.prefix + super().render(reading, digest)

    def sign(self, req: SignedRequest, secret: str, now: float) -> HeaderList:
        spec = self.spec
        stamp = str(int(now)) if spec.timestamp_header else ""
        reading = Reading([], stamp=stamp, ident=_value(req, spec.id_header))
        value = self.signed_value(req, reading, secret)
        out = [(spec.timestamp_header, stamp)] if spec.timestamp_header else []
        return [*out, (spec.header, value)]


def _value(req: SignedRequest, name: str) -> str:
    """A configured header's value; "" when the route names no such header."""
    return (req.header(name) or "") if name else ""


def _header_names(template: str) -> list[str]:
    return [n[7:].strip() for n in _PLACEHOLDER.findall(template) if n.startswith("header:")]


def render_template(template: str, req: SignedRequest, reading: Reading, body: bytes) -> bytes:
    """The signed string: literal text as UTF-8, header values as their wire bytes."""
    out = bytearray()
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        out += template[pos:match.start()].encode("utf-8")
        name = match.group(1)
        if name == "body":
            out += body
        elif name == "timestamp":
            out += wire(reading.stamp)
        elif name == "id":
            out += wire(reading.ident)
        elif name == "url":
            out += req.url.encode("utf-8", "replace")
        elif name.startswith("header:"):
            out += wire(req.header(name[7:].strip()) or "")
        else:
            out += match.group(0).encode("utf-8")
        pos = match.end()
    out += template[pos:].encode("utf-8")
    return bytes(out)
