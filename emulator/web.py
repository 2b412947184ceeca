"""Request/response values, routing and paging shared by every emulated surface.

The server (`server.py`) parses each HTTP request into a `Request`, finds its `Route`, and
writes back the `Response` a handler returns. Handlers in entra, arm_*, graph and control
modules only see these types, so they can be read without the socket plumbing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import urlencode

from emulator.world import Principal


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    base: str
    match: re.Match[str] | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    caller: Principal | None = None
    surface: str = ""  # arm | graph | entra | control | mi, once routed

    def q(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.query.items():
            if key.lower() == wanted:
                return value
        return default

    def json(self) -> Any:
        if not self.body.strip():
            return None
        return json.loads(self.body)

    @property
    def tid(self) -> str:
        return str(self.claims.get("tid", "")).lower()

    @property
    def oid(self) -> str:
        return str(self.claims.get("oid", "")).lower()


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    surface: str  # arm | graph | entra | control | mi


def route(method: str, regex: str, handler: Handler, surface: str) -> Route:
    return Route(method, re.compile("^" + regex + "$", re.IGNORECASE), handler, surface)


def arm_error(status: int, code: str, message: str, *, twice: bool = False) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if twice:  # Microsoft.ManagementPartner repeats the code at the top level
        body.update(code=code, message=message)
    return Response(status, body)


def graph_error(status: int, code: str, message: str) -> Response:
    """Graph's error body: `innerError` carries the time and a request id, as Graph sends them."""
    request_id = str(uuid.uuid4())
    return Response(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": request_id,
                },
            }
        },
    )


def page(req: Request, items: list[Any], size: int, *, graph: bool = False) -> dict[str, Any]:
    """One page of `items` by `$skiptoken` offset, with the link to the next one."""
    try:
        start = max(0, int(req.q("$skiptoken") or 0))
    except ValueError:
        start = 0
    top = req.q("$top") if graph else None
    if top and top.isdigit():
        size = max(1, min(int(top), 999))
    chunk = items[start : start + size]
    body: dict[str, Any] = {"value": chunk}
    if start + size < len(items):
        params = {k: v for k, v in req.query.items() if k.lower() != "$skiptoken"}
        params["$skiptoken"] = str(start + size)
        link = f"{req.base}{req.path}?{urlencode(params)}"
        body["@odata.nextLink" if graph else "nextLink"] = link
    return body
