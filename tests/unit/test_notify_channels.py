"""Graph mail through an injected sender, the `.eml` folder channel, and building channels from settings."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import model
from shared import settings as settings_module
from shared.notify import channel, eventgrid, factory, mail, notices, webhook

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"


def batch() -> list[notices.Notice]:
    f = model.Finding(
        key="c1",
        kind="attribution_lost",
        severity=model.Severity.CRITICAL,
        subject="s",
        title="Attribution lost",
        tenant_name=HOSTILE,
        tenant_id="t-1",
        fix="az managementpartner create --partner-id 1234567",
    )
    return [notices.Notice(finding=f, kind=notices.NoticeKind.OPENED, since=T0)]


class FakeGraph:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.error = error

    def send_mail(self, sender: str, message: dict[str, Any]) -> None:
        if self.error:
            raise self.error
        self.sent.append((sender, message))


def test_graph_mail_message_has_subject_html_body_and_recipients() -> None:
    graph = FakeGraph()
    mail.GraphMailChannel("alerts@partner.example", ["ops@partner.example", "noc@partner.example"], graph).send(
        batch(), T0
    )
    [(sender, message)] = graph.sent
    assert sender == "alerts@partner.example"
    assert message["subject"].startswith("[PAL Watch] 1 critical: Partner credit lost")
    assert message["body"]["contentType"] == "HTML"
    assert "&lt;img src=x onerror=alert(1)&gt;" in message["body"]["content"]
    assert HOSTILE not in message["body"]["content"]
    assert message["toRecipients"] == [
        {"emailAddress": {"address": "ops@partner.example"}},
        {"emailAddress": {"address": "noc@partner.example"}},
    ]


def test_graph_mail_accepts_a_plain_callable() -> None:
    calls = []
    mail.GraphMailChannel("a@p.example", ["o@p.example"], lambda s, m: calls.append(s)).send(batch(), T0)
    assert calls == ["a@p.example"]


class TransientError(Exception):  # the shape of shared.azure.errors, by name and attributes
    status = 503
    retry_after = 7.0


class ForbiddenError(Exception):
    status = 403
    retry_after = None


@pytest.mark.parametrize(
    ("error", "transient"), [(TransientError("x"), True), (ForbiddenError("no"), False), (RuntimeError("?"), True)]
)
def test_graph_adapter_errors_are_classified_without_importing_them(error: Exception, transient: bool) -> None:
    ch = mail.GraphMailChannel("a@p.example", ["o@p.example"], FakeGraph(error))
    with pytest.raises(channel.DeliveryError) as info:
        ch.send(batch(), T0)
    assert info.value.transient is transient
    assert info.value.message.startswith(type(error).__name__)


def test_eml_folder_writes_an_openable_multipart_message(tmp_path) -> None:
    ch = mail.EmlFolderChannel(tmp_path / "inbox")
    ch.send(batch(), T0)
    ch.send(batch(), T0)  # the same batch again: same file, not a second one
    files = sorted((tmp_path / "inbox").glob("*.eml"))
    assert len(files) == 1
    assert files[0].name.startswith("20250301T080000Z-")
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert "&lt;img" in msg.get_body(("html",)).get_content()
    assert HOSTILE in msg.get_body(("plain",)).get_content()
    assert list((tmp_path / "inbox").glob("*.tmp")) == []


BASE = {"PAL_PARTNER_ID": "1234567", "PAL_MANAGING_TENANT_ID": "00000000-0000-0000-0000-0000000000aa"}


def settings_of(env: dict[str, str]) -> settings_module.Settings:
    return settings_module.load_settings({**BASE, **env})


def test_channels_are_built_from_the_settings_for_what_is_configured(tmp_path) -> None:
    env = {
        "PAL_ALERT_MAIL_FROM": "alerts@partner.example",
        "PAL_ALERT_MAIL_TO": "ops@partner.example; noc@partner.example",
        "PAL_ALERT_WEBHOOK_URL": "https://hooks.example/x?sig=1",
        "PAL_EVENTS_TOPIC_ENDPOINT": "https://topic.westeurope-1.eventgrid.azure.net/api/events",
        "PAL_ALERT_OUTBOX_DIR": str(tmp_path),
    }
    built = factory.channels_for(settings_of(env), graph_mail=FakeGraph(), eventgrid_credential=object())
    assert [type(c) for c in built] == [
        mail.GraphMailChannel,
        webhook.WebhookChannel,
        eventgrid.EventGridChannel,
        mail.EmlFolderChannel,
    ]
    assert built[0].recipients == ("ops@partner.example", "noc@partner.example")
    assert all(isinstance(c, channel.Channel) for c in built)
    smtp = factory.channels_for(
        settings_of({**env, "PAL_ALERT_SMTP_HOST": "smtp.partner.example", "PAL_ALERT_SMTP_SECURITY": "tls"}),
        graph_mail=FakeGraph(),
        eventgrid_credential=object(),
    )
    assert isinstance(smtp[0], mail.SmtpChannel)
    assert smtp[0].port == 465
    assert smtp[0].recipients == ("ops@partner.example", "noc@partner.example")
    assert factory.channels_for(settings_of({})) == []


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"PAL_ALERT_MAIL_FROM": "a@p.example"}, "PAL_ALERT_MAIL_TO"),
        ({"PAL_ALERT_MAIL_TO": "o@p.example"}, "PAL_ALERT_MAIL_FROM"),
        ({"PAL_ALERT_SMTP_HOST": "h", "PAL_ALERT_MAIL_TO": "o@p.example"}, "PAL_ALERT_MAIL_FROM"),
        (
            {
                "PAL_ALERT_SMTP_HOST": "h",
                "PAL_ALERT_MAIL_FROM": "a@p",
                "PAL_ALERT_MAIL_TO": "o@p",
                "PAL_ALERT_SMTP_SECURITY": "ssl3",
            },
            "PAL_ALERT_SMTP_SECURITY",
        ),
        (
            {
                "PAL_ALERT_SMTP_HOST": "smtp.partner.example",
                "PAL_ALERT_MAIL_FROM": "a@p",
                "PAL_ALERT_MAIL_TO": "o@p",
                "PAL_ALERT_SMTP_USER": "u",
                "PAL_ALERT_SMTP_SECURITY": "none",
            },
            "PAL_ALERT_SMTP_SECURITY",
        ),
        ({"PAL_ALERT_SMTP_HOST": "h", "PAL_ALERT_SMTP_PORT": "x"}, "PAL_ALERT_SMTP_PORT"),
        ({"PAL_ALERT_WEBHOOK_URL": "http://hooks.example/x"}, "PAL_ALERT_WEBHOOK_URL"),
        ({"PAL_ALERT_REMIND_HOURS": "daily"}, "PAL_ALERT_REMIND_HOURS"),
        ({"PAL_ALERT_REMIND_HOURS": "-1"}, "PAL_ALERT_REMIND_HOURS"),
    ],
)
def test_incomplete_settings_name_what_to_fix(env: dict[str, str], setting: str) -> None:
    with pytest.raises(settings_module.SettingsError) as info:
        settings_of(env)
    assert setting in [name for name, _ in info.value.problems], info.value.problems


def test_a_configured_channel_without_its_wiring_is_refused() -> None:
    topic = settings_of({"PAL_EVENTS_TOPIC_ENDPOINT": "https://t.example/api/events"})
    with pytest.raises(ValueError, match="credential"):
        factory.channels_for(topic)
    with pytest.raises(ValueError, match="Graph mail"):
        factory.channels_for(settings_of({"PAL_ALERT_MAIL_FROM": "a@p.example", "PAL_ALERT_MAIL_TO": "o@p.example"}))


@pytest.mark.parametrize(("raw", "hours"), [(None, 24), ("0", 0), ("6", 6)])
def test_remind_hours_setting(raw: str | None, hours: int) -> None:
    env = {} if raw is None else {"PAL_ALERT_REMIND_HOURS": raw}
    assert settings_of(env).alerts.remind_every.total_seconds() == hours * 3600


def test_only_a_connection_that_never_opened_proves_a_send_was_not_taken() -> None:
    """A refused connection or an unknown name sent nothing (the notices may join a new message);
    a timeout or a reset may come after the server took the message (resent only as it was)."""
    import socket

    import requests

    from scripts.services import free_port

    port = free_port()  # nothing listens there
    refused = mail.SmtpChannel("127.0.0.1", port, sender="a@contoso.example", recipients=["b@contoso.example"])
    with pytest.raises(channel.DeliveryError) as smtp_refused:
        refused.send(batch(), datetime(2026, 1, 1, tzinfo=UTC))
    assert smtp_refused.value.transient
    assert not smtp_refused.value.unknown
    with pytest.raises(requests.ConnectionError) as http_refused:
        requests.post(f"http://127.0.0.1:{port}/", timeout=2)
    assert not channel.outcome_unknown(http_refused.value)
    assert not channel.outcome_unknown(socket.gaierror("no such host"))
    assert channel.outcome_unknown(TimeoutError("timed out"))
    assert channel.outcome_unknown(ConnectionResetError("reset by peer"))
    assert channel.outcome_unknown(requests.ReadTimeout("read timed out"))


def test_a_graph_send_lost_to_a_timeout_is_of_unknown_outcome_and_a_refusal_is_not() -> None:
    import requests

    from shared.azure import errors

    def lost(cause: BaseException) -> errors.TransientError:
        try:
            raise errors.TransientError("POST /users/x/sendMail: ReadTimeout", code="NetworkError") from cause
        except errors.TransientError as exc:
            return exc

    assert mail.adapter_error(lost(requests.ReadTimeout("read timed out"))).unknown
    assert not mail.adapter_error(lost(ConnectionRefusedError("refused"))).unknown
    assert not mail.adapter_error(errors.TransientError("throttled", status=429)).unknown
