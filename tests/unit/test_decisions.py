"""Pure decisions over plain data: is a delegation attributed, what to link, which findings hold."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from shared import decisions as rc
from shared import model, roles
from tests.support.estate import (
    ASSIGNMENT,
    CONTRIBUTOR,
    CUSTOMER,
    MANAGING,
    MI,
    MONITORING_READER,
    NEW_ROLE,
    NOW,
    PARTNER,
    READER,
    SCOPE,
    SP,
    G,
    U,
    principal,
)


def delegation(*auths: tuple[str, str], jit: tuple[tuple[str, str], ...] = ()) -> model.Delegation:
    return model.Delegation(
        assignment_id=ASSIGNMENT,
        scope=SCOPE,
        customer_tenant_id=CUSTOMER,
        managed_by_tenant_id=MANAGING,
        customer_tenant_name="Fabrikam",
        authorizations=tuple(model.Authorization(p, r) for p, r in auths),
        eligible_authorizations=tuple(model.Authorization(p, r, just_in_time=True) for p, r in jit),
    )


@dataclass
class Case:
    name: str
    delegation: model.Delegation
    principals: list[model.Principal]
    linked: dict[str, rc.LinkStatus] = field(default_factory=dict)
    acting: set[str] = field(default_factory=set)
    attested: set[str] = field(default_factory=set)
    eligibility: dict[str, bool | None] | None = None
    # expectations
    attributed: bool = False
    reason: str = ""
    by: set[tuple[str, str]] = field(default_factory=set)  # (principal, via group)
    actions: set[tuple[str, str]] = field(default_factory=set)  # (principal, operation)
    kinds: set[str] = field(default_factory=set)


linked_ok = rc.LinkStatus(partner_id=PARTNER)
CASES = [
    Case(
        "users only",
        delegation(("u1", CONTRIBUTOR), ("u2", CONTRIBUTOR)),
        [principal("u1", U), principal("u2", U)],
        reason="users_only",
        kinds={"unattributed_delegation"},
    ),
    Case(
        "attested user attributes",
        delegation(("u1", CONTRIBUTOR)),
        [principal("u1", U)],
        attested={"u1"},
        attributed=True,
        by={("u1", "")},
    ),
    Case(
        "reader only",
        delegation(("sp1", READER), ("sp2", MONITORING_READER)),
        [principal("sp1", SP), principal("sp2", SP)],
        acting={"sp1", "sp2"},
        linked={"sp1": linked_ok},
        reason="no_eligible_role",
        kinds={"unattributed_delegation"},
    ),
    Case(
        "just in time only",
        delegation(("sp1", READER), jit=(("u1", CONTRIBUTOR),)),
        [principal("sp1", SP), principal("u1", U)],
        reason="just_in_time_only",
        kinds={"unattributed_delegation"},
    ),
    Case(
        "group containing a linked principal",
        delegation(("g1", CONTRIBUTOR)),
        [principal("g1", G, members=("u1", "sp1")), principal("u1", U), principal("sp1", SP)],
        acting={"sp1"},
        linked={"sp1": linked_ok},
        attributed=True,
        by={("sp1", "g1")},
    ),
    Case(
        "MI with Contributor not linked yet",
        delegation(("mi", CONTRIBUTOR)),
        [principal("mi", MI)],
        acting={"mi"},
        linked={"mi": rc.LinkStatus(partner_id="")},
        reason="link_pending",
        actions={("mi", "create")},
        kinds={"unattributed_delegation"},
    ),
    Case(
        "MI with Contributor linked",
        delegation(("mi", CONTRIBUTOR)),
        [principal("mi", MI)],
        acting={"mi"},
        linked={"mi": linked_ok},
        attributed=True,
        by={("mi", "")},
    ),
    Case(
        "MI linked elsewhere is re-pointed",
        delegation(("mi", CONTRIBUTOR)),
        [principal("mi", MI)],
        acting={"mi"},
        linked={"mi": rc.LinkStatus(partner_id="999")},
        reason="link_pending",
        actions={("mi", "repoint")},
        kinds={"unattributed_delegation"},
    ),
    Case(
        "MI link never read: ensure",
        delegation(("mi", CONTRIBUTOR)),
        [principal("mi", MI)],
        acting={"mi"},
        reason="link_pending",
        actions={("mi", "ensure")},
        kinds={"unattributed_delegation"},
    ),
    Case(
        "link failed: PartnerIdInvalid",
        delegation(("mi", CONTRIBUTOR)),
        [principal("mi", MI)],
        acting={"mi"},
        linked={"mi": rc.LinkStatus(partner_id="", error_code="PartnerIdInvalid")},
        reason="link_failed",
        actions={("mi", "create")},
        kinds={"unattributed_delegation", "link_failed"},
    ),
    Case(
        "service principal we cannot act as",
        delegation(("sp9", CONTRIBUTOR), ("u1", CONTRIBUTOR)),
        [principal("sp9", SP), principal("u1", U)],
        reason="cannot_act_as",
        kinds={"unattributed_delegation"},
    ),
    Case(
        "unknown role decided by definition: writes",
        delegation(("mi", NEW_ROLE)),
        [principal("mi", MI)],
        acting={"mi"},
        linked={"mi": linked_ok},
        eligibility={NEW_ROLE: True},
        attributed=True,
        by={("mi", "")},
    ),
    Case(
        "unknown role decided by definition: reads",
        delegation(("mi", NEW_ROLE)),
        [principal("mi", MI)],
        acting={"mi"},
        linked={"mi": linked_ok},
        eligibility={NEW_ROLE: False},
        reason="no_eligible_role",
        kinds={"unattributed_delegation"},
    ),
    Case(
        "unknown role not decided",
        delegation(("mi", NEW_ROLE)),
        [principal("mi", MI)],
        acting={"mi"},
        linked={"mi": linked_ok},
        reason="no_eligible_role",
        kinds={"unattributed_delegation"},
    ),
    Case(
        "disabled identity never linked",
        delegation(("sp9", CONTRIBUTOR)),
        [principal("sp9", SP, "disabled")],
        reason="identities_unusable",
        kinds={"unattributed_delegation"},
    ),
    Case(
        "attested user disabled: attribution lost",
        delegation(("u1", CONTRIBUTOR)),
        [principal("u1", U, "disabled")],
        attested={"u1"},
        reason="identity_lost",
        kinds={"attribution_lost"},
    ),
    Case(
        "attested user soft-deleted, MI still attributes",
        delegation(("u1", CONTRIBUTOR), ("mi", CONTRIBUTOR)),
        [principal("u1", U, "softDeleted"), principal("mi", MI)],
        attested={"u1"},
        acting={"mi"},
        linked={"mi": linked_ok},
        attributed=True,
        by={("mi", "")},
        kinds={"identity_lost"},
    ),
    Case(
        "deleted group",
        delegation(("g1", CONTRIBUTOR)),
        [principal("g1", G, "deleted", members=("mi",)), principal("mi", MI)],
        acting={"mi"},
        linked={"mi": linked_ok},
        reason="identity_lost",
        kinds={"attribution_lost"},
    ),
]


def seen(
    principals: dict[str, model.Principal] | list[model.Principal],
    linked: dict[str, rc.LinkStatus] | None = None,
    acting: set[str] | list[str] = frozenset(),  # type: ignore[assignment]
    attested: set[str] | list[str] = frozenset(),  # type: ignore[assignment]
    eligibility: dict[str, bool | None] | None = None,
    *,
    previous: list[rc.DelegationSnapshot] = (),  # type: ignore[assignment]
    managing: str = "",
) -> rc.Observation:
    """An observation from plain data: what a pass would have read."""
    people = principals if isinstance(principals, dict) else {p.object_id: p for p in principals}
    return rc.Observation(
        PARTNER,
        managing,
        acting=acting,
        principals=people,
        links=linked or {},
        attested=attested,
        eligibility=eligibility or {},
        previous={snap.key: snap for snap in previous},
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_assess_delegation(case: Case) -> None:
    result = rc.assess_delegation(
        case.delegation, seen(case.principals, case.linked, case.acting, case.attested, case.eligibility), NOW
    )
    assert result.attributed is case.attributed
    assert result.reason == case.reason
    assert {(a.principal_id, a.via_group) for a in result.attributed_by if a.active} == case.by
    assert {(a.object_id, a.operation) for a in result.link_actions} == case.actions
    assert {f.kind for f in result.findings} == case.kinds
    for f in result.findings:
        assert f.subject in result.subjects
        if f.kind != "link_failed":
            assert f.tenant_id == CUSTOMER
            assert "Fabrikam" in f.title
            assert f.scope == SCOPE
            assert PARTNER in f.detail
            assert "ACR" in f.detail
            assert f.fix
    assert result.snapshot.attributed is case.attributed
    assert result.snapshot.key == ASSIGNMENT.lower()


def test_users_only_fix_names_the_exact_commands() -> None:
    result = rc.assess_delegation(delegation(("u1", CONTRIBUTOR)), seen([principal("u1", U)]), NOW)
    [f] = result.findings
    assert f"az login --tenant {MANAGING}" in f.fix
    assert f"az managementpartner create --partner-id {PARTNER}" in f.fix
    assert rc.PORTAL_PAL_URL in f.fix
    assert f.key == rc.attribution_key(ASSIGNMENT.lower())


def test_partner_id_invalid_says_global_instead_of_associated() -> None:
    result = rc.assess_delegation(
        delegation(("mi", CONTRIBUTOR)),
        seen([principal("mi", MI)], {"mi": rc.LinkStatus("", error_code="PartnerIdInvalid")}, {"mi"}),
        NOW,
    )
    [f] = [f for f in result.findings if f.kind == "link_failed"]
    assert "global" in f.detail
    assert "associated" in f.detail
    assert f.severity is model.Severity.CRITICAL
    assert f.key == rc.link_failed_key(MANAGING, "mi")
    assert f.subject == rc.link_subject(MANAGING, "mi")


def test_group_attributes_only_through_usable_linked_members() -> None:
    d = delegation(("g1", CONTRIBUTOR))
    people = {
        "g1": principal("g1", G, members=("u1", "u2")),
        "u1": principal("u1", U, "disabled"),
        "u2": principal("u2", U),
    }
    assert not rc.assess_delegation(d, seen(people, attested={"u1"}), NOW).attributed
    assert rc.assess_delegation(d, seen(people, attested={"u2"}), NOW).attributed


def test_findings_are_deterministic_and_keys_stable() -> None:
    d, observed = delegation(("u1", CONTRIBUTOR)), seen([principal("u1", U)])
    first = rc.assess_delegation(d, observed, NOW)
    again = rc.assess_delegation(d, observed, NOW + timedelta(hours=1))
    assert [f.key for f in first.findings] == [f.key for f in again.findings]
    assert first.findings == again.findings


# ---------------------------------------------------------------- an identity changes: stored delegations re-decided


def attributed_snapshot(extra_linked: bool) -> rc.DelegationSnapshot:
    auths = [("u1", CONTRIBUTOR)] + ([("mi", CONTRIBUTOR)] if extra_linked else [])
    people = [principal("u1", U), principal("mi", MI)]
    linked = {"mi": linked_ok} if extra_linked else {}
    snap = rc.assess_delegation(
        delegation(*auths), seen(people, linked, {"mi"}, {"u1"}), NOW - timedelta(days=1)
    ).snapshot
    assert snap.attributed
    return snap


def redecide(
    snap: rc.DelegationSnapshot, people: list[model.Principal], now: datetime = NOW, **kw: object
) -> rc.DelegationAssessment:
    """What the identity handler does: the stored delegation decided again with Graph's current state."""
    linked = {"mi": linked_ok} if any(a.principal_id == "mi" for a in snap.authorizations) else {}
    observed = seen(people, linked, {"mi"}, kw.get("attested", {"u1"}), previous=[snap])  # type: ignore[arg-type]
    return rc.assess_delegation(snap.to_delegation(), observed, now)


