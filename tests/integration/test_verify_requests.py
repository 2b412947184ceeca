"""The verification and the event handler make only the requests their algorithm needs.

Counted on the emulator's journal, never timed. The minimum of a warm verification is what a
first one learnt it must read: every read once (each page, each scope, each principal batch),
one token per identity, tenant and audience, no failed request (a resource-group-only identity
goes straight to its resource groups), and no write when nothing changed.
"""

from __future__ import annotations

from typing import Any

from bench import journal
from shared import roles
from tests.support import demo, triggers

CONTRIBUTOR = roles.CONTRIBUTOR
# A subscription whose delegations are all at resource-group scope, the managed identity in each.
RG_ONLY_SUBSCRIPTION = "271d51a5-d5f3-4f2a-af23-7e3650394a3d"


def new_worker() -> None:
    """A new Functions worker process: nothing in memory (tokens, clients), the store as it was."""
    from shared.usecases import engine

    engine.reset_engine()


def reads(entries: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """The distinct reads that answered (a link not made yet answers 404), writes left out."""
    return {
        journal.identity_of(e)
        for e in entries
        if e["method"] not in ("PUT", "PATCH")
        and (e["status"] == 200 or (e["status"] == 404 and journal.categorize(e) == "pal"))
    }


def groups_of_a_full_list(entry: dict[str, Any], entries: list[dict[str, Any]]) -> bool:
    """A resource-group read by a caller that listed the whole subscription successfully."""
    path = entry["path"].lower()
    if "/resourcegroups" not in path:
        return False
    subscription = path.split("/resourcegroups")[0]
    whole = subscription + "/providers/microsoft.managedservices/registrationassignments"
    return any(e["path"].lower() == whole and e["status"] == 200 and e["appId"] == entry["appId"] for e in entries)


def authority_metadata(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["path"].endswith("/.well-known/openid-configuration")]


def test_a_warm_verification_makes_exactly_the_minimum(emulator, palwatch):
    triggers.verify_now()
    cold = emulator.journal()
    assert [e for e in cold if e["status"] == 403], "the demo estate has resource-group-only identities"
    new_worker()
    emulator.control("DELETE", "/journal")

    triggers.verify_now()
    warm = emulator.journal()

    assert [(e["method"], e["path"], e["status"]) for e in warm if e["status"] != 200] == []
    # MSAL reads a tenant's authority metadata once per app-registration credential (not per request).
    metadata = authority_metadata(warm)
    credentials = [i for i in palwatch.settings.identities if i.kind in ("secret", "certificate")]
    per_tenant = {e["path"]: sum(1 for m in metadata if m["path"] == e["path"]) for e in metadata}
    assert max(per_tenant.values()) <= len(credentials)
    requests = [e for e in warm if e not in metadata]
    assert journal.repeated(requests) == []
    # The minimum: what the first run learnt it must read, each once (tenants where an app is not
    # installed are not asked again so soon; resource groups of a subscription listed in full are
    # not listed once an answer showed the list includes them); nothing written.
    needed = reads([e for e in cold if e not in authority_metadata(cold) and not groups_of_a_full_list(e, cold)])
    assert len(requests) == len(needed)
    assert reads(requests) == needed
    assert journal.stats(warm)["palWrites"] == 0


def test_a_change_under_a_remembered_subscription_makes_the_next_run_probe_it_again(emulator, palwatch):
    triggers.verify_now()
    new_worker()
    body = {
        "registrationAssignmentId": "5a4f1e0c-3b1e-4a53-9a0c-2f1a7c2b9d10",
        "scope": f"/subscriptions/{RG_ONLY_SUBSCRIPTION}",
        "registrationDefinitionId": "0d3a3b54-8c4e-4e0b-9a55-6f0f9d4c2e11",
        "registrationDefinitionName": "Contoso Managed Azure (whole subscription)",
        "managedByTenantId": demo.MANAGING,
        "authorizations": [
            {"principalId": demo.MI.object_id, "principalIdDisplayName": "PAL Watch", "roleDefinitionId": demo.READER}
        ],
        "eligibleAuthorizations": [],
    }
    events = emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]
    from shared.usecases import delegations, engine

    for event in events:  # the event handler stores what it saw: a snapshot newer than the memory
        delegations.handle_delegation_event(engine.get_engine("event"), event, _now())
    new_worker()
    emulator.control("DELETE", "/journal")

    triggers.verify_now()

    probes = [
        e
        for e in emulator.journal()
        if e["path"].lower()
        == f"/subscriptions/{RG_ONLY_SUBSCRIPTION}/providers/microsoft.managedservices/registrationassignments"
    ]
    assert probes
    assert probes[0]["status"] == 200  # probed at subscription scope again, and now readable
    snapshots = {s.key for s in engine.get_engine().store.list_delegations()}
    assert any(body["registrationAssignmentId"] in key for key in snapshots)


