"""Mail channels: Microsoft Graph `sendMail`, SMTP, and a local `.eml` folder for the demo.

All three render a batch with `render.render` into one message. Graph mail goes through an
injected sender (the Graph adapter's `send_mail(sender, message)`, which POSTs
`{graph}/v1.0/users/{sender}/sendMail` as the managed identity), so this module does no
Graph HTTP itself. SMTP speaks `smtplib` with STARTTLS, implicit TLS or none. The folder
channel writes the same MIME message to `PAL_ALERT_OUTBOX_DIR` so `make run` leaves files
a newcomer can open. Built by `factory.channels_for`.
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import logging
import os
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from shared import words
from shared.notify import channel, render
from shared.notify import notices as notices_

log = logging.getLogger(__name__)

SECURITY_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class MailSender(Protocol):
    def send_mail(self, sender: str, message: dict[str, Any]) -> None: ...


def batch_digest(batch: Sequence[notices_.Notice]) -> str:
    """A stable digest of the batch's notice ids: the same batch resent has the same Message-ID."""
    joined = "\n".join(sorted(n.notice_id for n in batch))
    return hashlib.sha256(joined.encode()).hexdigest()


MAX_NOTICE_HEADERS = 100  # X-PALWatch-Notice lines per message; X-PALWatch-Batch covers the whole batch


def _header_safe(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable())[:400]


def graph_message(
    rendered: render.Rendered, recipients: Sequence[str], batch: Sequence[notices_.Notice] = ()
) -> dict[str, Any]:
    """The `message` object of Graph's `POST /users/{sender}/sendMail`, with the batch's identity
    as a custom `x-` header (internetMessageHeaders; Graph takes a few custom headers only)."""
    message: dict[str, Any] = {
        "subject": rendered.subject,
        "body": {"contentType": "HTML", "content": rendered.html},
        "toRecipients": [{"emailAddress": {"address": address}} for address in recipients],
    }
    if batch:
        message["internetMessageHeaders"] = [{"name": "X-PALWatch-Batch", "value": batch_digest(batch)[:32]}]
    return message