@pytest.mark.parametrize("state", ["disabled", "softDeleted", "deleted"])
def test_losing_the_only_attributing_identity_is_attribution_lost(state: str) -> None:
    snap = attributed_snapshot(extra_linked=False)
    impact = redecide(snap, [principal("u1", U, state), principal("mi", MI)])
    [f] = impact.findings
    assert f.kind == "attribution_lost"
    assert f.severity is model.Severity.CRITICAL
    assert f.key == rc.attribution_key(snap.key)
    assert f.subject == snap.key
    assert "Fabrikam" in f.title
    assert CUSTOMER in f.title
    assert "u1" in f.detail
    assert f"Since {NOW:%Y-%m-%d %H:%M} UTC," in f.detail  # the first alert already says since when
    assert impact.subjects == {snap.key}
    assert not impact.snapshot.attributed
    if state == "softDeleted":
        assert "deletedItems/u1/restore" in f.fix
    if state == "disabled":
        assert "--account-enabled true" in f.fix
    # Restored: the same pass over the updated snapshot closes it.
    back = redecide(impact.snapshot, [principal("u1", U), principal("mi", MI)], NOW + timedelta(hours=1))
    assert back.findings == ()
    assert back.subjects == {snap.key}
    assert back.snapshot.attributed


def test_losing_one_of_two_is_identity_lost_and_closes_on_return() -> None:
    snap = attributed_snapshot(extra_linked=True)
    impact = redecide(snap, [principal("u1", U, "softDeleted"), principal("mi", MI)])
    [f] = impact.findings
    assert f.kind == "identity_lost"
    assert f.severity is model.Severity.WARNING
    assert f.key == rc.identity_lost_key(snap.key, "u1")
    back = redecide(impact.snapshot, [principal("u1", U), principal("mi", MI)])
    assert back.findings == ()


