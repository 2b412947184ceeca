"""The verification timer over the emulator and Azurite — drift found and repaired or
flagged, multi-tenant links kept, findings opened and resolved as the world changes.

Each test changes the emulated world through the control API as a person would (no events are
delivered: the verification must find everything itself) and runs the `verify_attribution`
timer exactly as the Functions host does.
"""

from __future__ import annotations

import copy

import pytest

from shared.usecases import tenant_links
from tests.support import demo, triggers, world
from tests.support.remembered import all_findings, open_findings
from tests.support.world import links, pal_writes


def test_first_verify_links_what_it_can_and_stores_coverage(emulator, palwatch):
    triggers.verify_now()

    linked = links(emulator)
    for name in ("contoso-automation", "contoso-deploy", "Contoso Managed Services Portal", "contoso-pipeline"):
        assert linked.get(demo.ACTORS[name].object_id) == demo.PARTNER, name
    coverage = palwatch.store.get_coverage()
    assert coverage is not None
    rows = {r.delegation_key: r for r in coverage.rows}
    fabrikam = rows[world.delegation_key(demo.delegation("fabrikam"))]
    assert fabrikam.status == "attributed"
    assert demo.MI.object_id in [a.principal_id for a in fabrikam.attributed_by]
    core = rows[world.delegation_key(demo.delegation("woodgrove-core"))]  # seen by contoso-ops through its group
    assert (core.status, core.reason) == ("not_attributed", "no_eligible_role")
    # Bob's delegation names none of our identities: nobody of ours can see it.
    assert world.delegation_key(demo.delegation("adventureworks")) not in rows
    assert not any(
        r.delegation_key == world.delegation_key(demo.delegation("proseware-fourthcoffee")) for r in coverage.rows
    )
    findings = open_findings(palwatch)
    assert f"attribution:{world.delegation_key(demo.delegation('woodgrove-core'))}" in findings
    assert not [f for f in findings.values() if f.kind == "link_drift_repaired"]


def test_multi_tenant_identity_is_linked_in_each_customer_tenant_where_it_has_a_principal(emulator, palwatch):
    customer_tenants = [demo.tenant("Litware").tenant_id, demo.tenant("Proseware").tenant_id]
    for tid in customer_tenants:
        assert not links(emulator, tid)

    triggers.verify_now()

    for tid in customer_tenants:
        there = links(emulator, tid)
        assert list(there.values()) == [demo.PARTNER], tid
    # Its principal there, not the home one: the link belongs to that tenant's service principal.
    assert demo.PORTAL.object_id not in links(emulator, customer_tenants[0])
    writes = len(pal_writes(emulator))
    triggers.verify_now()
    assert len(pal_writes(emulator)) == writes  # nothing to do the second time


def test_a_link_deleted_by_hand_is_put_back_and_reported_once(emulator, palwatch):
    triggers.verify_now()
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}")
    assert demo.MI.object_id not in links(emulator)
    emulator.control("DELETE", "/journal")

    triggers.verify_now()

    assert links(emulator)[demo.MI.object_id] == demo.PARTNER
    assert [w["method"] for w in pal_writes(emulator)] == ["PUT"]
    drift = [r for r in all_findings(palwatch) if r.finding.kind == "link_drift_repaired"]
    assert len(drift) == 1
    assert drift[0].finding.principal_id == demo.MI.object_id
    assert drift[0].finding.severity.value == "info"
    assert not drift[0].open  # said once, not left open
    triggers.verify_now()
    assert len([r for r in all_findings(palwatch) if r.finding.kind == "link_drift_repaired"]) == 1


def test_a_link_repointed_by_hand_is_repaired_within_the_watch_cadence(emulator, palwatch):

    triggers.verify_now()
    emulator.control("PUT", f"/links/{demo.MANAGING}/{demo.OPS.object_id}", {"partnerId": demo.OTHER_PARTNER})
    emulator.control("DELETE", "/journal")

    outcome = tenant_links.watch_links(palwatch, _now())

    assert links(emulator)[demo.OPS.object_id] == demo.PARTNER
    assert [w["method"] for w in pal_writes(emulator)] == ["PATCH"]
    assert outcome.facts["repaired"]
    drift = [r.finding for r in all_findings(palwatch) if r.finding.kind == "link_drift_repaired"]
    assert [f.reason for f in drift] == ["repointed"]
    assert demo.OTHER_PARTNER in drift[0].title


