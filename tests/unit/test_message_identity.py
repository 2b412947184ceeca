"""A message's identity derives from its notices: the same batch resent is recognisably the same."""

from __future__ import annotations

from datetime import UTC, datetime

from shared import model
from shared.notify import mail, notices, webhook

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def batch(*keys: str) -> list[notices.Notice]:
    return [
        notices.Notice(
            model.Finding(
                key=k, kind="attribution_lost", severity=model.Severity.CRITICAL, subject=k, title=f"Lost {k}"
            ),
            notices.NoticeKind.OPENED,
            since=T0,
        )
        for k in keys
    ]


def test_graph_mail_carries_the_batch_identity_and_a_resend_carries_the_same():
    sent: list[dict] = []
    channel = mail.GraphMailChannel("alerts@contoso.example", ["ops@contoso.example"], lambda _s, m: sent.append(m))
    channel.send(batch("a", "b"), T0)
    channel.send(batch("b", "a"), T0.replace(hour=5))  # the same notices, later, in another order
    channel.send(batch("a", "c"), T0)
    ids = [m["internetMessageHeaders"] for m in sent]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0][0]["name"].lower().startswith("x-")


def test_webhook_and_smtp_ids_follow_the_notices():
    assert webhook.payload(batch("a", "b"))["id"] == webhook.payload(batch("b", "a"))["id"]
    message = mail.mime_message(
        mail.render.render(batch("a", "b"), T0),
        "a@x.example",
        ["o@x.example"],
        message_id="<m@x>",
        now=T0,
        batch=batch("a", "b"),
    )
    assert sorted(message.get_all("X-PALWatch-Notice")) == sorted(n.notice_id for n in batch("a", "b"))
