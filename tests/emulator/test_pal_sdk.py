"""Partner Admin Link through Microsoft's own SDK client, unmodified, against the emulator."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.managementpartner import ACEProvisioningManagementPartnerAPI

from tests.support.callers import caller, identities

PARTNER = "5127255"


def pal_as_portal(emulator, tenant: str) -> ACEProvisioningManagementPartnerAPI:
    portal = identities(emulator)["portal"]
    credential = ClientSecretCredential(
        tenant,
        portal["clientId"],
        emulator.env[portal["secretSetting"]],
        authority=emulator.info["authority"],
        disable_instance_discovery=True,
    )
    return ACEProvisioningManagementPartnerAPI(credential, base_url=emulator.info["arm"])


def test_link_round_trip_grows_version_and_keeps_created_time(emulator, demo):
    client = pal_as_portal(emulator, demo.home)
    with pytest.raises(ResourceNotFoundError):
        client.partners.get()

    created = client.partner.create(PARTNER)
    assert (created.partner_id, created.state, created.version, created.etag) == (PARTNER, "Active", 1, 1)
    assert created.object_id == demo.principal("Contoso Managed Services Portal", demo.home)["objectId"]
    assert created.tenant_id == demo.home
    assert created.partner_name == "Contoso MSP (Seattle)"

    assert client.partner.get(PARTNER).version == 1
    assert client.partners.get().partner_id == PARTNER
    assert client.partner.update(PARTNER).version == 2
    client.partner.delete(PARTNER)
    with pytest.raises(ResourceNotFoundError):
        client.partner.get(PARTNER)
    client.partner.delete(PARTNER)  # deleting nothing still succeeds

    again = client.partner.create(PARTNER)
    assert again.version == 4  # PUT, PATCH, DELETE and PUT each wrote once
    assert again.created_time == created.created_time
    links = {(x["tenantId"], x["objectId"]): x for x in emulator.control("GET", "/links")["links"]}
    assert links[(demo.home, created.object_id)]["version"] == 4


def test_put_when_already_linked_is_a_conflict(emulator, demo):
    client = ACEProvisioningManagementPartnerAPI(ManagedIdentityCredential(), base_url=emulator.info["arm"])
    assert client.partner.get(PARTNER).state == "Active"  # the demo pre-links the function's identity
    with pytest.raises(ResourceExistsError) as caught:
        client.partner.create(PARTNER)
    assert caught.value.status_code == 409


def test_partner_id_not_in_scenario_is_invalid(emulator, demo):
    client = pal_as_portal(emulator, demo.home)
    with pytest.raises(HttpResponseError) as caught:
        client.partner.create("4000001")
    assert caught.value.status_code == 400
    assert caught.value.error.code == "PartnerIdInvalid"
    assert not [x for x in emulator.control("GET", "/links")["links"] if x["partnerId"] == "4000001"]


def test_link_belongs_to_the_tenant_of_the_token(emulator, demo):
    litware = demo.tenant("Litware")["tenantId"]
    client = pal_as_portal(emulator, litware)
    link = client.partner.create(PARTNER)
    assert link.tenant_id == litware
    assert link.object_id == demo.principal("Contoso Managed Services Portal", litware)["objectId"]
    with pytest.raises(ResourceNotFoundError):
        pal_as_portal(emulator, demo.home).partners.get()  # the home principal is still unlinked


def test_wire_details_match_production(emulator, demo):
    me = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    for path in ("/providers/Microsoft.ManagementPartner/partners", "/providers/Microsoft.ManagementPartner/partners/"):
        response = me.get(path, params={"api-version": "2018-02-01"})
        assert response.status_code == 200
        assert response.json()["id"] == f"/providers/microsoft.managementpartner/partners/{PARTNER}"
    other = caller(emulator, demo.principal("contoso-automation")["objectId"])
    missing = other.get(
        f"/providers/Microsoft.ManagementPartner/partners/{PARTNER}", params={"api-version": "2018-02-01"}
    )
    assert missing.status_code == 404
    body = missing.json()
    assert body["code"] == body["error"]["code"] == "ManagementPartnerNotFound"
    put = other.request(
        "PUT",
        f"/providers/Microsoft.ManagementPartner/partners/{PARTNER}",
        params={"api-version": "2018-02-01"},
        json={"partnerId": PARTNER},
    )
    assert put.status_code == 200
    assert put.json()["etag"] == 1


def test_operations_list_is_paged(emulator, demo):
    emulator.control("POST", "/config", {"pageSize": 2})
    client = ACEProvisioningManagementPartnerAPI(ManagedIdentityCredential(), base_url=emulator.info["arm"])
    names = [op.name for op in client.operation.list()]
    assert len(names) == 4
    assert len(set(names)) == 4
    pages = [e for e in emulator.journal() if e["path"].endswith("/operations")]
    assert len(pages) == 2


def test_a_scenario_link_made_before_the_scenario_keeps_its_times(emulator):
    """`links[].createdTime`/`updatedTime` are served as ARM's PAL API serves them: Microsoft's SDK reads them as
    date-times (ManagementPartner 2018-02-01), and so does the engine's adapter."""
    from datetime import UTC, datetime

    from shared import settings
    from shared.azure import identity, pal
    from tests.support import demo as demo_data

    scenario = demo_data.scenario_copy()
    for link in scenario["links"]:
        link.update(createdTime="2026-01-05T09:00:00Z", updatedTime="2026-02-01T10:30:00+00:00")
    emulator.reset(scenario)
    client = ACEProvisioningManagementPartnerAPI(ManagedIdentityCredential(), base_url=emulator.info["arm"])
    found = client.partners.get()
    assert found.created_time == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert found.updated_time == datetime(2026, 2, 1, 10, 30, tzinfo=UTC)

    engine_settings = settings.load_settings()
    credentials = identity.Credentials(engine_settings)
    link = pal.PartnerLinkClient.from_settings(engine_settings, credentials.managed_identity()).get_link()
    assert link is not None
    assert link.created_time == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    scenario["links"][0]["createdTime"] = "2026-01-05 09:00"  # no zone: refused, as a scenario error
    with pytest.raises(Exception, match=r"400|time zone"):
        emulator.reset(scenario)
