"""Kind and one-line summary of an event, per provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from inspector.core.headers import HeaderList, header_value
from inspector.core.providers import meta as whatsapp_cloud
from inspector.core.providers.connectly import events as connectly_events
from inspector.core.providers.fields import as_text, first_line, get, join
from inspector.core.sanitize import clip

Describer = Callable[[HeaderList, Any], tuple[str, str]]
Facts = Callable[[HeaderList, Any, float | None], list[tuple[str, str]]]

SUMMARY_LIMIT = 120


def connectly(headers: HeaderList, value: Any) -> tuple[str, str]:
    """message / button / list / reaction / media / referral, delivery_status or report."""
    return connectly_events.describe(value)


def meta(headers: HeaderList, value: Any) -> tuple[str, str]:
    """WhatsApp Cloud API: delivery_status, message / button / list / reaction / media /
    referral, error, or the change's field."""
    return whatsapp_cloud.describe(value)


def generic(headers: HeaderList, value: Any) -> tuple[str, str]:
    """Best effort for any JSON webhook: a type/event/topic field names the kind."""
    for name in ("x-github-event", "x-shopify-topic", "x-event-type", "x-webhook-event"):
        found = header_value(headers, name)
        if found:
            action = as_text(get(value, "action"))
            return found, action
    if isinstance(value, dict):
        for key in ("type", "event", "event_type", "topic", "eventType", "kind"):
            field = value.get(key)
            if isinstance(field, str) and field:
                ident = as_text(value.get("id"))
                return field, ident
            if isinstance(field, dict) and isinstance(field.get("type"), str):
                return field["type"], ""
    return "", ""


def github(headers: HeaderList, value: Any) -> tuple[str, str]:
    """pull_request.opened, push, ...: the event header plus the body's action."""
    event = header_value(headers, "x-github-event") or ""
    if not event:
        return "", ""
    action = as_text(get(value, "action"))
    title = (get(value, "pull_request", "title") or get(value, "issue", "title")
             or get(value, "head_commit", "message") or get(value, "zen") or get(value, "ref"))
    kind = f"{event}.{action}" if action else event
    return kind, join(as_text(get(value, "repository", "full_name")), first_line(title))


def stripe(headers: HeaderList, value: Any) -> tuple[str, str]:
    """payment_intent.succeeded ...: the event type, its id and the object's id."""
    kind = as_text(get(value, "type"))
    if not kind:
        return "", ""
    return kind, join(as_text(get(value, "id")), as_text(get(value, "data", "object", "id")))


def shopify(headers: HeaderList, value: Any) -> tuple[str, str]:
    """orders/create ...: the topic header, the shop and the record's name or id."""
    topic = header_value(headers, "x-shopify-topic") or ""
    if not topic:
        return "", ""
    record = as_text(get(value, "name") or get(value, "id"))
    return topic, join(header_value(headers, "x-shopify-shop-domain") or "", record)


def slack(headers: HeaderList, value: Any) -> tuple[str, str]:
    """Events API callbacks, slash commands and interactive payloads."""
    if not isinstance(value, dict):
        return "", ""
    if isinstance(value.get("command"), str):  # a slash command (form)
        who = as_text(value.get("user_name"))
        return "command", join(who, f"{value['command']} {as_text(value.get('text'))}".strip())
    payload = value.get("payload")
    if isinstance(payload, str):  # an interactive action (form holding JSON)
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError):
            return "interaction", ""
        return as_text(get(value, "type")) or "interaction", as_text(get(value, "user", "name"))
    event = value.get("event")
    if isinstance(event, dict):
        line = first_line(event.get("text"))
        return as_text(event.get("type")) or "event", join(as_text(event.get("user")), line)
    kind = as_text(value.get("type"))
    return kind, "Slack endpoint check" if kind == "url_verification" else ""


def zoom(headers: HeaderList, value: Any) -> tuple[str, str]:
    """meeting.started, endpoint.url_validation (the endpoint check), ...: the event."""
    kind = as_text(get(value, "event"))
    if kind == "endpoint.url_validation":
        return kind, "Zoom endpoint check"
    return kind, as_text(get(value, "payload", "object", "topic"))