def test_a_delegation_event_reaches_its_link_in_four_round_trips_with_warm_tokens(emulator, palwatch):
    from shared.usecases import delegations, engine

    handler = engine.get_engine("event")

    def onboard(subscription: str) -> list[dict[str, Any]]:
        import uuid

        body = {
            "registrationAssignmentId": str(uuid.uuid4()),
            "scope": f"/subscriptions/{subscription}",
            "registrationDefinitionId": str(uuid.uuid4()),
            "registrationDefinitionName": "Contoso Managed Azure (test)",
            "managedByTenantId": demo.MANAGING,
            "authorizations": [
                {
                    "principalId": demo.MI.object_id,
                    "principalIdDisplayName": "PAL Watch",
                    "roleDefinitionId": demo.READER,
                },
                {
                    "principalId": demo.AUTOMATION.object_id,
                    "principalIdDisplayName": "contoso-automation",
                    "roleDefinitionId": CONTRIBUTOR,
                },
            ],
            "eligibleAuthorizations": [],
        }
        return emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]

    for event in onboard("8d6ebcbb-ba20-4268-b209-47e86716c87c"):  # an earlier invocation: tokens are warm
        delegations.handle_delegation_event(handler, event, _now())
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.AUTOMATION.object_id}")  # unlinked by hand since
    events = onboard("e50d7f4f-44c0-4004-92d4-82ccd3a6d34b")
    # Latency makes requests sent side by side overlap in the journal (what a round trip is).
    emulator.control("POST", "/config", {"latencyMs": 150})
    emulator.control("DELETE", "/journal")

    for event in events:
        delegations.handle_delegation_event(handler, event, _now())

    entries = emulator.journal()
    to_write = journal.until_first_pal_write(entries)
    assert to_write, "the link was written"
    assert to_write[-1]["appId"] == demo.AUTOMATION.app_id
    assert not [e for e in entries if journal.categorize(e) == "tokens"]
    assert journal.round_trips(to_write) <= 4


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_refused_resource_group_list_makes_a_remembered_reader_probe_the_subscription(emulator, palwatch):
    triggers.verify_now()
    new_worker()
    emulator.control(
        "POST",
        "/faults",
        {"route": f"(?i)^/subscriptions/{RG_ONLY_SUBSCRIPTION}/resourcegroups$", "status": 403, "count": 1},
    )
    emulator.control("DELETE", "/journal")

    triggers.verify_now()

    at_subscription = [
        e
        for e in emulator.journal()
        if e["objectId"] == demo.MI.object_id
        and e["path"].lower()
        == f"/subscriptions/{RG_ONLY_SUBSCRIPTION}/providers/microsoft.managedservices/registrationassignments"
    ]
    assert [e["status"] for e in at_subscription] == [403]  # probed again, after the refusal
    from shared.usecases import engine

    state = engine.get_engine().store.get_state("verify-last")
    assert state["outcome"].startswith("ok")  # and every delegation there was still read