def test_a_link_put_back_by_a_pass_that_died_before_its_alert_is_still_announced_once(emulator, palwatch, monkeypatch):
    from shared.usecases import alerts

    triggers.verify_now()
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}")

    def crash(*_args, **_kwargs):
        raise RuntimeError("host recycled between the decision and the outbox")

    with monkeypatch.context() as patched:
        patched.setattr(alerts, "enqueue", crash)
        with pytest.raises(RuntimeError, match="host recycled"):
            tenant_links.watch_links(palwatch, _now())
    assert links(emulator)[demo.MI.object_id] == demo.PARTNER  # put back before the pass died

    for _ in range(2):  # the next watch ticks' alert step
        alerts.deliver(palwatch, _now())

    entries = alerts.dispatcher(palwatch).outbox.list_entries()
    drift = [e for e in entries if e.payload["finding"]["kind"] == "link_drift_repaired"]
    assert [(e.payload["kind"], e.payload["finding"]["principalId"]) for e in drift] == [("opened", demo.MI.object_id)]
    [kept] = [r for r in all_findings(palwatch) if r.finding.kind == "link_drift_repaired"]
    assert not kept.open  # in the history, never open


def test_multi_tenant_identity_is_linked_in_lighthouse_customers_with_that_tenants_token(emulator, palwatch):
    litware = demo.tenant("Litware").tenant_id
    there = next(p for p in demo.tenant("Litware").raw["principals"] if p.get("appId") == demo.PORTAL.app_id)

    triggers.verify_now()

    puts = [w for w in pal_writes(emulator) if w["method"] == "PUT" and w["tenantId"] == litware]
    assert [(w["tenantId"], w["objectId"]) for w in puts] == [(litware, there["objectId"])]
    # Azure lists only the token's own tenant for an app: the engine does not ask.
    assert not [r for r in emulator.journal() if r["path"].rstrip("/") == "/tenants"]


def test_a_tenant_without_the_app_is_remembered_quietly_and_asked_again_later(emulator, palwatch):
    from datetime import timedelta

    from shared.usecases import engine, tenant_links

    fabrikam = demo.FABRIKAM.tenant_id  # a Lighthouse customer where the portal app has no principal
    assert not [p for p in demo.FABRIKAM.raw.get("principals", []) if p.get("appId") == demo.PORTAL.app_id]

    triggers.verify_now()

    def asked(tid: str) -> list[dict]:
        return [r for r in emulator.journal() if r["path"] == f"/{tid}/oauth2/v2.0/token"]

    assert [r["status"] for r in asked(fabrikam)] == [400]
    absent = palwatch.store.list_not_installed()
    assert (demo.PORTAL.app_id.lower(), fabrikam) in absent
    assert not [f for f in all_findings(palwatch) if f.finding.tenant_id == fabrikam and "link" in f.finding.kind]
    assert not [f for f in all_findings(palwatch) if fabrikam in f.finding.subject]
    from shared.usecases import alerts

    queued = [e.payload for e in alerts.dispatcher(palwatch).outbox.list_entries()]
    assert queued, "alerts for other findings were queued"
    # Fabrikam's one alert is the note on its Visual Studio subscription's offer: none about the app.
    about_fabrikam = [p["finding"]["kind"] for p in queued if fabrikam in str(p)]
    assert about_fabrikam == ["not_eligible_offer"], "no alert for a tenant without the app"

    # A fresh engine each time, as a later invocation would be: MSAL would otherwise answer a
    # repeated failed token request from its own short-lived cache, without asking Entra.
    emulator.control("DELETE", "/journal")
    engine.reset_engine()
    triggers.verify_now()  # within the retry window: not asked again
    assert not asked(fabrikam)
    assert asked(demo.tenant("Litware").tenant_id), "tenants with the app are still checked"

    engine.reset_engine()
    palwatch = engine.get_engine()
    later = absent[(demo.PORTAL.app_id.lower(), fabrikam)] + timedelta(minutes=1)
    outcome = tenant_links.watch_links(palwatch, later)
    assert len(asked(fabrikam)) == 1, "asked again once the retry time passed"
    assert fabrikam in outcome.facts["notInstalled"]
    assert palwatch.store.list_not_installed()[(demo.PORTAL.app_id.lower(), fabrikam)] > later
    assert (
        later + tenant_links.NOT_INSTALLED_RETRY
        == palwatch.store.list_not_installed()[(demo.PORTAL.app_id.lower(), fabrikam)]
    )