def twitch(headers: HeaderList, value: Any) -> tuple[str, str]:
    """EventSub: a notification is listed by its subscription type (channel.follow, ...);
    the endpoint check (webhook_callback_verification) and a revocation by the message
    type, with the subscription type as the summary."""
    message = header_value(headers, "Twitch-Eventsub-Message-Type") or ""
    subscription = as_text(get(value, "subscription", "type"))
    if message == "notification":
        return subscription, as_text(get(value, "event", "broadcaster_user_login"))
    return message, subscription


DISCORD_TYPES = {1: "ping", 2: "application_command", 3: "message_component",
                 4: "application_command_autocomplete", 5: "modal_submit"}


def discord(headers: HeaderList, value: Any) -> tuple[str, str]:
    """Interactions by type (ping: the endpoint check; application_command with its name);
    webhook events by their event's type."""
    if not isinstance(value, dict):
        return "", ""
    event = value.get("event")
    if isinstance(event, dict):
        return as_text(event.get("type")), ""
    kind = value.get("type")
    if type(kind) is not int:  # not a bool either: true == 1
        return "", ""
    if kind == 1:
        return "ping", "Discord endpoint check"
    name = as_text(get(value, "data", "name") or get(value, "data", "custom_id"))
    return DISCORD_TYPES.get(kind, ""), name


def standard_webhooks(headers: HeaderList, value: Any) -> tuple[str, str]:
    """The body's type, and the message id from the headers."""
    kind = as_text(get(value, "type"))
    ident = header_value(headers, "webhook-id") or header_value(headers, "svix-id") or ""
    return (kind, ident) if kind else ("", "")


def twilio(headers: HeaderList, value: Any) -> tuple[str, str]:
    """Calls and messages, from the form's status fields: status, From → To."""
    if not isinstance(value, dict):
        return "", ""
    route = f"{as_text(value.get('From'))} → {as_text(value.get('To'))}"
    error = as_text(value.get("ErrorCode"))
    suffix = f" (error {error})" if error else ""
    if value.get("CallStatus"):
        return "call", f"{as_text(value['CallStatus'])}: {route}{suffix}"
    status = as_text(value.get("MessageStatus") or value.get("SmsStatus"))
    if not status:
        return "", ""
    if "Body" in value and status == "received":
        return "message", f'{route} "{first_line(value["Body"])}"'
    return "message_status", f"{status}: {route}{suffix}"


DESCRIBERS: dict[str, Describer] = {
    "connectly": connectly,
    "meta": meta,
    "github": github,
    "stripe": stripe,
    "shopify": shopify,
    "slack": slack,
    "zoom": zoom,
    "twitch": twitch,
    "discord": discord,
    "standard-webhooks": standard_webhooks,
    "svix": standard_webhooks,
    "twilio": twilio,
}


def described(provider: str, headers: HeaderList, value: Any) -> tuple[str, str, str]:
    """(source, kind, summary) for a parsed JSON body (or None): `source` names the
    describer that recognised it ("" for the generic guess); empty strings when unknown."""
    # The named provider first, then Connectly (our default) and Meta's envelope (which an
    # unsigned delivery still has), then the generic guess.
    for name in dict.fromkeys((provider, "connectly", "meta")):
        describer = DESCRIBERS.get(name)
        if describer is not None:
            kind, summary = describer(headers, value)
            if kind:
                return name, kind, clip(summary, SUMMARY_LIMIT)
    kind, summary = generic(headers, value)
    return "", kind, clip(summary, SUMMARY_LIMIT)


def describe(provider: str, headers: HeaderList, value: Any) -> tuple[str, str]:
    """(kind, summary) for a parsed JSON body (or None); empty strings when unknown."""
    return described(provider, headers, value)[1:]


FACTS: dict[str, Facts] = {
    "connectly": lambda headers, value, now: connectly_events.facts(value, now),
    "meta": lambda headers, value, now: whatsapp_cloud.facts(value),
}


def facts(provider: str, headers: HeaderList, value: Any,
          now: float | None = None) -> list[tuple[str, str]]:
    """(label, value) rows worth showing beside the summary, for the Overview: for Connectly
    the customer's BSUID and phone number, replyToId, callbackData, the campaign, a failed
    delivery's error explained, a report's URL expiry (relative to `now`); for Meta the
    message id, status, recipient, conversation and error. They come from
    the provider whose describer `describe` used. Values are the sender's text: render them
    inert."""
    found = FACTS.get(described(provider, headers, value)[0])
    return found(headers, value, now) if found is not None else []
