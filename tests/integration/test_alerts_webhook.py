"""Webhook and Event Grid channels against local receivers (HTTP, and HTTPS with a trustme CA)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from azure.core.credentials import AccessToken, AzureKeyCredential

from shared import model
from shared.notify import channel, dispatch, eventgrid, notices, webhook
from shared.store import outbox as outbox_
from tests.support.services import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"
MANAGING = "99999999-9999-9999-9999-999999999999"


def batch() -> list[notices.Notice]:
    f1 = model.Finding(
        key="c1",
        kind="attribution_lost",
        severity=model.Severity.CRITICAL,
        subject="s",
        title="Attribution lost",
        tenant_name=HOSTILE,
        tenant_id="t-1",
        scope="/subscriptions/s1",
        fix="az managementpartner create --partner-id 1234567",
        facts={"identity": "ops"},
    )
    f2 = model.Finding(
        key="w1",
        kind="identity_lost",
        severity=model.Severity.WARNING,
        subject="s",
        title="Identity lost",
        tenant_name="Fabrikam [x](https://evil.example)",
        tenant_id="t-2",
    )
    return [
        notices.Notice(finding=f2, kind=notices.NoticeKind.OPENED, since=T0),
        notices.Notice(finding=f1, kind=notices.NoticeKind.OPENED, since=T0),
        notices.Notice(finding=f1, kind=notices.NoticeKind.REMINDER, since=T0, sequence=1),
        notices.Notice(finding=f2, kind=notices.NoticeKind.RESOLVED, since=T0, resolved_at=T0 + timedelta(hours=3)),
    ]


def test_webhook_posts_structured_findings_and_a_text_summary() -> None:
    with Receiver() as rx:
        ch = webhook.WebhookChannel(f"http://127.0.0.1:{rx.port}/hook?sig=SECRET", retries=0)
        ch.send(batch(), T0)
    assert len(rx.requests) == 1
    req = rx.requests[0]
    assert req["path"] == "/hook?sig=SECRET"
    assert req["headers"]["Content-Type"] == "application/json"
    body = json.loads(req["body"])
    assert [n["finding"]["key"] for n in body["notices"]] == ["c1", "c1", "w1", "w1"]  # most severe first
    assert [n["kind"] for n in body["notices"]] == ["opened", "reminder", "opened", "resolved"]
    assert body["notices"][0]["finding"]["tenantName"] == HOSTILE  # data stays data
    assert body["notices"][0]["finding"]["fix"].startswith("az managementpartner")
    assert body["counts"] == {"critical": 2, "warning": 1, "resolved": 1}
    # w1 opened and resolved in this one message: one line, counted as resolved, never also "New".
    assert body["text"].startswith("[PAL Watch] 2 critical, 1 resolved")
    assert len(body["text"].splitlines()) == 4
    assert "Opened and resolved: Identity lost" in body["text"]
    card = json.dumps(body["attachments"][0]["content"])
    assert "[x](https" not in card  # markdown escaped: no link smuggled into Teams
    assert "SECRET" not in repr(ch)


def test_webhook_retries_5xx_then_delivers() -> None:
    with Receiver() as rx:
        rx.statuses = [503]
        webhook.WebhookChannel(f"http://127.0.0.1:{rx.port}/", retries=2, backoff_factor=0).send(batch(), T0)
    assert len(rx.requests) == 2


@pytest.mark.parametrize(("status", "transient"), [(400, False), (404, False), (429, True), (500, True)])
def test_webhook_failures_become_classified_delivery_errors(status: int, transient: bool) -> None:
    with Receiver() as rx:
        rx.statuses = [status]
        ch = webhook.WebhookChannel(f"http://127.0.0.1:{rx.port}/x?sig=SECRET", retries=0)
        with pytest.raises(channel.DeliveryError) as info:
            ch.send(batch(), T0)
    assert info.value.transient is transient
    assert "SECRET" not in info.value.message


def test_webhook_down_is_a_transient_delivery_error() -> None:
    with Receiver() as rx:
        port = rx.port
    ch = webhook.WebhookChannel(f"http://127.0.0.1:{port}/?sig=SECRET", retries=0)
    with pytest.raises(channel.DeliveryError) as info:
        ch.send(batch(), T0)
    assert info.value.transient
    assert "SECRET" not in info.value.message


def test_webhook_refuses_plain_http_off_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        webhook.WebhookChannel("http://hooks.example.com/x")


# -- Event Grid -------------------------------------------------------------------------------


class ConstantToken:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("constant-token", 4_102_444_800)


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Iterator[tuple[ssl.SSLContext, str]]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return server, str(bundle)


def test_event_grid_publishes_one_cloudevent_per_opened_or_resolved_finding(tls) -> None:
    server_ctx, bundle = tls
    credential = ConstantToken()
    with Receiver(server_ctx) as rx:
        ch = eventgrid.EventGridChannel(
            f"https://127.0.0.1:{rx.port}/api/events", credential, managing_tenant_id=MANAGING, connection_verify=bundle
        )
        ch.send(batch(), T0)
    assert len(rx.requests) == 1
    req = rx.requests[0]
    assert req["path"].startswith("/api/events")
    assert req["headers"]["Authorization"] == "Bearer constant-token"
    assert req["headers"]["Content-Type"].startswith("application/cloudevents-batch+json")
    assert credential.scopes == [("https://eventgrid.azure.net/.default",)]
    events = json.loads(req["body"])
    assert [(e["type"], e["data"]["key"]) for e in events] == [
        ("PalWatch.Finding.Opened", "w1"),
        ("PalWatch.Finding.Opened", "c1"),
        ("PalWatch.Finding.Resolved", "w1"),
    ]  # the reminder is not an event
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["source"] == f"/palwatch/{MANAGING}"
        assert len(event["id"]) == 32
    assert events[1]["data"]["tenantName"] == HOSTILE
    assert events[1]["data"]["severity"] == "critical"
    assert events[1]["subject"] == "c1"
    assert events[2]["data"]["resolvedAt"] == (T0 + timedelta(hours=3)).isoformat()
    assert events[0]["id"] == eventgrid.event_id(batch()[0])  # stable: subscribers can drop copies


def test_event_grid_with_access_key_and_failures(tls) -> None:
    server_ctx, bundle = tls
    with Receiver(server_ctx) as rx:
        rx.statuses = [401, 503]
        ch = eventgrid.EventGridChannel(
            f"https://127.0.0.1:{rx.port}/api/events",
            AzureKeyCredential("k3y"),
            managing_tenant_id=MANAGING,
            connection_verify=bundle,
            retry_total=0,
        )
        with pytest.raises(channel.DeliveryError) as denied:
            ch.send(batch(), T0)
        with pytest.raises(channel.DeliveryError) as busy:
            ch.send(batch(), T0)
        ch.send(batch(), T0)
    assert rx.requests[0]["headers"]["aeg-sas-key"] == "k3y"
    assert not denied.value.transient
    assert busy.value.transient
    assert "k3y" not in denied.value.message + busy.value.message
    assert len(rx.requests) == 3


def test_event_grid_untrusted_certificate_is_a_delivery_error(tls) -> None:
    server_ctx, _ = tls
    with Receiver(server_ctx) as rx:
        ch = eventgrid.EventGridChannel(
            f"https://127.0.0.1:{rx.port}/api/events", ConstantToken(), managing_tenant_id=MANAGING, retry_total=0
        )
        with pytest.raises(channel.DeliveryError) as info:
            ch.send(batch(), T0)
    assert info.value.transient


def test_webhook_and_event_grid_through_the_outbox(azurite: str, tls) -> None:
    server_ctx, bundle = tls
    box = outbox_.Outbox(azurite, prefix="wh" + str(id(tls) % 10_000_000))
    with Receiver() as hook_rx, Receiver(server_ctx) as grid_rx:
        hook = webhook.WebhookChannel(f"http://127.0.0.1:{hook_rx.port}/", retries=0)
        grid = eventgrid.EventGridChannel(
            f"https://127.0.0.1:{grid_rx.port}/api/events",
            ConstantToken(),
            managing_tenant_id=MANAGING,
            connection_verify=bundle,
            retry_total=0,
        )
        d = dispatch.Dispatcher(box, [hook, grid])
        box.enqueue(batch(), T0)
        box.enqueue(batch(), T0)
        grid_rx.statuses = [500]
        first = d.dispatch(T0)
        d.dispatch(T0 + timedelta(hours=1))
        d.dispatch(T0 + timedelta(hours=2))
    assert first.channels["eventgrid"].failed == 3
    assert first.channels["eventgrid"].skipped == 1
    assert len(hook_rx.requests) == 1
    assert len(json.loads(hook_rx.requests[0]["body"])["notices"]) == 4
    assert len(grid_rx.requests) == 2  # one failed, one delivered
    assert len(json.loads(grid_rx.requests[1]["body"])) == 3
    assert box.list_pending() == []
