"""Routes from the config file: pin a provider and its secret per request path.

`inspector.toml` in the working directory, or the file given with `--config PATH`:

    [[route]]
    path = "/webhooks/stripe/*"            # a glob on the request path; the first match wins
    provider = "stripe"                    # a provider name, "generic", or "auto" (detect)
    secret_env = "STRIPE_WEBHOOK_SECRET"   # or secret = "..." (discouraged: files get shared)

    During a rotation, list several: secret_env = ["STRIPE_NEW", "STRIPE_OLD"] (each variable
    may itself hold several, separated by spaces), or secret = ["whsec_new", "whsec_old"].
    The event is valid when any matches; the first one that can sign re-signs.

    [[route]]
    path = "/webhooks/linear"
    provider = "generic"
    header = "Linear-Signature"
    prefix = ""                 # text before the signature, e.g. "sha256="
    algorithm = "sha256"        # sha1, sha256 or sha512
    encoding = "hex"            # hex or base64
    template = "{body}"         # {body} {timestamp} {id} {url} {header:Name}
    timestamp_header = ""       # with tolerance = 300 (seconds; 0 turns the check off)
    id_header = ""

    [[route]]
    path = "/webhooks/flaky"
    status = 500                  # what this path answers (200 to 599)
    response_body = '{"error": "try again"}'   # or "@reply.json": a file, relative to here
                                  # (./inspector.toml, found rather than named with --config,
                                  # may only use files inside its own folder)
    response_headers = ["Retry-After: 5"]
    delay = 2.5                   # seconds before answering
    reject_invalid = true         # answer 401 when the signature is invalid

The response keys override the flags (--status, --response-body, ...) for the route's paths.

Answer rules decide the answer for the requests they match, before the routes' response keys
and the flags (see inspector.core.rules.rule for every key):

    [[rule]]
    name = "flaky endpoint"
    path = "/webhooks/*"
    when = 'body.statusUpdate.status == "read"'
    respond = [503, 503, 200]

Provider handshakes (Slack's url_verification, Zoom's endpoint.url_validation, ...:
capture/handshakes.py) are answered unless the file says, at its top:

    handshakes = false

A route's `secret_env` is looked up in the environment the caller passes (core/settings.py
reads it, once, at start-up); secrets are never written anywhere. A secret the route's
provider cannot use (a Discord public key that is not hex, a whpk_ key that is not 32
bytes, ...) is a mistake in the file, said with its line.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from inspector.core.capture.answers import (
    PolicyError,
    ResponseOverride,
    answer_header,
    check_delay,
    check_status,
    read_body,
)
from inspector.core.display import count
from inspector.core.rules.rule import Context, Rule, RuleError, rule_from_table
from inspector.core.sanitize import visible_line
from inspector.core.signatures import PROVIDERS, Provider
from inspector.core.signatures.generic import Generic, HmacSpec
from inspector.core.toml_lines import Lines

CONFIG_NAME = "inspector.toml"
MAX_CONFIG_BYTES = 1024 * 1024  # a routes file is a few KB; past this it is something else
GENERIC = "generic"
AUTO = "auto"
_SPEC_KEYS = tuple(f.name for f in fields(HmacSpec))
_RESPONSE_KEYS = ("status", "response_body", "response_headers", "delay", "reject_invalid")
_KEYS = ("path", "provider", "secret", "secret_env", *_SPEC_KEYS, *_RESPONSE_KEYS)


class ConfigError(Exception):
    """A mistake in the config file, as one line naming the file, the place and the fault."""


@dataclass(frozen=True, slots=True)
class Route:
    """Requests whose path matches `path` are checked with `provider` and `secret`."""

    path: str
    provider: Provider | None = None  # None: detected from the headers
    secrets: tuple[str, ...] = field(default=(), repr=False)  # empty: the global secrets
    secret_env: str = ""  # where the secrets come from, to say what to set when missing
    where: str = ""  # "inspector.toml:3", for messages
    response: ResponseOverride | None = None  # what this route answers, when not the default

    def matches(self, path: str) -> bool:
        return fnmatchcase(path, self.path)


def match(routes: Sequence[Route], path: str) -> Route | None:
    """The first route whose glob matches the request path."""
    return next((r for r in routes if r.matches(path)), None)


@dataclass(frozen=True, slots=True)
class Config:
    """The routes and answer rules of a config file, and where they came from (said at
    start-up)."""

    routes: list[Route] = field(default_factory=list)
    path: Path | None = None  # None: no config file
    named: bool = False  # given with --config (else found in the working directory)
    rules: list[Rule] = field(default_factory=list)
    handshakes: bool = True  # `handshakes = false`: --no-handshakes

    def describe(self) -> str:
        """"config: /abs/inspector.toml (found in the working directory), 3 routes"."""
        if self.path is None:
            return ""
        how = "--config" if self.named else "found in the working directory"
        where = visible_line(str(self.path.absolute()))
        rules = f", {count(len(self.rules), 'answer rule')}" if self.rules else ""
        return f"config: {where} ({how}), {count(len(self.routes), 'route')}{rules}"


def load_config(explicit: str | None = None, cwd: Path | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """The config named with --config, else ./inspector.toml if any (whose `@` files must
    stay in its folder: nobody chose that file on purpose). ConfigError on any mistake."""
    path = config_path(explicit, cwd)
    if path is None:
        return Config()
    parsed = _load(path, environ, confined=not explicit)
    return Config(parsed.routes, path, bool(explicit), parsed.rules, parsed.handshakes)


def config_path(explicit: str | None = None, cwd: Path | None = None) -> Path | None:
    """The config file to read: `explicit` (which must exist), else ./inspector.toml if any."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{explicit}: no such config file")
        return path
    default = (cwd or Path.cwd()) / CONFIG_NAME
    return default if default.is_file() else None


