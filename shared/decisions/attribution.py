"""Who attributes one Lighthouse delegation: its carriers, the links they hold, what was lost.

Pure: the first half of a delegation's decision, called by `estate.assess_estate` once per
delegation per decision, before scope credit is known; `delegation.judge` turns an `Attribution`
into findings once the scope's other paths are counted. No I/O, no clock (`now` comes in).

The rule (Microsoft's): a delegation is attributed iff some permanent authorization with a
PEC-eligible role is held, directly or through a group, by an identity that exists, is
enabled, and is linked to the partner ID in the managing tenant. The app cannot read a user's
link, so users count as linked only when attested.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from shared import catalogue, model, offers, roles
from shared.decisions import scopes
from shared.decisions.observation import LinkStatus, Observation
from shared.snapshots import AttributedBy, DelegationSnapshot

RESTORE_WINDOW = timedelta(days=catalogue.RESTORE_DAYS)
AOBO = "aobo"
LIGHTHOUSE_PAL = "lighthouse_pal"
CUSTOMER_TENANT_PAL = "customer_tenant_pal"
_NOT_IN_EFFECT = {"deleted", "deleting", "failed", "canceled"}


@dataclass(frozen=True)
class Carrier:
    """An identity holding an eligible permanent role on the delegation, maybe through a group."""

    principal_id: str
    role_id: str
    via_group: str
    principal: model.Principal
    group: model.Principal | None = None

    @property
    def usable(self) -> bool:
        return self.principal.usable and (self.group is None or self.group.usable)


@dataclass
class Knowledge:
    linked: Mapping[str, LinkStatus]
    attested: frozenset[str]
    previous: frozenset[str] = field(default_factory=frozenset)
    ours: frozenset[str] = field(default_factory=frozenset)  # the partner's location IDs: a link to any counts

    def known_linked(self, object_id: str, partner_id: str) -> bool:
        status = self.linked.get(object_id)
        if status is not None and status.partner_id is not None:
            return status.points_to(self.ours or partner_id)
        return object_id in self.attested or object_id in self.previous


def _principal(object_id: str, principals: Mapping[str, model.Principal], name: str = "") -> model.Principal:
    found = principals.get(object_id)
    return found if found is not None else model.Principal(object_id, model.PrincipalKind.UNKNOWN, display_name=name)


class Holders(NamedTuple):
    """Who holds the eligible roles of a delegation's permanent authorizations."""

    carriers: list[Carrier]
    unknown: list[str]  # role ids that could not be classified
    any_eligible: bool  # some permanent authorization holds an eligible role


def expand_carriers(
    authorizations: Iterable[model.Authorization],
    principals: Mapping[str, model.Principal],
    eligible: Callable[[str], bool | None],
) -> Holders:
    """(carriers, unknown role ids, any eligible authorization) for permanent authorizations."""
    carriers: dict[tuple[str, str, str], Carrier] = {}
    unknown: list[str] = []
    any_eligible = False
    for auth in authorizations:
        if auth.just_in_time:
            continue
        decision = eligible(auth.role_definition_id)
        role = roles.normalize_role_id(auth.role_definition_id)
        if decision is None and role not in unknown:
            unknown.append(role)
        if decision is not True:
            continue
        any_eligible = True
        pid = auth.principal_id.lower()
        holder = _principal(pid, principals, auth.principal_display_name)
        if holder.kind is model.PrincipalKind.GROUP:
            for member_id in holder.member_ids:
                mid = member_id.lower()
                member = _principal(mid, principals)
                if member.kind is model.PrincipalKind.GROUP:
                    continue  # transitive members already include the nested groups' members
                carriers.setdefault((mid, role, pid), Carrier(mid, role, pid, member, holder))
        else:
            carriers.setdefault((pid, role, ""), Carrier(pid, role, "", holder))
    return Holders(list(carriers.values()), unknown, any_eligible)


def can_act(carrier: Carrier, acting: frozenset[str]) -> bool:
    return carrier.principal_id in acting and carrier.principal.kind not in (
        model.PrincipalKind.USER,
        model.PrincipalKind.GROUP,
    )