def mime_message(
    rendered: render.Rendered,
    sender: str,
    recipients: Sequence[str],
    *,
    message_id: str,
    now: datetime,
    batch: Sequence[notices_.Notice] = (),
) -> EmailMessage:
    """A multipart/alternative email: the plain-text part first, the HTML part preferred.

    Its identity derives from its notices: `Message-ID` and `X-PALWatch-Batch` from the batch,
    one `X-PALWatch-Notice` per notice, so a resent message is recognisably the same."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject  # already one line (words.one_line): no header injection
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = email.utils.format_datetime(words.utc(now))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not reply
    if batch:
        msg["X-PALWatch-Batch"] = batch_digest(batch)[:32]
        for notice in sorted(batch, key=lambda n: n.notice_id)[:MAX_NOTICE_HEADERS]:
            msg["X-PALWatch-Notice"] = _header_safe(notice.notice_id)
    msg.set_content(words.plain_text(rendered.text))  # a customer's name may carry terminal escapes
    msg.add_alternative(rendered.html, subtype="html")
    return msg


def _message_id(batch: Sequence[notices_.Notice], sender: str) -> str:
    domain = sender.rpartition("@")[2] or "palwatch.local"
    return f"<{batch_digest(batch)[:32]}.palwatch@{domain}>"


def batch_message(
    batch: Sequence[notices_.Notice], sender: str, recipients: Sequence[str], now: datetime
) -> EmailMessage:
    """The MIME message of a batch as SMTP sends it and the `.eml` folder keeps it."""
    return mime_message(
        render.render(batch, now), sender, recipients, message_id=_message_id(batch, sender), batch=batch, now=now
    )


class GraphMailChannel:
    """Mail through Microsoft Graph, sent from a (shared) mailbox with the Mail.Send permission."""

    name = "mail"

    def __init__(
        self,
        sender: str,
        recipients: Sequence[str],
        client: MailSender | Callable[[str, dict[str, Any]], None],
    ) -> None:
        if not sender or not recipients:
            raise ValueError("Graph mail needs PAL_ALERT_MAIL_FROM and PAL_ALERT_MAIL_TO")
        self.sender = sender
        self.recipients = tuple(recipients)
        self._send = client.send_mail if hasattr(client, "send_mail") else client

    def accepts(self, notice: notices_.Notice) -> bool:
        return True

    def send(self, batch: Sequence[notices_.Notice], now: datetime) -> None:
        message = graph_message(render.render(batch, now), self.recipients, batch)
        try:
            self._send(self.sender, message)
        except Exception as exc:  # the Graph adapter's errors: classified by shape, not imported
            raise adapter_error(exc) from exc
        log.info("graph mail sent: %d notices to %d recipients", len(batch), len(self.recipients))


def adapter_error(exc: BaseException) -> channel.DeliveryError:
    """Classify an adapter error (shared.azure.errors) without importing it: notify and azure are peers."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status", None)
    if "TransientError" in names:
        transient = True
    elif isinstance(status, int) and status:
        transient = channel.transient_status(status)
    else:
        transient = "PermanentError" not in names
    return channel.DeliveryError(
        channel.describe(exc),
        transient=transient,
        retry_after=getattr(exc, "retry_after", None),
        channel_wide=isinstance(status, int) and channel.channel_wide_status(status),
        # a network failure with no answer (timeout, reset): the request may have been taken
        unknown=status is None and getattr(exc, "code", "") == "NetworkError" and channel.outcome_unknown(exc),
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class SmtpChannel:
    """Mail over SMTP for inboxes outside Microsoft 365."""

    name = "smtp"

    def __init__(  # params: smtplib's own connection options, each a keyword
        self,
        host: str,
        port: int | None = None,
        *,
        sender: str,
        recipients: Sequence[str],
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        security = security.lower()
        security = "tls" if security == "ssl" else security  # shared.settings spells implicit TLS "ssl"
        if security not in SECURITY_PORTS:
            raise ValueError(f"PAL_ALERT_SMTP_SECURITY must be starttls, tls (or ssl) or none, not {security!r}")
        if not host or not sender or not recipients:
            raise ValueError("SMTP needs PAL_ALERT_SMTP_HOST, PAL_ALERT_MAIL_FROM and PAL_ALERT_MAIL_TO")
        if username and security == "none" and not _is_loopback(host):
            raise ValueError(
                "PAL_ALERT_SMTP_USER with PAL_ALERT_SMTP_SECURITY=none would send the password in clear: "
                "use starttls or tls"
            )
        self.host = host
        self.port = port or SECURITY_PORTS[security]
        self.security = security
        self.sender = sender
        self.recipients = tuple(recipients)
        self.username = username
        self._password = password
        self.timeout = timeout
        self._context = ssl_context

    def __repr__(self) -> str:  # never show the password
        return f"SmtpChannel({self.host}:{self.port}, security={self.security})"

    def accepts(self, notice: notices_.Notice) -> bool:
        return True

    def _connect(self) -> smtplib.SMTP:
        context = self._context or ssl.create_default_context()
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            client.ehlo()
            client.starttls(context=context)
            client.ehlo()
        return client

    def probe(self) -> str:
        """Connect, negotiate TLS, log in when configured, and say goodbye: no message is sent (the doctor)."""
        try:
            with self._connect() as client:
                if self.username:
                    client.login(self.username, self._password or "")
                code, _ = client.noop()
        except smtplib.SMTPResponseException as exc:
            raise channel.DeliveryError(channel.describe(exc), transient=exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise channel.DeliveryError(channel.describe(exc), transient=True) from exc
        login = ", logged in" if self.username else ""
        return f"{self.host}:{self.port} answers ({self.security}{login}; NOOP {code})"

    def send(self, batch: Sequence[notices_.Notice], now: datetime) -> None:
        msg = batch_message(batch, self.sender, self.recipients, now)
        try:
            with self._connect() as client:
                if self.username:
                    client.login(self.username, self._password or "")
                refused = client.send_message(msg, from_addr=self.sender, to_addrs=list(self.recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise channel.DeliveryError(  # every recipient refused: the setting, not the message
                f"SMTPRecipientsRefused SMTP {codes}", transient=any(c < 500 for c in codes), channel_wide=True
            ) from exc
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused, smtplib.SMTPHeloError) as exc:
            raise channel.DeliveryError(
                channel.describe(exc), transient=exc.smtp_code < 500, channel_wide=True
            ) from exc
        except smtplib.SMTPResponseException as exc:  # e.g. 530 auth required, 550/554 refusing the data
            raise channel.DeliveryError(
                channel.describe(exc), transient=exc.smtp_code < 500, channel_wide=exc.smtp_code in (421, 530, 535)
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # network, TLS, disconnects, timeouts
            unknown = channel.outcome_unknown(exc)  # a late answer to DATA: the server may have taken it
            raise channel.DeliveryError(channel.describe(exc), transient=True, unknown=unknown) from exc
        if refused:
            log.warning("smtp: %d of %d recipients refused the alert", len(refused), len(self.recipients))
        log.info("smtp mail sent: %d notices via %s:%d", len(batch), self.host, self.port)


class EmlFolderChannel:
    """Writes each message as an `.eml` file in a folder (local runs and the demo only)."""

    name = "eml"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        sender: str = "palwatch@localhost",
        recipients: Sequence[str] = ("ops@localhost",),
    ) -> None:
        self.directory = Path(directory)
        self.sender = sender
        self.recipients = tuple(recipients)

    def accepts(self, notice: notices_.Notice) -> bool:
        return True

    def probe(self) -> str:
        """The folder exists (or can be made) and takes a file: no message is written (the doctor)."""
        import os

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise channel.DeliveryError(channel.describe(exc), transient=False) from exc
        if not os.access(self.directory, os.W_OK):
            raise channel.DeliveryError("the folder is not writable", transient=False)
        return f"folder {self.directory} is writable"

    def path_for(self, batch: Sequence[notices_.Notice], now: datetime) -> Path:
        stamp = words.utc(now).strftime("%Y%m%dT%H%M%SZ")
        return self.directory / f"{stamp}-{batch_digest(batch)[:12]}.eml"

    def send(self, batch: Sequence[notices_.Notice], now: datetime) -> None:
        msg = batch_message(batch, self.sender, self.recipients, now)
        target = self.path_for(batch, now)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a reader never opens half a message.
            with tempfile.NamedTemporaryFile("wb", dir=self.directory, suffix=".tmp", delete=False) as tmp:
                tmp.write(msg.as_bytes())
            Path(tmp.name).replace(target)
        except OSError as exc:
            raise channel.DeliveryError(channel.describe(exc), transient=True) from exc
        log.info("alert written to %s", target)
