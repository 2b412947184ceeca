"""Exemptions as plain data: which findings they cover, when they stop, what comes back once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared import catalogue, cli, model
from shared import settings as settings_module
from shared.decisions import exemptions as ex

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TENANT = "01c0bcd5-4f47-4e4b-b492-418b7e2a8854"
SUB = "/subscriptions/0afefe50-734e-4610-8c82-a144aff49dea"
KEY = f"{SUB}/providers/microsoft.managedservices/registrationassignments/a"
KIND = "unattributed_delegation"


def _finding(kind: str = "unattributed_delegation", scope: str = SUB, tenant: str = TENANT) -> model.Finding:
    return model.Finding(
        key=f"attribution:{KEY}",
        kind=kind,
        severity=model.Severity.WARNING,
        subject=KEY,
        title="t",
        tenant_id=tenant,
        scope=scope,
    )


def _exemption(**kw) -> model.Exemption:
    base = {"kind": "unattributed_delegation", "reason": "ok", "expires": NOW + timedelta(days=1)}
    return model.Exemption(**{**base, **kw})


@pytest.mark.parametrize(
    ("exemption", "finding", "covered"),
    [
        (_exemption(tenant_id=TENANT), _finding(), True),
        (_exemption(tenant_id=TENANT), _finding(kind="attribution_lost"), False),
        (_exemption(tenant_id="other"), _finding(), False),
        (_exemption(scope=SUB), _finding(scope=f"{SUB}/resourceGroups/rg"), True),
        (_exemption(scope=f"{SUB}/resourceGroups/rg"), _finding(), False),
        (_exemption(definition_name="contoso monitoring"), _finding(), True),
        (_exemption(definition_name="Other offer"), _finding(), False),
        (_exemption(tenant_id=TENANT, definition_name="Other offer"), _finding(), False),
    ],
)
def test_which_findings_an_exemption_covers(exemption, finding, covered) -> None:
    assert ex.matches(exemption, finding, {KEY: "Contoso Monitoring"}) is covered


def test_an_exemption_holds_until_it_expires_then_the_finding_comes_back_once() -> None:
    exemption = _exemption(tenant_id=TENANT)
    recorded = model.RecordedFinding(_finding(), opened_at=NOW - timedelta(days=10))
    assert ex.alertable([recorded], [exemption], NOW, {}) == []
    later = exemption.expires + timedelta(hours=1)
    assert ex.alertable([recorded], [exemption], later, {}) == [recorded]
    assert ex.returning([recorded], [exemption], later, {}, timedelta(days=2)) == [(recorded, exemption.expires)]
    # Before its end, and long after the window, nothing is owed.
    assert ex.returning([recorded], [exemption], NOW, {}, timedelta(days=2)) == []
    assert ex.returning([recorded], [exemption], later + timedelta(days=3), {}, timedelta(days=2)) == []
    # A longer exemption still in force keeps it quiet.
    longer = _exemption(tenant_id=TENANT, expires=NOW + timedelta(days=30))
    assert ex.returning([recorded], [exemption, longer], later, {}, timedelta(days=2)) == []
    assert ex.accepted_text(longer) == "accepted: ok, until 2026-07-01"


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"kind": KIND, "reason": "r", "expires": "2026-12-31"}, "names no customer tenant"),
        ({"kind": KIND, "reason": "r", "scope": SUB}, '"expires" is required'),
        ({"kind": KIND, "reason": "r", "scope": SUB, "expires": "soon"}, "a date like"),
        ({"kind": KIND, "reason": "r", "scope": "rg-app", "expires": "2026-12-31"}, "/subscriptions/"),
        ({"kind": KIND, "reason": "r", "customerTenantId": "x", "expires": "2026-12-31"}, "GUID"),
    ],
)
def test_a_bad_exemption_is_refused_with_the_shape(item: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        settings_module.parse_exemption(item)


def test_exemptions_setting_is_validated_at_start() -> None:
    env = {"PAL_PARTNER_ID": "5127255", "PAL_MANAGING_TENANT_ID": TENANT}
    with pytest.raises(settings_module.SettingsError) as caught:
        settings_module.load_settings({**env, "PAL_EXEMPTIONS": '{"kind": "k"}'})
    assert "PAL_EXEMPTIONS" in dict(caught.value.problems)
    # A bad entry is no reason to stop: it is ignored and said (the watch's configuration finding).
    bad = settings_module.load_settings({**env, "PAL_EXEMPTIONS": '[{"kind": "k"}]'}).exemptions
    assert bad == ()
    assert bad.problems == (f'entry 0: "reason" is required: {settings_module.EXEMPTION_SHAPE}',)
    good = json.dumps([{"kind": KIND, "reason": "r", "scope": SUB, "expires": "2026-12-31"}])
    (parsed,) = settings_module.load_settings({**env, "PAL_EXEMPTIONS": good}).exemptions
    assert parsed.expires == datetime(2026, 12, 31, tzinfo=UTC)
    assert settings_module.parse_exemption(settings_module.exemption_json(parsed)) == parsed


def test_reminders_of_a_finding_back_from_its_exemption_count_from_its_return() -> None:
    from dataclasses import replace

    from shared.notify import notices

    exemption = _exemption(tenant_id=TENANT)
    critical = model.RecordedFinding(
        replace(_finding(), severity=model.Severity.CRITICAL), opened_at=NOW - timedelta(days=10)
    )
    back = exemption.expires + timedelta(hours=1)
    (dated,) = ex.reminded_from_return([critical], [exemption], back, {})
    assert dated.opened_at == exemption.expires
    assert notices.due_reminders([dated], back, timedelta(hours=24)) == []  # the "opened" notice is enough
    (first,) = notices.due_reminders(
        ex.reminded_from_return([critical], [exemption], back + timedelta(days=1), {}),
        back + timedelta(days=1),
        timedelta(hours=24),
    )
    assert first.sequence == 1
    # Never exempted while open: reminders count from when it opened, as always.
    assert ex.reminded_from_return([critical], [], back, {}) == [critical]
    assert ex.reminded_from_return([critical], [exemption], NOW, {}) == [critical]  # still exempted: not dated


TYPO = "unattributed_delegaton"


def test_an_unknown_kind_is_refused_naming_every_valid_kind() -> None:
    with pytest.raises(ValueError, match="must be a finding kind") as caught:
        settings_module.parse_exemption({"kind": TYPO, "reason": "r", "scope": SUB, "expires": "2026-12-31"})
    said = str(caught.value)
    assert repr(TYPO) in said
    assert all(kind.value in said for kind in catalogue.Kind if kind.value in model.EXEMPTABLE_KINDS)
    assert "daily_digest" not in said  # not a finding anyone accepts


def test_an_unknown_kind_in_the_setting_is_ignored_and_said() -> None:
    env = {"PAL_PARTNER_ID": "5127255", "PAL_MANAGING_TENANT_ID": TENANT}
    typo = json.dumps([{"kind": TYPO, "reason": "r", "scope": SUB, "expires": "2026-12-31"}])
    (problem,) = settings_module.load_settings({**env, "PAL_EXEMPTIONS": typo}).exemptions.problems
    assert f"must be a finding kind: one of {', '.join(model.EXEMPTABLE_KINDS)}" in problem


def test_palwatch_exempt_refuses_an_unknown_kind_with_the_same_words(capsys) -> None:
    args = ["exempt", "--kind", TYPO, "--scope", SUB, "--reason", "r", "--expires", "2999-01-01"]
    assert cli.main(args) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"must be a finding kind: one of {', '.join(model.EXEMPTABLE_KINDS)} (got {TYPO!r})" in err
