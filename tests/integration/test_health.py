"""The `health` HTTP function and the watch timer's doctor record, on the emulator and Azurite.

`health` runs the doctor's checks as the app's own identity (the emulator's managed identity
endpoint, the same one the triggers use) and answers JSON or the doctor's table; a missing
store setting, an unreachable store and no alert channel each turn it red with the fix. The
watch timer logs one `PalWatch.Doctor` record once a day and whenever the result changes.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

import function_app
from shared import doctor, telemetry
from shared.cli import credentials as cli_credentials
from shared.usecases import health
from tests.support import demo, mail, triggers
from tests.support.services import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def app_env(emulator: Emulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.setenv("PAL_ALERT_MAIL_FROM", mail.SENDER)
    monkeypatch.setenv("PAL_ALERT_MAIL_TO", "ops@contoso.example")
    for name in ("PAL_ALERT_SMTP_HOST", "PAL_ALERT_WEBHOOK_URL", "PAL_EVENTS_TOPIC_ENDPOINT", "PAL_ALERT_OUTBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    emulator.control("DELETE", "/mailbox")
    return emulator


def get(params: dict[str, str] | None = None, method: str = "GET") -> func.HttpResponse:
    return function_app.health(func.HttpRequest(method, "/api/health", params=params or {}, headers={}, body=b""))


def rows(response: func.HttpResponse) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(response.get_body())["checks"]}


def test_health_answers_the_doctors_checks_as_the_apps_identity(app_env: Emulator) -> None:
    before = len(app_env.journal())

    response = get()

    assert response.status_code == 200, response.get_body().decode()
    assert response.mimetype == "application/json"
    body = json.loads(response.get_body())
    assert body["ok"] is True
    assert "settings" not in body  # the partner's settings stay off the wire
    checks = rows(response)
    assert demo.MI.object_id in checks["token: managed-identity"]["detail"]
    assert checks["store"]["status"] == doctor.OK
    assert checks["alert channels"]["status"] == doctor.OK
    assert checks["list subscriptions"]["status"] == doctor.OK
    arm_reads = [r for r in app_env.journal()[before:] if r["path"].lower().startswith("/subscriptions")]
    assert arm_reads
    assert {r["objectId"] for r in arm_reads} == {demo.MI.object_id}


def test_format_text_is_the_doctors_table(app_env: Emulator) -> None:
    response = get({"format": "text"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_body().decode()
    assert text.startswith("CHECK")
    assert "All required checks passed." in text
    assert get({"format": "xml"}).status_code == 400


def test_a_missing_store_setting_turns_it_red_with_the_fix(app_env: Emulator, monkeypatch) -> None:
    for name in ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__tableServiceUri"):
        monkeypatch.delenv(name, raising=False)
    response = get()
    assert response.status_code == 503
    store = rows(response)["store"]
    assert store["status"] == doctor.FAIL
    assert "AzureWebJobsStorage__accountName" in store["fix"]
    text = get({"format": "text"}).get_body().decode()
    assert "required check(s) failed" in text


def test_an_unreachable_store_turns_it_red_with_the_fix(app_env: Emulator, monkeypatch) -> None:
    monkeypatch.setenv(
        "AzureWebJobsStorage",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    )
    response = get()
    assert response.status_code == 503
    store = rows(response)["store"]
    assert store["status"] == doctor.FAIL
    assert "unreachable" in store["detail"]
    assert "did not answer" in store["fix"]
    assert "Eby8vdM02xNOcq" not in response.get_body().decode()  # the key never leaves


def test_no_store_permission_names_the_role(app_env: Emulator) -> None:
    from shared import settings as settings_module
    from shared.doctor import operations as doctor_operations
    from shared.store import errors as store_errors

    settings = settings_module.load_settings({**app_env.env, "AzureWebJobsStorage__accountName": "stpalwatch"})
    refused = store_errors.PermanentStoreError("create table: storage answered 403", status=403)
    fix = doctor_operations.store_fix(settings, "mi-object-id", refused)
    assert "Storage Table Data Contributor" in fix
    assert "--assignee mi-object-id" in fix
    assert "stpalwatch" in fix


def test_no_alert_channel_turns_it_red_with_the_fix(app_env: Emulator, monkeypatch) -> None:
    monkeypatch.delenv("PAL_ALERT_MAIL_FROM")
    monkeypatch.delenv("PAL_ALERT_MAIL_TO")
    response = get()
    assert response.status_code == 503
    channels = rows(response)["alert channels"]
    assert channels["status"] == doctor.FAIL
    assert "no alert channel" in channels["detail"]
    assert "PAL_ALERT_MAIL_FROM" in channels["fix"]
    assert "PAL_ALERT_WEBHOOK_URL" in channels["fix"]


def test_event_grid_alone_is_no_alert_channel(app_env: Emulator, monkeypatch) -> None:
    monkeypatch.delenv("PAL_ALERT_MAIL_FROM")
    monkeypatch.delenv("PAL_ALERT_MAIL_TO")
    monkeypatch.setenv("PAL_EVENTS_TOPIC_ENDPOINT", "https://127.0.0.1:9/api/events")
    report = doctor.run_doctor()
    channels = report.check("alert channels")
    assert channels.status == doctor.FAIL
    assert "only eventgrid" in channels.detail
    assert report.check("alert channel: eventgrid").status == doctor.OK  # configured, not contacted


def test_send_test_alert_delivers_one_notice_on_every_channel(app_env: Emulator, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAL_ALERT_OUTBOX_DIR", str(tmp_path))
    quiet = doctor.run_doctor()
    assert quiet.ok
    assert mail.mailbox(app_env) == []  # without the flag nothing is sent
    assert quiet.check("alert channel: eml").detail.startswith("folder")

    report = doctor.run_doctor(send_test_alert=True, send_test_mail=True)

    assert report.ok, report.render()
    assert report.check("alert channel: mail").detail == "test notice delivered"
    assert report.check("alert channel: eml").detail == "test notice delivered"
    messages = mail.mailbox(app_env)
    assert len(messages) == 1  # one notice, even with --send-test-mail as well
    assert "test alert" in messages[0]["message"]["subject"].lower()
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_a_post_to_health_sends_the_first_alert_as_the_app(app_env: Emulator) -> None:
    assert get()
    assert mail.mailbox(app_env) == []  # GET never sends

    response = get(method="POST")

    assert response.status_code == 200
    assert rows(response)["alert channel: mail"]["detail"] == "test notice delivered"
    [message] = mail.mailbox(app_env)
    assert message["from"].lower() == mail.SENDER
    assert "test alert" in message["message"]["subject"].lower()


def test_the_doctor_runs_as_the_operators_sign_in_with_credential(app_env: Emulator) -> None:
    ops = next(a for a in demo.ACTORS.values() if a.type == "User")
    signed_in = app_env.signed_in(ops.object_id, demo.MANAGING)

    report = doctor.run_doctor(
        credentials_factory=lambda settings: cli_credentials.SignedInCredentials(settings, signed_in, "cli")
    )

    assert ops.object_id in report.check("token: managed-identity").detail
    assert report.check("store").status == doctor.OK


# ---- the watch timer's doctor record -------------------------------------------------------


def doctor_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        name, dims = telemetry.parse(record.getMessage()) if record.name == "palwatch.telemetry" else ("", {})
        if name == telemetry.DOCTOR:
            found.append(dims)
    return found


def test_the_watch_logs_the_doctor_once_a_day_and_when_it_changes(
    app_env: Emulator, palwatch: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="palwatch.telemetry")
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    get_engine = lambda: palwatch  # noqa: E731

    assert health.watch_health(get_engine, start) == "green (logged)"
    assert health.watch_health(get_engine, start + timedelta(minutes=5)) == "not due"
    assert health.watch_health(get_engine, start + timedelta(minutes=20)) == "green"
    [first] = doctor_records(caplog)
    assert first["ok"] is True
    assert first["failed"] == 0

    for name in [n for n in os.environ if n.startswith("PAL_ALERT_MAIL")]:  # the app settings change
        monkeypatch.delenv(name)
    assert health.watch_health(get_engine, start + timedelta(minutes=40)) == "red (logged)"
    assert health.watch_health(get_engine, start + timedelta(minutes=60)) == "red"
    assert health.watch_health(get_engine, start + timedelta(days=1)) == "red (logged)"
    records = doctor_records(caplog)
    assert len(records) == 3
    assert records[1]["ok"] is False
    assert records[1]["changed"] is True
    assert records[1]["failedChecks"] == ["alert channels"]
    assert any("PAL_ALERT_MAIL_FROM" in fix for fix in records[1]["fixes"])
    assert [r.levelname for r in caplog.records if telemetry.DOCTOR in r.getMessage()] == ["INFO", "WARNING", "WARNING"]


def test_settings_too_wrong_for_an_engine_still_log_the_red_doctor(
    app_env: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from shared import settings as settings_module

    caplog.set_level(logging.INFO, logger="palwatch.telemetry")
    monkeypatch.setenv("PAL_PARTNER_ID", "not-digits")

    def no_engine() -> Any:
        raise settings_module.SettingsError([("PAL_PARTNER_ID", "must be digits")])

    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert health.watch_health(no_engine, now) == "red (logged)"
    assert health.watch_health(no_engine, now + timedelta(minutes=1)) == "red (logged)"  # nothing remembers it
    [first, _] = doctor_records(caplog)
    assert first["failedChecks"] == ["settings"]
    assert any("PAL_PARTNER_ID" in fix for fix in first["fixes"])


def test_the_watch_trigger_records_its_outcome_and_the_doctor(
    app_env: Emulator, palwatch: Any, caplog: pytest.LogCaptureFixture
) -> None:

    caplog.set_level(logging.INFO, logger="palwatch.telemetry")
    triggers.watch_now()

    lines = [telemetry.parse(r.getMessage()) for r in caplog.records if r.name == "palwatch.telemetry"]
    outcomes = [d for n, d in lines if n == telemetry.TRIGGER_OUTCOME]
    assert [o["trigger"] for o in outcomes] == ["watch_delegations"]
    assert outcomes[0]["status"] in ("ok", "partial")
    assert [n for n, _ in lines].count(telemetry.DOCTOR) == 1
