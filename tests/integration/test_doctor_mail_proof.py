"""`palwatch doctor` proves alert mail by sending, never by recommending a tenant-wide Graph Mail.Send:
with Exchange RBAC for Applications the Graph token carries no Mail.Send role, so a sent message
(remembered) or Exchange's Test-ServicePrincipalAuthorization is the proof. Through `cli.main`."""

from __future__ import annotations

import json

from shared import cli
from tests.support import demo, engines
from tests.support.mail import OPS_INBOX, SENDER


def _mail_row(capsys, *args: str) -> dict:
    cli.main(["doctor", "-o", "json", *args])
    checks = json.loads(capsys.readouterr().out)["checks"]
    return next(c for c in checks if c["name"] == "Graph: send mail")


def _without_graph_mail_send(emulator) -> None:
    scenario = demo.scenario_copy()
    mi = demo.principal_in(scenario, demo.MI)
    mi["graphAppRoles"] = [r for r in mi["graphAppRoles"] if r != "Mail.Send"]
    emulator.reset(scenario)


def test_unproven_mail_says_how_to_prove_it_and_never_suggests_the_tenant_wide_grant(
    emulator, palwatch, monkeypatch, capsys
):
    engines.rebuilt(monkeypatch, PAL_ALERT_MAIL_FROM=SENDER, PAL_ALERT_MAIL_TO=OPS_INBOX)
    _without_graph_mail_send(emulator)
    row = _mail_row(capsys)
    assert row["status"] == "WARN"
    assert "--send-test-alert" in row["fix"]
    assert "Test-ServicePrincipalAuthorization" in row["fix"]
    assert "appRoleAssignments" not in row["fix"]  # the unscoped Graph grant
    assert "b633e1c5" not in row["fix"]


def test_a_sent_test_message_proves_mail_for_later_checks(emulator, palwatch, monkeypatch, capsys):
    engines.rebuilt(monkeypatch, PAL_ALERT_MAIL_FROM=SENDER, PAL_ALERT_MAIL_TO=OPS_INBOX)
    emulator.control("DELETE", "/mailbox")
    sent = _mail_row(capsys, "--send-test-alert")
    assert sent["status"] == "OK"
    assert "proven" in sent["detail"]

    _without_graph_mail_send(emulator)  # as Exchange RBAC for Applications leaves the token
    later = _mail_row(capsys)
    assert later["status"] == "OK"
    assert f"proven by a message sent from {SENDER}" in later["detail"]