def what_happened(
    entry: AttributedBy,
    states: Mapping[str, model.Principal],
    carriers_now: set[tuple[str, str, str]] | None,
    linked: Mapping[str, LinkStatus],
    partner_id: str | Collection[str],
) -> str:
    """`<word>: <plain words>` for an identity that no longer attributes (word drives the fix)."""
    principal = states.get(entry.principal_id)
    if principal is not None and not principal.usable:
        kind = _KIND_TEXT.get(principal.kind, "identity")
        return f"{principal.state.value}: the {kind} is {_state_text(principal.state)}"
    if entry.via_group:
        group = states.get(entry.via_group)
        if group is not None and not group.usable:
            return f"group_{group.state.value}: group {entry.via_group} is {_state_text(group.state)}"
        if group is not None and entry.principal_id not in {m.lower() for m in group.member_ids}:
            return f"removed_from_group: no longer a member of group {entry.via_group}"
    status = linked.get(entry.principal_id)
    if status is not None and status.partner_id is not None and not status.points_to(partner_id):
        target = status.partner_id or "nothing"
        return f"link_moved: its PAL link now points to {target}"
    if carriers_now is not None and (entry.principal_id, entry.role_id, entry.via_group) not in carriers_now:
        return f"role_removed: no longer holds {roles.role_name(entry.role_id)} on this delegation"
    return "unknown: it no longer attributes the delegation"


_KIND_TEXT = {
    model.PrincipalKind.USER: "user",
    model.PrincipalKind.GROUP: "group",
    model.PrincipalKind.SERVICE_PRINCIPAL: "service principal",
    model.PrincipalKind.MANAGED_IDENTITY: "managed identity",
}


def _state_text(state: model.PrincipalState) -> str:
    return {
        model.PrincipalState.DISABLED: "disabled",
        model.PrincipalState.SOFT_DELETED: "deleted (restorable for 30 days)",
        model.PrincipalState.DELETED: "permanently deleted",
    }.get(state, state.value)


@dataclass(frozen=True)
class Attribution:
    """One delegation's attribution as observed: who carries it now, who carried it and is lost.

    `loses_credit`: the delegation lost its last carrier (an identity that carried it is lost and
    none attributes it), so its scope loses credit unless another path still earns it there."""

    delegation: model.Delegation
    previous: DelegationSnapshot | None
    where: catalogue.Where
    offer: offers.Offer
    holders: Holders
    know: Knowledge
    attributing: tuple[Carrier, ...]  # usable, linked, eligible role
    lost: Mapping[tuple[str, str, str], AttributedBy]  # carried the link before, no longer do
    in_effect: bool
    recognised: bool  # a linked identity holds any permanent role (PAL association counts for all)
    aobo: bool = False  # CSP subscription: the partner's Admin Agents hold an eligible role there (AOBO)
    aobo_lost_at: datetime | None = None  # CSP subscription: AOBO was seen gone since then
    csp_customer: bool = False  # the customer is the partner's own CSP business (recognised as `csp`)
    foreign_aobo: tuple[str, ...] = ()  # foreign groups PAL Watch does not know (someone else's AOBO), as read
    customer_tenant_pal: bool = False  # CSP: our identity linked in the customer's tenant holds an eligible role

    @property
    def key(self) -> str:
        return self.delegation.key

    @property
    def tenant(self) -> str:
        return self.delegation.managed_by_tenant_id

    @property
    def attributed(self) -> bool:
        return bool(self.attributing) and self.in_effect

    @property
    def attributing_ids(self) -> frozenset[str]:
        return frozenset(c.principal_id for c in self.attributing)

    @property
    def attributed_by(self) -> tuple[AttributedBy, ...]:
        """Active entries first, then the lost ones (active=False)."""
        return tuple(_entry(c, active=True) for c in self.attributing) + tuple(self.lost.values())

    @property
    def pec_applies(self) -> bool:
        """Partner earned credit exists only on CSP (Azure plan) subscriptions."""
        return self.offer.csp

    @property
    def aobo_removed(self) -> bool:
        return self.pec_applies and self.aobo_lost_at is not None and not self.aobo

    @property
    def loses_credit(self) -> bool:
        """The delegation lost its last PAL carrier, or its CSP subscription lost AOBO, and no carrier
        of its own attributes it."""
        lost = bool(self.lost) or self.aobo_removed
        return self.in_effect and self.offer.eligible and lost and not self.attributing

    @property
    def paths(self) -> tuple[str, ...]:
        """The partner earned credit paths that hold now (CSP only): `aobo`, `lighthouse_pal`,
        `customer_tenant_pal`."""
        if not self.pec_applies:
            return ()
        held = ((AOBO, self.aobo), (LIGHTHOUSE_PAL, self.attributed), (CUSTOMER_TENANT_PAL, self.customer_tenant_pal))
        return tuple(p for p, holds in held if holds)

    @property
    def level(self) -> str:
        """What this delegation alone earns its scope (`scopes.EARNS_CREDIT`, `RECOGNISED`, `NONE`)."""
        if self.attributed:
            return scopes.EARNS_CREDIT
        return scopes.RECOGNISED if self.recognised else scopes.NONE


