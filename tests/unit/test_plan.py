"""The reconcile use case without HTTP: an observation in, a plan out (links to make, removals, findings)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from shared import decisions as rc
from shared import model, roles

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PARTNER = "1234567"
HOME = "home"
CONTRIBUTOR = roles.CONTRIBUTOR
MI = model.Principal("mi", model.PrincipalKind.MANAGED_IDENTITY, display_name="id-palwatch")


def delegation(n: int, *holders: str) -> model.Delegation:
    return model.Delegation(
        assignment_id=f"/subscriptions/s{n}/providers/Microsoft.ManagedServices/registrationAssignments/a{n}",
        scope=f"/subscriptions/s{n}",
        customer_tenant_id=f"t{n}",
        managed_by_tenant_id=HOME,
        authorizations=tuple(model.Authorization(h, CONTRIBUTOR) for h in holders),
    )


D1, D2 = delegation(1, "mi"), delegation(2, "mi")
STORED_D2 = (
    rc.assess_estate(
        [D2],
        rc.Observation(PARTNER, HOME, acting={"mi"}, principals={"mi": MI}, links={"mi": rc.LinkStatus(PARTNER)}),
        NOW,
    )
    .assessments[0]
    .snapshot
)


@dataclass
class Case:
    name: str
    current: list[model.Delegation]
    links: dict[str, rc.LinkStatus] = field(default_factory=dict)
    previous: list[rc.DelegationSnapshot] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    # expectations
    actions: set[tuple[str, str]] = field(default_factory=set)  # (object id, operation)
    removed: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)  # at least these


CASES = [
    Case(
        "not linked yet: link it",
        [D1],
        {"mi": rc.LinkStatus("")},
        actions={("mi", "create")},
        kinds={"unattributed_delegation"},
    ),
    Case(
        "linked elsewhere: re-point",
        [D1],
        {"mi": rc.LinkStatus("7654321")},
        actions={("mi", "repoint")},
        kinds={"unattributed_delegation"},
    ),
    Case(
        "link unreadable: ensure it",
        [D1],
        {"mi": rc.LinkStatus(None)},
        actions={("mi", "ensure")},
        kinds={"unattributed_delegation"},
    ),
    Case("linked: nothing to do", [D1], {"mi": rc.LinkStatus(PARTNER)}, subjects={D1.key, "link:home:mi"}),
    Case(
        "a stored delegation Azure says ended: removed, with its notice",
        [D1],
        {"mi": rc.LinkStatus(PARTNER)},
        previous=[STORED_D2],
        gone={D2.key},
        removed=[D2.key],
        subjects={D2.key},
    ),
    Case(
        "one already removed: nothing new, its subject still decided",
        [D1],
        {"mi": rc.LinkStatus(PARTNER)},
        previous=[replace(STORED_D2, removed=True)],
        gone={D2.key},
        subjects={D2.key},
    ),
    Case(
        "remembered but not said to have ended: kept as it was",
        [D1],
        {"mi": rc.LinkStatus(PARTNER)},
        previous=[STORED_D2],
    ),
    Case(
        "the last link attempt failed: link_failed on the identity's subject",
        [D1],
        {"mi": rc.LinkStatus(None, error_code="PartnerIdInvalid", error_message="no")},
        actions={("mi", "ensure")},
        kinds={"link_failed", "unattributed_delegation"},
        subjects={"link:home:mi"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_observation_in_plan_out(case: Case) -> None:
    observed = rc.Observation(
        PARTNER,
        HOME,
        acting={"mi": "id-palwatch"},
        principals={"mi": MI},
        links=case.links,
        previous={s.key: s for s in case.previous},
        gone=case.gone,
    )
    plan = rc.assess_estate(case.current, observed, NOW)
    assert {(a.object_id, a.operation) for a in plan.link_actions} == case.actions
    assert [s.key for s in plan.removed] == case.removed
    assert all(s.removed for s in plan.removed)
    assert [r.finding.kind for r in plan.removals] == ["delegation_removed"] * len(case.removed)
    assert {f.kind for f in plan.findings} == case.kinds
    assert case.subjects <= plan.subjects
    assert all(f.subject in plan.subjects for f in plan.findings)
    assert {s.key for s in plan.snapshots} == {d.key for d in case.current} | set(case.removed)


def test_the_links_made_turn_the_plan_into_nothing_to_do() -> None:
    observed = rc.Observation(PARTNER, HOME, acting={"mi"}, principals={"mi": MI}, links={"mi": rc.LinkStatus("")})
    first = rc.assess_estate([D1], observed, NOW)
    assert [a.operation for a in first.link_actions] == ["create"]
    second = rc.assess_estate([D1], observed.with_links({"MI": rc.LinkStatus(PARTNER)}), NOW)
    assert second.link_actions == ()
    assert second.findings == ()
    assert [r.status for r in second.coverage] == ["attributed"]


def test_an_observation_is_frozen_and_normalised() -> None:
    observed = rc.Observation(PARTNER, acting=["MI"], principals={"MI": MI}, attested=["U1"])
    assert dict(observed.acting) == {"mi": ""}
    assert set(observed.principals) == {"mi"}
    assert observed.attested == {"u1"}
    with pytest.raises(TypeError):
        observed.links["mi"] = rc.LinkStatus(PARTNER)  # type: ignore[index]