def test_identity_that_attributes_nothing_changes_nothing() -> None:
    snap = attributed_snapshot(extra_linked=False)
    impact = redecide(snap, [principal("u1", U), principal("mi", MI), principal("someone", U, "deleted")])
    assert impact.findings == ()
    assert impact.snapshot.attributed_by == snap.attributed_by
    assert impact.snapshot.since == snap.since


def test_group_membership_removal_loses_attribution() -> None:
    d = delegation(("g1", CONTRIBUTOR))
    people = {"g1": principal("g1", G, members=("u1",)), "u1": principal("u1", U)}
    snap = rc.assess_delegation(d, seen(people, attested={"u1"}), NOW).snapshot
    impact = redecide(snap, [principal("g1", G, members=()), principal("u1", U)])
    [f] = impact.findings
    assert f.kind == "attribution_lost"
    assert "no longer a member of group g1" in f.detail


def test_with_history_and_without_the_findings_agree_on_keys() -> None:
    snap = attributed_snapshot(extra_linked=False)
    people = [principal("u1", U, "disabled"), principal("mi", MI)]
    impact = redecide(snap, people)
    fresh = rc.assess_delegation(snap.to_delegation(), seen(people, {}, {"mi"}, {"u1"}), NOW)
    assert {f.key for f in impact.findings} == {f.key for f in fresh.findings}
    assert {f.kind for f in impact.findings} == {f.kind for f in fresh.findings}
    assert "Since " not in fresh.findings[0].detail  # without history the words do not depend on `now`