def load_routes(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None,
                *, confined: bool = False) -> list[Route]:
    """The routes of a config file (see load_file)."""
    return load_file(path, environ, confined=confined)[0]


def load_file(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None,
              *, confined: bool = False) -> tuple[list[Route], list[Rule]]:
    """Parse a config file into routes and answer rules; every mistake raises ConfigError.
    `environ` holds the variables routes name with `secret_env` (none when not given).
    `confined`: files named with `@` must be inside the config file's folder."""
    parsed = _load(path, environ, confined=confined)
    return parsed.routes, parsed.rules


def _load(path: str | os.PathLike[str], environ: Mapping[str, str] | None,
          *, confined: bool) -> Config:
    """The whole file (see load_file), without where it was found."""
    name = visible_line(str(path))
    try:
        with Path(path).open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{name}: larger than {MAX_CONFIG_BYTES:,} bytes: not a config "
                              "file")
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read it: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: invalid TOML: {visible_line(str(exc))}") from exc
    except RecursionError:
        raise ConfigError(f"{name}: invalid TOML: nested too deeply") from None
    lines = text.splitlines()
    where = Lines(name, lines, "route")
    for key in data:
        if key not in ("route", "rule", "handshakes"):
            raise ConfigError(f"{where.key(None, key)}: unknown key {key!r} "
                              "(the file holds handshakes = true|false, [[route]] and "
                              "[[rule]] tables)")
    handshakes = data.get("handshakes", True)
    if not isinstance(handshakes, bool):
        raise ConfigError(f"{where.key(None, 'handshakes')}: handshakes must be true or "
                          "false")
    env = {} if environ is None else environ
    routes = [_route(table, index, where, env, confined)
              for index, table in enumerate(_tables(data, "route", where, inline=True))]
    rule_lines = Lines(name, lines, "rule")
    context = Context(Path(path).parent, confined)
    rules: list[Rule] = []
    for index, table in enumerate(_tables(data, "rule", rule_lines)):
        rules.append(_rule(table, index, rule_lines, context, rules))
    return Config(routes, rules=rules, handshakes=handshakes)


def _tables(data: dict[str, Any], key: str, where: Lines, *, inline: bool = False
            ) -> list[dict[str, Any]]:
    """The [[key]] tables; `inline`: also as an inline array (rules need their lines)."""
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where.key(None, key)}: {key} must be [[{key}]] tables")
    if not inline and len(tables) != len(where.starts):
        raise ConfigError(f"{where.key(None, key)}: write each {key} as a [[{key}]] table")
    return tables


def _rule(table: dict[str, Any], index: int, where: Lines, context: Context,
          before: list[Rule]) -> Rule:
    """The index-th [[rule]], with its source lines (what the TUI edits and saves)."""
    begin, end = where.table(index)
    source = "\n".join(where.lines[begin + 1 : end]).strip("\n") + "\n"
    try:
        rule = rule_from_table(table, number=index + 1,
                               locate=lambda key: where.key(index, key), source=source,
                               where=where.place(begin + 1), context=context)
    except RuleError as exc:
        raise ConfigError(str(exc)) from None
    for n, other in enumerate(before, 1):
        if other.name == rule.name:
            raise ConfigError(f"{where.key(index, 'name')}: rule {index + 1}: the name "
                              f"{visible_line(rule.name)!r} is also rule {n}'s: names must "
                              "differ (the filter rule:NAME finds a rule's events)")
    return rule


