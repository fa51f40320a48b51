"""Kind and one-line summary of an event, per provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from inspector.core.headers import HeaderList, header_value
from inspector.core.sanitize import clip

Describer = Callable[[HeaderList, Any], tuple[str, str]]

SUMMARY_LIMIT = 120


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def connectly(headers: HeaderList, value: Any) -> tuple[str, str]:
    """message / button / media / referral, or delivery_status."""
    if not isinstance(value, dict):
        return "", ""
    status = value.get("statusUpdate")
    if isinstance(status, dict) or value.get("topic") == "delivery_status":
        state = _str(_get(status, "status")) or "unknown"
        error = _get(status, "error")
        if isinstance(error, dict):
            detail = _str(error.get("userTitle") or error.get("message") or error.get("code"))
            return "delivery_status", f"{state}: {detail}" if detail else state
        return "delivery_status", state
    message = value.get("message")
    if not isinstance(message, dict):
        return "", ""
    sender = _str(_get(value, "sender", "id")) or "?"
    text = _str(message.get("text"))
    attachments = message.get("attachments")
    if isinstance(attachments, list) and attachments:
        types = ", ".join(_str(_get(a, "type")) or "file" for a in attachments)
        suffix = f' "{text}"' if text else ""
        return "media", f"{sender} → {types}{suffix}"
    if message.get("isButtonResponse"):
        return "button", f'{sender} → "{text}"'
    referral = message.get("referral")
    if isinstance(referral, dict):
        ad = _str(referral.get("headline") or referral.get("sourceType"))
        return "referral", f'{sender} → "{text}"' + (f" (ad: {ad})" if ad else "")
    return "message", f'{sender} → "{text}"'


def generic(headers: HeaderList, value: Any) -> tuple[str, str]:
    """Best effort for any JSON webhook: a type/event/topic field names the kind."""
    for name in ("x-github-event", "x-shopify-topic", "x-event-type", "x-webhook-event"):
        found = header_value(headers, name)
        if found:
            action = _str(_get(value, "action"))
            return found, action
    if isinstance(value, dict):
        for key in ("type", "event", "event_type", "topic", "eventType", "kind"):
            field = value.get(key)
            if isinstance(field, str) and field:
                ident = _str(value.get("id"))
                return field, ident
            if isinstance(field, dict) and isinstance(field.get("type"), str):
                return field["type"], ""
    return "", ""


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _first_line(value: Any) -> str:
    return _str(value).strip().split("\n", 1)[0]


def github(headers: HeaderList, value: Any) -> tuple[str, str]:
    """pull_request.opened, push, ...: the event header plus the body's action."""
    event = header_value(headers, "x-github-event") or ""
    if not event:
        return "", ""
    action = _str(_get(value, "action"))
    title = (_get(value, "pull_request", "title") or _get(value, "issue", "title")
             or _get(value, "head_commit", "message") or _get(value, "zen") or _get(value, "ref"))
    kind = f"{event}.{action}" if action else event
    return kind, _join(_str(_get(value, "repository", "full_name")), _first_line(title))


def stripe(headers: HeaderList, value: Any) -> tuple[str, str]:
    """payment_intent.succeeded ...: the event type, its id and the object's id."""
    kind = _str(_get(value, "type"))
    if not kind:
        return "", ""
    return kind, _join(_str(_get(value, "id")), _str(_get(value, "data", "object", "id")))


def shopify(headers: HeaderList, value: Any) -> tuple[str, str]:
    """orders/create ...: the topic header, the shop and the record's name or id."""
    topic = header_value(headers, "x-shopify-topic") or ""
    if not topic:
        return "", ""
    record = _str(_get(value, "name") or _get(value, "id"))
    return topic, _join(header_value(headers, "x-shopify-shop-domain") or "", record)


def slack(headers: HeaderList, value: Any) -> tuple[str, str]:
    """Events API callbacks, slash commands and interactive payloads."""
    if not isinstance(value, dict):
        return "", ""
    if isinstance(value.get("command"), str):  # a slash command (form)
        who = _str(value.get("user_name"))
        return "command", _join(who, f"{value['command']} {_str(value.get('text'))}".strip())
    payload = value.get("payload")
    if isinstance(payload, str):  # an interactive action (form holding JSON)
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError):
            return "interaction", ""
        return _str(_get(value, "type")) or "interaction", _str(_get(value, "user", "name"))
    event = value.get("event")
    if isinstance(event, dict):
        text = _first_line(event.get("text"))
        return _str(event.get("type")) or "event", _join(_str(event.get("user")), text)
    return _str(value.get("type")), ""


def standard_webhooks(headers: HeaderList, value: Any) -> tuple[str, str]:
    """The body's type, and the message id from the headers."""
    kind = _str(_get(value, "type"))
    ident = header_value(headers, "webhook-id") or header_value(headers, "svix-id") or ""
    return (kind, ident) if kind else ("", "")


def twilio(headers: HeaderList, value: Any) -> tuple[str, str]:
    """Calls and messages, from the form's status fields: status, From → To."""
    if not isinstance(value, dict):
        return "", ""
    route = f"{_str(value.get('From'))} → {_str(value.get('To'))}"
    error = _str(value.get("ErrorCode"))
    suffix = f" (error {error})" if error else ""
    if value.get("CallStatus"):
        return "call", f"{_str(value['CallStatus'])}: {route}{suffix}"
    status = _str(value.get("MessageStatus") or value.get("SmsStatus"))
    if not status:
        return "", ""
    if "Body" in value and status == "received":
        return "message", f'{route} "{_first_line(value["Body"])}"'
    return "message_status", f"{status}: {route}{suffix}"


DESCRIBERS: dict[str, Describer] = {
    "connectly": connectly,
    "github": github,
    "stripe": stripe,
    "shopify": shopify,
    "slack": slack,
    "standard-webhooks": standard_webhooks,
    "svix": standard_webhooks,
    "twilio": twilio,
}


def describe(provider: str, headers: HeaderList, value: Any) -> tuple[str, str]:
    """(kind, summary) for a parsed JSON body (or None); empty strings when unknown."""
    kind, summary = "", ""
    # The named provider first, then Connectly (our default), then the generic guess.
    for name in dict.fromkeys((provider, "connectly")):
        describer = DESCRIBERS.get(name)
        if describer is not None and not kind:
            kind, summary = describer(headers, value)
    if not kind:
        kind, summary = generic(headers, value)
    return kind, clip(summary, SUMMARY_LIMIT)
