"""The Connectly deliveries the benchmark sends: read from ../shared, never copied."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared"
EVENTS = SHARED / "fixtures" / "connectly" / "events.json"
DEFAULT_EVENT = "delivery_failed"  # the largest validly signed delivery (770 bytes)


@dataclass(frozen=True, slots=True)
class Delivery:
    name: str
    path: str
    headers: dict[str, str]
    body: bytes
    expected: str


def _load() -> dict[str, Any]:
    if not EVENTS.exists():
        raise SystemExit(f"bench: fixture missing: {EVENTS} (../shared must sit beside the repo)")
    data: dict[str, Any] = json.loads(EVENTS.read_text(encoding="utf-8"))
    return data


def secret() -> str:
    return str(_load()["secret"])


def deliveries() -> list[Delivery]:
    return [
        Delivery(e["name"], e["path"], dict(e["headers"]), e["body"].encode("utf-8"),
                 e["expected"])
        for e in _load()["events"]
    ]


def delivery(name: str = DEFAULT_EVENT) -> Delivery:
    for d in deliveries():
        if d.name == name:
            return d
    names = ", ".join(d.name for d in deliveries())
    raise SystemExit(f"bench: no fixture event {name!r} (have: {names})")
