"""Realistic sample Connectly webhooks, signed like Connectly signs them.

One sample per shape of Connectly's current docs (docs.connectly.ai/webhooks/payload-types),
and the old button reply as `button-legacy`. Timestamps and message ids are fresh; `--set`
edits dotted paths (`message.text=hi`, `message.attachments.0.type=audio`,
`statusUpdate.id=01H…` to tie statuses to one message).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from inspector.core.model import HeaderList, new_id
from inspector.core.signatures import PROVIDERS, SignedRequest

PATH = "/webhooks/connectly"
SIGNATURE_HEADER = "x-connectly-hmac-sha256"
# What Connectly's Go client sends with every delivery.
HEADERS: HeaderList = [
    ("content-type", "text/plain; charset=utf-8"),
    ("user-agent", "go-resty/2.6.0 (https://github.com/go-resty/resty)"),
    ("accept-encoding", "gzip"),
]

_CUSTOMER = {"id": "+16315555500", "channelType": "whatsapp", "name": "Vasi from Connectly"}
_BUSINESS = {"id": "+16044441234", "channelType": "whatsapp", "name": "connectlyai"}
# A customer who adopted a WhatsApp username: known by a business-scoped user id only.
_PHONELESS = {"id": "US.13491208655302741918", "channelType": "whatsapp",
              "name": "Vasi from Connectly", "userId": "US.13491208655302741918",
              "phoneNumber": ""}
# Echoed at the top level of statuses and replies when set on the outbound message.
_CALLBACK = {"order_id": "12345"}
_INBOUND = {"sender": _CUSTOMER, "recipient": _BUSINESS}
_REPLY = {**_INBOUND, "context": {"replyToId": ""}, "callbackData": _CALLBACK}
_STATUS = {"topic": "delivery_status", "sender": _BUSINESS, "recipient": _CUSTOMER,
           "callbackData": _CALLBACK, "metadata": {"campaign_name": "spring_sale"}}

TEMPLATES: dict[str, dict[str, Any]] = {
    "text": {**_INBOUND, "message": {"text": "Hello! Is my order on its way?"}},
    "reply": {**_REPLY, "message": {"text": "Yes, the blue one please"}},
    "media": {**_INBOUND, "message": {"attachments": [
        {"type": "image", "url": "https://cdn.connectly.ai/media/sample-receipt.jpg"}]}},
    "button": {**_REPLY, "buttonResponse": {"text": "Yes, confirm my order",
                                            "payload": "confirm_order"}},
    "button-legacy": {**_INBOUND, "message": {"text": "Yes, confirm my order",
                                              "isButtonResponse": True}},
    "list": {**_REPLY, "listResponse": {"id": "size_m", "title": "Medium",
                                        "description": "Chest 96-101 cm"}},
    "reaction": {**_REPLY, "reaction": {"emoji": "\N{THUMBS UP SIGN}"}},
    "referral": {**_INBOUND, "message": {
        "text": "Hi, I saw your ad",
        "referral": {
            "ctwaClid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7Jw",
            "sourceUrl": "https://fb.me/example",
            "sourceId": "120203434526830123",
            "sourceType": "ad",
            "headline": "Spring sale",
            "body": "20% off this week",
            "mediaType": "image",
            "imageUrl": "https://example.com/ad.jpg",
        },
    }},
    "bsuid": {"sender": _PHONELESS, "recipient": _BUSINESS,
              "message": {"text": "Hi, it's me without a phone number"}},
    "sent": {**_STATUS, "statusUpdate": {"id": "", "status": "sent", "error": None}},
    "delivery_status": {**_STATUS, "statusUpdate": {"id": "", "status": "delivered",
                                                    "error": None}},
    "read": {**_STATUS, "statusUpdate": {"id": "", "status": "read", "error": None}},
    "delivery_failed": {**_STATUS, "statusUpdate": {
        "id": "",
        "status": "delivery_failed",
        "error": {
            "message": "Message template inputs invalid",
            "type": "ERROR_TYPE_INVALID_REQUEST",
            "code": "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID",
            "userTitle": "Message template inputs invalid",
            "userMessage": "Pass along the connectly trace id 'cnct_trace_id' to the team "
                           "for more information.",
            "cntTraceId": "10827968052975079261",
            "details": {},
        },
    }},
    "report": {"topic": "report", "report": {
        "id": "c80716a5-62c5-4ba5-b99d-5c2a6fd39317",
        "name": "Daily Campaign Report",
        "type": "campaign.daily.custom",
        "last_run": {"id": "", "status": "completed", "result": {
            "url": "https://reports.connectly.ai/abcdef", "expires_at": "",
            "created_at": ""}},
    }},
}
KINDS = tuple(TEMPLATES)
REPORT_URL_LIFETIME = 600  # seconds: "expires within minutes"


class SampleError(ValueError):
    """A bad kind or --set; one line saying what to write instead."""


@dataclass(frozen=True, slots=True)
class Sample:
    """A request ready to send: Connectly's headers (signed when a secret was given)."""

    path: str
    headers: HeaderList
    body: bytes
    signed: bool


