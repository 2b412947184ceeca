"""`palwatch doctor` on the emulator: green on the demo, the right row red (with its fix) when broken."""

from __future__ import annotations

import json
import logging

import pytest

from shared import cli, doctor
from tests.support import demo, mail
from tests.support.services import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def demo_env(emulator: Emulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    import uuid

    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.setenv("PAL_TABLE_PREFIX", "d" + uuid.uuid4().hex[:12])
    monkeypatch.setenv("PAL_ALERT_MAIL_FROM", mail.SENDER)
    monkeypatch.setenv("PAL_ALERT_MAIL_TO", "ops@contoso.example")
    return emulator


def test_every_check_is_green_on_the_demo(demo_env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    report = doctor.run_doctor()
    assert report.ok
    assert [c.name for c in report.checks if c.status != doctor.OK] == ["Graph: partner billing export"]
    assert report.check("Graph: partner billing export").status == doctor.SKIP  # PAL_BILLING is off
    names = {c.name for c in report.checks}
    assert {
        "token: managed-identity",
        "token: automation",
        "token: ops",
        "token: deploy",
        "list tenants",
        "list subscriptions",
        "read registration assignments",
        "Graph: read users",
        "Graph: read groups",
        "Graph: read service principals",
        "Graph: read deleted users",
        "Graph: read deleted groups",
        "Graph: read deleted service principals",
        "Graph: group members",
        "read tenant activity log",
        "Graph: send mail",
        "PAL link: managed-identity",
    } <= names
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "All required checks passed." in out
    assert "FAIL" not in out


def test_a_wrong_secret_turns_its_row_red_with_the_fix(
    demo_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAL_IDENTITY_OPS_SECRET", "wrong-secret-value")
    report = doctor.run_doctor()
    assert not report.ok
    row = report.check("token: ops")
    assert row.status == doctor.FAIL
    assert "AADSTS" in row.detail
    assert "PAL_IDENTITY_OPS_SECRET" in row.fix
    assert "az ad app credential reset" in row.fix
    assert [c.name for c in report.checks if c.status == doctor.FAIL] == ["token: ops"]
    assert "PAL link: ops" not in {c.name for c in report.checks}
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "wrong-secret-value" not in out
    assert demo_env.env["PAL_IDENTITY_OPS_SECRET"] not in out


def test_missing_graph_permission_and_monitoring_reader_name_the_grant(demo_env: Emulator) -> None:
    data = demo.scenario_copy()
    mi = demo.principal_in(data, demo.MI)
    mi["graphAppRoles"] = ["User.Read.All", "Application.Read.All"]  # no Group.Read.All, no Mail.Send
    mi["rootRoles"] = []  # no Monitoring Reader at root
    demo_env.reset(data)
    report = doctor.run_doctor()
    for name in ("Graph: read groups", "Graph: read deleted groups", "Graph: group members"):
        groups = report.check(name)
        assert groups.status == doctor.FAIL, name
        assert "lack Group.Read.All" in groups.detail  # read from the token's roles claim
        assert "User.Read.All, Application.Read.All" in groups.detail
        assert "Group.Read.All" in groups.fix
        assert doctor.GRAPH_ROLES["Group.Read.All"] in groups.fix
    assert "$select=id,displayName" in report.check("Graph: read groups").detail
    assert report.check("Graph: read users").status == doctor.OK
    assert "$select=id,displayName,userPrincipalName,accountEnabled" in report.check("Graph: read users").detail
    activity = report.check("read tenant activity log")
    assert activity.status == doctor.FAIL
    assert "Monitoring Reader" in activity.fix
    assert "--scope /" in activity.fix
    mail = report.check("Graph: send mail")
    assert mail.status == doctor.WARN  # Exchange RBAC for Applications grants it outside the token
    assert "Mail.Send" in mail.fix
    assert "New-ManagementRoleAssignment" in mail.fix
    assert not report.ok


def test_no_managed_identity_fails_its_row_and_skips_what_needs_it(
    demo_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token")
    report = doctor.run_doctor()
    mi = report.check("token: managed-identity")
    assert mi.status == doctor.FAIL
    assert "managed identity" in mi.fix
    assert report.check("token: automation").status == doctor.FAIL  # federation needs the MI token
    assert report.check("token: ops").status == doctor.OK
    assert report.check("list subscriptions").status == doctor.SKIP
    assert not report.ok


def test_a_link_pointing_elsewhere_is_a_warning(demo_env: Emulator) -> None:
    tenant = demo_env.env["PAL_MANAGING_TENANT_ID"]
    demo_env.control("PUT", f"/links/{tenant}/{demo.MI.object_id}", {"partnerId": "4000001"})
    report = doctor.run_doctor()
    row = report.check("PAL link: managed-identity")
    assert row.status == doctor.WARN
    assert "4000001" in row.detail
    assert report.ok  # the app repairs it itself


def test_bad_settings_fail_before_any_call(
    demo_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAL_PARTNER_ID", "PG-4000001")
    demo_env.control("DELETE", "/journal")
    assert cli.main(["doctor", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert payload["checks"][0]["name"] == "settings"
    assert "PAL_PARTNER_ID" in payload["checks"][0]["detail"]
    assert demo_env.journal() == []


def test_json_output_lists_checks_and_redacted_settings(demo_env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True
    assert all({"name", "status", "detail", "fix", "required"} <= set(c) for c in payload["checks"])
    assert payload["settings"]["PAL_PARTNER_ID"] == "5127255"
    text = json.dumps(payload)
    for name in ("PAL_IDENTITY_OPS_SECRET", "PAL_IDENTITY_PORTAL_SECRET"):
        assert demo_env.env[name] not in text
    assert "PRIVATE KEY" not in text


def test_no_token_or_secret_reaches_the_logs(
    demo_env: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("PAL_IDENTITY_PORTAL_SECRET", "another-wrong-secret")
    doctor.run_doctor()
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "shared.azure" in text  # the doctor did log (failed token, 404s)
    assert "eyJ" not in text  # no JWT, whole or part
    assert "Bearer" not in text
    for secret in ("another-wrong-secret", demo_env.env["PAL_IDENTITY_OPS_SECRET"], "PRIVATE KEY"):
        assert secret not in text


def test_unknown_managing_tenant_is_named_instead_of_every_credential(
    demo_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAL_MANAGING_TENANT_ID", "0f0e0d0c-0b0a-4908-8706-050403020100")

    report = doctor.run_doctor()

    tokens = [c for c in report.checks if c.name.startswith("token: ") and c.name != "token: managed-identity"]
    assert tokens
    assert all(c.status == doctor.FAIL for c in tokens)
    for check in tokens:
        assert "PAL_MANAGING_TENANT_ID" in check.fix
        assert "credential reset" not in check.fix
        assert "federated-credential" not in check.fix
