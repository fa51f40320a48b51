"""Start-up configuration: built once from the options and the environment, then frozen.

This module is the only one that reads the environment for configuration: the secrets
(`--secret`'s variables and each provider's own), the variables config routes name with
`secret_env`, Meta's verify token (META_VERIFY_TOKEN), and Connectly's business id, API
key and API base. The faces pass option
values in and get `Settings` (or, for the small commands, a secret) back.

Secrets come in lists, for key rotation: a repeated `--provider-secret NAME=…`, several
secrets in one variable separated by spaces (and each variable a provider reads from), a
list in a config route. A secret in a form its provider cannot use (a Discord public key
that is not hex, a `whsec_` secret where a `whpk_` key belongs, ...) is an error naming the
flag when given on the command line, and a start-up warning naming the variable when found
in the environment (the variable may serve another tool): the verdicts then say it too.

What changes while the inspector runs (the answer policy, the replay target, a secret set
in the TUI, the tunnel's public URL) is the session's live state (core/session.py), never
these settings: they say how it started.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from inspector.core.capture.answers import DEFAULT_POLICY, PolicyError, ResponsePolicy, build_policy
from inspector.core.capture.handshakes import META_TOKEN_ENV, META_TOKEN_FLAG
from inspector.core.capture.receiver import DEFAULT_MAX_BODY
from inspector.core.capture.tunnel import Spec, TunnelError, parse_spec
from inspector.core.config import Config, ConfigError, Route, load_config
from inspector.core.delivery.forward import RETRY_SCHEDULE
from inspector.core.delivery.replay import ReplayError, check_target
from inspector.core.providers.connectly.api import (
    API_BASE_ENV,
    BUSINESS_ENV,
    DEFAULT_API_BASE,
    KEY_ENV,
)
from inspector.core.rules.rule import MAX_RETRIES, Rule
from inspector.core.signatures import PROVIDERS, Keys, Secrets, keys
from inspector.core.signatures import SECRET_ENVS as PROVIDER_SECRET_ENVS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SECRET_ENVS = ("CONNECTLY_WEBHOOK_SECRET", "INSPECTOR_SECRET")
DB_ENV = "INSPECTOR_DB"  # the database when --db is not given: a file or postgresql://…


def default_db() -> Path:
    return Path(platformdirs.user_data_dir("webhook-inspector")) / "events.db"


def database(given: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The database to use: --db, else INSPECTOR_DB (a team's postgresql://… URL, say: it
    may hold a password, so a variable keeps it out of the shell history), else the
    user's file."""
    return given or _env(environ).get(DB_ENV, "").strip() or str(default_db())


def hand_down_database(db: str) -> None:
    """Give `db` to the processes this one starts (the web UI's tabs) as their default
    database: a PostgreSQL URL may carry a password, which an argument would show to anyone
    listing processes."""
    os.environ[DB_ENV] = db


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str:
    """One named variable ("" when unset): for a name the user chose (--api-key-env)."""
    return _env(environ).get(name, "")


def runtime_dir(environ: Mapping[str, str] | None = None) -> str:
    """The folder the system keeps for this user's runtime files (XDG_RUNTIME_DIR; "" when
    unset): where the control channel's socket goes."""
    return _env(environ).get("XDG_RUNTIME_DIR", "")


def split_secrets(value: str) -> Keys:
    """A variable's secrets: one, or several separated by spaces (a rotation)."""
    return tuple(value.split())


def secrets_from_env(environ: Mapping[str, str] | None = None) -> Keys:
    """The secrets for any provider: CONNECTLY_WEBHOOK_SECRET, else INSPECTOR_SECRET."""
    env = _env(environ)
    return next((split_secrets(env[name]) for name in SECRET_ENVS if env.get(name, "").strip()),
                ())


def secret_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The (first) secret for any provider, for the commands that sign with one."""
    return next(iter(secrets_from_env(environ)), None)


def secrets_in_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret the environment holds under a name we read one from (each of several
    separated by spaces, and the whole value)."""
    env = _env(environ)
    names = {*SECRET_ENVS, KEY_ENV, META_TOKEN_ENV,
             *(n for ns in PROVIDER_SECRET_ENVS.values() for n in ns)}
    values = [env[name] for name in sorted(names) if env.get(name)]
    return [*values, *(s for v in values for s in split_secrets(v))]


