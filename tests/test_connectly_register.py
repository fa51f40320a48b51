"""`inspector connectly webhooks list|create|update|delete` (and `register`, the old name of
create) against a local stand-in of Connectly's API that answers as the docs say: 200, 400,
401, 404, 409 and 500 with the documented bodies. Real HTTP; the real CLI, through click's
runner and as a real process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner, Result

from inspector.core.providers.connectly.api import (
    Conflict,
    RegistrationError,
    Webhooks,
    address_for,
    create_call,
    curl,
    webhooks_url,
)
from inspector.faces.cli.commands.connectly import connectly
from tests.connectly_standin import KEY, TRACE, ConnectlyStandIn

__all__ = ["KEY", "ConnectlyStandIn"]  # the TUI's registration test uses the stand-in too

TUNNEL = "https://abc.trycloudflare.com"
ADDRESS = TUNNEL + "/webhooks/connectly"
WITH_KEY = {"CONNECTLY_API_KEY": KEY}


@pytest.fixture
def api() -> Iterator[ConnectlyStandIn]:
    server = ConnectlyStandIn().start()
    yield server
    server.stop()


def cli(api: ConnectlyStandIn, *args: str, env: dict[str, str] | None = None,
        stdin: str | None = None) -> Result:
    """`inspector connectly webhooks ARGS` for business 42 of the stand-in."""
    command, *rest = args
    return CliRunner().invoke(
        connectly, ["webhooks", command, "--business-id", "42", "--api-base", api.url, *rest],
        env=WITH_KEY if env is None else env, input=stdin, catch_exceptions=False)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


# -- create --------------------------------------------------------------------------------------


def test_create_registers_each_topic_with_its_configuration(api: ConnectlyStandIn) -> None:
    result = cli(api, "create", "--topic", "messages", "--topic", "report", "--address", TUNNEL,
                 "--type", "custom", "--echo", "--channel-type", "whatsapp",
                 "--filter", "campaign_name=prod-*", "--filter", "campaign_name=a=b")
    assert result.exit_code == 0, result.output
    assert f"registered messages → {ADDRESS} (200)" in result.output
    assert f"registered report → {ADDRESS} (200)" in result.output
    configuration = {"echo": True, "channelTypes": ["whatsapp"],
                     "filters": [{"field": "campaign_name", "expression": "prod-*"},
                                 {"field": "campaign_name", "expression": "a=b"}]}
    assert api.bodies() == [
        {"topic": topic, "address": ADDRESS, "type": "custom", "configuration": configuration}
        for topic in ("messages", "report")]
    first = api.received[0]
    assert first["path"] == "/v1/businesses/42/create/webhooks"
    assert first["headers"]["x-api-key"] == KEY
    assert first["headers"]["content-type"] == "application/json"
    assert KEY not in result.output


def test_create_on_a_taken_topic_offers_update_with_that_id(api: ConnectlyStandIn) -> None:
    taken = api.add("messages", "https://old.example/hook")
    result = cli(api, "create", "--topic", "messages", "--address", TUNNEL)
    assert result.exit_code == 1
    error, *how = result.output.strip().splitlines()
    assert error.startswith(f"Error: messages already has a webhook ({taken} → "
                            "https://old.example/hook): Connectly keeps one address per topic")
    assert "409 Conflict" in error and f"trace id {TRACE}" in error
    assert how == [f"To send messages to {ADDRESS} instead, update it:",
                   f"  inspector connectly webhooks update {taken} --business-id 42 "
                   f"--address {ADDRESS}"]
    assert [r["method"] for r in api.received] == ["POST", "GET"]  # looked up with list
    assert api.hooks[taken]["address"] == "https://old.example/hook"  # nothing changed


def test_the_409_flow_as_a_real_process(api: ConnectlyStandIn) -> None:
    """The commands a person types, run as `inspector` runs: create, its 409, the update it
    suggests, then list. The key is in the environment and never in the output."""
    taken = api.add("delivery_status", "https://old.example/hook")
    env = {**os.environ, "CONNECTLY_API_KEY": KEY, "CONNECTLY_BUSINESS_ID": "biz-9",
           "CONNECTLY_API_BASE": api.url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "inspector", "connectly", *args],
                              capture_output=True, text=True, timeout=60, env=env)
        assert KEY not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return done

    refused = run("webhooks", "create", "--topic", "delivery_status", "--address", TUNNEL)
    assert refused.returncode == 1 and refused.stdout == ""
    suggested = refused.stderr.strip().splitlines()[-1].strip()
    assert suggested == (f"inspector connectly webhooks update {taken} --business-id biz-9 "
                         f"--address {ADDRESS}")
    updated = run(*suggested.split()[2:])
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout == f"updated {taken} ({ADDRESS}) (200)\n"
    listed = run("webhooks", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [
        f"{taken} delivery_status → {ADDRESS}  (channels whatsapp)"]
    assert api.bodies("PUT") == [{"address": ADDRESS}]


@pytest.mark.parametrize(("args", "fragment"), [
    # 400: Connectly wants an https address.
    (["--topic", "messages", "--address", "http://insecure.example/hook"],
     "Connectly answered 400 Bad Request to {url}/v1/businesses/42/create/webhooks: address "
     f"must be a public HTTPS URL (ERROR_CODE_UNSPECIFIED; trace id {TRACE}: quote it to "
     "Connectly support)"),
])
def test_create_refused(api: ConnectlyStandIn, args: list[str], fragment: str) -> None:
    line = one_line_error(cli(api, "create", *args))
    assert fragment.replace("{url}", api.url) in line


def test_wrong_key_and_server_errors_are_one_clear_line(api: ConnectlyStandIn) -> None:
    line = one_line_error(cli(api, "list", env={"CONNECTLY_API_KEY": "wrong-key-1234"}))
    assert line.startswith(f"Error: Connectly answered 401 Unauthorized to {api.url}/v1/"
                           "businesses/42/webhooks: Missing or invalid X-API-Key")
    assert line.endswith("— check the API key ($CONNECTLY_API_KEY)")
    assert "wrong-key-1234" not in line
    api.fail_with = 500
    for args in (["list"], ["create", "--topic", "messages", "--address", TUNNEL],
                 ["update", "wh_1", "--address", TUNNEL], ["delete", "wh_1", "--yes"]):
        line = one_line_error(cli(api, *args))
        assert "Connectly answered 500 Internal Server Error" in line, args
        assert f"trace id {TRACE}" in line
        assert line.endswith("— try again later: Connectly had a server error")


def test_missing_key_and_bad_input_fail_before_any_call(api: ConnectlyStandIn) -> None:
    line = one_line_error(cli(api, "list", env={}))
    assert line == "Error: no API key: set CONNECTLY_API_KEY"
    line = one_line_error(cli(api, "list", "--api-key-env", "MY_KEY", env={}))
    assert line == "Error: no API key: set MY_KEY"
    result = cli(api, "create", "--topic", "messages", "--address", TUNNEL, "--filter", "x")
    assert result.exit_code == 2 and "'x' is not FIELD=EXPRESSION" in result.output
    result = cli(api, "create", "--topic", "message", "--address", TUNNEL)
    assert result.exit_code == 2 and "'message' is not one of" in result.output
    line = one_line_error(cli(api, "create", "--topic", "messages", "--address", "abc.example"))
    assert "is not an http(s) URL" in line
    assert api.received == []


# -- list, update, delete ------------------------------------------------------------------------


def test_list_shows_each_registration(api: ConnectlyStandIn) -> None:
    result = cli(api, "list")
    assert result.output == "no webhooks are registered for business 42\n"
    first = api.add("messages", "https://a.example/m")
    cli(api, "create", "--topic", "report", "--address", "https://a.example/r", "--type",
        "zapier", "--filter", "campaign_name=summer-*", "--no-echo")
    result = cli(api, "list")
    assert result.exit_code == 0
    second = next(h for h in api.hooks if h != first)
    assert result.output.splitlines() == [
        f"{first} messages → https://a.example/m  (channels whatsapp)",
        f"{second} report → https://a.example/r  (type zapier; filter campaign_name=summer-*)"]
    raw = cli(api, "list", "--json")
    assert json.loads(raw.output)["entity"]["webhooks"][0]["id"] == first


def test_what_the_api_says_stays_inert(api: ConnectlyStandIn) -> None:
    """Ids, addresses and answers come from the API: escapes are shown, never acted on."""
    hook = api.add("report", "https://a.example/\x1b]0;owned\x07\u202e")
    api.hooks[hook]["configuration"]["filters"] = [{"field": "\x1b[2J", "expression": "x"}]
    listed = cli(api, "list").output
    assert "\x1b" not in listed and "\u202e" not in listed and "\x07" not in listed
    assert "https://a.example/\\x1b]0;owned\\x07\\u202e" in listed
    assert "filter \\x1b[2J=x" in listed
    raw = cli(api, "list", "--json").output
    assert "\x1b" not in raw and "\u202e" not in raw
    assert "\\u001b]0;owned\\u0007\\u202e" in raw


def test_update_by_id_or_by_topic_sends_only_what_changes(api: ConnectlyStandIn) -> None:
    hook = api.add("messages", "https://old.example/m")
    result = cli(api, "update", hook, "--address", TUNNEL)
    assert result.output == f"updated {hook} ({ADDRESS}) (200)\n"
    result = cli(api, "update", "--topic", "messages", "--echo", "--filter",
                 "campaign_name=prod-*")
    assert result.output == f"updated {hook} (messages) (200)\n"
    assert api.bodies("PUT") == [
        {"address": ADDRESS},
        {"configuration": {"echo": True, "filters": [{"field": "campaign_name",
                                                      "expression": "prod-*"}]}}]
    assert api.received[-1]["path"] == f"/v1/businesses/42/update/webhooks/{hook}"
    assert api.hooks[hook]["address"] == ADDRESS and api.hooks[hook]["configuration"]["echo"]


def test_update_refusals(api: ConnectlyStandIn) -> None:
    line = one_line_error(cli(api, "update", "wh_nope", "--address", TUNNEL))
    assert line.startswith(f"Error: Connectly answered 404 Not Found to {api.url}/v1/businesses"
                           "/42/update/webhooks/wh_nope: webhook not found")
    assert line.endswith("— no webhook has the id 'wh_nope' in this business "
                         "(`inspector connectly webhooks list` shows them)")
    line = one_line_error(cli(api, "update", "--topic", "report", "--address", TUNNEL))
    assert line == ("Error: no webhook is registered for report in this business: create one "
                    "instead")
    for args in (["wh_1"], ["--address", TUNNEL], ["wh_1", "--topic", "report", "--echo"]):
        result = cli(api, "update", *args)
        assert result.exit_code == 2, args
        assert ("nothing to update" in result.output
                or "give the webhook id or --topic (one of them)" in result.output)


def test_delete_asks_first_then_removes(api: ConnectlyStandIn) -> None:
    hook = api.add("report", "https://a.example/r")
    result = cli(api, "delete", "--topic", "report", stdin="n\n")
    assert result.exit_code == 1 and "Error: not deleted" in result.output
    assert hook in api.hooks
    result = cli(api, "delete", "--topic", "report", stdin="y\n")
    assert result.exit_code == 0 and f"deleted {hook} (report) (200)" in result.output
    assert api.hooks == {}
    assert [r["method"] for r in api.received] == ["GET", "GET", "DELETE"]
    line = one_line_error(cli(api, "delete", hook, "--yes"))
    assert "404 Not Found" in line and f"no webhook has the id '{hook}'" in line


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_printed_curl_commands_work_and_read_the_key_from_the_environment(
        api: ConnectlyStandIn) -> None:
    hook = api.add("messages", "https://old.example/m")
    commands = [
        cli(api, "create", "--topic", "report", "--address", TUNNEL, "--echo", "--print-curl",
            env={}).output,
        cli(api, "update", hook, "--address", TUNNEL, "--print-curl", env={}).output,
    ]
    assert api.received == []  # printed, not sent, and no key was needed
    commands.append(cli(api, "delete", hook, "--print-curl", env={}).output)
    for command in commands:
        assert "$CONNECTLY_API_KEY" in command and KEY not in command
        done = subprocess.run(["bash", "-c", command], capture_output=True, timeout=20,
                              env={**os.environ, "CONNECTLY_API_KEY": KEY})
        assert done.returncode == 0, done.stderr
    assert [r["method"] for r in api.received] == ["POST", "PUT", "DELETE"]
    assert api.bodies() == [{"topic": "report", "address": ADDRESS,
                             "configuration": {"echo": True}}]
    assert all(r["headers"]["x-api-key"] == KEY for r in api.received)
    assert api.hooks and hook not in api.hooks


# -- `register`, the old name --------------------------------------------------------------------


def register_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(connectly, ["register", *args], env=env or {},
                              catch_exceptions=False)


def test_register_is_still_create(api: ConnectlyStandIn) -> None:
    result = register_cli("--business-id", "biz 42", "--topic", "messages",
                          "--topic", "delivery_status", "--address", TUNNEL,
                          "--api-key", KEY, "--api-base", api.url)
    assert result.exit_code == 0, result.output
    assert f"registered messages → {ADDRESS} (200)" in result.output
    assert f"registered delivery_status → {ADDRESS} (200)" in result.output
    assert '"id": "wh_' in result.output  # the API's answer, printed
    assert api.bodies() == [{"topic": "messages", "address": ADDRESS},
                            {"topic": "delivery_status", "address": ADDRESS}]
    assert api.received[0]["path"] == "/v1/businesses/biz 42/create/webhooks"  # biz%2042
    assert KEY not in result.output
    again = register_cli("--business-id", "biz 42", "--topic", "messages", "--address",
                         TUNNEL, "--api-base", api.url, "--api-key-env", "MY_KEY",
                         env={"MY_KEY": KEY})
    assert again.exit_code == 1 and "messages already has a webhook" in again.output
    assert "inspector connectly webhooks update wh_" in again.output


def test_register_errors(api: ConnectlyStandIn) -> None:
    result = register_cli("--business-id", "42", "--topic", "messages", "--address",
                          "https://x.example", "--api-base", api.url)
    assert one_line_error(result) == ("Error: no API key: pass --api-key or set "
                                      "CONNECTLY_API_KEY")
    result = register_cli("--business-id", "42", "--topic", "messages", "--api-key", KEY)
    assert result.exit_code == 2 and "give --address" in result.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = one_line_error(register_cli(
        "--business-id", "42", "--topic", "messages", "--address", "https://x.example",
        "--api-key", KEY, "--api-base", f"http://127.0.0.1:{port}"))
    assert f"cannot reach http://127.0.0.1:{port}/v1/businesses/42/create/webhooks" in line


# -- the core, as the TUI calls it ---------------------------------------------------------------


async def test_register_and_webhooks_for_the_tui(api: ConnectlyStandIn) -> None:
    async with httpx.AsyncClient() as client:
        hooks = Webhooks(client, business_id="7", api_key=KEY, api_base=api.url)
        done = await hooks.create("messages", "https://a.example/webhooks/connectly")
        assert done.status == 200 and '"id": "wh_' in done.text
        with pytest.raises(RegistrationError, match="unknown topic 'msgs'"):
            await hooks.create("msgs", "https://a.example")
        with pytest.raises(Conflict) as conflict:
            await hooks.create("messages", "https://b.example/webhooks/connectly")
        existing = conflict.value.existing
        assert existing is not None and existing.address == "https://a.example/webhooks/connectly"
        await hooks.update(existing.id, address="https://b.example/webhooks/connectly")
        assert [h.address for h in await hooks.list()] == ["https://b.example/webhooks/connectly"]
        await hooks.delete((await hooks.for_topic("messages")).id)
        assert await hooks.find("messages") is None


def test_urls_and_addresses() -> None:
    assert webhooks_url("https://api.connectly.ai/", "a/b?c") == \
        "https://api.connectly.ai/v1/businesses/a%2Fb%3Fc/create/webhooks"
    assert address_for("https://abc.trycloudflare.com/") == ADDRESS
    assert address_for("https://x.example/custom/path") == "https://x.example/custom/path"
    with pytest.raises(RegistrationError, match="not an environment variable name"):
        curl(create_call("https://api.connectly.ai", "1", "messages", "https://x"),
             key_env="$(rm -rf ~)")
