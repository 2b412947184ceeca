"""Builds the configured alert channels from app settings (the `PAL_ALERT_*` names).

The alert use case calls `channels_from_env(os.environ, graph_mail=..., eventgrid_credential=...)`
once per invocation (or uses the typed settings object and the channel constructors
directly). Things that need other layers come in as arguments: the Graph adapter's
`send_mail` and the managed identity credential, so this module imports no adapter.
Several channels can be active at once; an incomplete configuration raises `ValueError`
naming the setting to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from shared.notify import channel, eventgrid, mail, webhook


def _list(value: str) -> list[str]:
    return [part for part in re.split(r"[,;\s]+", value) if part]


def remind_every_from_env(environ: Mapping[str, str]) -> timedelta:
    """`PAL_ALERT_REMIND_HOURS` (default 24; 0 turns reminders off)."""
    raw = environ.get("PAL_ALERT_REMIND_HOURS", "").strip() or "24"
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"PAL_ALERT_REMIND_HOURS must be a number of hours, not {raw!r}") from None
    if hours < 0:
        raise ValueError("PAL_ALERT_REMIND_HOURS must be 0 (off) or more")
    return timedelta(hours=hours)


def channels_from_env(
    environ: Mapping[str, str],
    *,
    graph_mail: Any = None,
    eventgrid_credential: Any = None,
    timeout: float = 30.0,
) -> list[channel.Channel]:
    """The channels the settings ask for.

    Mail goes through SMTP when `PAL_ALERT_SMTP_HOST` is set, else through Graph with
    `graph_mail` (never both: the same inbox would get every alert twice).
    """
    get = lambda name: (environ.get(name) or "").strip()  # noqa: E731
    channels: list[channel.Channel] = []
    sender, recipients = get("PAL_ALERT_MAIL_FROM"), _list(get("PAL_ALERT_MAIL_TO"))
    smtp_host = get("PAL_ALERT_SMTP_HOST")
    if smtp_host:
        port = get("PAL_ALERT_SMTP_PORT")
        if port and not port.isdigit():
            raise ValueError(f"PAL_ALERT_SMTP_PORT must be a port number, not {port!r}")
        channels.append(
            mail.SmtpChannel(
                smtp_host,
                int(port) if port else None,
                sender=sender,
                recipients=recipients,
                security=get("PAL_ALERT_SMTP_SECURITY") or "starttls",
                username=get("PAL_ALERT_SMTP_USER") or None,
                password=environ.get("PAL_ALERT_SMTP_PASSWORD") or None,
                timeout=timeout,
            )
        )
    elif sender or recipients:
        if not (sender and recipients):
            raise ValueError("mail alerts need both PAL_ALERT_MAIL_FROM and PAL_ALERT_MAIL_TO")
        if graph_mail is None:
            raise ValueError("PAL_ALERT_MAIL_FROM is set but no Graph mail sender was wired")
        channels.append(mail.GraphMailChannel(sender, recipients, graph_mail))
    if get("PAL_ALERT_WEBHOOK_URL"):
        channels.append(webhook.WebhookChannel(get("PAL_ALERT_WEBHOOK_URL"), timeout=timeout))
    if get("PAL_EVENTS_TOPIC_ENDPOINT"):
        if eventgrid_credential is None:
            raise ValueError("PAL_EVENTS_TOPIC_ENDPOINT is set but no credential was wired for Event Grid")
        if not get("PAL_MANAGING_TENANT_ID"):
            raise ValueError("PAL_EVENTS_TOPIC_ENDPOINT needs PAL_MANAGING_TENANT_ID (the event source)")
        channels.append(
            eventgrid.EventGridChannel(
                get("PAL_EVENTS_TOPIC_ENDPOINT"),
                eventgrid_credential,
                managing_tenant_id=get("PAL_MANAGING_TENANT_ID"),
            )
        )
    if get("PAL_ALERT_OUTBOX_DIR"):
        channels.append(
            mail.EmlFolderChannel(
                get("PAL_ALERT_OUTBOX_DIR"),
                sender=sender or "palwatch@localhost",
                recipients=recipients or ("ops@localhost",),
            )
        )
    return channels