def _route(table: dict[str, Any], index: int, where: Lines, env: Mapping[str, str],
           confined: bool) -> Route:
    def fail(key: str, what: str) -> ConfigError:
        return ConfigError(f"{where.key(index, key)}: route {index + 1}: {visible_line(key)} "
                           f"{what}")

    for key in table:
        if key not in _KEYS:
            raise fail(key, f"is not a known key (known: {', '.join(_KEYS)})")
    for key, value in table.items():
        if key == "tolerance":
            if not isinstance(value, int) or isinstance(value, bool):
                raise fail(key, "must be a whole number of seconds")
        elif key == "status":
            if not isinstance(value, int) or isinstance(value, bool):
                raise fail(key, "must be a whole number, such as 500")
        elif key == "delay":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise fail(key, "must be a number of seconds")
        elif key == "reject_invalid":
            if not isinstance(value, bool):
                raise fail(key, "must be true or false")
        elif key == "response_headers":
            if not _is_strings(value):
                raise fail(key, 'must be a list of "Name: value" strings')
        elif key in ("secret", "secret_env"):
            if not isinstance(value, str) and not _is_strings(value):
                raise fail(key, "must be a string, or a list of strings (a rotation)")
        elif not isinstance(value, str):
            raise fail(key, "must be a string")
    path = table.get("path")
    if path is None:
        raise fail("path", "is missing (a glob such as \"/webhooks/stripe/*\")")
    if not path.startswith(("/", "*")):
        raise fail("path", "must start with / (it is matched against the request path)")
    name = table.get("provider", AUTO)
    known = [AUTO, *PROVIDERS, GENERIC]
    if name not in known:
        raise fail("provider", f"{name!r} is unknown (known: {', '.join(known)})")
    if "secret" in table and "secret_env" in table:
        raise fail("secret", "and secret_env are both set: keep one (secret_env is safer)")
    spec_keys = [k for k in table if k in _SPEC_KEYS]
    provider: Provider | None = PROVIDERS.get(name)
    if name == GENERIC:
        if "header" not in table:
            raise fail("header", "is missing: a generic route names its signature header")
        spec = HmacSpec(**{k: table[k] for k in spec_keys})
        problems = spec.problems()
        if problems:
            raise fail(*problems[0])
        provider = Generic(spec)
    elif spec_keys:
        raise fail(spec_keys[0], 'applies only to provider = "generic"')
    names = _strings(table.get("secret_env", []))
    if names:  # each variable may hold several secrets, separated by spaces
        secrets = tuple(s for n in names for s in env.get(n, "").split())
    else:
        secrets = _strings(table.get("secret", []))
    for n, secret in enumerate(secrets, 1):
        problem = "" if provider is None else provider.key_problem(secret)
        if provider is not None and problem:
            source = f" ({' or '.join(names)})" if names else ""
            raise fail("secret_env" if names else "secret",
                       f"gives a secret {provider.title} cannot use{source}: secret {n}: "
                       f"{problem}")
    response = _response(table, fail, Path(where.name).parent, confined)
    return Route(path, provider, tuple(dict.fromkeys(secrets)), " or ".join(names),
                 where.key(index, "path"), response)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _strings(value: str | list[str]) -> tuple[str, ...]:
    """A string or a list of strings, as a tuple without empty ones."""
    return tuple(v for v in ([value] if isinstance(value, str) else value) if v)


def _response(table: dict[str, Any], fail: Callable[[str, str], ConfigError],
              base: Path, confined: bool) -> ResponseOverride | None:
    """The route's response keys, checked; None when it has none."""
    if not any(k in table for k in _RESPONSE_KEYS):
        return None
    key = ""
    try:
        key = "status"
        status = check_status(table["status"]) if key in table else None
        key = "delay"
        delay = check_delay(table["delay"]) if key in table else None
        key = "response_headers"
        headers = (tuple(answer_header(h) for h in table[key]) if key in table else None)
        key = "response_body"
        body = read_body(table[key], base, confined=confined) if key in table else None
    except PolicyError as exc:
        raise fail(key, f"is wrong: {exc}") from exc
    return ResponseOverride(status, body, headers, delay, table.get("reject_invalid"))


def save_rules(path: str | os.PathLike[str], rules: Sequence[Rule]) -> None:
    """Write `rules` into the config file at `path` in place of its [[rule]] tables (a new
    file if there is none): everything else in it stays as it was. The new text is checked
    before it replaces the old one. ConfigError says why it could not."""
    file = Path(path)
    name = visible_line(str(path))
    try:
        text = file.read_text("utf-8") if file.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read it: {exc}") from exc
    lines = text.splitlines()
    where = Lines(name, lines, "rule")
    dropped: set[int] = set()
    for index in range(len(where.starts)):
        begin, end = where.table(index)
        dropped.update(range(begin, end))
    kept = [line for n, line in enumerate(lines) if n not in dropped]
    while kept and not kept[-1].strip():
        kept.pop()
    blocks = ["[[rule]]\n" + rule.source.strip("\n") + "\n" for rule in rules]
    new = "\n".join(kept) + ("\n\n" if kept and blocks else "\n" if kept else "") + \
        "\n".join(blocks)
    try:
        if len(tomllib.loads(new).get("rule", [])) != len(rules):
            raise ConfigError(f"{name}: not saved: the rules would not read back as written")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not saved: the result would not be valid TOML "
                          f"({visible_line(str(exc))})") from None
    temporary = file.with_name(f".{file.name}.saving")
    try:
        temporary.write_text(new, "utf-8")
        os.replace(temporary, file)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ConfigError(f"{name}: cannot write it: {exc.strerror or exc}") from exc