def test_a_customer_listed_in_settings_is_linked_once_the_app_is_installed(emulator, palwatch, monkeypatch):
    from shared.usecases import engine

    new_tenant = "0f5b8d7e-1c2a-4b3c-9d4e-5f6a7b8c9d0e"  # no Lighthouse: only the setting names it
    new_sp = "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    body = {"tenantId": new_tenant, "displayName": "Contoso Newcomer", "defaultDomain": "newcomer.onmicrosoft.com"}
    emulator.control("PUT", f"/tenants/{new_tenant}", body)
    monkeypatch.setenv("PAL_CUSTOMER_TENANTS", new_tenant.upper())
    engine.reset_engine()
    tenant_links.watch_links(engine.get_engine(), _now())
    assert not links(emulator, new_tenant)
    assert (demo.PORTAL.app_id.lower(), new_tenant) in engine.get_engine().store.list_not_installed()

    principal = {
        "objectId": new_sp,
        "type": "ServicePrincipal",
        "displayName": "Portal",
        "appId": demo.PORTAL.app_id,
    }
    emulator.control("PUT", f"/tenants/{new_tenant}", {**body, "principals": [principal]})
    emulator.control("DELETE", "/journal")
    engine.reset_engine()
    later = _now() + timedelta_hours(7)  # past the retry time
    tenant_links.watch_links(engine.get_engine(), later)

    assert links(emulator, new_tenant) == {new_sp: demo.PARTNER}
    assert [(w["method"], w["tenantId"], w["objectId"]) for w in pal_writes(emulator)] == [("PUT", new_tenant, new_sp)]
    assert not [r for r in emulator.journal() if r["path"].rstrip("/") == "/tenants"]
    assert (demo.PORTAL.app_id.lower(), new_tenant) not in engine.get_engine().store.list_not_installed()


def test_a_disabled_identity_is_flagged_and_the_finding_resolves_when_it_is_back(emulator, palwatch):
    triggers.verify_now()
    northwind = world.delegation_key(demo.delegation("northwind"))  # attributed only by contoso-automation
    assert f"attribution:{northwind}" not in open_findings(palwatch)

    emulator.control("POST", f"/principals/{demo.AUTOMATION.object_id}", {"action": "disable"})
    triggers.verify_now()

    finding = open_findings(palwatch)[f"attribution:{northwind}"]
    assert finding.severity.value == "critical"
    row = next(r for r in palwatch.store.get_coverage().rows if r.delegation_key == northwind)
    assert row.status == "not_attributed"

    emulator.control("POST", f"/principals/{demo.AUTOMATION.object_id}", {"action": "enable"})
    triggers.verify_now()

    assert f"attribution:{northwind}" not in open_findings(palwatch)
    row = next(r for r in palwatch.store.get_coverage().rows if r.delegation_key == northwind)
    assert row.status == "attributed"


def test_an_authorization_removed_opens_a_finding_and_a_removed_delegation_resolves_it(emulator, palwatch):
    triggers.verify_now()
    body = copy.deepcopy(demo.delegation("fabrikam"))
    key = world.delegation_key(body)
    assert f"attribution:{key}" not in open_findings(palwatch)

    body["authorizations"] = [a for a in body["authorizations"] if a["roleDefinitionId"] == demo.READER] + [
        {
            "principalId": demo.MI.object_id,
            "principalIdDisplayName": "id-palwatch-contoso",
            "roleDefinitionId": demo.READER,
        }
    ]
    emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)
    triggers.verify_now()

    finding = open_findings(palwatch)[f"attribution:{key}"]
    # The MI carried the link here; with its Contributor gone the delegation lost attribution.
    assert finding.kind == "attribution_lost"
    assert finding.severity.value == "critical"
    assert "no longer holds" in finding.detail
    assert finding.tenant_id == demo.FABRIKAM.tenant_id

    emulator.control("DELETE", f"/delegations/{body['registrationAssignmentId']}")
    triggers.verify_now()

    assert not [f for f in open_findings(palwatch).values() if f.subject == key]
    removed = [r for r in all_findings(palwatch) if r.finding.kind == "delegation_removed"]
    assert [r.finding.subject for r in removed] == [key]
    assert key not in {r.delegation_key for r in palwatch.store.get_coverage().rows}
    snapshot = palwatch.store.get_delegation(key)
    assert snapshot is not None
    assert snapshot.removed


