"""A scripted HTTP server on 127.0.0.1 standing in for ARM and Graph in unit tests, so urllib3's
retry logic runs for real; the `service` fixture (tests/unit/conftest.py) starts one per test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from azure.core.credentials import AccessToken

from shared.azure.http import AzureHttpClient

TOKEN = "eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ0In0.c2lnbmF0dXJlLXNlY3JldA"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    raw: bytes | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeService:
    """Answers each request with the next scripted reply for its path (the last one repeats)."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.handler: Callable[[Seen], Reply] | None = None
        self.seen: list[Seen] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length) if length else b"")
                service.seen.append(seen)
                reply = service.reply_for(seen)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = (
                    reply.raw
                    if reply.raw is not None
                    else (b"" if reply.body is None else json.dumps(reply.body).encode())
                )
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = _handle  # noqa: N815 - http.server's names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def reply_for(self, seen: Seen) -> Reply:
        path = seen.path.split("?", 1)[0]
        if path in self.script:
            replies = self.script[path]
            return replies.pop(0) if len(replies) > 1 else replies[0]
        if self.handler is not None:
            return self.handler(seen)
        return Reply(404, {"error": {"code": "NotFound", "message": "no route"}})

    def on(self, path: str, *replies: Reply) -> None:
        self.script[path] = list(replies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeCredential:
    """A credential that hands out TOKEN, or raises `error`; counts its calls."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return AccessToken(TOKEN, 4_000_000_000)


def client(service: FakeService, credential: Any = None, **kwargs: Any) -> AzureHttpClient:
    options = {"timeout": 5.0, "max_retries": 3, "backoff_factor": 0.0}
    options.update(kwargs)
    return AzureHttpClient(
        service.url, credential or FakeCredential(), "https://management.azure.com/.default", **options
    )


def running() -> Iterator[FakeService]:
    """A FakeService for one test, stopped after it."""
    fake = FakeService()
    yield fake
    fake.close()
