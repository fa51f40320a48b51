"""WhatsApp Cloud API deliveries (provider `meta`): the kind of each, a one-line summary, the
facts worth a row, and the message it is about.

Meta wraps every delivery the same way, `{"object": "whatsapp_business_account", "entry":
[{"id": WABA, "changes": [{"field": "messages", "value": {…}}]}]}`, and the `value` says
what happened:

- `statuses[]`: a message you sent was `sent`, `delivered`, `read`, `failed` (with
  `errors[] {code, title, message, error_data.details}`) or `deleted`; `id` is its `wamid.…`,
  the id the send API returned, `recipient_id` the customer.
- `messages[]` (with `contacts[] {profile.name, wa_id}`): what a customer sent, by `type`:
  `text`, `image`/`video`/`audio`/`document`/`sticker`, `button` (a template's quick reply),
  `interactive` (`button_reply` or `list_reply`), `reaction {message_id, emoji}`,
  `location`, …; `context.id` names the message a reply quotes, `referral` an ad.
- `errors[]`: a problem not tied to one message.
- other fields (`message_template_status_update`, `account_update`, …) carry an `event`.

A delivery may batch several; the first of each is described (and `+N more` said), so the
cost is a fixed number of lookups whatever the body holds: `describe` runs in the store's
writer for every event.
"""

from __future__ import annotations

from typing import Any

from inspector.core.providers.fields import add, as_text, get, join, labelled, quoted, short

OBJECT = "whatsapp_business_account"
MEDIA = ("image", "video", "audio", "document", "sticker")


def describe(value: Any) -> tuple[str, str]:
    """(kind, summary) of a WhatsApp Cloud API delivery; ("", "") when `value` is not one."""
    change = _change(value)
    if change is None:
        return "", ""
    field, body = change
    status = _first(body, "statuses")
    if status is not None:
        return "delivery_status", join(_status_summary(status), _more(body, "statuses"))
    message = _first(body, "messages")
    if message is not None:
        kind = _kind(message)
        return kind, join(_message_summary(kind, message, body), _more(body, "messages"))
    error = _first(body, "errors")
    if error is not None:
        return "error", _error_text(error)
    return field or "change", join(short(get(body, "event")),
                                   short(get(body, "message_template_name")))


def related(value: Any) -> Any:
    """The message a delivery is about: the one a status reports on (`statuses[0].id`, the
    `wamid` the send API returned), the one a reply quotes (`context.id`) or a reaction is
    on; else the inbound message itself (`messages[0].id`). None for anything else."""
    change = _change(value)
    if change is None:
        return None
    body = change[1]
    status = _first(body, "statuses")
    if status is not None:
        return status.get("id")
    message = _first(body, "messages")
    if message is None:
        return None
    return (get(message, "context", "id") or get(message, "reaction", "message_id")
            or message.get("id"))


def facts(value: Any) -> list[tuple[str, str]]:
    """The rows an Overview shows beside the summary (raw text from the sender: a face
    makes it inert); [] for other bodies."""
    change = _change(value)
    if change is None:
        return []
    body = change[1]
    rows: list[tuple[str, str]] = []
    add(rows, "Account", get(_first(value, "entry"), "id"))
    add(rows, "Phone number id", get(body, "metadata", "phone_number_id"))
    status = _first(body, "statuses")
    if status is not None:
        add(rows, "Message id", status.get("id"))
        add(rows, "Status", status.get("status"))
        add(rows, "Recipient", status.get("recipient_id"))
        add(rows, "Conversation", join(as_text(get(status, "conversation", "id")),
                                       as_text(get(status, "conversation", "origin", "type"))))
        add(rows, "Pricing", get(status, "pricing", "category"))
        add(rows, "Callback data", status.get("biz_opaque_callback_data"))
        rows += _error_facts(_first(status, "errors"))
        return rows
    message = _first(body, "messages")
    if message is not None:
        add(rows, "Customer", message.get("from"))
        add(rows, "Name", get(_first(body, "contacts"), "profile", "name"))
        add(rows, "Message id", message.get("id"))
        add(rows, "Reply to", get(message, "context", "id"))
        add(rows, "Reacted to", get(message, "reaction", "message_id"))
        add(rows, "Button payload", get(message, "button", "payload"))
        add(rows, "Ad headline", get(message, "referral", "headline"))
        return rows
    return rows + _error_facts(_first(body, "errors"))


