"""Mailgun: the signature travels in the body, not a header. JSON webhooks carry
`{"signature": {"timestamp", "token", "signature"}, "event-data": ...}`, form posts (legacy
webhooks, inbound routes) top-level `timestamp`, `token` and `signature` fields;
`signature` is the hex HMAC-SHA256 of timestamp + token with the webhook signing key.

The event itself is not covered: the signature proves Mailgun sent a request at that time,
not what it said. A subaccount's JSON also carries `parent-signature`, the same under the
parent account's key: either matches. Mailgun's SDK (`SecurityGuard.verify_webhook`)
accepts the timestamp for 15 minutes either way. A fresh signature would mean rewriting the
body, so it is not re-signed.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from inspector.core.analysis.decoding import FORM_FIELDS, media_type
from inspector.core.model import Verdict
from inspector.core.signatures.base import Check, SignedRequest
from inspector.core.signatures.diagnose import wire
from inspector.core.signatures.scheme import HmacProvider, Reading

FIELD = "signature (in the body)"
FORM = "application/x-www-form-urlencoded"
PARSE_LIMIT = 1024 * 1024  # Mailgun's JSON events are a few KB; past this it is not one
_PLAIN = re.compile(r"[0-9A-Za-z_-]{1,200}")  # what each of the three fields holds
UNCOVERED = "the event is not covered: Mailgun signs only the timestamp and token"


class Mailgun(HmacProvider):
    name = "mailgun"
    title = "Mailgun"
    signature_headers = ()  # in the body: detected from it
    secret_envs = ("MAILGUN_WEBHOOK_SIGNING_KEY",)
    tolerance = 900
    timestamped = True
    resignable = False
    cannot_resign = ("Mailgun's signature is inside the body: edit its timestamp, token and "
                     "signature in the replay editor instead")
    covers = "timestamp and token"
    hint = "pass --secret (the HTTP webhook signing key, under Sending, Webhooks)"

    def detect(self, req: SignedRequest) -> bool:
        return fields(req) is not None

    def find(self, req: SignedRequest) -> tuple[str, str] | None:
        found = fields(req)
        if found is None:
            return None
        # One line for the Signature tab; each field is plain (checked by `fields`).
        return FIELD, " ".join(f"{name}={found[name]}" for name in sorted(found))

    def unsigned(self) -> Check:
        return Check(Verdict.UNSIGNED, "no Mailgun signature fields in the body", self.name)

    def read(self, req: SignedRequest, header: str, value: str) -> Reading:
        found = dict(item.split("=", 1) for item in value.split(" "))
        signatures = [found["signature"]]
        if "parent-signature" in found:
            signatures.append(found["parent-signature"])
        return Reading(signatures, stamp=found["timestamp"], ident=found["token"],
                       note=UNCOVERED)

    def messages(self, req: SignedRequest, reading: Reading, body: bytes) -> list[bytes]:
        return [wire(reading.stamp) + wire(reading.ident)]


def fields(req: SignedRequest) -> dict[str, str] | None:
    """timestamp, token, signature (and parent-signature) from the body, when it carries them
    as Mailgun does and each is plain text; None otherwise. Cheap for other bodies: a few
    byte searches before any parse."""
    body = req.body
    if len(body) > PARSE_LIMIT or b"signature" not in body or b"token" not in body:
        return None
    kind = media_type(req.header("content-type") or "")[0]
    found: dict[str, Any]
    if kind == FORM:
        if body.count(b"&") >= FORM_FIELDS:
            return None
        found = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif body.lstrip()[:1] == b"{":
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return None
        inner = value.get("signature") if isinstance(value, dict) else None
        if not isinstance(inner, dict):
            return None
        found = inner
    else:
        return None
    names = ["timestamp", "token", "signature"]
    if "parent-signature" in found:
        names.append("parent-signature")
    out = {name: found.get(name) for name in names}
    if not all(isinstance(v, str) and _PLAIN.fullmatch(v) for v in out.values()):
        return None
    return {name: str(v) for name, v in out.items()}
