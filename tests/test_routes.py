"""Config routes: parsing, clear errors, and the analyzer pinning provider and secret by path."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest

from inspector.core.analysis.analyzer import Analyzer
from inspector.core.config import ConfigError, Route, config_path, load_routes, match
from inspector.core.model import Event, Verdict, new_id
from inspector.core.signatures import Secrets
from inspector.core.signatures.generic import Generic
from tests.conftest import VECTORS

CONFIG = """\
# webhook routes
[[route]]
path = "/webhooks/stripe/*"
provider = "stripe"
secret_env = "TEST_STRIPE_SECRET"

[[route]]
path = "/webhooks/linear"
provider = "generic"
header = "Linear-Signature"
secret = "lin-secret"

[[route]]
path = "/webhooks/*"
secret_env = "TEST_UNSET_SECRET"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inspector.toml"
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_routes(path, environ={})
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    return message[len(str(path)):]


def event(path: str, headers: dict[str, str], body: bytes, at: float = 1_700_000_000) -> Event:
    return Event(new_id(), at, "POST", path, "", list(headers.items()), body)


# -- parsing --------------------------------------------------------------------------------------


def test_routes_load_with_env_secrets(tmp_path: Path) -> None:
    routes = load_routes(write(tmp_path, CONFIG), environ={"TEST_STRIPE_SECRET": "whsec_x"})
    stripe, linear, rest = routes
    assert stripe.provider is not None and stripe.provider.name == "stripe"
    assert stripe.secrets == ("whsec_x",) and stripe.where.endswith("inspector.toml:3")
    assert isinstance(linear.provider, Generic) and linear.secrets == ("lin-secret",)
    assert rest.provider is None and rest.secrets == () and rest.secret_env == "TEST_UNSET_SECRET"
    assert "whsec_x" not in repr(stripe) and "lin-secret" not in repr(linear)


def test_first_matching_route_wins(tmp_path: Path) -> None:
    routes = load_routes(write(tmp_path, CONFIG), environ={})
    assert match(routes, "/webhooks/stripe/acct_1") is routes[0]
    assert match(routes, "/webhooks/linear") is routes[1]
    assert match(routes, "/webhooks/other") is routes[2]
    assert match(routes, "/elsewhere") is None


def test_config_path(tmp_path: Path) -> None:
    assert config_path(None, tmp_path) is None
    path = write(tmp_path, "")
    assert config_path(None, tmp_path) == path
    assert config_path(str(path)) == path
    with pytest.raises(ConfigError, match="no such config file"):
        config_path(str(tmp_path / "missing.toml"))


def test_empty_file_has_no_routes(tmp_path: Path) -> None:
    assert load_routes(write(tmp_path, "# nothing yet\n")) == []


@pytest.mark.parametrize(("text", "expected"), [
    ('[[route]]\npath = "/a"\nprovider = "strpe"\n',
     ":3: route 1: provider 'strpe' is unknown (known: auto, connectly, github, meta, "
     "intercom, stripe, calendly, shopify, slack, zoom, gitlab, svix, clerk, resend, "
     "standard-webhooks, twilio, discord, sendgrid, square, hubspot, paddle, twitch, "
     "typeform, linear, vercel, mailgun, generic)"),
    ('[[route]]\npath = "/a"\n\n[[route]]\npath = "/b"\nsecert_env = "X"\n',
     ":6: route 2: secert_env is not a known key"),
    ('[[route]]\nprovider = "github"\n', ":1: route 1: path is missing"),
    ('[[route]]\npath = "webhooks/*"\n', ":2: route 1: path must start with /"),
    ('[[route]]\npath = "/a"\nsecret = "s"\nsecret_env = "S"\n',
     ":3: route 1: secret and secret_env are both set"),
    ('[[route]]\npath = "/a"\nprovider = "generic"\n',
     ":1: route 1: header is missing: a generic route names its signature header"),
    ('[[route]]\npath = "/a"\nprovider = "generic"\nheader = "S"\ntemplate = "{body}{ts}"\n',
     ":5: route 1: template has an unknown placeholder {ts}"),
    ('[[route]]\npath = "/a"\nprovider = "generic"\nheader = "S"\nalgorithm = "md5"\n',
     ":5: route 1: algorithm must be one of sha1, sha256, sha512"),
    ('[[route]]\npath = "/a"\nprovider = "stripe"\nheader = "S"\n',
     ':4: route 1: header applies only to provider = "generic"'),
    ('[[route]]\npath = "/a"\nprovider = "generic"\nheader = "S"\ntolerance = "5m"\n',
     ":5: route 1: tolerance must be a whole number of seconds"),
    ('[[route]]\npath = 7\n', ":2: route 1: path must be a string"),
    ('routes = []\n', ":1: unknown key 'routes'"),
    ('[route]\npath = "/a"\n', ":1: route must be [[route]] tables"),
    ('[[route]]\npath = "/a\n', ": invalid TOML: "),
])
def test_bad_config_names_file_line_and_fault(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text).startswith(expected)


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    assert "line 3" in error(tmp_path, '[[route]]\npath = "/a"\nprovider stripe\n')


