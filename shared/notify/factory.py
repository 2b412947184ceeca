"""Builds the configured alert channels from the validated settings (`Settings.alerts`).

The alert use case and the doctor call `channels_for(settings, graph_mail=..., eventgrid_credential=...)`.
Every `PAL_ALERT_*` rule lives in shared/settings/; this module only turns what it parsed into
channel objects. Things that need other layers come in as arguments: the Graph adapter's
`send_mail` and the managed identity credential, so this module imports no adapter.
Several channels can be active at once.
"""

from __future__ import annotations

from typing import Any

from shared import settings as settings_module
from shared.notify import channel, eventgrid, mail, webhook


def channels_for(
    settings: settings_module.Settings,
    *,
    graph_mail: Any = None,
    eventgrid_credential: Any = None,
) -> list[channel.Channel]:
    """The channels the settings ask for.

    Mail goes through SMTP when `PAL_ALERT_SMTP_HOST` is set, else through Graph with
    `graph_mail` (never both: the same inbox would get every alert twice). A missing
    `graph_mail` or `eventgrid_credential` for a configured channel is a wiring error (`ValueError`).
    """
    alerts, timeout = settings.alerts, settings.http_timeout_seconds
    channels: list[channel.Channel] = []
    if alerts.smtp_host:
        channels.append(
            mail.SmtpChannel(
                alerts.smtp_host,
                alerts.smtp_port,
                sender=alerts.mail_from,
                recipients=alerts.mail_to,
                security=alerts.smtp_security,
                username=alerts.smtp_user or None,
                password=alerts.smtp_password or None,
                timeout=timeout,
            )
        )
    elif alerts.mail_from:
        if graph_mail is None:
            raise ValueError("PAL_ALERT_MAIL_FROM is set but no Graph mail sender was wired")
        channels.append(mail.GraphMailChannel(alerts.mail_from, alerts.mail_to, graph_mail))
    if alerts.webhook_url:
        channels.append(webhook.WebhookChannel(alerts.webhook_url, timeout=timeout))
    if alerts.events_topic_endpoint:
        if eventgrid_credential is None:
            raise ValueError("PAL_EVENTS_TOPIC_ENDPOINT is set but no credential was wired for Event Grid")
        channels.append(
            eventgrid.EventGridChannel(
                alerts.events_topic_endpoint,
                eventgrid_credential,
                managing_tenant_id=settings.managing_tenant_id,
            )
        )
    if alerts.outbox_dir:
        channels.append(
            mail.EmlFolderChannel(
                alerts.outbox_dir,
                sender=alerts.mail_from or "palwatch@localhost",
                recipients=alerts.mail_to or ("ops@localhost",),
            )
        )
    return channels