def raises_attribution_lost(attribution: Attribution, elsewhere: int) -> bool:
    """The one answer to "when is `attribution_lost` raised?": the delegation lost its last carrier
    (or its CSP subscription lost AOBO) and no other path still earns the scope its credit: no
    identity attributing it through other delegations (`elsewhere`), no AOBO and no linked identity
    in the customer's tenant on a CSP subscription."""
    other_path = attribution.pec_applies and (attribution.aobo or attribution.customer_tenant_pal)
    return attribution.loses_credit and not elsewhere and not other_path


def _aobo(
    delegation: model.Delegation,
    offer: offers.Offer,
    observation: Observation,
    previous: DelegationSnapshot | None,
    now: datetime,
) -> tuple[bool, datetime | None]:
    """(AOBO holds, since when it is gone) on the delegation's CSP subscription: as this pass read
    it, else as the last verification did (an event reads no role assignments)."""
    if not offer.csp:
        return False, None
    read = observation.aobo.get(scopes.subscription_id(delegation.scope))
    held_before = previous.aobo if previous else False
    lost_before = previous.aobo_lost_at if previous else None
    if read is None:
        return held_before, lost_before
    if read.holds:
        return True, None
    lost_at = now if held_before else lost_before
    if lost_at is not None and now - lost_at > RESTORE_WINDOW:
        lost_at = None  # long gone: no longer news
    return False, lost_at


def _where(delegation: model.Delegation, previous: DelegationSnapshot | None) -> catalogue.Where:
    """Who the delegation's findings are about. An event names no subscription: the name the last
    verification read stands in."""
    return catalogue.Where(
        delegation.key,
        delegation.customer_tenant_id,
        delegation.customer_tenant_name,
        delegation.scope,
        subscription_name=delegation.subscription_name or (previous.subscription_name if previous else ""),
    )


def attribute(delegation: model.Delegation, observation: Observation, now: datetime) -> Attribution:
    """Who attributes the delegation now, and who carried it and no longer does. Its stored snapshot
    (`observation.previous`) lets an identity that carried the link but can no longer be read still
    be reported as lost, not unknown."""
    previous = observation.previous.get(delegation.key)
    partner_id = observation.partner_id
    know = Knowledge(
        ours=frozenset(observation.partner_ids),
        linked=observation.links,
        attested=frozenset(observation.attested),
        # What a snapshot remembers stands in for links we cannot read any more (an identity gone);
        # not for users: their link is never read, only attested, and a withdrawn attestation counts.
        previous=frozenset(a.principal_id for a in previous.attributed_by if a.kind != model.PrincipalKind.USER.value)
        if previous
        else frozenset(),
    )
    states = observation.principals
    # An event's read names no offer: the one the last verification read stands in.
    offer = offers.classify(delegation.quota_id or (previous.quota_id if previous else ""), observation.cloud)
    holders = expand_carriers(delegation.authorizations, states, observation.eligible)
    in_effect = delegation.provisioning_state.lower() not in _NOT_IN_EFFECT
    attributing = tuple(c for c in holders.carriers if c.usable and know.known_linked(c.principal_id, partner_id))
    attributed = bool(attributing) and in_effect
    aobo, aobo_lost_at = _aobo(delegation, offer, observation, previous, now)
    return Attribution(
        delegation=delegation,
        previous=previous,
        where=replace(_where(delegation, previous), offer_type=offer.category),
        offer=offer,
        holders=holders,
        know=know,
        attributing=attributing,
        lost=_lost(holders, attributing, previous, know, partner_id, now),
        in_effect=in_effect,
        recognised=attributed or (in_effect and _recognised(delegation, states, know, partner_id)),
        aobo=aobo,
        aobo_lost_at=aobo_lost_at,
        csp_customer=delegation.customer_tenant_id.lower() in observation.csp_tenants,
        foreign_aobo=_foreign(delegation, observation),
        customer_tenant_pal=offer.csp and _tenant_pal(delegation, observation),
    )


