"""Attribution per scope through the entry points Azure calls: two offers on one subscription are
one scope, so losing the carrier of one while the other still earns credit is a warning
(`identity_lost`), never a critical, and the coverage shows one scope with two delegations.
"""

from __future__ import annotations

import function_app
from tests.support import demo, remembered, triggers, world
from tests.support.remembered import open_findings
from tests.support.triggers import decode_event

SUBSCRIPTION = f"/subscriptions/{demo.RELECLOUD.subscription_id}"


def _offer(name: str, *authorizations: tuple[str, str, str], scope: str = SUBSCRIPTION) -> dict:
    body = world.new_delegation(demo.RELECLOUD, *authorizations)
    body["registrationDefinitionName"] = name
    body["scope"] = scope
    return body


def _about(engine, key: str) -> list:
    return [f for f in open_findings(engine).values() if f.subject == key]


def test_losing_the_carrier_of_one_offer_while_another_earns_credit_is_a_warning(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    managed = triggers.onboard(emulator, _offer("Contoso Managed Azure", (demo.OPS, demo.CONTRIBUTOR)))
    premier = triggers.onboard(emulator, _offer("Contoso Premier Support", (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)

    for event in world.act(emulator, demo.ALICE.object_id, "softDelete"):
        function_app.identity_events(decode_event(event))

    about = _about(palwatch, premier)
    assert [(f.kind, f.severity.value) for f in about] == [("identity_lost", "warning")]
    assert "another delegation" in about[0].detail
    assert not [f for f in open_findings(palwatch).values() if f.severity.value == "critical"]

    triggers.verify_now()

    assert [(f.kind, f.severity.value) for f in _about(palwatch, premier)] == [("identity_lost", "warning")]
    # The verification reads the whole demo estate: Alice alone carries Tailwind's rg-shared, so that
    # scope, and only that one, loses its credit.
    lost = [f for f in open_findings(palwatch).values() if f.kind == "attribution_lost"]
    assert [f.scope.lower() for f in lost] == [demo.delegation("tailwind-shared")["scope"].lower()]
    from shared import reports

    document = reports.coverage_json(palwatch.store.get_coverage())
    (scope,) = [s for s in document["scopes"] if s["scope"].lower() == SUBSCRIPTION.lower()]
    assert scope["earnsPartnerCredit"] is True
    assert {d["delegationKey"] for d in scope["delegations"]} == {managed, premier}
    assert {d["offer"] for d in scope["delegations"]} == {"Contoso Managed Azure", "Contoso Premier Support"}


def test_a_resource_group_offer_does_not_carry_its_subscription(emulator, palwatch):
    remembered.attest(palwatch, demo.ALICE.object_id)
    triggers.onboard(
        emulator,
        _offer("Contoso Apps", (demo.OPS, demo.CONTRIBUTOR), scope=f"{SUBSCRIPTION}/resourceGroups/rg-app"),
    )
    whole = triggers.onboard(emulator, _offer("Contoso Premier Support", (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)

    for event in world.act(emulator, demo.ALICE.object_id, "softDelete"):
        function_app.identity_events(decode_event(event))

    assert [(f.kind, f.severity.value) for f in _about(palwatch, whole)] == [("attribution_lost", "critical")]


def test_each_delegation_is_decided_at_most_twice_per_pass(emulator, palwatch, monkeypatch):
    """Attribution and findings run once before the links are made and once after, never more,
    even where a scope lost its last carrier and the stored delegations are asked about."""
    from collections import Counter

    from shared.decisions import attribution, delegation

    attributed, judged = Counter(), Counter()
    real_attribute, real_judge = attribution.attribute, delegation.judge

    def counting_attribute(d, observation, now):
        attributed[d.key] += 1
        return real_attribute(d, observation, now)

    def counting_judge(a, observation, now, **kwargs):
        judged[a.key] += 1
        return real_judge(a, observation, now, **kwargs)

    monkeypatch.setattr(attribution, "attribute", counting_attribute)
    monkeypatch.setattr(delegation, "judge", counting_judge)
    remembered.attest(palwatch, demo.ALICE.object_id)
    whole = triggers.onboard(emulator, _offer("Contoso Premier Support", (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    for event in world.act(emulator, demo.ALICE.object_id, "softDelete"):
        attributed.clear()
        judged.clear()
        function_app.identity_events(decode_event(event))
        assert attributed, "nothing decided"
        assert max(attributed.values()) <= 2, attributed
        assert judged == attributed
    assert [f.kind for f in _about(palwatch, whole)] == ["attribution_lost"]

    attributed.clear()
    judged.clear()
    triggers.verify_now()  # the first verification links the identities it acts as: decided twice
    assert max(attributed.values()) == 2, attributed
    assert judged == attributed