def provider_secrets_in_env(environ: Mapping[str, str]) -> dict[str, Keys]:
    """Each provider's secrets from its own variables (all of them, in order, once each)."""
    found = {}
    for name, variables in PROVIDER_SECRET_ENVS.items():
        values = tuple(dict.fromkeys(s for v in variables for s in split_secrets(
            environ.get(v, ""))))
        if values:
            found[name] = values
    return found


def read_secrets(secret: str | Sequence[str] | None, provider_secrets: Sequence[str] = (),
                 environ: Mapping[str, str] | None = None) -> Secrets:
    """--secret (any provider, one or a repeated rotation; else its variables), then
    NAME=SECRET pairs (repeated for a rotation: they replace that provider's variables), then
    each provider's own variables. OptionError for a pair that is not NAME=SECRET, or a
    secret its provider cannot use."""
    env = _env(environ)
    given: dict[str, list[str]] = {}
    for pair in provider_secrets:
        name, sep, value = pair.partition("=")
        if not sep or name not in PROVIDERS or not value:
            known = ", ".join(PROVIDERS)
            raise OptionError(f"{pair.split('=')[0]!r}=… is not NAME=SECRET with NAME one of "
                              f"{known}", "--provider-secret")
        problem = PROVIDERS[name].key_problem(value)
        if problem:
            raise OptionError(f"{name}=…: not a {PROVIDERS[name].title} key: {problem}",
                              "--provider-secret")
        given.setdefault(name, []).append(value)
    flagged = keys(secret)
    # --secret stands for its variables: given, it replaces them, Connectly's own included
    # (else a stale CONNECTLY_WEBHOOK_SECRET in the shell would beat the flag for Connectly).
    own = {k: v for k, v in env.items() if k not in SECRET_ENVS} if flagged else env
    return Secrets(flagged or secrets_from_env(env), {**provider_secrets_in_env(own), **given})


def meta_tokens(given: Sequence[str] = (), environ: Mapping[str, str] | None = None
                ) -> Keys:
    """Meta's verify tokens: --meta-verify-token (repeated for a change of token), else
    META_VERIFY_TOKEN (several separated by spaces). Tokens with spaces or controls cannot
    travel in a query unmangled: an OptionError names the flag."""
    tokens = keys(given) or split_secrets(_env(environ).get(META_TOKEN_ENV, ""))
    for token in tokens:
        if not token.isprintable() or " " in token:
            raise OptionError("a verify token of spaces, tabs or control characters cannot "
                              "match what Meta sends: use letters, digits and punctuation",
                              META_TOKEN_FLAG)
    return tokens


def secret_note(secret: str | Sequence[str] | None, provider_secrets: Sequence[str] = (),
                environ: Mapping[str, str] | None = None) -> str:
    """Where each secret in use comes from, as read_secrets takes them, said at start-up
    (a stale variable in the shell, or in tmux's environment, makes every event invalid).
    Lengths only: never a character of a secret."""
    env = _env(environ)

    def size(values: Keys) -> str:
        return ", ".join(f"{len(v)} characters" for v in values)

    parts = []
    flagged = keys(secret)
    if flagged:
        parts.append(f"any provider from --secret ({size(flagged)})")
    else:
        name = next((n for n in SECRET_ENVS if env.get(n, "").strip()), None)
        if name is not None:
            parts.append(f"any provider from {name} ({size(split_secrets(env[name]))})")
    given = {pair.partition("=")[0] for pair in provider_secrets}
    own = {k: v for k, v in env.items() if k not in SECRET_ENVS} if flagged else env
    for provider, variables in PROVIDER_SECRET_ENVS.items():
        if provider in given:
            parts.append(f"{provider} from --provider-secret")
            continue
        for variable in variables:
            values = split_secrets(own.get(variable, ""))
            if values and not (not flagged and variable in SECRET_ENVS):
                parts.append(f"{provider} from {variable} ({size(values)})")
    return "secrets: " + "; ".join(parts) if parts else ""


