"""The baseline: a bare Starlette app that reads the body and answers 200.

Run by uvicorn's CLI in its own process, with the same HTTP implementation as the inspector:
    python -m uvicorn bench.bare_app:app --http h11 --loop asyncio --port N
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

OK = b'{"ok":true}'


async def receive(request: Request) -> Response:
    await request.body()
    return Response(OK, 200, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", receive, methods=["GET", "POST", "PUT"])])
