"""SMTP channel against a real SMTP server on loopback (aiosmtpd): plain, STARTTLS with login, TLS."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from shared import model
from shared.notify import channel, dispatch, mail, notices
from shared.store import outbox as outbox_
from tests.support.services import Inbox, free_port, smtp_server

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def _auth(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == b"alerts" and auth_data.password == b"pa55"
    return AuthResult(success=ok, handled=False)


def _serve(**options) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with smtp_server(inbox, **options) as port:
        yield inbox, port


@pytest.fixture
def plain_server() -> Iterator[tuple[Inbox, int]]:
    yield from _serve()


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[tuple[Inbox, int]]:
    yield from _serve(
        tls_context=_server_context(ca), require_starttls=True, authenticator=_auth, auth_require_tls=True
    )


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[tuple[Inbox, int]]:
    yield from _serve(ssl_context=_server_context(ca))


def batch() -> list[notices.Notice]:
    out = []
    for key, severity, name in (("w", model.Severity.WARNING, "Fabrikam"), ("c", model.Severity.CRITICAL, HOSTILE)):
        f = model.Finding(
            key=key,
            kind="attribution_lost",
            severity=severity,
            subject=key,
            title=f"Attribution lost: {name}",
            tenant_name=name,
            tenant_id="33333333-3333-3333-3333-333333333333",
            scope="/subscriptions/44444444-4444-4444-4444-444444444444",
            detail="The linked user was deleted.",
            fix="az managementpartner create --partner-id 1234567",
        )
        out.append(notices.Notice(finding=f, kind=notices.NoticeKind.OPENED, since=T0))
    return out


def _parts(raw: bytes) -> tuple[email.message.EmailMessage, str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    return msg, text, html


def test_plain_smtp_delivers_multipart_mail_with_escaped_html(plain_server) -> None:
    inbox, port = plain_server
    ch = mail.SmtpChannel(
        "127.0.0.1",
        port,
        security="none",
        sender="palwatch@partner.example",
        recipients=["ops@partner.example", "noc@partner.example"],
    )
    ch.send(batch(), T0)
    assert len(inbox.messages) == 1
    sender, rcpts, raw = inbox.messages[0]
    assert sender == "palwatch@partner.example"
    assert rcpts == ["ops@partner.example", "noc@partner.example"]
    msg, text, html = _parts(raw)
    assert msg["Subject"].startswith("[PAL Watch] 1 critical, 1 warning: Partner credit lost — <img")
    assert msg["Message-ID"].endswith("@partner.example>")
    assert HOSTILE in text
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert text.index("[CRITICAL]") < text.index("[WARNING]")  # most severe first
    assert "az managementpartner create --partner-id 1234567" in html


def test_starttls_with_login(starttls_server, client_context) -> None:
    inbox, port = starttls_server
    ch = mail.SmtpChannel(
        "127.0.0.1",
        port,
        security="starttls",
        sender="a@p.example",
        recipients=["o@p.example"],
        username="alerts",
        password="pa55",
        ssl_context=client_context,
    )
    ch.send(batch(), T0)
    assert len(inbox.messages) == 1
    assert "pa55" not in repr(ch)


def test_wrong_password_is_a_permanent_delivery_error(starttls_server, client_context) -> None:
    _, port = starttls_server
    ch = mail.SmtpChannel(
        "127.0.0.1",
        port,
        security="starttls",
        sender="a@p.example",
        recipients=["o@p.example"],
        username="alerts",
        password="wrong",
        ssl_context=client_context,
    )
    with pytest.raises(channel.DeliveryError) as info:
        ch.send(batch(), T0)
    assert not info.value.transient
    assert "wrong" not in info.value.message


def test_implicit_tls(tls_server, client_context) -> None:
    inbox, port = tls_server
    ch = mail.SmtpChannel(
        "127.0.0.1", port, security="tls", sender="a@p.example", recipients=["o@p.example"], ssl_context=client_context
    )
    ch.send(batch(), T0)
    assert len(inbox.messages) == 1


def test_untrusted_certificate_is_a_delivery_error_not_an_ssl_exception(tls_server) -> None:
    _, port = tls_server
    ch = mail.SmtpChannel("127.0.0.1", port, security="tls", sender="a@p.example", recipients=["o@p.example"])
    with pytest.raises(channel.DeliveryError, match="SSLCertVerificationError"):
        ch.send(batch(), T0)


def test_server_down_then_up_through_the_outbox_delivers_once(azurite: str) -> None:
    port = free_port()
    ch = mail.SmtpChannel("127.0.0.1", port, security="none", sender="a@p.example", recipients=["o@p.example"])
    box = outbox_.Outbox(azurite, prefix="smtp" + str(port))
    d = dispatch.Dispatcher(box, [ch])
    box.enqueue(batch(), T0)
    report = d.dispatch(T0)  # nothing listens yet
    assert report.channels["smtp"].failed == 2
    assert report.channels["smtp"].errors
    inbox = Inbox()
    with smtp_server(inbox, port=port):
        d.dispatch(T0.replace(hour=10))
        d.dispatch(T0.replace(hour=11))
    assert len(inbox.messages) == 1
    _, text, _ = _parts(inbox.messages[0][2])
    assert text.count("What happened:") == 2


def test_password_over_plaintext_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ValueError, match="in clear"):
        mail.SmtpChannel(
            "smtp.partner.example",
            25,
            security="none",
            sender="a@p.example",
            recipients=["o@p.example"],
            username="u",
            password="p",
        )
