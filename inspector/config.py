"""Settings shared by the TUI and the headless runner, from flags and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from inspector.receiver import DEFAULT_MAX_BODY
from inspector.routes import Route
from inspector.signatures import Secrets

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SECRET_ENVS = ("CONNECTLY_WEBHOOK_SECRET", "INSPECTOR_SECRET")


def default_db() -> Path:
    return Path(platformdirs.user_data_dir("webhook-inspector")) / "events.db"


def secret_from_env() -> str | None:
    for name in SECRET_ENVS:
        value = os.environ.get(name)
        if value:
            return value
    return None


@dataclass(slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db: str = field(default_factory=lambda: str(default_db()))
    secrets: Secrets = field(default_factory=Secrets)
    replay_to: str = ""
    max_body: int = DEFAULT_MAX_BODY
    public_url: str = ""
    follow: bool = True
    http: str = "auto"  # uvicorn's HTTP implementation: auto, h11 or httptools
    routes: list[Route] = field(default_factory=list)  # from inspector.toml / --config
