"""`inspector connectly register` against a local stand-in of Connectly's API (real HTTP)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inspector.core.capture.server import EmbeddedServer, bind, make_server
from inspector.core.providers.connectly.api import (
    RegistrationError,
    address_for,
    register,
    registration_curl,
)
from inspector.faces.cli.commands.connectly import connectly

KEY = "ck_live_example_key_123"


@dataclass
class ConnectlyStandIn:
    """POST /v1/businesses/{id}/create/webhooks, checking X-API-Key like the real API."""

    status: int | None = None  # force this status (e.g. 500)
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _server: EmbeddedServer | None = None

    def start(self) -> ConnectlyStandIn:
        async def create(request: Request) -> JSONResponse:
            body = await request.body()
            self.received.append({"path": request.url.path, "headers": dict(request.headers),
                                  "body": body})
            if self.status:
                return JSONResponse({"error": "internal", "message": "boom"}, self.status)
            if request.headers.get("x-api-key") != KEY:
                return JSONResponse({"code": 16, "message": "invalid API key"}, 401)
            data = json.loads(body)
            if data.get("topic") not in ("messages", "delivery_status"):
                return JSONResponse({"message": "unknown topic"}, 400)
            return JSONResponse({"id": f"wh_{len(self.received)}", "topic": data["topic"],
                                 "address": data["address"],
                                 "businessId": request.path_params["business"]})

        app = Starlette(routes=[Route("/v1/businesses/{business}/create/webhooks", create,
                                      methods=["POST"])])
        sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = make_server(app, http="h11")
        threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                         daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "stand-in did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


@pytest.fixture
def api() -> Iterator[ConnectlyStandIn]:
    server = ConnectlyStandIn().start()
    yield server
    server.stop()


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(connectly, ["register", *args], env=env or {},
                              catch_exceptions=False)


def test_registers_both_topics(api: ConnectlyStandIn) -> None:
    result = invoke("--business-id", "biz 42", "--topic", "messages",
                    "--topic", "delivery_status", "--address", "https://abc.trycloudflare.com",
                    "--api-key", KEY, "--api-base", api.url)
    assert result.exit_code == 0, result.output
    address = "https://abc.trycloudflare.com/webhooks/connectly"
    assert f"registered messages → {address} (200)" in result.output
    assert f"registered delivery_status → {address} (200)" in result.output
    assert '"id": "wh_1"' in result.output  # the API's answer, printed
    assert [json.loads(r["body"]) for r in api.received] == [
        {"topic": "messages", "address": address},
        {"topic": "delivery_status", "address": address}]
    first = api.received[0]
    assert first["path"] == "/v1/businesses/biz 42/create/webhooks"  # sent as biz%2042
    assert first["headers"]["x-api-key"] == KEY
    assert first["headers"]["content-type"] == "application/json"
    assert KEY not in result.output


def test_key_from_the_environment(api: ConnectlyStandIn) -> None:
    result = invoke("--business-id", "42", "--topic", "messages", "--address",
                    "https://hooks.example/in", "--api-key-env", "MY_KEY", "--api-base",
                    api.url, env={"MY_KEY": KEY})
    assert result.exit_code == 0, result.output
    assert json.loads(api.received[0]["body"])["address"] == "https://hooks.example/in"


@pytest.mark.parametrize(
    ("args", "env", "status", "message"),
    [
        (["--api-key", "wrong"], {}, None,
         "Connectly answered 401 Unauthorized to {url}/v1/businesses/42/create/webhooks: "
         '{ "code": 16, "message": "invalid API key" } — check the API key'),
        (["--api-key", KEY], {}, 500, "Connectly answered 500 Internal Server Error"),
        ([], {}, None, "no API key: pass --api-key or set CONNECTLY_API_KEY"),
    ],
)
def test_failures_are_one_clear_line(api: ConnectlyStandIn, args: list[str],
                                     env: dict[str, str], status: int | None,
                                     message: str) -> None:
    api.status = status
    result = invoke("--business-id", "42", "--topic", "messages", "--address",
                    "https://x.example", "--api-base", api.url, *args, env=env)
    assert result.exit_code == 1
    assert result.output.startswith("Error: " + message.replace("{url}", api.url))
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_unreachable_api_and_missing_address() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = invoke("--business-id", "42", "--topic", "messages", "--address",
                    "https://x.example", "--api-key", KEY, "--api-base",
                    f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}/v1/businesses/42/create/webhooks" in \
        result.output
    result = invoke("--business-id", "42", "--topic", "messages", "--api-key", KEY)
    assert result.exit_code == 2 and "give --address" in result.output
    result = invoke("--business-id", "42", "--topic", "messages", "--api-key", KEY,
                    "--address", "abc.trycloudflare.com")
    assert result.exit_code == 1 and "is not an http(s) URL" in result.output


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_copied_curl_reads_the_key_from_the_environment(api: ConnectlyStandIn) -> None:
    result = invoke("--business-id", "42", "--topic", "delivery_status", "--address",
                    "https://abc.trycloudflare.com", "--api-base", api.url, "--print-curl",
                    env={"CONNECTLY_API_KEY": KEY})
    assert result.exit_code == 0 and not api.received  # printed, not sent
    command = result.output
    assert "$CONNECTLY_API_KEY" in command and KEY not in command
    assert command == registration_curl(business_id="42", topic="delivery_status",
                                        address=address_for("https://abc.trycloudflare.com"),
                                        api_base=api.url) + "\n"
    # The copied command works as it is, with the key in the environment.
    done = subprocess.run(["bash", "-c", command], capture_output=True, timeout=20,
                          env={**os.environ, "CONNECTLY_API_KEY": KEY})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["topic"] == "delivery_status"
    assert api.received[0]["headers"]["x-api-key"] == KEY
    assert json.loads(api.received[0]["body"]) == {
        "topic": "delivery_status", "address": "https://abc.trycloudflare.com/webhooks/connectly"}


async def test_register_function_for_the_tui(api: ConnectlyStandIn) -> None:
    async with httpx.AsyncClient() as client:
        done = await register(client, business_id="7", topic="messages",
                              address="https://a.example/webhooks/connectly", api_key=KEY,
                              api_base=api.url)
        assert done.status == 200 and '"businessId": "7"' in done.answer
        with pytest.raises(RegistrationError, match="unknown topic 'msgs'"):
            await register(client, business_id="7", topic="msgs", address="https://a.example",
                           api_key=KEY, api_base=api.url)
    assert len(api.received) == 1


def test_urls_and_addresses() -> None:
    from inspector.core.providers.connectly.api import webhooks_url

    assert webhooks_url("https://api.connectly.ai/", "a/b?c") == \
        "https://api.connectly.ai/v1/businesses/a%2Fb%3Fc/create/webhooks"
    assert address_for("https://abc.trycloudflare.com/") == \
        "https://abc.trycloudflare.com/webhooks/connectly"
    assert address_for("https://x.example/custom/path") == "https://x.example/custom/path"
    with pytest.raises(RegistrationError, match="not an environment variable name"):
        registration_curl(business_id="1", topic="messages", address="https://x",
                          key_env="$(rm -rf ~)")
