"""Properties of the pure decisions: verify's result depends on observed state only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared import decisions as rc
from shared import model, roles

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROLES = [roles.CONTRIBUTOR, roles.READER]
IDS = ["u1", "u2", "sp1", "mi", "g1"]
KINDS = {
    "u1": model.PrincipalKind.USER,
    "u2": model.PrincipalKind.USER,
    "sp1": model.PrincipalKind.SERVICE_PRINCIPAL,
    "mi": model.PrincipalKind.MANAGED_IDENTITY,
    "g1": model.PrincipalKind.GROUP,
}

delegations = st.lists(
    st.builds(
        lambda n, auths: model.Delegation(
            assignment_id=f"/subscriptions/s{n}/providers/Microsoft.ManagedServices/registrationAssignments/a{n}",
            scope=f"/subscriptions/s{n}",
            customer_tenant_id=f"t{n}",
            managed_by_tenant_id="home",
            authorizations=tuple(model.Authorization(p, r) for p, r in auths),
        ),
        st.integers(0, 5),
        st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(ROLES)), max_size=4),
    ),
    max_size=6,
    unique_by=lambda d: d.key,  # one enumeration never sees two versions of one assignment
)
states = st.fixed_dictionaries({i: st.sampled_from(list(model.PrincipalState)) for i in IDS})


@settings(max_examples=150, deadline=None)
@given(
    ds=delegations,
    st_=states,
    attested=st.sets(st.sampled_from(["u1", "u2"])),
    linked=st.sets(st.sampled_from(["sp1", "mi"])),
    acting=st.sets(st.sampled_from(["sp1", "mi"])),
    members=st.sets(st.sampled_from(["u1", "u2", "sp1", "mi"])),
    shuffle=st.randoms(use_true_random=False),
)
def test_estate_is_invariant_to_order_duplication_and_time(ds, st_, attested, linked, acting, members, shuffle) -> None:  # noqa: PLR0917
    principals = {
        i: model.Principal(i, KINDS[i], st_[i], member_ids=tuple(sorted(members)) if i == "g1" else ()) for i in IDS
    }
    links = {i: rc.LinkStatus("1234567") for i in linked}
    seen = rc.Observation("1234567", acting=acting, principals=principals, links=links, attested=attested)
    first = rc.assess_estate(ds, seen, NOW)
    again_ds = ds + ds
    shuffle.shuffle(again_ds)
    again_p = dict(sorted(principals.items(), reverse=True))
    again = rc.Observation(
        "1234567", acting=sorted(acting, reverse=True), principals=again_p, links=links, attested=attested
    )
    second = rc.assess_estate(again_ds, again, NOW + timedelta(hours=6))
    assert {f.key: f for f in first.findings} == {f.key: f for f in second.findings}
    assert first.subjects == second.subjects
    # Every finding belongs to a subject the assessment decides, and keys are unique.
    assert all(f.subject in first.subjects for f in first.findings)
    assert len({f.key for f in first.findings}) == len(first.findings)
    # Attributed iff some usable, linked (or attested) identity holds an eligible role.
    for a in first.assessments:
        assert a.attributed == any(x.active for x in a.attributed_by)
