"""The journal records bodies only when asked, only for ARM and Graph, and a reset switches it off."""

from __future__ import annotations

from tests.support.callers import caller

PARTNERS = "/providers/Microsoft.ManagementPartner/partners"


def test_bodies_are_not_recorded_by_default(emulator, demo):
    mi = caller(emulator, demo.principal("id-palwatch-contoso")["objectId"])
    assert mi.get(PARTNERS, params={"api-version": "2018-02-01"}).status_code == 200
    (entry,) = [e for e in emulator.journal() if e["path"] == PARTNERS]
    assert "responseBody" not in entry
    assert "requestBody" not in entry


def test_recorded_bodies_are_the_wire_json_and_a_reset_stops_recording(emulator, demo):
    assert emulator.control("POST", "/journal", {"recordBodies": True}) == {"recordBodies": True}
    bob = caller(emulator, demo.principal("Bob Engineer")["objectId"])
    answer = bob.request(
        "PUT", f"{PARTNERS}/5127255", params={"api-version": "2018-02-01"}, json={"partnerId": "5127255"}
    )
    assert answer.status_code == 200
    (entry,) = [e for e in emulator.journal() if e["method"] == "PUT"]
    assert entry["requestBody"] == {"partnerId": "5127255"}
    assert entry["requestBytes"] == len(answer.request.body)
    assert entry["responseBody"] == answer.json()
    emulator.reset()
    bob.get(PARTNERS, params={"api-version": "2018-02-01"})
    assert all("responseBody" not in e for e in emulator.journal())


def test_token_endpoints_are_never_recorded_with_bodies(emulator, demo):
    import requests

    emulator.control("POST", "/journal", {"recordBodies": True})
    env = emulator.env
    requests.get(
        env["IDENTITY_ENDPOINT"],
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com/"},
        headers={"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]},
        timeout=30,
    )
    (entry,) = [e for e in emulator.journal() if e["path"].endswith("/msi/token")]
    assert entry["status"] == 200
    assert "responseBody" not in entry
