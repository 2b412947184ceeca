"""The one reconcile entry without HTTP: state in (directory, links, attestations), plan and writes out.

An in-memory engine stands in for Graph, PAL and the store, so each case runs in milliseconds
and counts what the entry read and wrote; the emulator tests cover the same paths over HTTPS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from shared import model, roles
from shared.azure import pal
from shared.usecases import pipeline

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PARTNER = "1234567"
HOME = "home"
CONTRIBUTOR = roles.CONTRIBUTOR
MI_ID = "11111111-0000-0000-0000-000000000001"
USER_ID = "11111111-0000-0000-0000-000000000002"
MANAGED = model.ActingIdentity(name="id-palwatch", kind="managedIdentity")
PRINCIPALS = {
    MI_ID: model.Principal(MI_ID, model.PrincipalKind.MANAGED_IDENTITY, display_name="id-palwatch"),
    USER_ID: model.Principal(USER_ID, model.PrincipalKind.USER, display_name="Ann"),
}


@dataclass
class World:
    """What Graph, PAL and the store hold, and what the entry asked of them."""

    linked_to: str = ""  # the managed identity's PAL link ("" none)
    attested: list[str] = field(default_factory=list)
    graph_reads: int = 0
    pal_reads: int = 0
    pal_writes: int = 0

    def engine(self) -> Any:
        world = self

        class Pal:
            def get_link(self) -> model.PartnerLink | None:
                world.pal_reads += 1
                return model.PartnerLink(HOME, MI_ID, world.linked_to) if world.linked_to else None

            def ensure_link(self, partner_id: str, *, may_write: Any) -> pal.LinkResult:
                if not may_write(world.linked_to):
                    return pal.LinkResult("withheld", self.get_link())
                world.pal_writes += 1
                world.linked_to = partner_id
                return pal.LinkResult("created", model.PartnerLink(HOME, MI_ID, partner_id))

        def get_principals(ids: list[str]) -> dict[str, model.Principal]:
            world.graph_reads += 1
            return {i: PRINCIPALS[i] for i in ids if i in PRINCIPALS}

        store = SimpleNamespace(
            list_remembered_identities=list,
            list_attested_users=lambda: [
                SimpleNamespace(tenant_id=HOME, object_id=o, partner_id=PARTNER) for o in self.attested
            ],
            try_acquire=lambda *_: True,
            release=lambda *_: None,
            get_state=lambda _name: None,
            list_delegations=list,
            sync_findings=lambda *_: ([], []),
        )
        settings = SimpleNamespace(
            partner_id=PARTNER,
            partner_ids=(PARTNER,),
            managing_tenant_id=HOME,
            identities=[MANAGED],
            federation_discovery=False,
            attested_users=(),
            csp_tenants=(),
            max_concurrency=4,
            previous_partner_id="",
            observe_only=False,
            arm_endpoint="https://management.azure.com",
        )
        return SimpleNamespace(
            settings=settings,
            store=store,
            whoami=lambda acting, tenant=None: SimpleNamespace(object_id=MI_ID),
            graph=lambda: SimpleNamespace(get_principals=get_principals, list_transitive_member_ids=lambda _g: ()),
            pal_for=lambda acting, tenant=None: Pal(),
            # The subscription's offer, read once per subscription (an assignment read names none).
            arm=lambda: SimpleNamespace(
                get_subscription=lambda _sid: SimpleNamespace(quota_id="PayAsYouGo_2014-09-01")
            ),
        )


def delegation(*holders: str) -> model.Delegation:
    return model.Delegation(
        assignment_id="/subscriptions/s1/providers/Microsoft.ManagedServices/registrationAssignments/a1",
        scope="/subscriptions/s1",
        customer_tenant_id="c1",
        managed_by_tenant_id=HOME,
        authorizations=tuple(model.Authorization(h, CONTRIBUTOR) for h in holders),
    )


@dataclass
class Case:
    name: str
    world: World
    holders: tuple[str, ...]
    act: bool = True
    # expectations
    status: str = "attributed"
    pal_writes: int = 0
    written: tuple[str, ...] = ()


CASES = [
    Case(
        "the managed identity is linked on the spot",
        World(),
        (MI_ID,),
        pal_writes=1,
        written=(f"created id-palwatch in {HOME}",),
    ),
    Case("already linked: nothing written", World(linked_to=PARTNER), (MI_ID,)),
    Case(
        "an attested user attributes (at risk: only users) without a PAL write",
        World(attested=[USER_ID]),
        (USER_ID,),
        status="at_risk",
    ),
    Case("a user nobody attested: not attributed, nothing written", World(), (USER_ID,), status="not_attributed"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_state_in_plan_and_writes_out(case: Case) -> None:
    result = pipeline.reconcile(
        case.world.engine(), pipeline.Delegations((delegation(*case.holders),)), now=NOW, act=case.act
    )
    assert [row.status for row in result.plan.coverage] == [case.status]
    assert case.world.pal_writes == case.pal_writes
    assert result.links_written == case.written
    assert case.world.graph_reads == 1  # every principal of the batch in one read
    # The link of an identity the delegation names is read once, whatever the plan; no other link.
    assert case.world.pal_reads == (1 if MI_ID in case.holders else 0)
    assert result.problems == ()
    # The observation the plan was decided from says what was linked in the end.
    if MI_ID in case.holders:
        assert result.observation.links[MI_ID].points_to(PARTNER) is (case.world.linked_to == PARTNER)
    else:
        assert MI_ID not in result.observation.links


@pytest.mark.parametrize("act", [True, False])
def test_every_link_pointing_to_another_partner_id_stops_the_pass(act: bool) -> None:
    world = World(linked_to="7654321")
    result = pipeline.reconcile(world.engine(), pipeline.Delegations((delegation(MI_ID),)), now=NOW, act=act)
    assert result.halted
    assert world.pal_writes == 0
    assert result.plan.coverage == ()
    assert any("7654321" in p and PARTNER in p for p in result.problems)


def test_stored_delegations_are_decided_with_their_history() -> None:
    world = World(attested=[USER_ID])
    first = pipeline.reconcile(world.engine(), pipeline.Delegations((delegation(USER_ID),)), now=NOW)
    world.attested.clear()  # the attestation is withdrawn
    later = pipeline.reconcile(
        world.engine(), pipeline.Delegations.stored(first.plan.snapshots), now=NOW + timedelta(hours=1)
    )
    [finding] = later.plan.findings
    assert finding.kind == "attribution_lost"  # with history a loss, not "users only"
    assert f"Since {NOW + timedelta(hours=1):%Y-%m-%d %H:%M} UTC," in finding.detail
