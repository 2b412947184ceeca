"""A bad `PAL_EXEMPTIONS` never stops the app: through the health function and the timers.

The setting is the partner's own text. Nested too deep to parse, it turns `health` red with the
setting named (never an error 500). One malformed entry (a date written 31/12/2030, a bare
`/subscriptions/` scope that would silence every scope, a `configuration` kind that would silence
PAL Watch's own alarms) is ignored and said once as a `configuration` finding, while the
verification, the watcher and the good entries carry on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.functions as func

import function_app
from tests.support import engines, mail, remembered, triggers

NO_ELIGIBLE = "no authorization holds a PEC-eligible role"  # Woodgrove Core, offer "Contoso Monitoring"


def _health() -> func.HttpResponse:
    return function_app.health(func.HttpRequest("GET", "/api/health", params={}, headers={}, body=b""))


def test_exemptions_nested_too_deep_turn_health_red_naming_the_setting(emulator, palwatch, monkeypatch):
    from shared.usecases import engine

    monkeypatch.setenv("PAL_EXEMPTIONS", "[" * 50_000 + "]" * 50_000)
    engine.reset_engine()  # a new worker reads the settings on first use
    response = _health()
    assert response.status_code == 503, response.get_body()[:300]
    assert "PAL_EXEMPTIONS" in response.get_body().decode()


def test_a_malformed_exemption_is_one_configuration_finding_and_the_rest_runs(emulator, palwatch, monkeypatch):
    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    entries = [
        {"kind": "unattributed_delegation", "reason": "monitoring", "expires": until,
         "registrationDefinitionName": "Contoso Monitoring"},
        {"kind": "attribution_lost", "reason": "later", "expires": "31/12/2030",
         "registrationDefinitionName": "Contoso Managed Azure"},
        {"kind": "attribution_lost", "reason": "everything", "expires": until, "scope": "/subscriptions/"},
        {"kind": "configuration", "reason": "quiet", "expires": until, "scope": "/subscriptions/x"},
    ]  # fmt: skip
    mailed = engines.rebuilt(
        monkeypatch,
        PAL_EXEMPTIONS=json.dumps(entries),
        PAL_ALERT_MAIL_FROM=mail.SENDER,
        PAL_ALERT_MAIL_TO=mail.OPS_INBOX,
    )
    emulator.control("DELETE", "/mailbox")

    triggers.verify_now()
    triggers.watch_now()

    bodies = [m["message"]["body"]["content"] for m in mail.mailbox(emulator)]
    assert bodies, "the verification ran and alerted"
    assert not [b for b in bodies if NO_ELIGIBLE in b]  # the good entry still holds
    (bad,) = [r.finding for r in mailed.store.open_findings() if r.finding.subject == "config:exemptions"]
    assert bad.kind == "configuration"
    for index in (1, 2, 3):
        assert f"entry {index}" in bad.detail, bad.detail
    assert "entry 0" not in bad.detail
    assert [b for b in bodies if "PAL_EXEMPTIONS" in b], "the configuration finding was alerted"
    assert remembered.open_findings(mailed)
