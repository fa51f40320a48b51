"""Connectly's webhook registration API: list, create, update and delete, and the same as
curl commands.

    GET    {api_base}/v1/businesses/{business_id}/webhooks
    POST   {api_base}/v1/businesses/{business_id}/create/webhooks
           {"topic": "messages" | "delivery_status" | "report", "address": "https://…",
            "type": "custom", "configuration": {"echo": …, "channelTypes": […],
                                                 "filters": [{"field": …, "expression": …}]}}
    PUT    {api_base}/v1/businesses/{business_id}/update/webhooks/{webhook_id}
           {"address": …, "configuration": …}   (partial: what is left out is kept)
    DELETE {api_base}/v1/businesses/{business_id}/delete/webhooks/{webhook_id}
    X-API-Key: …

Connectly keeps one address per topic: a second create for a topic answers 409, and Update
is the way to change the address (`Conflict` says which registration to update). A failed
call answers `{message, type, code, userTitle, userMessage, cntTraceId, details}`; errors
quote its title and the trace id to give Connectly support.

The API key is a secret: it goes in that one header and nowhere else (never in a message,
a log line or a copied curl command, which reads it from $CONNECTLY_API_KEY).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from inspector.core.display import status_text
from inspector.core.providers.fields import as_text, get
from inspector.core.sanitize import clip, visible, visible_line

if TYPE_CHECKING:
    import httpx

DEFAULT_API_BASE = "https://api.connectly.ai"
TOPICS = ("messages", "delivery_status")  # what a tunnel's URL is registered for
ALL_TOPICS = (*TOPICS, "report")
TYPES = ("custom", "zapier", "webengage", "integromat_make")
WEBHOOK_PATH = "/webhooks/connectly"
KEY_ENV = "CONNECTLY_API_KEY"
BUSINESS_ENV = "CONNECTLY_BUSINESS_ID"
API_BASE_ENV = "CONNECTLY_API_BASE"
TIMEOUT = 15.0
SHOWN = 500  # characters of an error body quoted in a message


class RegistrationError(Exception):
    """The call did not succeed; the message says why and what to check."""


class ApiError(RegistrationError):
    """Connectly answered 4xx or 5xx."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Conflict(ApiError):
    """409: the topic already has an address. `existing` is that registration, when the
    list could be read: update it instead of creating another."""

    def __init__(self, message: str, topic: str, existing: Webhook | None) -> None:
        super().__init__(message, 409)
        self.topic = topic
        self.existing = existing


@dataclass(frozen=True, slots=True)
class Configuration:
    """The optional `configuration` object: None / empty means "not given"."""

    echo: bool | None = None  # echo outbound messages back to this webhook
    channel_types: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()  # (field, expression), e.g. campaign_name, prod-*

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.echo is not None:
            out["echo"] = self.echo
        if self.channel_types:
            out["channelTypes"] = list(self.channel_types)
        if self.filters:
            out["filters"] = [{"field": f, "expression": e} for f, e in self.filters]
        return out


def parse_filter(text: str) -> tuple[str, str]:
    """'campaign_name=prod-*' → ('campaign_name', 'prod-*')."""
    name, eq, expression = text.partition("=")
    if not eq or not name.strip() or not expression:
        raise RegistrationError(f"{text!r} is not FIELD=EXPRESSION (for example "
                                "campaign_name=prod-*)")
    return name.strip(), expression


@dataclass(frozen=True, slots=True)
class Webhook:
    """One registration, as Get webhooks lists it."""

    id: str
    topic: str
    address: str
    type: str = ""
    configuration: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, value: Any) -> Webhook | None:
        if not isinstance(value, dict) or not as_text(value.get("id")):
            return None
        config = value.get("configuration")
        return cls(as_text(value["id"]), as_text(value.get("topic")),
                   as_text(value.get("address")), as_text(value.get("type")),
                   config if isinstance(config, dict) else {})

    def line(self) -> str:
        """One terminal-safe line: id, topic, address, then what is configured."""
        parts = [self.id, self.topic or "?", "→", self.address or "(no address)"]
        config = self.configuration
        extra = [f"type {self.type}"] if self.type else []
        if config.get("echo"):
            extra.append("echo")
        channels = config.get("channelTypes")
        if isinstance(channels, list) and channels:
            extra.append("channels " + ",".join(as_text(c) for c in channels))
        filters = config.get("filters")
        if isinstance(filters, list):
            extra += [f"filter {as_text(get(f, 'field'))}={as_text(get(f, 'expression'))}"
                      for f in filters]
        text = " ".join(parts) + (f"  ({'; '.join(extra)})" if extra else "")
        return visible_line(clip(text, 2000))


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP call to the API, before it is sent (or printed as curl)."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    missing: str = ""  # what a 404 means for this call