def test_lost_identity_is_forgotten_after_the_restore_window() -> None:
    snap = attributed_snapshot(extra_linked=True)
    impact = redecide(snap, [principal("u1", U, "deleted"), principal("mi", MI)])
    later = NOW + rc.RESTORE_WINDOW + timedelta(days=1)
    # Graph no longer knows u1 at all, and nobody attests it any more.
    again = redecide(impact.snapshot, [principal("mi", MI)], later, attested=set())
    assert again.findings == ()


# ---------------------------------------------------------------- estate


def test_estate_findings_coverage_and_removals() -> None:
    d1 = delegation(("mi", CONTRIBUTOR))
    d2 = replace(delegation(("u1", CONTRIBUTOR)), assignment_id=ASSIGNMENT.replace("484a", "aaaa"))
    gone = replace(attributed_snapshot(False), key="gone", assignment_id="gone")
    people = {"mi": principal("mi", MI), "u1": principal("u1", U)}
    observed = replace(
        seen(people, {"mi": linked_ok}, {"mi"}, managing=MANAGING, previous=[gone]), gone=frozenset({"gone"})
    )
    estate = rc.assess_estate([d1, d2, d1], observed, NOW)
    assert [a.key for a in estate.assessments] == [d1.key, d2.key]
    assert {f.kind for f in estate.findings} == {"unattributed_delegation"}
    assert {d1.key, d2.key, "gone", rc.link_subject(MANAGING, "mi")} <= estate.subjects
    statuses = {r.delegation_key: r.status for r in estate.coverage}
    assert statuses == {d1.key: "attributed", d2.key: "not_attributed"}
    assert [r.role_names for r in estate.coverage if r.attributed] == [("Contributor",)]
    assert [s.key for s in estate.removed] == ["gone"]
    assert estate.removed[0].removed


