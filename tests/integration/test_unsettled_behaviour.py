"""What no public source settles, played both ways by the emulator (emulator/assumptions.py):
the engine must reach the same result under either answer.

- PUT when already linked: 409 or 400; PAL error codes named or generic.
- A subscription-scope registrationAssignments list with or without its resource groups' assignments.
- Graph echoing `notificationUrl` verbatim or normalized.
"""

from __future__ import annotations

import re

import pytest

from shared.azure import errors
from shared.usecases import graph_subscriptions, verify
from tests.support import clocks, demo, world
from tests.support.world import allow_every_write

PAL = "/providers/Microsoft.ManagementPartner/partners"
PAL_SWITCHES = [
    pytest.param({"palPutWhenLinked": put, "palErrorCodes": codes}, id=f"put-{put}-{codes}")
    for put in (409, 400)
    for codes in ("named", "generic")
]


def assume(emulator, **switches) -> None:
    emulator.control("POST", "/config", {"assumptions": switches})


def acting(engine, name: str):
    """The configured identity called `name`."""
    return next(i for i in engine.settings.identities if i.name == name)


@pytest.mark.parametrize("switches", PAL_SWITCHES)
def test_a_link_made_between_our_read_and_our_put_is_left_alone(emulator, palwatch, switches):
    assume(emulator, **switches)
    ops = acting(palwatch, "ops")  # linked to our partner id in the demo
    emulator.control("POST", "/faults", {"route": "^" + PAL + "$", "method": "GET", "status": 404, "count": 1})
    emulator.control("DELETE", "/journal")

    result = palwatch.pal_for(ops).ensure_link(demo.PARTNER, may_write=allow_every_write)

    assert result.action == "unchanged"
    calls = [(r["method"], r["status"]) for r in emulator.journal() if r["path"].startswith(PAL)]
    assert calls == [("GET", 404), ("PUT", switches["palPutWhenLinked"]), ("GET", 200)]


@pytest.mark.parametrize("switches", PAL_SWITCHES)
def test_an_invalid_partner_id_is_recognised_whatever_code_azure_sends(emulator, palwatch, switches):
    assume(emulator, **switches)
    automation = acting(palwatch, "automation")  # not linked in the demo
    pal = palwatch.pal_for(automation)
    assert pal.get_link() is None, "404 means not linked, whatever its code"

    with pytest.raises(errors.PartnerIdInvalidError) as caught:
        pal.ensure_link(demo.OTHER_PARTNER, may_write=allow_every_write)  # a global id: Microsoft refuses it

    assert caught.value.code == "PartnerIdInvalid"
    assert not [r for r in emulator.journal() if r["method"] in ("PATCH", "DELETE") and r["path"].startswith(PAL)]


@pytest.mark.parametrize("includes", [True, False], ids=["list-includes-groups", "list-omits-groups"])
def test_resource_group_delegations_are_found_either_way_and_read_once(emulator, palwatch, includes):
    assume(emulator, subscriptionListIncludesResourceGroups=includes)
    litware_ml = world.delegation_key(demo.delegation("litware-ml"))  # a resource group under a delegated subscription

    verify.run_verify(palwatch, clocks.now())
    rows = [r.delegation_key for r in palwatch.store.get_coverage().rows]
    assert litware_ml in rows
    assert len(rows) == len(set(rows)), "each assignment once, however many lists returned it"

    emulator.control("DELETE", "/journal")
    verify.run_verify(palwatch, clocks.now())
    rows = [r.delegation_key for r in palwatch.store.get_coverage().rows]
    assert litware_ml in rows
    extra = _group_lists_under_listed_subscriptions(emulator.journal())
    if includes:
        assert extra == [], "learnt from an answer: no resource group is listed where its subscription was"
    else:
        assert extra, "the subscription list may omit them: the groups are listed too"


def _group_lists_under_listed_subscriptions(journal: list[dict]) -> list[str]:
    """Resource-group assignment lists by a caller that had listed the whole subscription (200)."""
    sub_list = re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.ManagedServices/registrationAssignments/?$")
    rg_list = re.compile(
        r"^/subscriptions/([^/]+)/resourceGroups/[^/]+/providers/Microsoft\.ManagedServices/registrationAssignments/?$",
        re.IGNORECASE,
    )
    listed = {
        (r["objectId"], m.group(1).lower()) for r in journal if r["status"] == 200 and (m := sub_list.match(r["path"]))
    }
    return [
        r["path"] for r in journal if (m := rg_list.match(r["path"])) and (r["objectId"], m.group(1).lower()) in listed
    ]


@pytest.mark.parametrize("echo", ["verbatim", "normalized"])
def test_graph_subscriptions_are_recognised_however_graph_echoes_the_address(emulator, palwatch, echo):
    assume(emulator, graphNotificationUrlEcho=echo)
    emulator.control("POST", "/reset", _without_graph_subscriptions(emulator))
    assume(emulator, graphNotificationUrlEcho=echo)

    first = graph_subscriptions.upkeep(palwatch, clocks.now())
    second = graph_subscriptions.upkeep(palwatch, clocks.now())

    assert sorted(first.created) == ["groups", "users"]
    assert second.created == []
    assert second.removed_duplicates == []
    assert sorted(second.kept) == ["groups", "users"]
    stored = emulator.control("GET", "/graph/subscriptions")
    items = stored.get("subscriptions", stored.get("value", []))
    assert len(items) == 2
    if echo == "normalized":
        assert all(s["notificationUrl"] != palwatch.settings.graph_notification_url for s in items)


def _without_graph_subscriptions(emulator) -> dict:
    scenario = demo.scenario_copy()
    scenario["graphSubscriptions"] = []
    return scenario
