"""A local stand-in of Connectly's webhook registration API, answering as its docs say.

Real HTTP on a loopback port (0), in a thread. Each endpoint checks `X-API-Key` (401) and
its body (400), keeps one registration per topic (create answers 409 for a taken topic),
answers 404 for an unknown webhook id, and `fail_with` forces a status (500) on every call.
Errors carry Connectly's documented error object: message, type, code, userTitle,
userMessage, cntTraceId, details.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import Threaded

KEY = "ck_live_example_key_123"
TOPICS = ("messages", "delivery_status", "report")
TYPES = ("custom", "zapier", "webengage", "integromat_make")
TRACE = "11824978358485860716"


def error(status: int, message: str, *, code: str = "ERROR_CODE_UNSPECIFIED",
          kind: str = "ERROR_TYPE_INVALID_REQUEST") -> JSONResponse:
    return JSONResponse({
        "message": message, "type": kind, "code": code, "userTitle": message,
        "userMessage": "Pass along the connectly trace id 'cnct_trace_id' to the team for "
                       "more information.",
        "cntTraceId": TRACE, "details": {}}, status)


@dataclass
class ConnectlyStandIn:
    fail_with: int | None = None  # answer every call with this status
    received: list[dict[str, Any]] = field(default_factory=list)
    hooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → registration
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _served: Threaded | None = None

    def add(self, topic: str, address: str) -> str:
        """A registration made earlier (by someone else)."""
        hook_id = f"wh_{next(self._ids):026d}"
        self.hooks[hook_id] = {"id": hook_id, "topic": topic, "address": address,
                               "configuration": {"echo": False, "channelTypes": ["whatsapp"],
                                                 "filters": []}}
        return hook_id

    def bodies(self, method: str = "POST") -> list[Any]:
        return [json.loads(r["body"]) for r in self.received if r["method"] == method]

    async def _checked(self, request: Request) -> JSONResponse | None:
        body = await request.body()
        self.received.append({"method": request.method, "path": request.url.path,
                              "headers": dict(request.headers), "body": body})
        if self.fail_with:
            return error(self.fail_with, "Internal server error", kind="ERROR_TYPE_UNSPECIFIED")
        if request.headers.get("x-api-key") != KEY:
            return error(401, "Missing or invalid X-API-Key", kind="ERROR_TYPE_UNSPECIFIED")
        return None

    async def _json(self, request: Request) -> dict[str, Any] | JSONResponse:
        """The request's JSON object, or the answer refusing it (401, 400)."""
        refused = await self._checked(request)
        if refused:
            return refused
        try:
            data = json.loads(await request.body())
        except ValueError:
            return error(400, "Malformed request body")
        if not isinstance(data, dict):
            return error(400, "Malformed request body")
        return self._config_problem(data) or data

    def _config_problem(self, data: dict[str, Any]) -> JSONResponse | None:
        address = data.get("address")
        if address is not None and not (isinstance(address, str)
                                        and address.startswith("https://")):
            return error(400, "address must be a public HTTPS URL")
        if "type" in data and data["type"] not in TYPES:
            return error(400, f"invalid type {data['type']!r}")
        config = data.get("configuration", {})
        if not isinstance(config, dict) or not all(
                isinstance(f, dict) and f.get("field") and f.get("expression")
                for f in config.get("filters", [])):
            return error(400, "invalid configuration")
        return None

    def start(self) -> ConnectlyStandIn:
        async def listing(request: Request) -> JSONResponse:
            refused = await self._checked(request)
            return refused or JSONResponse({"entity": {
                "businessId": request.path_params["business"],
                "webhooks": list(self.hooks.values())}})

        async def create(request: Request) -> JSONResponse:
            data = await self._json(request)
            if isinstance(data, JSONResponse):
                return data
            if data.get("topic") not in TOPICS or not data.get("address"):
                return error(400, "topic and address are required")
            if any(h["topic"] == data["topic"] for h in self.hooks.values()):
                return error(409, "An endpoint is already registered for this topic")
            hook_id = self.add(data["topic"], data["address"])
            self.hooks[hook_id].update(
                {k: data[k] for k in ("type", "configuration") if k in data})
            return JSONResponse({"id": hook_id})

        async def update(request: Request) -> JSONResponse:
            data = await self._json(request)
            if isinstance(data, JSONResponse):
                return data
            if "topic" in data:
                return error(400, "topic cannot be changed")
            hook = self.hooks.get(request.path_params["hook"])
            if hook is None:
                return error(404, "webhook not found")
            if "address" in data:
                hook["address"] = data["address"]
            hook["configuration"].update(data.get("configuration", {}))
            return JSONResponse({})

        async def delete(request: Request) -> JSONResponse:
            refused = await self._checked(request)
            if refused:
                return refused
            if self.hooks.pop(request.path_params["hook"], None) is None:
                return error(404, "webhook not found")
            return JSONResponse({})

        base = "/v1/businesses/{business}"
        app = Starlette(routes=[
            Route(base + "/webhooks", listing, methods=["GET"]),
            Route(base + "/create/webhooks", create, methods=["POST"]),
            Route(base + "/update/webhooks/{hook}", update, methods=["PUT"]),
            Route(base + "/delete/webhooks/{hook}", delete, methods=["DELETE"]),
        ])
        self._served = Threaded.start(app)
        self.url = self._served.url
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