def payload(kind: str, now: float | None = None) -> dict[str, Any]:
    """A fresh payload of this kind: the current timestamp, a new status id."""
    if kind not in TEMPLATES:
        raise SampleError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    value = copy.deepcopy(TEMPLATES[kind])
    when = time.time() if now is None else now
    if kind == "report":  # ISO 8601 times here, where other topics send Unix seconds
        run = value["report"]["last_run"]
        run["id"] = new_id(when)
        run["result"]["created_at"] = _iso(when)
        run["result"]["expires_at"] = _iso(when + REPORT_URL_LIFETIME)
        return {"topic": "report", "timestamp": _iso(when), "report": value["report"]}
    value = {"timestamp": str(int(when)), **value}  # Connectly sends it as a string, first
    # Ids of messages this inbound answers, or this status is about: the business sent them.
    for parent, key in (("statusUpdate", "id"), ("context", "replyToId")):
        if parent in value:
            value[parent][key] = new_id(when - 60)
    return value


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def parse_set(text: str) -> tuple[str, Any]:
    """'a.b=value': the value as JSON when it parses (1, true, {"x": 1}), else as a string."""
    path, eq, raw = text.partition("=")
    path = path.strip()
    if not eq or not path or any(not part for part in path.split(".")):
        raise SampleError(f"{text!r} is not path=value (for example message.text=hi)")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return path, value


def set_path(value: dict[str, Any], path: str, new: Any) -> None:
    """Set a dotted path, creating objects on the way; numbers index lists."""
    parts = path.split(".")
    node: Any = value
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the payload"
        if isinstance(node, list):
            if not part.isdigit() or int(part) > len(node):
                raise SampleError(f"{path}: {where} is a list of {len(node)}; use an index "
                                  f"from 0 to {len(node)}")
            index = int(part)
            if last:
                if index == len(node):
                    node.append(new)
                else:
                    node[index] = new
                return
            if index == len(node):
                node.append({})
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = new
                return
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        else:
            raise SampleError(f"{path}: {where} is {json.dumps(node)}, not an object")


def build(kind: str, *, secret: str | None = None, sets: list[str] | tuple[str, ...] = (),
          now: float | None = None) -> Sample:
    """A sample delivery of `kind`, with `sets` applied, signed with `secret` if given."""
    value = payload(kind, now)
    for text in sets:
        set_path(value, *parse_set(text))
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = list(HEADERS)
    if secret:
        req = SignedRequest("POST", "", headers, body)
        when = time.time() if now is None else now
        headers += PROVIDERS["connectly"].sign(req, secret, when)
    return Sample(PATH, headers, body, bool(secret))


def address(url: str) -> str:
    """Where a sample goes: `url` as it is, or Connectly's usual path when it has none (or
    just /), so `http://127.0.0.1:8765/` reaches the inspector the way Connectly would."""
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        return url.rstrip("/") + PATH
    return url
