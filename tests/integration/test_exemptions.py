"""Exemptions end to end: `palwatch exempt` silences exactly its finding (no mail through Microsoft
Graph, shown as accepted in `palwatch findings`), and the day it expires the finding is mailed once.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest

import function_app
from shared import cli, model
from shared.usecases import alerts
from shared.usecases import engine as engine_module
from tests.support import mail, services, triggers

NO_ELIGIBLE = "no authorization holds an eligible role"  # Woodgrove Core, offer "Contoso Monitoring"
JUST_IN_TIME = "eligible roles are only just-in-time"  # Woodgrove Dev, another offer


def _mails_about(emulator, words: str) -> int:
    return sum(words in m["message"]["body"]["content"] for m in mail.mailbox(emulator))


def test_an_exemption_silences_exactly_its_finding_until_it_expires(emulator, mailed, capsys):
    expires = (datetime.now(UTC) + timedelta(days=3)).date()
    assert (
        cli.main(
            [
                "exempt",
                "--kind",
                "unattributed_delegation",
                "--offer",
                "Contoso Monitoring",
                "--reason",
                "read-only monitoring offer",
                "--expires",
                expires.isoformat(),
            ]
        )
        == 0
    )

    triggers.verify_now()

    assert _mails_about(emulator, NO_ELIGIBLE) == 0
    assert _mails_about(emulator, JUST_IN_TIME) == 1
    capsys.readouterr()
    assert cli.main(["findings", "-o", "json"]) == 0
    accepted = {i["title"]: i["accepted"] for i in json.loads(capsys.readouterr().out)}
    (core,) = [a for t, a in accepted.items() if NO_ELIGIBLE in t]
    assert core == f"accepted: read-only monitoring offer, until {expires.isoformat()}"
    assert not [a for t, a in accepted.items() if JUST_IN_TIME in t and a]

    after = datetime.combine(expires, datetime.min.time(), UTC) + timedelta(hours=1)
    alerts.deliver(mailed, after)
    alerts.deliver(mailed, after + timedelta(hours=5))

    assert _mails_about(emulator, NO_ELIGIBLE) == 1
    assert _mails_about(emulator, JUST_IN_TIME) == 1


def test_exemptions_are_listed_and_removed(emulator, mailed, capsys):
    args = ["exempt", "--kind", "identity_lost", "--scope", "/subscriptions/x", "--reason", "r", "--expires"]
    assert cli.main([*args, "2999-01-01"]) == 0
    assert cli.main([*args, "2001-01-01"]) == cli.EXIT_USAGE  # already over
    assert cli.main(["exempt", "--kind", "identity_lost", "--reason", "r", "--expires", "2999-01-01"]) == (
        cli.EXIT_USAGE
    )  # names no place: it would silence every identity_lost
    capsys.readouterr()
    assert cli.main(["exemptions", "list", "-o", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["source"], listed["scope"], listed["expired"]) == ("store", "/subscriptions/x", False)
    assert cli.main(["exemptions", "remove", listed["id"]]) == 0
    assert cli.main(["exemptions", "remove", listed["id"]]) == cli.EXIT_FAILED
    capsys.readouterr()
    assert cli.main(["exemptions", "list", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


# -- a critical finding back from its exemption: one alert, through the watch timer and real SMTP --

LOST_SCOPE = "/subscriptions/7f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"


@pytest.fixture
def smtp_inbox(emulator, palwatch, monkeypatch):
    """Alert mail over SMTP to a real server on loopback (aiosmtpd); the engine rebuilt to use it."""
    inbox = services.Inbox()
    with services.smtp_server(inbox) as port:
        for name, value in {
            "PAL_ALERT_SMTP_HOST": "127.0.0.1",
            "PAL_ALERT_SMTP_PORT": str(port),
            "PAL_ALERT_SMTP_SECURITY": "none",
            "PAL_ALERT_MAIL_FROM": "palwatch@contosomsp.example",
            "PAL_ALERT_MAIL_TO": mail.OPS_INBOX,
        }.items():
            monkeypatch.setenv(name, value)
        engine_module.reset_engine()
        yield inbox


def _watch_at(monkeypatch, at: datetime) -> None:
    """The watch timer as the Functions host runs it, with the clock at `at`."""
    monkeypatch.setattr(function_app, "_now", lambda: at)
    triggers.watch_now()


def _entries_for(engine, key: str) -> list[str]:
    """The kinds of the outbox entries about finding `key` (`opened`, `reminder-N`)."""
    return sorted(
        e.notice_id.rsplit("|", 1)[1]
        for e in alerts.dispatcher(engine).outbox.list_entries()
        if e.notice_id.startswith(f"{key}|")
    )


def _mentions(inbox, words: str) -> list[int]:
    """How often `words` appear in the plain text of each mail the SMTP server received."""
    out = []
    for _sender, _rcpt, raw in inbox.messages:
        text = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
        out.append(text.count(words))
    return out


def test_a_critical_finding_back_from_its_exemption_is_alerted_once_and_reminded_from_then(
    emulator, palwatch, smtp_inbox, monkeypatch
):
    opened = datetime.now(UTC) - timedelta(days=10)
    title = "Attribution lost: Northwind Traders earns no partner credit on Northwind Prod"
    lost = model.Finding(
        key=f"attribution_lost:{LOST_SCOPE}",
        kind="attribution_lost",
        severity=model.Severity.CRITICAL,
        subject=f"test:{LOST_SCOPE}",
        title=title,
        scope=LOST_SCOPE,
        detail="The last linked identity with an eligible role was deleted.",
        fix="Link an identity with an eligible role.",
    )
    engine = engine_module.get_engine()
    engine.store.sync_findings(lost.subject, [lost], opened)
    expires = (datetime.now(UTC) + timedelta(days=3)).date()
    args = ["--kind", "attribution_lost", "--scope", LOST_SCOPE, "--reason", "migration", "--expires"]
    assert cli.main(["exempt", *args, expires.isoformat()]) == 0
    ended = datetime.combine(expires, datetime.min.time(), UTC)

    _watch_at(monkeypatch, ended - timedelta(hours=1))  # still exempted: nothing
    assert _entries_for(engine, lost.key) == []

    _watch_at(monkeypatch, ended + timedelta(hours=1))
    _watch_at(monkeypatch, ended + timedelta(hours=2))

    assert _entries_for(engine, lost.key) == ["opened"]
    listed = f"Reference: {lost.key}"  # one line per time a mail lists the finding
    assert [n for n in _mentions(smtp_inbox, listed) if n] == [1]  # one mail, listing it once

    _watch_at(monkeypatch, ended + timedelta(days=1, hours=1))  # a day after its return: reminder 1

    assert _entries_for(engine, lost.key) == ["opened", "reminder-1"]
    assert [n for n in _mentions(smtp_inbox, listed) if n] == [1, 1]


# -- the daily digest: an exempted finding is accepted, not action ------------------------------


def _digest_of_today(engine):
    from shared.notify import digest as digest_notice
    from shared.notify import notices

    (entry,) = [e for e in alerts.dispatcher(engine).outbox.list_entries() if e.payload.get("kind") == "digest"]
    return digest_notice.from_notice(notices.Notice.from_payload(entry.payload))


def test_the_digest_shows_an_exempted_finding_as_accepted_and_not_as_action(emulator, mailed, monkeypatch):
    monkeypatch.setenv("PAL_ALERT_DIGEST", "true")
    monkeypatch.setenv("PAL_ALERT_DIGEST_HOUR", "0")
    engine_module.reset_engine()
    engine = engine_module.get_engine()
    expires = (datetime.now(UTC) + timedelta(days=3)).date()
    args = ["--kind", "unattributed_delegation", "--offer", "Contoso Monitoring", "--reason", "read-only monitoring"]
    assert cli.main(["exempt", *args, "--expires", expires.isoformat()]) == 0
    triggers.verify_now()
    emulator.control("DELETE", "/mailbox")

    triggers.watch_now()  # the digest goes out on this tick

    summary = _digest_of_today(engine)
    assert not [i for i in summary.open_findings if NO_ELIGIBLE in i.title]
    assert [i.accepted for i in summary.accepted if NO_ELIGIBLE in i.title] == [
        f"accepted: read-only monitoring, until {expires.isoformat()}"
    ]
    assert summary.accepted_total == 1
    still_open = [r for r in engine.store.open_findings() if NO_ELIGIBLE not in r.finding.title]
    assert sum(summary.counts.values()) == len(still_open)
    core = [r for r in engine.store.get_coverage().rows if r.definition_name == "Contoso Monitoring"]
    assert core
    assert all(not r.attributed for r in core)
    tenant = core[0].customer_tenant_id
    behind = sum(1 for r in engine.store.get_coverage().rows if r.customer_tenant_id == tenant and not r.attributed)
    listed = [c for c in summary.attention if c.tenant_id == tenant]
    assert [c.not_attributed for c in listed] == ([behind - len(core)] if behind > len(core) else [])
    (digest,) = [m for m in mail.mailbox(emulator) if "daily digest" in m["message"]["subject"].lower()]
    body = digest["message"]["body"]["content"]
    assert body.count(NO_ELIGIBLE) == 1
    assert f"accepted: read-only monitoring, until {expires.isoformat()}" in body
