"""What an event is about, and which delivery it is: the keys that link events together.

- **related**: the id of the object the event is about. Events with the same one tell that
  object's story (the Timeline, the filter `related:`): Connectly's message id
  (`statusUpdate.id` for sent → delivered → read, `context.replyToId` for a reply,
  `reaction.messageId`), WhatsApp Cloud API's `wamid` (`statuses[0].id`, a reply's
  `context.id`, a reaction's `message_id`, else `messages[0].id`), Stripe's
  `data.object.id`, GitHub's pull request or issue (`owner/repo#12`) or other object
  (`check_run:42`), Shopify's resource (`admin_graphql_api_id`), Standard Webhooks'
  `data.id`, Twilio's message or call sid, Slack's thread; for any other JSON,
  `data.object.id`, `data.id` or `object.id`. An event about nothing known is about its
  delivery (a GitHub ping, a Standard Webhook without `data.id`): its provider's delivery
  id, so that its retries are its story.
- **delivery**: what a provider sends again, unchanged, when it retries: the delivery id
  (`X-GitHub-Delivery`, `X-Shopify-Webhook-Id`, `webhook-id`, `svix-id`,
  `I-Twilio-Idempotency-Token`, Stripe's event id, Slack's `event_id`). Connectly and Meta
  send none, so their delivery's key is a hash of its raw body (`body:…`): a retry is the
  same bytes, and every body of theirs carries a timestamp, so two real events never share
  one. The store marks an event whose delivery key an earlier event had as a retry of it (for a
  body hash, only within RETRY_WINDOW of the previous one).

`keys` runs in the store's writer for every event: a fixed number of lookups, one pass over
the headers, and one hash of a Connectly or Meta body (linear, in C).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from inspector.core.headers import HeaderList, header_value
from inspector.core.providers import meta as whatsapp_cloud
from inspector.core.providers.connectly import events as connectly_events
from inspector.core.providers.fields import get

KEY_LIMIT = 200  # characters of a key: longer values are not ids
BODY_HASH = "body:"  # the delivery key made of a body's hash
RETRY_WINDOW = 24 * 3600.0  # a body seen again within this is a retry; later, a new event
BODY_KEYED = frozenset(("connectly", "meta"))  # providers that send no delivery id
# Headers that name a delivery, which a retry repeats (lower case), most specific first.
DELIVERY_HEADERS = ("x-github-delivery", "x-shopify-webhook-id", "webhook-id", "svix-id",
                    "i-twilio-idempotency-token")
_DELIVERY_RANK = {name: rank for rank, name in enumerate(DELIVERY_HEADERS)}

Related = Callable[[HeaderList, Any], str | None]


def key(value: Any) -> str | None:
    """An id as a key: text or a number, not empty, not too long; else None."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        return None
    return text if text and len(text) <= KEY_LIMIT else None


def retry_window(delivery: str) -> float | None:
    """How long after the previous delivery with this key a new one counts as a retry (None:
    always; a provider's delivery id never names two events)."""
    return RETRY_WINDOW if delivery.startswith(BODY_HASH) else None


def body_key(body: bytes) -> str:
    return BODY_HASH + hashlib.blake2b(body, digest_size=16).hexdigest()


# -- what each provider's events are about -------------------------------------------------------


def connectly(headers: HeaderList, value: Any) -> str | None:
    return key(connectly_events.related(value))


def meta(headers: HeaderList, value: Any) -> str | None:
    return key(whatsapp_cloud.related(value))


def stripe(headers: HeaderList, value: Any) -> str | None:
    return key(get(value, "data", "object", "id"))


# GitHub objects with an id of their own (a pull request and an issue share a number space).
_GITHUB_OBJECTS = ("check_run", "check_suite", "workflow_run", "workflow_job", "deployment",
                   "release", "milestone", "package", "registry_package", "project",
                   "project_card", "installation", "hook")


def github(headers: HeaderList, value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    repo = get(value, "repository", "full_name")
    for name in ("pull_request", "issue", "discussion"):
        number = key(get(value, name, "number"))
        if number is not None and isinstance(repo, str):
            return key(f"{repo}#{number}")
    for name in _GITHUB_OBJECTS:
        ident = key(get(value, name, "id"))
        if ident is not None:
            return f"{name}:{ident}"
    return None


def shopify(headers: HeaderList, value: Any) -> str | None:
    found = key(get(value, "admin_graphql_api_id"))
    if found is not None:
        return found
    ident = key(get(value, "id"))
    topic = header_value(headers, "x-shopify-topic") or ""
    return key(f"{topic.partition('/')[0]}:{ident}") if ident is not None else None


def standard_webhooks(headers: HeaderList, value: Any) -> str | None:
    return key(get(value, "data", "id"))


def twilio(headers: HeaderList, value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return key(value.get("MessageSid") or value.get("SmsSid") or value.get("CallSid"))


def slack(headers: HeaderList, value: Any) -> str | None:
    event = get(value, "event")
    if not isinstance(event, dict):
        return None
    channel = key(event.get("channel"))
    thread = key(event.get("thread_ts") or event.get("ts"))
    return key(f"{channel}/{thread}") if channel and thread else None


def generic(headers: HeaderList, value: Any) -> str | None:
    # GitHub and Shopify hooks set up without a secret are not signed, but say who they are.
    if header_value(headers, "x-github-event"):
        return github(headers, value)
    if header_value(headers, "x-shopify-topic"):
        return shopify(headers, value)
    return (key(get(value, "data", "object", "id")) or key(get(value, "data", "id"))
            or key(get(value, "object", "id")))


RELATED: dict[str, Related] = {
    "connectly": connectly,
    "meta": meta,
    "github": github,
    "stripe": stripe,
    "shopify": shopify,
    "slack": slack,
    "standard-webhooks": standard_webhooks,
    "svix": standard_webhooks,
    "twilio": twilio,
}


# -- which delivery an event is ------------------------------------------------------------------


def _delivery_header(headers: HeaderList) -> str | None:
    """The most specific delivery id among the headers, in one pass."""
    found, rank = None, len(DELIVERY_HEADERS)
    for name, value in headers:
        at = _DELIVERY_RANK.get(name.lower())
        if at is not None and at < rank:
            found, rank = key(value), at
    return found


def keys(source: str | None, headers: HeaderList, value: Any, body: bytes
         ) -> tuple[str | None, str | None]:
    """(related, delivery) of an event. `source`: the provider whose describer recognised
    the body ("" for the generic guess; None when the body was not read: only the headers
    count then); `value`: the parsed body."""
    delivery = _delivery_header(headers)
    if source is None:
        return None, delivery
    related = RELATED.get(source, generic)(headers, value)
    if delivery is None:
        if source == "stripe":
            delivery = key(get(value, "id"))
        elif source == "slack":
            delivery = key(get(value, "event_id"))
        elif source in BODY_KEYED and body:
            return related, body_key(body)  # a hash names no object
    return related or delivery, delivery