# -- reading the envelope ------------------------------------------------------------------------


def _change(value: Any) -> tuple[str, dict[str, Any]] | None:
    """(field, value) of the first change of the first entry; None when not Meta's shape."""
    if not isinstance(value, dict) or value.get("object") != OBJECT:
        return None
    entry = _first(value, "entry")
    change = _first(entry, "changes")
    body = get(change, "value")
    return (as_text(get(change, "field")), body) if isinstance(body, dict) else None


def _first(value: Any, name: str) -> dict[str, Any] | None:
    """value[name][0] when it is an object."""
    items = get(value, name)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return None


def _more(body: dict[str, Any], name: str) -> str:
    items = body.get(name)
    extra = len(items) - 1 if isinstance(items, list) else 0
    return f"+{extra} more" if extra > 0 else ""


# -- statuses and errors -------------------------------------------------------------------------


def _status_summary(status: dict[str, Any]) -> str:
    state = short(status.get("status")) or "unknown status"
    error = _first(status, "errors")
    if error is not None:
        state = f"{state}: {_error_text(error)}"
    who = short(status.get("recipient_id"))
    return join(state, f"to {who}" if who else "")


def _error_text(error: dict[str, Any]) -> str:
    """"Rate limit hit (130429)": the title (or message), and the code."""
    title = short(error.get("title") or error.get("message"))
    code = short(error.get("code"))
    return f"{title} ({code})" if title and code else title or code or "error"


def _error_facts(error: dict[str, Any] | None) -> list[tuple[str, str]]:
    if error is None:
        return []
    rows: list[tuple[str, str]] = []
    add(rows, "Error", error.get("title") or error.get("message"))
    add(rows, "Error code", error.get("code"))
    add(rows, "Error details", get(error, "error_data", "details"))
    return rows


# -- messages ------------------------------------------------------------------------------------


def _kind(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind == "interactive":
        return "list" if get(message, "interactive", "type") == "list_reply" else "button"
    if kind == "button":
        return "button"
    if kind == "reaction":
        return "reaction"
    if isinstance(message.get("referral"), dict):
        return "referral"
    return "media" if kind in MEDIA else "message"


def _message_summary(kind: str, message: dict[str, Any], body: dict[str, Any]) -> str:
    who = short(message.get("from")) or "?"
    name = short(get(_first(body, "contacts"), "profile", "name"))
    if name:
        who = f"{who} ({name})"
    reply = short(get(message, "context", "id"))
    on = f"reply to {reply}" if reply else ""
    if kind == "button":
        reply_button = get(message, "interactive", "button_reply")
        text = get(message, "button", "text") or get(reply_button, "title")
        return join(f"{who} → {quoted(short(text))}",
                    labelled("payload", get(message, "button", "payload")),
                    labelled("id", get(reply_button, "id")), on)
    if kind == "list":
        row = get(message, "interactive", "list_reply")
        return join(f"{who} → {quoted(short(get(row, 'title')))}",
                    labelled("id", get(row, "id")), on)
    if kind == "reaction":
        emoji = short(get(message, "reaction", "emoji"))
        target = short(get(message, "reaction", "message_id"))
        action = f"{who} → {emoji}" if emoji else f"{who} removed a reaction"
        return join(action, f"on {target}" if target else "")
    text = short(get(message, "text", "body"))
    if kind == "referral":
        ad = short(get(message, "referral", "headline") or get(message, "referral", "source_url"))
        return f"{who} → {quoted(text)}" + (f" (ad: {ad})" if ad else "")
    if kind == "media":
        media = short(message.get("type"))
        caption = short(get(message, media, "caption"))
        return join(f"{who} → {media}" + (f' "{caption}"' if caption else ""), on)
    if text:
        return join(f'{who} → "{text}"', on)
    return join(f"{who} → ({short(message.get('type')) or 'no content'})", on)
