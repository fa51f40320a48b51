"""Connectly deliveries: the kind of each, a one-line summary, and the facts worth a row.

Three generations of Connectly's docs print different shapes, and all of them arrive:

- `messages` topic, from the customer (`sender`): `message.text`; `message.attachments[]`
  (image, video, audio, document); `message.referral` (a click-to-WhatsApp ad); button
  replies as `message.isButtonResponse` (old), as a top-level `buttonResponse {text,
  payload}` with `context.replyToId` (new), or as `buttonResponse {text, id, payload}` with a
  top-level `topic: "messages"`; list replies, reactions and quoted replies (`context`),
  which the docs name without printing (read from `listResponse`/`listReply` and `reaction`
  at the top level or in `message`).
- `delivery_status` topic, about a message you sent to the customer (`recipient`):
  `statusUpdate {id, status, error}`, the campaign in `metadata.campaign_name`,
  `statusUpdate.metadata.campaign_name` or `statusUpdate.metadata.campaignName`.
- `report` topic: `report {name, type, last_run {status, result {url, expires_at}}}`.

Customers with a business-scoped user id (BSUID) carry `userId` and `phoneNumber` beside
`id`; a phone-less customer's `id` is the BSUID and `phoneNumber` is "". A `callbackData`
set on an outbound message comes back at the top level of its statuses and replies.

A shape no doc shows is described from the fields it has, never left blank. `describe` runs
in the store's writer for every event: it does a fixed number of lookups and cuts every text
before putting the summary together, so its cost does not grow with the body.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from itertools import islice
from typing import Any

from inspector.core.providers.connectly.errors import SUPPORT, explain
from inspector.core.providers.fields import (
    FACT,
    add,
    as_text,
    get,
    join,
    labelled,
    quoted,
    short,
)
from inspector.core.sanitize import clip

KINDS = ("message", "button", "list", "reaction", "media", "referral", "delivery_status",
         "report")
SHOWN_KEYS = 4  # field names listed for a shape no doc shows
MAX_ATTACHMENTS = 3  # attachment types named in a summary ("+2 more" after)
# Fields every message event has, not worth naming when a shape is unknown.
_COMMON = frozenset(("timestamp", "sender", "recipient", "topic", "metadata", "callbackData",
                     "message", "context", "attachments", "location"))
_BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9]+")


def describe(value: Any) -> tuple[str, str]:
    """(kind, summary) of a Connectly delivery; ("", "") when `value` is not one."""
    if not isinstance(value, dict):
        return "", ""
    status = value.get("statusUpdate")
    topic = value.get("topic")
    if isinstance(status, dict) or topic == "delivery_status":
        return "delivery_status", _status_summary(value, status)
    report = value.get("report")
    if topic == "report" or (isinstance(report, dict) and "last_run" in report):
        return "report", _report_summary(report)
    message = value.get("message")
    shape = _Shape(value, message if isinstance(message, dict) else {})
    if not (shape.found or isinstance(message, dict) or topic == "messages"
            or _is_party(value.get("sender"))):
        return "", ""
    return shape.kind, shape.summary()


def facts(value: Any, now: float | None = None) -> list[tuple[str, str]]:
    """The rows an Overview shows beside the summary: the customer (BSUID, phone number),
    what a reply answers, callbackData, the campaign, a failed delivery's error explained
    (meaning, what to do, the trace id to quote), a report's URL and when it expires.
    Values are raw text from the sender: a face makes them inert. [] for other bodies."""
    kind, _summary = describe(value)
    if not kind:
        return []
    if kind == "report":
        return _report_facts(value.get("report"), time.time() if now is None else now)
    status = value.get("statusUpdate")
    rows = _customer_facts(value.get("recipient" if kind == "delivery_status" else "sender"))
    if kind == "delivery_status":
        add(rows, "Message id", get(status, "id"))
        add(rows, "Status", get(status, "status"))
    message = value.get("message")
    shape = _Shape(value, message if isinstance(message, dict) else {})
    rows += shape.facts()
    add(rows, "Reply to", _reply_to(value, message))
    if "callbackData" in value:
        rows.append(("callbackData", _json(value["callbackData"])))
    add(rows, "Campaign", _campaign(value))
    if kind == "delivery_status":
        rows += _error_facts(get(status, "error"))
    return rows


def related(value: Any) -> Any:
    """The id of the message a delivery is about: the outbound message a status reports on
    (`statusUpdate.id`, the id the send API returned), the one a reply quotes
    (`context.replyToId`) or the one a reaction is on; for a report, the report (each run
    of it). None when there is none."""
    if not isinstance(value, dict):
        return None
    status = value.get("statusUpdate")
    if isinstance(status, dict):
        return status.get("id")
    report = value.get("report")
    if isinstance(report, dict):
        return report.get("id")
    message = value.get("message")
    found = get(_context(value, message), "replyToId")
    if found:
        return found
    reaction = _either(value, message if isinstance(message, dict) else {}, "reaction")
    return get(reaction, "messageId")


# -- messages ------------------------------------------------------------------------------------


class _Shape:
    """Which interactive part a message event carries, read once."""

    def __init__(self, value: dict[str, Any], message: dict[str, Any]) -> None:
        self.value, self.message = value, message
        self.who = _customer(value.get("sender")) or "?"
        self.button = _either(value, message, "buttonResponse")
        self.listed = _either(value, message, "listResponse", "listReply")
        self.reaction = _either(value, message, "reaction", kinds=(dict, str))
        attachments = message.get("attachments") or value.get("attachments")
        self.attachments = attachments if isinstance(attachments, list) else []
        referral = message.get("referral")
        self.referral = referral if isinstance(referral, dict) else None
        self.legacy_button = bool(message.get("isButtonResponse"))
        self.found = (self.button is not None or self.listed is not None
                      or self.reaction is not None or self.legacy_button)
        self.kind = self._kind()

    def _kind(self) -> str:
        if self.button is not None or self.legacy_button:
            return "button"
        if self.listed is not None:
            return "list"
        if self.reaction is not None:
            return "reaction"
        if self.referral is not None:
            return "referral"
        if self.attachments:
            return "media"
        return "message"

    def summary(self) -> str:
        kind, who, message = self.kind, self.who, self.message
        reply = _reply_to(self.value, message)
        on = f"reply to {reply}" if reply else ""
        if kind == "button":
            button = self.button or {}
            text = short(get(button, "text") or message.get("text"))
            return join(f"{who} → {quoted(text)}", labelled("payload", get(button, "payload")),
                        labelled("id", get(button, "id")), on)
        if kind == "list":
            row = self.listed or {}
            title = short(get(row, "title") or get(row, "text") or message.get("text"))
            return join(f"{who} → {quoted(title)}",
                        labelled("id", get(row, "id") or get(row, "payload")), on)
        if kind == "reaction":
            emoji = short(_emoji(self.reaction))
            target = short(get(self.reaction, "messageId")) or reply
            action = f"{who} → {emoji}" if emoji else f"{who} removed a reaction"
            return join(action, f"on {target}" if target else "")
        text = short(message.get("text"))
        if kind == "referral":
            referral = self.referral or {}
            ad = short(referral.get("headline") or referral.get("sourceType")
                        or referral.get("sourceUrl") or referral.get("sourceId"))
            return f"{who} → {quoted(text)}" + (f" (ad: {ad})" if ad else "")
        if kind == "media":
            caption = text or short(get(self.attachments[0], "caption"))
            return join(f"{who} → {self._media()}" + (f' "{caption}"' if caption else ""), on)
        if text:
            return join(f'{who} → "{text}"', on)
        return join(f"{who} → {_unknown_content(self.value, message)}", on)

    def _media(self) -> str:
        named = []
        for attachment in islice(self.attachments, MAX_ATTACHMENTS):
            kind = short(get(attachment, "type")) or "file"
            name = short(get(attachment, "filename"))
            named.append(f"{kind} {name}" if name else kind)
        more = len(self.attachments) - MAX_ATTACHMENTS
        return ", ".join(named) + (f" (+{more} more)" if more > 0 else "")

    def facts(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        if self.button is not None:
            add(rows, "Button text", get(self.button, "text"))
            add(rows, "Button payload", get(self.button, "payload"))
            add(rows, "Button id", get(self.button, "id"))
        if self.listed is not None:
            add(rows, "List row", get(self.listed, "title") or get(self.listed, "text"))
            add(rows, "Row id", get(self.listed, "id") or get(self.listed, "payload"))
            add(rows, "Row description", get(self.listed, "description"))
        if self.reaction is not None:
            add(rows, "Reaction", _emoji(self.reaction) or "(removed)")
            add(rows, "Reacted to", get(self.reaction, "messageId"))
        if self.referral is not None:
            add(rows, "Ad headline", self.referral.get("headline"))
            add(rows, "Ad source", join(as_text(self.referral.get("sourceType")),
                                         as_text(self.referral.get("sourceUrl"))))
            add(rows, "Ad click id", self.referral.get("ctwaClid"))
        for attachment in islice(self.attachments, MAX_ATTACHMENTS):
            add(rows, f"Media ({short(get(attachment, 'type')) or 'file'})",
                 get(attachment, "url"))
        return rows


def _either(value: dict[str, Any], message: dict[str, Any], *names: str,
            kinds: tuple[type, ...] = (dict,)) -> Any:
    """The first of `names` found at the top level or in `message`, of one of `kinds`."""
    for name in names:
        for where in (value, message):
            found = where.get(name)
            if isinstance(found, kinds):
                return found
    return None


def _emoji(reaction: Any) -> str:
    if isinstance(reaction, str):
        return reaction
    return as_text(get(reaction, "emoji") or get(reaction, "text") or get(reaction, "reaction"))


def _unknown_content(value: dict[str, Any], message: dict[str, Any]) -> str:
    """A shape no doc shows: its location, or the names of its fields."""
    location = message.get("location") or value.get("location")
    if isinstance(location, dict):
        where = ", ".join(short(location.get(k)) for k in ("latitude", "longitude")
                          if location.get(k) is not None)
        name = short(location.get("name"))
        return " ".join(p for p in ("location", where, f"({name})" if name else "") if p)
    names = list(islice((k for k in message if message[k] not in (None, "", [], {})),
                        SHOWN_KEYS + 1))
    if not names:
        names = list(islice((k for k in value if k not in _COMMON and value[k] is not None),
                            SHOWN_KEYS + 1))
    if not names:
        return "(no message content)"
    shown = ", ".join(short(k) for k in names[:SHOWN_KEYS])
    return f"({shown}{', …' if len(names) > SHOWN_KEYS else ''})"


# -- delivery statuses and reports ---------------------------------------------------------------


def _status_summary(value: dict[str, Any], status: Any) -> str:
    state = short(get(status, "status")) or "unknown status"
    error = get(status, "error")
    if isinstance(error, dict):
        title = short(_error_title(error))
        state = f"{state}: {title}" if title else state
    who = _customer(value.get("recipient"))
    campaign = _campaign(value)
    return join(state, f"to {who}" if who else "", f"campaign {campaign}" if campaign else "")


def _error_title(error: dict[str, Any]) -> str:
    """The error's own title, else the catalogue's meaning of its code, else the code."""
    code = as_text(error.get("code"))
    known = explain(code)
    return as_text(error.get("userTitle") or error.get("message")
                   or (known.meaning if known else code))


def _error_facts(error: Any) -> list[tuple[str, str]]:
    if not isinstance(error, dict):
        return []
    rows: list[tuple[str, str]] = []
    code = as_text(error.get("code"))
    known = explain(code)
    add(rows, "Error", _error_title(error))
    add(rows, "Error code", code)  # an unknown code is shown as it is
    add(rows, "Error type", error.get("type"))
    if known is not None:
        rows += [("Meaning", known.meaning), ("What to do", known.fix)]
    elif code:
        rows += [("Meaning", "not in Connectly's published error table"),
                 ("What to do", SUPPORT)]
    trace = as_text(error.get("cntTraceId"))
    if trace:
        rows.append(("Trace id", f"{clip(trace, FACT)} (quote it to Connectly support)"))
    return rows


def _report_summary(report: Any) -> str:
    name = short(get(report, "name") or get(report, "type") or get(report, "id")) or "report"
    state = short(get(report, "last_run", "status"))
    expires = short(get(report, "last_run", "result", "expires_at"))
    return join(f"{name}: {state}" if state else name,
                f"URL expires {expires}" if expires else "")


def _report_facts(report: Any, now: float) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    add(rows, "Report", get(report, "name"))
    add(rows, "Report type", get(report, "type"))
    add(rows, "Report id", get(report, "id"))
    run = get(report, "last_run")
    add(rows, "Run", join(as_text(get(run, "id")), as_text(get(run, "status"))))
    add(rows, "CSV URL", get(run, "result", "url"))
    expires = as_text(get(run, "result", "expires_at"))
    if expires:
        rows.append(("URL expires", clip(expires, FACT) + _until(expires, now)))
    add(rows, "Created", get(run, "result", "created_at"))
    return rows


def _until(iso: str, now: float) -> str:
    """' (in 4 min)' or ' (expired 3 min ago)'; '' when the time does not parse."""
    try:
        when = datetime.fromisoformat(iso).timestamp()
    except (ValueError, OverflowError, OSError):
        return ""
    left = when - now
    return f" (in {_span(left)})" if left > 0 else f" (expired {_span(-left)} ago)"


def _span(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
    return f"{int(seconds)} s"


# -- shared --------------------------------------------------------------------------------------


def _is_party(value: Any) -> bool:
    return isinstance(value, dict) and "channelType" in value


def _customer(party: Any) -> str:
    """How a customer is named: the id (a phone number, or a phone-less customer's BSUID),
    and the BSUID beside a phone number when both are sent."""
    if not isinstance(party, dict):
        return ""
    who = short(party.get("id") or party.get("phoneNumber") or party.get("userId")
                 or party.get("name"))
    bsuid = short(party.get("userId"))
    return f"{who} ({bsuid})" if bsuid and bsuid != who else who


def _customer_facts(party: Any) -> list[tuple[str, str]]:
    if not isinstance(party, dict):
        return []
    rows: list[tuple[str, str]] = []
    ident = as_text(party.get("id"))
    add(rows, "Customer", ident)
    add(rows, "Name", party.get("name"))
    bsuid = as_text(party.get("userId")) or (ident if _BSUID.fullmatch(ident) else "")
    add(rows, "BSUID", bsuid)
    if "phoneNumber" in party:
        rows.append(("Phone number", clip(as_text(party["phoneNumber"]), FACT)
                     or "none: a phone-less customer, known by the BSUID"))
    return rows


def _context(value: dict[str, Any], message: Any) -> Any:
    context = value.get("context")
    if not isinstance(context, dict) and isinstance(message, dict):
        context = message.get("context")
    return context


def _reply_to(value: dict[str, Any], message: Any) -> str:
    return short(get(_context(value, message), "replyToId"))


def _campaign(value: dict[str, Any]) -> str:
    """The campaign name, wherever this generation of the docs puts it."""
    for meta in (value.get("metadata"), get(value, "statusUpdate", "metadata")):
        if isinstance(meta, dict):
            name = meta.get("campaign_name") or meta.get("campaignName")
            if name:
                return short(name)
    return ""


def _json(value: Any) -> str:
    """callbackData as compact JSON (any JSON value, up to 1 KiB by the docs)."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        return "(nested too deeply to show: see the Body tab)"
    return clip(text, FACT)
