"""Alerts end to end: findings reach the ops inbox through Microsoft Graph mail, once.

Over the emulator (Graph `sendMail` lands in its mailbox) and Azurite (the outbox): duplicated
events and overlapping watch runs give one message per finding; a wrong partner ID setting
gives one critical configuration alert that says how to fix it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import function_app
from shared.usecases import engine as engine_module
from tests.support import demo, mail, triggers, world
from tests.support.mail import SENDER
from tests.support.world import onboard


def test_duplicated_events_and_overlapping_runs_send_one_message(emulator, mailed):
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    events = onboard(emulator, body)
    for _ in range(3):
        triggers.delegation_events(events)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: triggers.watch_now(), range(3)))
    triggers.watch_now()

    messages = mail.mailbox(emulator)
    # Bob's delegation, by its assignment id: the demo has another users-only delegation of its own.
    about = [m for m in messages if body["registrationAssignmentId"].lower() in m["message"]["body"]["content"].lower()]
    assert len(about) == 1, [m["message"]["subject"] for m in messages]
    users_only = [m for m in about if "users" in m["message"]["body"]["content"].lower()]
    assert len(users_only) == 1
    message = users_only[0]["message"]
    assert users_only[0]["from"].lower() == SENDER
    assert message["toRecipients"][0]["emailAddress"]["address"] == mail.OPS_INBOX
    assert "az managementpartner create --partner-id" in message["body"]["content"]


def test_a_global_partner_id_gives_one_critical_configuration_alert_with_the_fix(emulator, mailed, monkeypatch):
    monkeypatch.setenv("PAL_PARTNER_ID", "4000001")  # the demo partner's global id: not valid for PAL
    engine_module.reset_engine()
    engine = engine_module.get_engine()

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    )
    triggers.watch_now()

    open_now = [r.finding for r in engine.store.open_findings()]
    assert not [f for f in open_now if f.kind == "link_failed"]
    config = [f for f in open_now if f.kind == "configuration"]
    assert [(f.severity.value, f.reason) for f in config] == [("critical", "partner_id_mismatch")]
    assert "PAL_PARTNER_ID=5127255" in config[0].fix
    about = [m for m in mail.mailbox(emulator) if "4000001" in m["message"]["subject"]]
    assert len(about) == 1
    assert "critical" in about[0]["message"]["subject"].lower()


def test_a_finding_opened_by_a_pass_that_crashed_before_its_alert_is_still_sent_once(emulator, mailed):
    from datetime import UTC, datetime

    from shared import model

    crashed = model.Finding(
        key="attribution:/subscriptions/x/providers/microsoft.managedservices/registrationassignments/y",
        kind="unattributed_delegation",
        severity=model.Severity.WARNING,
        subject="/subscriptions/x/providers/microsoft.managedservices/registrationassignments/y",
        title="Delegation of Crashy Ltd earns no partner credit",
        reason="users_only",
        fix="az managementpartner create --partner-id 5127255",
    )
    opened, _ = mailed.store.sync_findings(crashed.subject, [crashed], datetime.now(UTC))
    assert opened  # the store opened it; the process died before the notice reached the outbox

    triggers.watch_now()
    triggers.watch_now()

    about_it = [m for m in mail.mailbox(emulator) if "Crashy Ltd" in m["message"]["body"]["content"]]
    assert len(about_it) == 1


@pytest.mark.parametrize(("remind_hours", "reminded"), [("24", True), ("0", False)])
def test_remind_hours_zero_turns_reminders_off_through_the_watch_trigger(
    emulator, mailed, monkeypatch, remind_hours, reminded
):
    """README: `PAL_ALERT_REMIND_HOURS=0` means no reminders; every trigger still runs."""
    from datetime import UTC, datetime, timedelta

    from shared.usecases import alerts

    monkeypatch.setenv("PAL_ALERT_REMIND_HOURS", remind_hours)
    monkeypatch.setenv("PAL_PARTNER_ID", "4000001")  # a global id: one critical configuration finding, open
    engine_module.reset_engine()
    opened_at = datetime.now(UTC)
    clock = [opened_at]
    monkeypatch.setattr(function_app, "_now", lambda: clock[0])

    triggers.delegation_events(
        onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.PIPELINE, demo.CONTRIBUTOR)))
    )
    triggers.watch_now()
    engine = engine_module.get_engine()
    critical = {r.finding.key for r in engine.store.open_findings() if r.finding.severity.value == "critical"}
    assert critical
    sent_first = len(mail.mailbox(emulator))
    assert sent_first >= 1

    clock[0] = opened_at + timedelta(hours=25)
    triggers.watch_now()

    assert critical <= {r.finding.key for r in engine.store.open_findings()}  # still open a day later
    entries = alerts.dispatcher(engine).outbox.list_entries()
    reminders = {e.payload["finding"]["key"] for e in entries if e.payload["kind"] == "reminder"}
    assert reminders == (critical if reminded else set())
    assert (len(mail.mailbox(emulator)) > sent_first) is reminded
