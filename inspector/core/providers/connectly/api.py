"""Register a webhook address with Connectly, and the equivalent curl command.

    POST {api_base}/v1/businesses/{business_id}/create/webhooks
    X-API-Key: ...
    {"topic": "messages" | "delivery_status", "address": "https://.../webhooks/connectly"}

The API key is a secret: it goes in that one header and nowhere else (never in a message,
a log line or the copied curl command, which reads it from $CONNECTLY_API_KEY).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from inspector.core.display import status_text
from inspector.core.sanitize import clip, visible, visible_line

DEFAULT_API_BASE = "https://api.connectly.ai"
TOPICS = ("messages", "delivery_status")
WEBHOOK_PATH = "/webhooks/connectly"
KEY_ENV = "CONNECTLY_API_KEY"
BUSINESS_ENV = "CONNECTLY_BUSINESS_ID"
API_BASE_ENV = "CONNECTLY_API_BASE"
TIMEOUT = 15.0
SHOWN = 500  # characters of an error body quoted in a message


class RegistrationError(Exception):
    """The registration did not happen; the message says why and what to check."""


@dataclass(frozen=True, slots=True)
class Registered:
    topic: str
    address: str
    status: int
    answer: str  # the API's answer, pretty-printed when JSON, made terminal-safe


def webhooks_url(api_base: str, business_id: str) -> str:
    base = api_base.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistrationError(f"{api_base!r} is not an http(s) URL (the default is "
                                f"{DEFAULT_API_BASE})")
    if not business_id.strip():
        raise RegistrationError("the business id is empty (see your Connectly dashboard)")
    return f"{base}/v1/businesses/{quote(business_id.strip(), safe='')}/create/webhooks"


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


def check_topic(topic: str) -> str:
    if topic not in TOPICS:
        raise RegistrationError(f"unknown topic {topic!r}: use {' or '.join(TOPICS)}")
    return topic


async def register(
    client: httpx.AsyncClient,
    *,
    business_id: str,
    topic: str,
    address: str,
    api_key: str,
    api_base: str = DEFAULT_API_BASE,
    timeout: float = TIMEOUT,
) -> Registered:
    """Register `address` for `topic`; RegistrationError for any failure (4xx/5xx included)."""
    url = webhooks_url(api_base, business_id)
    check_topic(topic)
    if not api_key:
        raise RegistrationError(f"no API key: pass --api-key or set {KEY_ENV}")
    try:
        response = await client.post(
            url,
            json={"topic": topic, "address": address},
            headers={"X-API-Key": api_key, "Accept": "application/json"},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise RegistrationError(f"timed out after {timeout:g} s waiting for {url}") from None
    except httpx.ConnectError as exc:
        raise RegistrationError(f"cannot reach {url}: {_reason(exc)} (check your network, "
                                "or --api-base)") from None
    except httpx.HTTPError as exc:
        raise RegistrationError(f"request to {url} failed: {_reason(exc)}") from None
    answer = pretty(response.content)
    if response.status_code >= 400:
        raise RegistrationError(_refused(response.status_code, answer, url))
    return Registered(topic, address, response.status_code, answer)


def _reason(exc: BaseException) -> str:
    return visible_line(clip(str(exc) or type(exc).__name__, 200))


def _refused(status: int, answer: str, url: str) -> str:
    hint = {
        401: f"check the API key (--api-key or ${KEY_ENV})",
        403: "the API key may not manage this business",
        404: "check the business id (and --api-base)",
        409: "this address may already be registered for the topic",
        429: "rate limited: wait a little and try again",
    }.get(status, "try again later: Connectly had a server error" if status >= 500 else "")
    text = visible_line(clip(" ".join(answer.split()), SHOWN)) or "(empty answer)"
    return f"Connectly answered {status_text(status)} to {url}: {text}" + (
        f" — {hint}" if hint else "")


def pretty(content: bytes) -> str:
    """The API's answer for a person: indented JSON when it is JSON, control chars escaped."""
    text = content.decode("utf-8", errors="replace")
    try:
        value: Any = json.loads(text)
    except ValueError:
        return visible(text)
    return visible(json.dumps(value, indent=2, ensure_ascii=False))


def registration_curl(
    *,
    business_id: str,
    topic: str,
    address: str,
    api_base: str = DEFAULT_API_BASE,
    key_env: str = KEY_ENV,
) -> str:
    """The same registration as a curl command; the key is read from $key_env, never
    written out."""
    url = webhooks_url(api_base, business_id)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env):
        raise RegistrationError(f"{key_env!r} is not an environment variable name")
    body = json.dumps({"topic": check_topic(topic), "address": address})
    return (f"curl -X POST {shlex.quote(url)} \\\n"
            f'  -H "X-API-Key: ${key_env}" \\\n'
            "  -H 'Content-Type: application/json' \\\n"
            f"  --data {shlex.quote(body)}")
