"""The services the tests talk to, started, reset and stopped here; conftest.py files only declare
the fixtures that call these.

Every service listens on 127.0.0.1 on a free port. Under pytest-xdist each worker is its own
process with its own session, so each worker starts one emulator and one Azurite of its own;
tests share them within a worker and reset what they change (the emulator's world, a fresh set of
tables per engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from scripts import services as local_services
from scripts.services import DEMO_SCENARIO, ROOT, Emulator, free_port
from tests.support import engines

__all__ = ["DEMO_SCENARIO", "ROOT", "Emulator", "free_port"]


# ---------------------------------------------------------------------------------- emulator, Azurite


def azurite() -> Iterator[str]:
    """A fresh in-memory Azurite table service for the session; yields its connection string."""
    with local_services.azurite() as connection_string:
        yield connection_string


def emulator() -> Iterator[Emulator]:
    """One emulator for the session, on the demo scenario; tests reset it as they need."""
    with local_services.emulator() as running:
        yield running


def on_demo(running: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator back on the demo scenario with no faults, its settings in the environment."""
    running.reset()
    running.control("DELETE", "/faults")
    for name, value in running.env.items():
        monkeypatch.setenv(name, value)
    return running


def palwatch(azurite_connection: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The engine as the function app builds it, on a fresh set of tables in Azurite."""
    from shared.usecases import engine

    yield engines.on_fresh_tables(monkeypatch, AzureWebJobsStorage=azurite_connection)
    engine.reset_engine()


# ------------------------------------------------------------------------------------------- SMTP


class Inbox:
    """An SMTP handler that keeps every envelope it is given: (sender, recipients, raw message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


class Mailroom:
    """An SMTP handler whose password and refusals a test changes while the worker runs."""

    def __init__(self) -> None:
        self.password = b"pa55"
        self.refuse_all = False
        self.refuse_notice = ""  # refuse messages carrying a notice whose id holds this
        self.slow_seconds = 0.0  # answer a message this long after taking it (past the client's timeout)
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_all:
            return "554 5.7.1 Message rejected"
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        if self.refuse_notice and any(self.refuse_notice in i for i in message.get_all("X-PALWatch-Notice", [])):
            return "550 5.7.1 Content refused"
        self.messages.append(message)
        if self.slow_seconds:  # taken, but the answer comes late
            await asyncio.sleep(self.slow_seconds)
        return "250 OK"

    def auth(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=auth_data.login == b"alerts" and auth_data.password == self.password, handled=False)

    def notice_ids(self) -> list[str]:
        return [i for m in self.messages for i in m.get_all("X-PALWatch-Notice", [])]

    def bodies(self) -> str:
        return "\n".join(m.get_body(("plain",)).get_content() for m in self.messages)


@contextlib.contextmanager
def smtp_server(handler: Any, port: int = 0, **options: Any) -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on loopback handing mail to `handler`; yields its port."""
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_alerts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailroom]:
    """The engine's alerts going to a Mailroom over plain SMTP with a login."""
    from shared.usecases import engine

    mailroom = Mailroom()
    with smtp_server(mailroom, authenticator=mailroom.auth, auth_require_tls=False) as port:
        for name, value in {
            "PAL_ALERT_SMTP_HOST": "127.0.0.1",
            "PAL_ALERT_SMTP_PORT": str(port),
            "PAL_ALERT_SMTP_SECURITY": "none",
            "PAL_ALERT_SMTP_USER": "alerts",
            "PAL_ALERT_SMTP_PASSWORD": "pa55",
            "PAL_ALERT_MAIL_FROM": "palwatch@contoso.example",
            "PAL_ALERT_MAIL_TO": "ops@contoso.example",
        }.items():
            monkeypatch.setenv(name, value)
        engine.reset_engine()
        try:
            yield mailroom
        finally:
            engine.reset_engine()


# ---------------------------------------------------------------------------------------- webhooks


class Receiver:
    """A loopback HTTP(S) server recording requests; `statuses` are answered in turn, then 200."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
