"""Settings shared by the TUI and the headless runner, from flags and the environment."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from inspector.core.capture.answers import DEFAULT_POLICY, PolicyError, ResponsePolicy, build_policy
from inspector.core.capture.receiver import DEFAULT_MAX_BODY
from inspector.core.capture.tunnel import Spec
from inspector.core.config import Route
from inspector.core.providers.connectly.api import DEFAULT_API_BASE, KEY_ENV
from inspector.core.signatures import SECRET_ENVS as PROVIDER_SECRET_ENVS
from inspector.core.signatures import Secrets

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


def secrets_in_env() -> list[str]:
    """Every secret the environment holds under a name we read one from."""
    names = {*SECRET_ENVS, KEY_ENV, *(n for ns in PROVIDER_SECRET_ENVS.values() for n in ns)}
    return [os.environ[name] for name in sorted(names) if os.environ.get(name)]


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
    config_note: str = ""  # which config file was loaded, said at start-up
    forward_to: str = ""  # --forward-to: every incoming event goes on to this URL
    resign: bool = False  # --resign: forwards and replays of valid events get a fresh signature
    forward_timeout: float = 10.0  # seconds a forward may take
    policy: ResponsePolicy = DEFAULT_POLICY  # what the receiver answers (--status, ...)
    rate_limit: float = 0.0  # --rate-limit: requests a second past which senders get 429
    reset_db: bool = False  # --reset-db: move a corrupt or too-new database aside
    tunnel: Spec | None = None  # --tunnel: a tunnel tool pointed at our port
    # For "Register tunnel with Connectly" in the TUI (the API key is a secret: never stored).
    connectly_business_id: str = field(
        default_factory=lambda: os.environ.get("CONNECTLY_BUSINESS_ID", ""))
    connectly_api_key: str = field(default_factory=lambda: os.environ.get("CONNECTLY_API_KEY",
                                                                          ""), repr=False)
    connectly_api_base: str = field(default_factory=lambda: os.environ.get(
        "CONNECTLY_API_BASE", DEFAULT_API_BASE))

    def secret_values(self) -> list[str | None]:
        """Every secret these settings hold, now (the TUI can add some while it runs)."""
        return [self.secrets.default, *self.secrets.by_provider.values(),
                *(route.secret for route in self.routes), self.connectly_api_key]


class OptionError(ValueError):
    """A bad option value; `option` names the flag, for the usage error."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


def apply_options(
    settings: Settings,
    *,
    forward_to: str = "",
    resign: bool = False,
    status: int | None = None,
    response_body: str | None = None,
    response_headers: Sequence[str] = (),
    delay: float | None = None,
    reject_invalid: bool = False,
    respond_with_downstream: bool = False,
) -> Settings:
    """Fill the forwarding and response settings from raw option values (the click layer
    stays thin). Raises OptionError naming the flag at fault."""
    if forward_to:
        from inspector.core.delivery.replay import ReplayError, check_target

        try:
            settings.forward_to = check_target(forward_to)
        except ReplayError as exc:
            raise OptionError(str(exc), "--forward-to") from exc
    if respond_with_downstream and not settings.forward_to:
        raise OptionError("needs --forward-to URL (it answers with what that app answered)",
                          "--respond-with-downstream")
    settings.resign = resign
    try:
        settings.policy = build_policy(
            status=status, body=response_body, headers=response_headers, delay=delay,
            reject_invalid=reject_invalid, respond_with_downstream=respond_with_downstream)
    except PolicyError as exc:
        raise OptionError(str(exc), exc.option) from exc
    return settings
