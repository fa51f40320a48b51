"""The control channel's messages: one JSON object per line, over a unix socket.

A request names its operation and gets one answer:

    → {"op": "set_policy", "policy": {"status": 503, ...}}
    ← {"ok": true}
    ← {"ok": false, "error": "status 99 is not a final HTTP status (200 to 599)"}

    op            fields                        answer
    hello         -                             protocol, state
    watch         -                             state, then one {"state": ...} line per
                                                change until either side closes
    secrets       -                             secrets: {"default": [...],
                                                "by_provider": {name: [...]}}
    set_policy    policy                        -
    set_secret    provider, secret              -

An operation is one entry in the receiver's table (server.py) and one method of `Control`
(what a face may change in the receiver, wherever the face runs). `state` is a
`ReceiverState`: what a viewer shows of the receiver (its URL, pid, answer, forward target,
tunnel) and a counter of secret changes, so a viewer asks for the secrets (`secrets`) only
when they changed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from inspector.core.capture.answers import (
    PolicyError,
    ResponsePolicy,
    answer_header,
    check_delay,
    check_status,
)
from inspector.core.capture.tunnel import TunnelState
from inspector.core.signatures import PROVIDERS, Secrets

PROTOCOL = 1
MAX_LINE = 16 * 1024 * 1024  # a response body of 10 MiB, in base64, fits
TIMEOUT = 5.0  # seconds a request may take before the viewer gives up on the receiver


class ControlError(Exception):
    """The receiver cannot be reached, or refused a request; worded for a person."""


class Control(Protocol):
    """What a face may change in the receiver: in the receiver itself, or from a viewer
    through the control channel. Raises ControlError (or PolicyError) with the reason."""

    async def set_policy(self, policy: ResponsePolicy) -> None: ...

    async def set_secret(self, provider: str, secret: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ReceiverState:
    """The receiver as its viewers see it."""

    pid: int
    url: str
    policy: ResponsePolicy
    forward_to: str = ""
    public_url: str = ""  # the URL senders call: --public-url, or the tunnel's while up
    tunnel: TunnelState | None = None
    secrets: int = 0  # how many times a secret was set while it ran

    def describe(self) -> str:
        return f"{self.url} (pid {self.pid})"

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "url": self.url, "policy": policy_to_json(self.policy),
                "forward_to": self.forward_to, "public_url": self.public_url,
                "tunnel": None if self.tunnel is None else tunnel_to_json(self.tunnel),
                "secrets": self.secrets}

    @classmethod
    def from_json(cls, data: Any) -> ReceiverState:
        try:
            tunnel = data["tunnel"]
            return cls(int(data["pid"]), _text(data["url"]), policy_from_json(data["policy"]),
                       _text(data["forward_to"]), _text(data["public_url"]),
                       None if tunnel is None else tunnel_from_json(tunnel),
                       int(data["secrets"]))
        except (KeyError, TypeError, ValueError, PolicyError) as exc:
            raise ControlError(f"the receiver sent a state this viewer cannot read ({exc})"
                               ) from exc


def policy_to_json(policy: ResponsePolicy) -> dict[str, Any]:
    return {
        "status": policy.status,
        "body": None if policy.body is None else base64.b64encode(policy.body).decode(),
        "headers": [list(pair) for pair in policy.headers],
        "delay": policy.delay,
        "reject_invalid": policy.reject_invalid,
        "respond_with_downstream": policy.respond_with_downstream,
    }


def policy_from_json(data: Any) -> ResponsePolicy:
    """Checked as strictly as the flags are (PolicyError says what is wrong)."""
    if not isinstance(data, Mapping):
        raise PolicyError("a policy is a JSON object")
    body = data.get("body")
    headers = data.get("headers", [])
    if not isinstance(headers, list) or not all(
            isinstance(h, list) and len(h) == 2 for h in headers):
        raise PolicyError("headers are a list of [name, value] pairs")
    try:
        return ResponsePolicy(
            status=check_status(int(data.get("status", 200))),
            body=None if body is None else base64.b64decode(_text(body), validate=True),
            headers=tuple(answer_header(f"{_text(k)}: {_text(v)}") for k, v in headers),
            delay=check_delay(float(data.get("delay", 0.0))),
            reject_invalid=data.get("reject_invalid", False) is True,
            respond_with_downstream=data.get("respond_with_downstream", False) is True,
        )
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"not a policy: {exc}") from exc


def tunnel_to_json(state: TunnelState) -> dict[str, Any]:
    return {"tool": state.tool, "phase": state.phase, "url": state.url, "reason": state.reason,
            "restarts": state.restarts, "last_exit": state.last_exit,
            "retry_in": state.retry_in}


def tunnel_from_json(data: Any) -> TunnelState:
    retry = data["retry_in"]
    return TunnelState(_text(data["tool"]), _text(data["phase"]), _text(data["url"]),
                       _text(data["reason"]), int(data["restarts"]), _text(data["last_exit"]),
                       None if retry is None else float(retry))


def secrets_to_json(secrets: Secrets) -> dict[str, Any]:
    return {"default": list(secrets.default),
            "by_provider": {name: list(keys) for name, keys in secrets.by_provider.items()}}


def secrets_from_json(data: Any) -> Secrets:
    try:
        default = data["default"]
        pairs = data["by_provider"]
        return Secrets(_keys(default), {provider(k): _keys(v) for k, v in pairs.items()})
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ControlError(f"the receiver sent secrets this viewer cannot read ({exc})"
                           ) from exc


def _keys(value: Any) -> tuple[str, ...]:
    """One provider's secrets (a rotation: several, the current one first)."""
    if not isinstance(value, list):
        raise TypeError(f"secrets come as a list, not {type(value).__name__}")
    return tuple(_text(v) for v in value)


def provider(name: Any) -> str:
    """A provider's name, as secrets are set for it."""
    if name not in PROVIDERS:
        raise ValueError(f"{name!r} is not a provider ({', '.join(PROVIDERS)})")
    return str(name)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One message; ControlError when it is not a JSON object."""
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ControlError(f"not a JSON line: {exc}") from exc
    if not isinstance(message, dict):
        raise ControlError("a message is a JSON object")
    return message