def _tenant_pal(delegation: model.Delegation, observation: Observation) -> bool:
    """An identity of ours linked in the customer's tenant holds an eligible role at its subscription,
    as this pass read the role assignments (object id there known from its link; never a guess).
    A pass that read no role assignments (an event) does not count it."""
    read = observation.aobo.get(scopes.subscription_id(delegation.scope))
    linked = observation.tenant_pal.get(delegation.customer_tenant_id.lower(), frozenset())
    return read is not None and bool(linked.intersection(read.service_principals))


def _foreign(delegation: model.Delegation, observation: Observation) -> tuple[str, ...]:
    read = observation.aobo.get(scopes.subscription_id(delegation.scope))
    return read.foreign if read is not None else ()


def _lost(  # noqa: PLR0917  (the parts of one attribution the lost entries follow from)
    holders: Holders,
    attributing: tuple[Carrier, ...],
    previous: DelegationSnapshot | None,
    know: Knowledge,
    partner_id: str,
    now: datetime,
) -> dict[tuple[str, str, str], AttributedBy]:
    """Identities that carried the link and no longer attribute: unusable now, or remembered."""
    attributing_keys = {(c.principal_id, c.role_id, c.via_group) for c in attributing}
    attributing_ids = {c.principal_id for c in attributing}
    lost: dict[tuple[str, str, str], AttributedBy] = {}
    previous_lost_at = {
        (a.principal_id, a.role_id, a.via_group): a.lost_at
        for a in (previous.attributed_by if previous else ())
        if not a.active
    }
    for c in holders.carriers:
        key = (c.principal_id, c.role_id, c.via_group)
        if not c.usable and c.principal_id not in attributing_ids and know.known_linked(c.principal_id, partner_id):
            lost[key] = _entry(c, active=False, lost_at=previous_lost_at.get(key) or now)
    for a in previous.attributed_by if previous else ():
        key = (a.principal_id, a.role_id, a.via_group)
        if key in lost or key in attributing_keys or a.principal_id in attributing_ids:
            continue
        lost_at = a.lost_at if not a.active and a.lost_at else now
        if now - lost_at > RESTORE_WINDOW:
            continue  # nothing can bring it back any more: forget it
        lost[key] = a._replace(active=False, lost_at=lost_at)
    return lost


def _recognised(
    delegation: model.Delegation, states: Mapping[str, model.Principal], know: Knowledge, partner_id: str
) -> bool:
    """PAL association counts for every RBAC role: does a linked identity hold any permanent one?"""
    holders, _unknown, _any = expand_carriers(delegation.authorizations, states, lambda _role: True)
    return any(c.usable and know.known_linked(c.principal_id, partner_id) for c in holders)


def _entry(c: Carrier, *, active: bool, lost_at: datetime | None = None) -> AttributedBy:
    return AttributedBy(
        c.principal_id,
        c.role_id,
        c.via_group,
        active,
        None if active else lost_at,
        catalogue.short(c.principal.display_name),
        c.principal.kind.value,
    )
