"""Kind and one-line summary of an event, per provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inspector.model import HeaderList, header_value
from inspector.sanitize import clip

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


DESCRIBERS: dict[str, Describer] = {"connectly": connectly}


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