# What to send for each topic (None: nothing, it is as wanted already).
Plan = list[tuple[str, Call | None]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str  # the API's answer, pretty-printed when JSON, made terminal-safe
    value: Any  # the parsed JSON, or None


# -- the calls -----------------------------------------------------------------------------------


def business_url(api_base: str, business_id: str) -> str:
    base = api_base.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistrationError(f"{api_base!r} is not an http(s) URL (the default is "
                                f"{DEFAULT_API_BASE})")
    if not business_id.strip():
        raise RegistrationError("the business id is empty (see your Connectly dashboard)")
    return f"{base}/v1/businesses/{quote(business_id.strip(), safe='')}"


def webhooks_url(api_base: str, business_id: str) -> str:
    """Where Create posts."""
    return business_url(api_base, business_id) + "/create/webhooks"


def list_call(api_base: str, business_id: str) -> Call:
    return Call("GET", business_url(api_base, business_id) + "/webhooks",
                missing="check the business id (and --api-base)")


def create_call(api_base: str, business_id: str, topic: str, address: str, *,
                type: str = "", configuration: Configuration | None = None) -> Call:
    body: dict[str, Any] = {"topic": check_topic(topic), "address": address}
    if type:
        body["type"] = check_type(type)
    config = (configuration or Configuration()).body()
    if config:
        body["configuration"] = config
    return Call("POST", webhooks_url(api_base, business_id), body,
                missing="check the business id (and --api-base)")


def check_update(address: str, configuration: Configuration | None) -> dict[str, Any]:
    """The body of an update (partial: what is left out is kept); an error when empty."""
    body: dict[str, Any] = {"address": address} if address else {}
    config = (configuration or Configuration()).body()
    if config:
        body["configuration"] = config
    if not body:
        raise RegistrationError("nothing to update: give an address or a configuration "
                                "(echo, channel types, filters); the topic cannot change")
    return body


def update_call(api_base: str, business_id: str, webhook_id: str, *, address: str = "",
                configuration: Configuration | None = None) -> Call:
    body = check_update(address, configuration)
    url = f"{business_url(api_base, business_id)}/update/webhooks/{_webhook_id(webhook_id)}"
    return Call("PUT", url, body, missing=_no_such(webhook_id))


def delete_call(api_base: str, business_id: str, webhook_id: str) -> Call:
    url = f"{business_url(api_base, business_id)}/delete/webhooks/{_webhook_id(webhook_id)}"
    return Call("DELETE", url, missing=_no_such(webhook_id))


def _webhook_id(webhook_id: str) -> str:
    if not webhook_id.strip():
        raise RegistrationError("the webhook id is empty (`inspector connectly webhooks list` "
                                "shows them)")
    return quote(webhook_id.strip(), safe="")


def _no_such(webhook_id: str) -> str:
    return (f"no webhook has the id {visible_line(clip(webhook_id, 100))!r} in this business "
            "(`inspector connectly webhooks list` shows them)")


def check_topic(topic: str) -> str:
    if topic not in ALL_TOPICS:
        raise RegistrationError(f"unknown topic {topic!r}: use {', '.join(ALL_TOPICS)}")
    return topic


def check_type(kind: str) -> str:
    if kind not in TYPES:
        raise RegistrationError(f"unknown type {kind!r}: use {', '.join(TYPES)}")
    return kind


def address_for(url: str) -> str:
    """The webhook address for a public URL: a bare https://host (a tunnel's URL) gets
    /webhooks/connectly; a URL with a path is used as it is."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistrationError(f"{url!r} is not an http(s) URL: give the public address "
                                "Connectly should call (for example your tunnel's URL)")
    if parts.path in ("", "/") and not parts.query:
        return url.rstrip("/") + WEBHOOK_PATH
    return url


# -- sending them --------------------------------------------------------------------------------


class Webhooks:
    """The registrations of one business, through an httpx client the caller owns."""

    def __init__(self, http: httpx.AsyncClient, *, business_id: str, api_key: str,
                 api_base: str = DEFAULT_API_BASE, timeout: float = TIMEOUT,
                 key_env: str = KEY_ENV) -> None:
        business_url(api_base, business_id)  # a bad base or id fails before anything is sent
        if not api_key:
            raise RegistrationError(f"no API key: set {key_env}")
        self.http, self.business_id, self.api_base = http, business_id, api_base
        self.api_key, self.timeout, self.key_env = api_key, timeout, key_env

    async def list(self) -> list[Webhook]:
        answer = await self.send(list_call(self.api_base, self.business_id))
        items = get(answer.value, "entity", "webhooks")
        if items is None:
            items = get(answer.value, "webhooks")
        found = [Webhook.of(item) for item in items] if isinstance(items, list) else []
        return [hook for hook in found if hook is not None]

    async def find(self, topic: str) -> Webhook | None:
        """The registration for `topic`, or None."""
        check_topic(topic)
        return next((hook for hook in await self.list() if hook.topic == topic), None)

    async def for_topic(self, topic: str) -> Webhook:
        """The registration for `topic`; RegistrationError when there is none."""
        hook = await self.find(topic)
        if hook is None:
            raise RegistrationError(f"no webhook is registered for {topic} in this business: "
                                    "create one instead")
        return hook

    async def create(self, topic: str, address: str, *, type: str = "",
                     configuration: Configuration | None = None) -> Answer:
        """Register `address` for `topic`. Conflict (409) names the registration to update
        instead, looked up with list."""
        call = create_call(self.api_base, self.business_id, topic, address, type=type,
                           configuration=configuration)
        try:
            return await self.send(call)
        except ApiError as exc:
            if exc.status != 409:
                raise
            try:
                existing = await self.find(topic)
            except RegistrationError:
                existing = None  # the lookup is a courtesy: the 409 is the answer
            where = f" ({existing.id} → {existing.address})" if existing else ""
            raise Conflict(f"{topic} already has a webhook{where}: Connectly keeps one address "
                           "per topic, so update that registration instead of creating another "
                           f"({exc})", topic, existing) from None

    async def plan_point(self, address: str, topics: tuple[str, ...] = TOPICS) -> Plan:
        """The calls that send each topic to `address`: an update of the topic's registration
        (no gap in delivery), a create where it has none, None where it is there already."""
        found = {hook.topic: hook for hook in await self.list()}
        plan: Plan = []
        for topic in topics:
            hook = found.get(check_topic(topic))
            if hook is None:
                plan.append((topic, create_call(self.api_base, self.business_id, topic,
                                                address)))
            elif hook.address == address:
                plan.append((topic, None))
            else:
                plan.append((topic, update_call(self.api_base, self.business_id, hook.id,
                                                address=address)))
        return plan

    async def update(self, webhook_id: str, *, address: str = "",
                     configuration: Configuration | None = None) -> Answer:
        return await self.send(update_call(self.api_base, self.business_id, webhook_id,
                                           address=address, configuration=configuration))

    async def delete(self, webhook_id: str) -> Answer:
        return await self.send(delete_call(self.api_base, self.business_id, webhook_id))

    async def send(self, call: Call) -> Answer:
        """Send one call; RegistrationError (ApiError for 4xx/5xx) for any failure."""
        import httpx  # on first use: its import is a good part of the start-up

        headers = {"X-API-Key": self.api_key, "Accept": "application/json"}
        try:
            response = await self.http.request(call.method, call.url, json=call.body,
                                               headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise RegistrationError(f"timed out after {self.timeout:g} s waiting for "
                                    f"{call.url}") from None
        except httpx.ConnectError as exc:
            raise RegistrationError(f"cannot reach {call.url}: {_reason(exc)} (check your "
                                    "network, or --api-base)") from None
        except httpx.HTTPError as exc:
            raise RegistrationError(f"request to {call.url} failed: {_reason(exc)}") from None
        value = _json(response.content)
        if response.status_code >= 400:
            raise ApiError(_refused(response.status_code, response.content, value, call,
                                    self.key_env), response.status_code)
        return Answer(response.status_code, pretty(response.content), value)


def _reason(exc: BaseException) -> str:
    return visible_line(clip(str(exc) or type(exc).__name__, 200))


def _refused(status: int, content: bytes, value: Any, call: Call, key_env: str) -> str:
    hint = {
        401: f"check the API key (${key_env})",
        403: "the API key may not manage this business",
        404: call.missing,
        429: "rate limited: wait a little and try again",
    }.get(status, "try again later: Connectly had a server error" if status >= 500 else "")
    if isinstance(value, dict) and (value.get("userTitle") or value.get("message")):
        # Connectly's error object: its title, its code, and the trace id support asks for.
        said = as_text(value.get("userTitle") or value.get("message"))
        code, trace = as_text(value.get("code")), as_text(value.get("cntTraceId"))
        extra = "; ".join(p for p in (code, f"trace id {trace}: quote it to Connectly "
                                             "support" if trace else "") if p)
        said += f" ({extra})" if extra else ""
    else:
        said = " ".join(content.decode("utf-8", "replace").split())
    text = visible_line(clip(said, SHOWN)) or "(empty answer)"
    return f"Connectly answered {status_text(status)} to {call.url}: {text}" + (
        f" — {hint}" if hint else "")


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def pretty(content: bytes) -> str:
    """The API's answer for a person: indented JSON when it is JSON, control chars escaped."""
    text = content.decode("utf-8", errors="replace")
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):
        return visible(text)
    return visible(json.dumps(value, indent=2, ensure_ascii=False))


# -- as curl -------------------------------------------------------------------------------------


def curl(call: Call, key_env: str = KEY_ENV) -> str:
    """The call as a curl command; the key is read from $key_env, never written out."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env):
        raise RegistrationError(f"{key_env!r} is not an environment variable name")
    lines = [f"curl -X {call.method} {shlex.quote(call.url)}", f'-H "X-API-Key: ${key_env}"']
    if call.body is not None:
        lines += ["-H 'Content-Type: application/json'",
                  f"--data {shlex.quote(json.dumps(call.body))}"]
    return " \\\n  ".join(lines)
