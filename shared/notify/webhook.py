"""Webhook channel: one JSON POST per batch, for Teams workflows, Logic Apps or any receiver.

The body carries the notices as structured JSON (`notices`, each with the finding's public
fields), a plain `text` summary, and an Adaptive Card in `attachments` so that Teams'
"post to a channel when a webhook request is received" workflow shows it as is. Retries of
connection failures, 429 and 5xx come from urllib3's `Retry`; what still fails becomes a
`DeliveryError` for the dispatcher. The URL is never logged: Teams and Logic Apps URLs carry
their signature in the query string. Built by `factory.channels_for`.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared import redaction, words
from shared.notify import channel, mail, render
from shared.notify import notices as notices_

log = logging.getLogger(__name__)

TEXT_LINES = 50
# ':' and '.' too: an escaped "https\://evil\.example" or "www\.evil" is no autolink.
_MARKDOWN = re.compile(r"([\\`*_\[\]()#+\-.!|<>{}~:@=])")


# Inside a line (ours start every line, so block markup such as '#', '-' or '1.' cannot begin one).
_INLINE = re.compile(r"([\\`*_\[\]()!|~:.@])")


def _md(value: str) -> str:
    """Adaptive Card TextBlocks parse markdown: a customer name must not become a link."""
    return _MARKDOWN.sub(r"\\\1", value)


def _chat(value: str) -> str:
    """Text for receivers that render markdown (Teams) or mrkdwn (Slack: `<url|label>` links, which
    only HTML entities defuse): entities for `&<>`, backslash escapes for the rest."""
    return _INLINE.sub(r"\\\1", value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _chat_subject(subject: str) -> str:
    """The subject with everything after our own `[PAL Watch] ` prefix escaped."""
    head, sep, rest = subject.partition("] ")
    return head + sep + _chat(rest) if head == "[PAL Watch" and sep else _chat(subject)


def summary_text(batch: Sequence[notices_.Notice]) -> str:
    """A short summary: the subject and one line per notice (what a chat message can hold, collapsed
    as mail shows it), with customer-controlled text escaped so no receiver renders it as a link or
    formatting."""
    items = render.message_items(batch)
    lines = [_chat_subject(render.subject(batch))]
    for notice, label, _ in items[:TEXT_LINES]:
        f = notice.finding
        where = f" — {f.tenant_name or f.tenant_id}" if (f.tenant_name or f.tenant_id) else ""
        lines.append(
            f"[{f.severity.value.upper()}] {label}: " + _chat(words.one_line(f"{f.title or f.key}{where}", 280))
        )
    if len(items) > TEXT_LINES:
        lines.append(f"… and {len(items) - TEXT_LINES} more")
    return "\n".join(lines)


def _card(batch: Sequence[notices_.Notice]) -> dict[str, Any]:
    items = render.message_items(batch)
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _md(render.subject(batch)), "weight": "Bolder", "wrap": True}
    ]
    for notice, label, why in items[:TEXT_LINES]:
        f = notice.finding
        facts = [
            {"title": "Severity", "value": f.severity.value},
            {"title": "Notice", "value": label},
            {"title": "Why it resolved", "value": _md(why)},
            {
                "title": "Tenant" if render.own_tenant(f) else "Customer",
                "value": _md(f"{f.tenant_name} ({f.tenant_id})" if f.tenant_id else f.tenant_name),
            },
            {"title": "Scope", "value": _md(words.scope_words(f))},
            {"title": "Since", "value": words.when(notice.since)},
        ]
        body.append({"type": "TextBlock", "text": _md(f.title or f.key), "weight": "Bolder", "wrap": True})
        body.append({"type": "FactSet", "facts": [x for x in facts if x["value"]]})
        if f.fix and notice.kind is not notices_.NoticeKind.RESOLVED:
            body.append({"type": "TextBlock", "text": _md("Fix: " + f.fix), "wrap": True, "fontType": "Monospace"})
    return {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": body,
        },
    }


def payload(batch: Sequence[notices_.Notice]) -> dict[str, Any]:
    """The JSON body. `id` is stable for the same batch, so a receiver can drop a resent duplicate."""
    items = render.ordered(batch)
    counts: dict[str, int] = {}
    for notice in items:
        label = "resolved" if notice.kind is notices_.NoticeKind.RESOLVED else notice.finding.severity.value
        counts[label] = counts.get(label, 0) + 1
    return {
        "type": "message",
        "source": "palwatch",
        "id": mail.batch_digest(items),
        "subject": _chat_subject(render.subject(items)),
        "text": summary_text(items),
        "counts": counts,
        "notices": [
            {
                "id": n.notice_id,
                "kind": n.kind.value,
                "sequence": n.sequence,
                "since": words.utc(n.since).isoformat(),
                "resolvedAt": words.utc(n.resolved_at).isoformat() if n.resolved_at else None,
                "finding": notices_.finding_to_dict(n.finding),
            }
            for n in items
        ],
        "attachments": [_card(batch)],
    }


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class WebhookChannel:
    """JSON POST to `PAL_ALERT_WEBHOOK_URL` (https, or http on loopback for local receivers)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        backoff_factor: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("PAL_ALERT_WEBHOOK_URL must be an https URL")
        self._url = url
        redaction.register_secret_url(url)  # its path holds the key: never in a log line
        self.host = parts.hostname or ""
        self.timeout = timeout
        self._session = session or requests.Session()
        # Retry what may pass a second later; the outbox retries the rest on the next runs.
        # Retry-After is not slept on here (a function must not hang): it comes back to the
        # dispatcher, which schedules the next attempt after it.
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,  # the receiver may have acted on a POST whose answer was lost
            status=retries,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"POST"}),
            backoff_factor=backoff_factor,
            backoff_max=10,
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        self._session.mount(f"{parts.scheme}://", HTTPAdapter(max_retries=retry))

    def __repr__(self) -> str:  # the URL's query is a secret
        return f"WebhookChannel(host={self.host})"

    def accepts(self, notice: notices_.Notice) -> bool:
        return True

    def send(self, batch: Sequence[notices_.Notice], now: datetime) -> None:
        try:
            response = self._session.post(self._url, json=payload(batch), timeout=self.timeout)
        except requests.RequestException as exc:
            unknown = channel.outcome_unknown(exc)
            raise channel.DeliveryError(channel.describe(exc), transient=True, unknown=unknown) from exc
        if response.status_code >= 300:
            raise channel.DeliveryError(
                f"webhook answered HTTP {response.status_code}",
                transient=channel.transient_status(response.status_code),
                retry_after=_retry_after(response),
                channel_wide=channel.channel_wide_status(response.status_code),
            )
        log.info("webhook sent: %d notices to %s (HTTP %d)", len(batch), self.host, response.status_code)