def test_estate_is_a_function_of_observed_state() -> None:
    d = delegation(("u1", CONTRIBUTOR), ("mi", CONTRIBUTOR))
    people = {"mi": principal("mi", MI), "u1": principal("u1", U)}
    a = rc.assess_estate([d], seen(people, {}, {"mi"}), NOW)
    b = rc.assess_estate([d, d], seen(dict(reversed(list(people.items()))), {}, ["mi", "MI"]), NOW + timedelta(hours=6))
    assert a.findings == b.findings
    assert a.subjects == b.subjects


def test_removal_notice() -> None:
    snap = attributed_snapshot(False)
    removal = rc.assess_removal(snap, NOW)
    assert removal.finding.kind == "delegation_removed"
    assert removal.finding.severity is model.Severity.INFO
    assert removal.snapshot.removed
    assert removal.subjects == {snap.key}


def test_a_withdrawn_attestation_stops_counting_even_with_history():
    """A user counts as linked only while attested: the previous snapshot must not keep them linked."""
    from shared import decisions, model

    user = model.Principal("11111111-1111-1111-1111-111111111111", model.PrincipalKind.USER, display_name="Ann")
    delegation = model.Delegation(
        assignment_id="/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.ManagedServices/"
        "registrationAssignments/33333333-3333-3333-3333-333333333333",
        scope="/subscriptions/22222222-2222-2222-2222-222222222222",
        customer_tenant_id="44444444-4444-4444-4444-444444444444",
        managed_by_tenant_id="55555555-5555-5555-5555-555555555555",
        authorizations=(model.Authorization(user.object_id, roles.CONTRIBUTOR),),
    )
    now = datetime(2026, 11, 27, tzinfo=UTC)
    people = {user.object_id: user}
    attested = decisions.assess_delegation(
        delegation, decisions.Observation("5127255", principals=people, attested={user.object_id}), now
    )
    assert attested.attributed

    history = {attested.snapshot.key: attested.snapshot}
    withdrawn = decisions.assess_delegation(
        delegation, decisions.Observation("5127255", principals=people, previous=history), now
    )
    assert not withdrawn.attributed  # with history it is reported as a loss; without, as users_only
    fresh = decisions.assess_delegation(delegation, decisions.Observation("5127255", principals=people), now)
    assert fresh.reason == "users_only"


def test_an_identity_whose_state_graph_did_not_say_is_not_declared_lost() -> None:
    # Graph answered without accountEnabled: not confirmed enabled, but no loss alert either.
    snap = attributed_snapshot(extra_linked=False)
    impact = redecide(snap, [principal("u1", U, "unknown"), principal("mi", MI)])
    assert impact.findings == ()
    assert impact.snapshot.attributed
    fresh = rc.assess_delegation(
        delegation(("u1", CONTRIBUTOR)), seen([principal("u1", U, "unknown")], attested={"u1"}), NOW
    )
    assert fresh.snapshot.attributed
    assert not [f for f in fresh.findings if f.severity is model.Severity.CRITICAL]
    assert not principal("u1", U, "unknown").confirmed
