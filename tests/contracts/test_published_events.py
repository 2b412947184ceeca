"""The CloudEvents the engine publishes to its Event Grid topic, as they leave it, against PublishCloudEventEvents.

The engine's Event Grid channel sends through Microsoft's own client (azure-eventgrid) to a local
HTTPS stand-in for the topic; the request it receives must be what the Event Grid data-plane
spec declares: `POST /api/events` with the api-version, the CloudEvents batch content type, and a
body that is an array of valid `CloudEventEvent`s.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import trustme

from shared import model
from shared.notify import eventgrid, notices
from tests.contracts.swagger import Specs

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def topic(tmp_path: Path) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """A local HTTPS 'topic' that records every request; yields (endpoint, CA file, requests)."""
    received: list[dict[str, Any]] = []

    class Topic(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            received.append(
                {
                    "path": parts.path,
                    "query": dict(parse_qsl(parts.query)),
                    "contentType": self.headers.get("Content-Type", ""),
                    "body": json.loads(self.rfile.read(length) or b"null"),
                }
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Topic)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api/events", str(ca_file), received
    finally:
        server.shutdown()
        server.server_close()


def notices_batch() -> list[notices.Notice]:
    finding = model.Finding(
        key="unattributed_delegation/contoso", kind="unattributed_delegation", severity=model.Severity.WARNING,
        subject="s", title="Delegation earns no credit", tenant_name="Fabrikam", tenant_id="t-1", fix="link it",
    )  # fmt: skip
    return [
        notices.Notice(finding=finding, kind=notices.NoticeKind.OPENED, since=T0),
        notices.Notice(finding=finding, kind=notices.NoticeKind.RESOLVED, since=T0, resolved_at=T0),
    ]


def test_the_engine_publishes_cloudevents_as_the_event_grid_spec_declares(
    topic: tuple[str, str, list[dict[str, Any]]], specs: Specs
) -> None:
    from azure.core.credentials import AzureKeyCredential

    endpoint, ca_file, received = topic
    channel = eventgrid.EventGridChannel(
        endpoint, AzureKeyCredential("not-a-secret"), managing_tenant_id="t-home", connection_verify=ca_file
    )
    channel.send(notices_batch(), T0)
    op = specs.operation("PublishCloudEventEvents")
    (request,) = received
    assert op.pattern.match(request["path"]), request["path"]
    assert request["query"].get("api-version") == op.api_version
    assert request["contentType"].lower().startswith("application/cloudevents-batch+json")
    assert len(request["body"]) == 2
    assert specs.errors(op.body_parameter.schema, op.file, request["body"], request=True) == []
    assert {e["type"] for e in request["body"]} == {"PalWatch.Finding.Opened", "PalWatch.Finding.Resolved"}