def secret_warnings(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """One line per secret in a provider's variable that the provider cannot use."""
    env = _env(environ)
    out = []
    for name, variables in PROVIDER_SECRET_ENVS.items():
        provider = PROVIDERS[name]
        for variable in variables:
            for n, secret in enumerate(split_secrets(env.get(variable, "")), 1):
                problem = provider.key_problem(secret)
                if problem:
                    which = f" (secret {n})" if n > 1 else ""
                    out.append(f"{variable}{which} is not a {provider.title} key: {problem}; "
                               f"{provider.title} events will not verify until it is fixed")
    return tuple(out)


def read_config(path: str | None, environ: Mapping[str, str] | None = None) -> Config:
    """The --config file, else ./inspector.toml if any, its routes' secrets read from the
    variables they name. OptionError (naming --config) for any mistake in it."""
    try:
        return load_config(path, environ=_env(environ))
    except ConfigError as exc:
        raise OptionError(str(exc), "--config") from exc


class OptionError(ValueError):
    """A bad option value; `option` names the flag, for the usage error."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True, slots=True)
class Settings:
    """How the inspector was started. Frozen: see the module's docstring for live state."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db: str = field(default_factory=lambda: str(default_db()))
    # A viewer: where it finds its receiver, when not by the database (presence.find): the
    # tabs of `inspector web` on a shared database, whose receiver holds a lock of its own.
    receiver: str = ""
    secrets: Secrets = field(default_factory=Secrets)  # the session works on a copy
    replay_to: str = ""
    max_body: int = DEFAULT_MAX_BODY
    public_url: str = ""
    follow: bool = True
    http: str = "auto"  # uvicorn's HTTP implementation: auto, h11 or httptools
    routes: Sequence[Route] = ()  # from inspector.toml / --config
    rules: Sequence[Rule] = ()  # answer rules, from the same file (the session's are live)
    config_path: str = ""  # the config file loaded ("" none): where the TUI saves rules
    config_note: str = ""  # which config file was loaded, said at start-up
    secret_note: str = ""  # where the secrets come from (never a character of one)
    warnings: tuple[str, ...] = ()  # said at start-up: unusable secrets in the environment
    forward_to: str = ""  # --forward-to: every incoming event goes on to this URL
    resign: bool = False  # --resign: forwards and replays of valid events get a fresh signature
    forward_timeout: float = 10.0  # seconds a forward may take
    forward_retries: int = 0  # --forward-retries: a failed forward is sent again this often
    retry_schedule: tuple[float, ...] = RETRY_SCHEDULE  # seconds before each retry
    policy: ResponsePolicy = DEFAULT_POLICY  # what the receiver answers (--status, ...)
    rate_limit: float = 0.0  # --rate-limit: requests a second past which senders get 429
    reset_db: bool = False  # --reset-db: move a corrupt or too-new database aside
    tunnel: Spec | None = None  # --tunnel: a tunnel tool pointed at our port
    keep: int = 0  # --keep: prune the oldest events past this many (0: keep everything)
    keep_days: float = 0.0  # --keep-days: prune events received longer ago (0: never)
    # For "Register tunnel with Connectly" in the TUI (the API key is a secret: never stored).
    connectly_business_id: str = ""
    connectly_api_key: str = field(default="", repr=False)
    connectly_api_base: str = DEFAULT_API_BASE
    # Provider handshakes (capture/handshakes.py): off with --no-handshakes or the config's
    # `handshakes = false`; Meta's verify tokens are secrets (never stored or shown).
    handshakes: bool = True
    meta_verify_tokens: Keys = field(default=(), repr=False)

    @classmethod
    def build(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        db: str | None = None,
        receiver: str = "",
        secret: str | None = None,
        provider_secrets: Sequence[str] = (),
        replay_to: str = "",
        max_body: int = DEFAULT_MAX_BODY,
        public_url: str = "",
        http: str = "auto",
        config: str | None = None,
        follow: bool = True,
        forward_to: str = "",
        resign: bool = False,
        forward_retries: int = 0,
        forward_retry_schedule: str = "",
        respond_with_downstream: bool = False,
        status: int | None = None,
        response_body: str | None = None,
        response_headers: Sequence[str] = (),
        delay: float | None = None,
        reject_invalid: bool = False,
        tunnel: str | None = None,
        rate_limit: float = 0.0,
        reset_db: bool = False,
        keep: int | None = None,
        keep_days: float | None = None,
        meta_verify_token: Sequence[str] = (),
        no_handshakes: bool = False,
    ) -> Settings:
        """Settings from raw option values and the environment (os.environ unless given).
        OptionError names the option at fault."""
        env = _env(environ)
        config_file = read_config(config, env)
        secrets = read_secrets(secret, provider_secrets, env)
        if replay_to:
            try:
                check_target(replay_to)
            except ReplayError as exc:
                raise OptionError(str(exc), "--replay-to") from exc
        settings = cls(
            host=host,
            port=port,
            db=database(db, env),
            receiver=receiver,
            secrets=secrets,
            replay_to=replay_to,
            max_body=max_body,
            public_url=public_url,
            follow=follow,
            http=http,
            routes=config_file.routes,
            rules=config_file.rules,
            config_path=str(config_file.path) if config_file.path is not None else "",
            config_note=config_file.describe(),
            forward_retries=retries(forward_retries),
            retry_schedule=schedule(forward_retry_schedule),
            warnings=secret_warnings(env),
            secret_note=secret_note(secret, provider_secrets, env),
            rate_limit=rate_limit,
            reset_db=reset_db,
            keep=int(retention(keep, "--keep")),
            keep_days=retention(keep_days, "--keep-days"),
            connectly_business_id=env.get(BUSINESS_ENV, ""),
            connectly_api_key=env.get(KEY_ENV, ""),
            connectly_api_base=env.get(API_BASE_ENV, DEFAULT_API_BASE),
            handshakes=config_file.handshakes and not no_handshakes,
            meta_verify_tokens=meta_tokens(meta_verify_token, env),
        )
        settings = apply_options(
            settings, forward_to=forward_to, resign=resign, status=status,
            response_body=response_body, response_headers=response_headers, delay=delay,
            reject_invalid=reject_invalid, respond_with_downstream=respond_with_downstream)
        try:
            return replace(settings, tunnel=parse_spec(tunnel)) if tunnel else settings
        except TunnelError as exc:
            raise OptionError(str(exc), "--tunnel") from exc

    def secret_values(self) -> list[str | None]:
        """Every secret these settings hold (the session adds the ones set while it runs)."""
        return [*self.secrets.values(), *(s for route in self.routes for s in route.secrets),
                self.connectly_api_key, *self.meta_verify_tokens]


def retention(value: float | None, option: str) -> float:
    """--keep or --keep-days, checked: None (not given) is 0, which keeps everything."""
    if value is None:
        return 0
    if not value > 0:
        raise OptionError(f"{value} must be above 0 (leave the option out to keep every "
                          "event)", option)
    return value


def retries(value: int) -> int:
    """--forward-retries, checked."""
    if not 0 <= value <= MAX_RETRIES:
        raise OptionError(f"{value} is out of range (0 to {MAX_RETRIES})", "--forward-retries")
    return value


def schedule(text: str) -> tuple[float, ...]:
    """--forward-retry-schedule "1,5,30": seconds before each retry (the last repeats)."""
    if not text.strip():
        return RETRY_SCHEDULE
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError:
        delays = ()
    if not delays or any(not 0 < d <= 3600 for d in delays):
        raise OptionError(f"{text!r} is not a list of seconds such as 1,5,30 (each above 0, "
                          "at most 3600)", "--forward-retry-schedule")
    return delays


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
    """`settings` with the forwarding and response settings from raw option values. Raises
    OptionError naming the flag at fault."""
    if forward_to:
        try:
            forward_to = check_target(forward_to)
        except ReplayError as exc:
            raise OptionError(str(exc), "--forward-to") from exc
    else:
        forward_to = settings.forward_to
    if respond_with_downstream and not forward_to:
        raise OptionError("needs --forward-to URL (it answers with what that app answered)",
                          "--respond-with-downstream")
    try:
        policy = build_policy(
            status=status, body=response_body, headers=response_headers, delay=delay,
            reject_invalid=reject_invalid, respond_with_downstream=respond_with_downstream)
    except PolicyError as exc:
        raise OptionError(str(exc), exc.option) from exc
    return replace(settings, forward_to=forward_to, resign=resign, policy=policy)