def test_unreadable_config(tmp_path: Path) -> None:
    path = tmp_path / "inspector.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_routes(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_routes(tmp_path)


# -- the analyzer uses the route -----------------------------------------------------------------


def test_route_pins_provider_and_secret(tmp_path: Path) -> None:
    vector = next(v for v in VECTORS if v["id"] == "stripe-valid")
    routes = load_routes(write(tmp_path, CONFIG), environ={"TEST_STRIPE_SECRET": vector["secret"]})
    analyzer = Analyzer(Secrets(default="global-secret"), routes=routes)
    arrived = event("/webhooks/stripe/acct_1", vector["headers"], vector["body"].encode(),
                    at=vector["now"])
    result = analyzer.analyze(arrived)
    assert result.ok and arrived.provider == "stripe" and arrived.verdict == "valid"
    # Another path: no route secret, so the global one is used, and it is wrong.
    arrived.path = "/elsewhere"
    assert not analyzer.verify(arrived).ok


def test_route_pins_the_provider_even_without_its_header(tmp_path: Path) -> None:
    routes = load_routes(write(tmp_path, CONFIG), environ={"TEST_STRIPE_SECRET": "whsec_x"})
    analyzer = Analyzer(routes=routes)
    result = analyzer.verify(event("/webhooks/stripe/a", {"X-Hub-Signature-256": "sha256=00"},
                                   b"{}"))
    assert result.verdict is Verdict.UNSIGNED and result.provider == "stripe"


def test_route_generic_hmac(tmp_path: Path) -> None:
    analyzer = Analyzer(routes=load_routes(write(tmp_path, CONFIG), environ={}))
    body = b'{"action":"create","type":"Issue"}'
    good = hmac.new(b"lin-secret", body, "sha256").hexdigest()
    result = analyzer.verify(event("/webhooks/linear", {"Linear-Signature": good}, body))
    assert result.ok and result.provider == "generic", result.reason


def test_route_with_missing_env_secret_says_what_to_set(tmp_path: Path) -> None:
    analyzer = Analyzer(routes=load_routes(write(tmp_path, CONFIG), environ={}))
    result = analyzer.verify(event("/webhooks/other", {"X-Shopify-Hmac-Sha256": "AA=="}, b"{}"))
    assert result.verdict is Verdict.NO_SECRET and result.provider == "shopify"
    assert "set TEST_UNSET_SECRET" in result.reason and "inspector.toml:" in result.reason


def test_pinned_provider_beats_the_route(tmp_path: Path) -> None:
    route = Route("/x", secrets=("k",))
    body = b"{}"
    headers = {"X-Hub-Signature-256": "sha256=" + hmac.new(b"k", body, "sha256").hexdigest()}
    analyzer = Analyzer(routes=[route])
    assert analyzer.verify(event("/x", headers, body)).ok
    assert analyzer.verify(event("/x", headers, body), provider="shopify").provider == "shopify"
