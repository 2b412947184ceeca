"""`palwatch doctor` probes Microsoft's partner billing export the way the credit snapshot calls it."""

from __future__ import annotations

import json
import uuid

import pytest

from shared import cli
from tests.support import demo, mail
from tests.support.services import Emulator

pytestmark = pytest.mark.integration

PEC = "PartnerBilling.Read.All"
EXPORT = "/v1.0/reports/partners/billing/usage/unbilled/export"


@pytest.fixture
def billing_env(emulator: Emulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.setenv("PAL_TABLE_PREFIX", "d" + uuid.uuid4().hex[:12])
    monkeypatch.setenv("PAL_ALERT_MAIL_FROM", mail.SENDER)
    monkeypatch.setenv("PAL_ALERT_MAIL_TO", "ops@contoso.example")
    monkeypatch.setenv("PAL_BILLING", "true")
    return emulator


def with_billing_role(emulator: Emulator, granted: bool) -> None:
    scenario = demo.scenario_copy()
    mi = demo.principal_in(scenario, demo.MI)
    roles = {*mi["graphAppRoles"], PEC}
    mi["graphAppRoles"] = sorted(roles if granted else roles - {PEC})
    emulator.reset(scenario)


def doctor_rows(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, dict]]:
    code = cli.main(["doctor", "--json"])
    payload = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in payload["checks"]}


def export_posts(emulator: Emulator) -> list[dict]:
    journal = emulator.control("GET", "/journal")["requests"]
    return [r for r in journal if r["method"] == "POST" and str(r["path"]).startswith(EXPORT)]


def test_the_doctor_starts_one_export_and_is_green_when_allowed(
    billing_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with_billing_role(billing_env, granted=True)
    billing_env.control("DELETE", "/journal")
    code, rows = doctor_rows(capsys)
    row = rows["Graph: partner billing export"]
    assert row["status"] == "OK", row
    assert PEC in row["detail"]
    assert "started one export" in row["detail"]
    assert len(export_posts(billing_env)) == 1
    assert code == 0


def test_without_the_permission_the_row_names_it_and_the_grant(
    billing_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with_billing_role(billing_env, granted=False)
    code, rows = doctor_rows(capsys)
    row = rows["Graph: partner billing export"]
    assert row["status"] == "FAIL"
    assert PEC in row["detail"]
    assert "scripts/grant-permissions.sh --billing" in row["fix"]
    assert code == 1


def test_off_unless_billing_is_on(
    billing_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAL_BILLING", "false")
    billing_env.control("DELETE", "/journal")
    _code, rows = doctor_rows(capsys)
    assert rows["Graph: partner billing export"]["status"] == "SKIP"
    assert export_posts(billing_env) == []