def test_an_unreadable_subscription_is_not_taken_as_removed(emulator, palwatch):
    triggers.verify_now()
    body = demo.delegation("litware")
    key = world.delegation_key(body)
    emulator.control(
        "POST", "/faults", {"route": body["scope"] + "/providers/Microsoft.ManagedServices", "status": 409, "rate": 1.0}
    )

    from shared.usecases import verify

    outcome = verify.run_verify(palwatch, _now())

    assert outcome.status == "partial"
    assert any(body["scope"].lower() in s.lower() for s in (i["scope"] for i in outcome.facts["incompleteScopes"]))
    assert not palwatch.store.get_delegation(key).removed
    assert key in {r.delegation_key for r in palwatch.store.get_coverage().rows}
    assert not [r for r in all_findings(palwatch) if r.finding.kind == "delegation_removed"]


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def timedelta_hours(hours: int):
    from datetime import timedelta

    return timedelta(hours=hours)


def test_one_verification_at_a_time_and_a_crashed_one_does_not_block_the_next(emulator, palwatch):
    from datetime import UTC, datetime, timedelta

    from shared.usecases import leases, verify

    now = datetime.now(UTC)
    assert palwatch.store.try_acquire(verify.LEASE, "another-instance", leases.TTL, now)

    running_elsewhere = verify.run_verify(palwatch, now)
    assert running_elsewhere.status == "skipped"
    assert palwatch.store.get_coverage() is None

    # That instance crashed without releasing: once its lease expires the next run proceeds.
    later = now + leases.TTL + timedelta(seconds=1)
    assert verify.run_verify(palwatch, later).status in ("ok", "partial")
    assert palwatch.store.get_coverage() is not None


def test_a_role_newer_than_the_shipped_list_is_named_from_its_definition(emulator, palwatch):
    triggers.verify_now()

    rows = palwatch.store.get_coverage().rows
    relecloud_db = next(r for r in rows if r.scope.endswith("/resourceGroups/rg-db"))
    assert relecloud_db.attributed
    assert relecloud_db.role_names == ("Desktop Virtualization Contributor",)


def test_a_throttled_pal_api_defers_links_but_the_verification_still_judges_the_estate(emulator, palwatch, monkeypatch):
    import functools
    from datetime import UTC, datetime

    from shared.azure import http
    from shared.usecases import engine as engine_module
    from shared.usecases import verify

    # The same retries, without the back-off sleeps (they only make this test slow).
    monkeypatch.setattr(http, "new_session", functools.partial(http.new_session, backoff_factor=0))
    engine_module.reset_engine()
    palwatch = engine_module.get_engine()

    emulator.control(
        "POST", "/faults", {"route": "Microsoft.ManagementPartner/partners", "status": 429, "retryAfter": 0, "rate": 1}
    )

    outcome = verify.run_verify(palwatch, datetime.now(UTC))

    assert outcome.status == "partial"
    assert any("PAL link" in p for p in outcome.problems)
    assert palwatch.store.get_coverage() is not None  # the estate was judged and recorded all the same
    assert not [r for r in palwatch.store.open_findings() if r.finding.kind == "link_failed"]


def test_a_member_removed_from_the_attributing_group_is_found_by_verify_alone(emulator, palwatch):
    triggers.verify_now()
    operators = demo.OPERATORS.object_id
    litware = world.delegation_key(demo.delegation("litware"))
    assert litware not in {f.subject for f in open_findings(palwatch).values()}

    emulator.control(
        "DELETE", f"/groups/{operators}/members/{demo.OPS.object_id}"
    )  # no event delivered: verify must see it
    triggers.verify_now()

    kinds = {f.kind for f in open_findings(palwatch).values() if f.subject == litware}
    assert kinds & {"attribution_lost", "identity_lost"}, kinds
