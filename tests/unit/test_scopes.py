"""Attribution per scope over plain data: two offers on one scope are one scope, a subscription
delegation covers its resource groups (not the other way round), and the two levels of recognition."""

from __future__ import annotations

import pytest

from shared import decisions as rc
from shared import model
from shared.decisions import scopes
from tests.support.estate import CONTRIBUTOR, CUSTOMER, MANAGING, NOW, PARTNER, READER, SCOPE, SP, U, principal

GROUP_SCOPE = f"{SCOPE}/resourceGroups/rg-app"


def _delegation(name: str, scope: str, *auths: tuple[str, str]) -> model.Delegation:
    return model.Delegation(
        assignment_id=f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{name}",
        scope=scope,
        customer_tenant_id=CUSTOMER,
        managed_by_tenant_id=MANAGING,
        definition_name=name,
        authorizations=tuple(model.Authorization(p, r) for p, r in auths),
    )


@pytest.mark.parametrize(
    ("outer", "inner", "covered"),
    [
        (SCOPE, SCOPE, True),
        (SCOPE.upper(), SCOPE + "/", True),
        (SCOPE, GROUP_SCOPE, True),
        (GROUP_SCOPE, SCOPE, False),
        (GROUP_SCOPE, f"{SCOPE}/resourceGroups/rg-other", False),
        ("/subscriptions/other", GROUP_SCOPE, False),
    ],
)
def test_which_delegation_covers_which_scope(outer: str, inner: str, covered: bool) -> None:
    assert scopes.covers(outer, inner) is covered


def _estate(delegations, states, *, previous=None):
    observation = rc.Observation(
        PARTNER,
        MANAGING,
        acting={"sp"},
        principals={p.object_id: p for p in states},
        links={"sp": rc.LinkStatus(partner_id=PARTNER)},
        attested={"alice"},
        previous=previous or {},
    )
    return rc.assess_estate(delegations, observation, NOW)


def _losing_alice(second_scope: str):
    managed = _delegation("managed", second_scope, ("sp", CONTRIBUTOR))
    premier = _delegation("premier", SCOPE, ("alice", CONTRIBUTOR))
    before = _estate([managed, premier], [principal("sp", SP), principal("alice", U)])
    stored = {s.key: s for s in before.snapshots}
    after = _estate([managed, premier], [principal("sp", SP), principal("alice", U, "softDeleted")], previous=stored)
    return premier.key, after


def test_losing_one_of_two_offers_on_a_scope_is_a_warning() -> None:
    key, after = _losing_alice(SCOPE)
    about = [(f.kind, f.severity.value) for f in after.findings if f.subject == key]
    assert about == [("identity_lost", "warning")]


def test_a_resource_group_offer_does_not_keep_the_subscription_credited() -> None:
    key, after = _losing_alice(GROUP_SCOPE)
    about = [(f.kind, f.severity.value) for f in after.findings if f.subject == key]
    assert about == [("attribution_lost", "critical")]


def test_scopes_have_two_levels_and_list_their_delegations() -> None:
    reader_only = _delegation("monitoring", SCOPE, ("sp", READER))
    estate = _estate([reader_only], [principal("sp", SP)])
    (scope,) = rc.scope_credit(rc.standing(a) for a in estate.assessments)
    assert (scope.recognised, scope.earns_credit, scope.level) == (True, False, scopes.RECOGNISED)

    both = [reader_only, _delegation("managed", SCOPE, ("sp", CONTRIBUTOR))]
    estate = _estate(both, [principal("sp", SP)])
    (scope,) = rc.scope_credit(rc.standing(a) for a in estate.assessments)
    assert scope.level == scopes.EARNS_CREDIT
    assert [d.definition_name for d in scope.delegations] == ["managed", "monitoring"]
    rows = {r.delegation_key: r for r in estate.coverage}
    assert {r.definition_name for r in rows.values()} == {"managed", "monitoring"}


def test_a_resource_group_inherits_credit_from_its_subscription() -> None:
    estate = _estate(
        [_delegation("managed", SCOPE, ("sp", CONTRIBUTOR)), _delegation("apps", GROUP_SCOPE, ("alice2", CONTRIBUTOR))],
        [principal("sp", SP), principal("alice2", U)],
    )
    by_scope = {s.scope: s for s in rc.scope_credit(rc.standing(a) for a in estate.assessments)}
    assert by_scope[GROUP_SCOPE].earns_credit
    assert by_scope[GROUP_SCOPE].inherited_from == (estate.assessments[0].key,)
