"""Is one Lighthouse delegation attributed, through whom, what to link, what to report.

Pure: called by `estate.assess_estate` (and tests) with the delegation and the frozen
`Observation` of the pass (its principals with groups' transitive members, the links we know,
the identities we can act as, attested users, role eligibility, the stored snapshot); returns
a DelegationAssessment. No I/O, no clock (`now` comes in), no logging, no settings.

The rule (Microsoft's): a delegation is attributed iff some permanent authorization with a
PEC-eligible role is held, directly or through a group, by an identity that exists, is
enabled, and is linked to the partner ID in the managing tenant. The app cannot read a user's
link, so users count as linked only when attested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from shared import catalogue, model, offers, roles, words
from shared.reconcile import scopes
from shared.reconcile.observation import LinkStatus, Observation
from shared.snapshots import AttributedBy, DelegationSnapshot

RESTORE_WINDOW = timedelta(days=catalogue.RESTORE_DAYS)
_NOT_IN_EFFECT = {"deleted", "deleting", "failed", "canceled"}


@dataclass(frozen=True)
class LinkAction:
    """Link this identity (which we can act as) to the partner ID in `tenant_id`."""

    object_id: str
    tenant_id: str
    partner_id: str
    operation: str  # "create" (not linked), "repoint" (linked elsewhere), "ensure" (not read yet)
    current_partner_id: str = ""


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


@dataclass(frozen=True)
class DelegationAssessment:
    delegation: model.Delegation
    attributed: bool
    attributed_by: tuple[AttributedBy, ...]  # active ones first, then lost ones (active=False)
    reason: str  # "" when attributed; else a reason code
    carriers: tuple[Carrier, ...]
    link_actions: tuple[LinkAction, ...]
    findings: tuple[model.Finding, ...]
    subjects: frozenset[str]  # the finding subjects this assessment decides completely
    snapshot: DelegationSnapshot
    unknown_roles: tuple[str, ...] = ()
    in_effect: bool = True
    recognised: bool = False  # a linked identity holds any permanent role (PAL association counts for all)
    offer: offers.Offer = field(default_factory=lambda: offers.classify(""))  # the subscription's offer

    @property
    def key(self) -> str:
        return self.delegation.key


@dataclass
class _Knowledge:
    linked: Mapping[str, LinkStatus]
    attested: frozenset[str]
    previous: frozenset[str] = field(default_factory=frozenset)

    def known_linked(self, object_id: str, partner_id: str) -> bool:
        status = self.linked.get(object_id)
        if status is not None and status.partner_id is not None:
            return status.points_to(partner_id)
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


def _can_act(carrier: Carrier, acting: frozenset[str]) -> bool:
    return carrier.principal_id in acting and carrier.principal.kind not in (
        model.PrincipalKind.USER,
        model.PrincipalKind.GROUP,
    )


def what_happened(
    entry: AttributedBy,
    states: Mapping[str, model.Principal],
    carriers_now: set[tuple[str, str, str]] | None,
    linked: Mapping[str, LinkStatus],
    partner_id: str,
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


def assess_delegation(
    delegation: model.Delegation, observation: Observation, now: datetime, *, credited_elsewhere: int = 0
) -> DelegationAssessment:
    """Decide one delegation from observed state. Its stored snapshot (`observation.previous`) lets an
    identity that carried the link but can no longer be read still be reported as lost, not unknown.
    `credited_elsewhere`: identities attributing its scope through other delegations (another offer
    on the same scope, or a subscription delegation above a resource group): losing this
    delegation's last carrier then thins coverage (`identity_lost`) but loses no credit."""
    previous = observation.previous.get(delegation.key)
    partner_id = observation.partner_id
    acting_set = frozenset(observation.acting)
    know = _Knowledge(
        linked=observation.links,
        attested=frozenset(observation.attested),
        # What a snapshot remembers stands in for links we cannot read any more (an identity gone);
        # not for users: their link is never read, only attested, and a withdrawn attestation counts.
        previous=frozenset(a.principal_id for a in previous.attributed_by if a.kind != model.PrincipalKind.USER.value)
        if previous
        else frozenset(),
    )
    states = observation.principals
    where = _where(delegation, previous)
    # An event's read names no offer: the one the last verification read stands in.
    offer = offers.classify(delegation.quota_id or (previous.quota_id if previous else ""), observation.cloud)
    tenant = delegation.managed_by_tenant_id
    holders = expand_carriers(delegation.authorizations, states, observation.eligible)
    in_effect = delegation.provisioning_state.lower() not in _NOT_IN_EFFECT

    attributing = [c for c in holders.carriers if c.usable and know.known_linked(c.principal_id, partner_id)]
    attributing_keys = {(c.principal_id, c.role_id, c.via_group) for c in attributing}
    attributing_ids = {c.principal_id for c in attributing}
    carrier_keys = {(c.principal_id, c.role_id, c.via_group) for c in holders.carriers}

    # Identities that carried the link and no longer attribute: unusable now, or remembered.
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

    attributed = bool(attributing) and in_effect
    entries = tuple(_entry(c, active=True) for c in attributing) + tuple(lost.values())

    actions = _link_actions(holders.carriers, acting_set, know, tenant, partner_id)
    subjects = {delegation.key}
    findings = _link_failures(holders.carriers, acting_set, know, tenant, partner_id, subjects) if in_effect else []
    reason = ""
    if in_effect:
        since = previous.since if previous and previous.attributed == attributed and previous.since else now
        if not offer.eligible:  # nothing to lose or earn through PAL here: said once, apart
            findings.append(catalogue.not_eligible_offer(where, offer, offers.rule_text()))
            reason = catalogue.Kind.NOT_ELIGIBLE_OFFER
        loss = (
            []
            if reason
            else loss_findings(
                where,
                attributing_count=len(attributing_ids),
                elsewhere=credited_elsewhere,
                # A loss is dated in words only where the delegation has history: then this decision is
                # what remembers when it was lost, and every later pass says the same "since" from the
                # first alert on. Without history the text must not depend on `now`.
                lost=[
                    (e, what_happened(e, states, carrier_keys, know.linked, partner_id))
                    for e in (
                        lost.values() if previous is not None else (e._replace(lost_at=None) for e in lost.values())
                    )
                ],
                tenant=tenant,
                partner_id=partner_id,
            )
        )
        if loss:
            findings.extend(_with_offer(loss, offer))
            reason = "" if attributed else "identity_lost"
        elif not attributed and not reason:
            reason, detail, ids = _unattributed_reason(
                delegation,
                holders,
                acting=acting_set,
                know=know,
                eligible=observation.eligible,
                names=observation.role_names,
            )
            unattributed = catalogue.unattributed(
                where,
                reason,
                detail=detail,
                fix=catalogue.fix_for(reason, tenant, partner_id),
                principal_ids=ids,
                partner_id=partner_id,
            )
            findings.extend(_with_offer([unattributed], offer))
    else:
        since = previous.since if previous and not previous.attributed and previous.since else now
        reason = "not_in_effect"

    snapshot = DelegationSnapshot(
        key=delegation.key,
        assignment_id=delegation.assignment_id,
        customer_tenant_id=delegation.customer_tenant_id,
        scope=delegation.scope,
        customer_tenant_name=delegation.customer_tenant_name,
        subscription_name=where.subscription_name,
        managed_by_tenant_id=tenant,
        definition_name=delegation.definition_name,
        quota_id=offer.quota_id,
        plan=delegation.plan,
        authorizations=delegation.authorizations,
        eligible_authorizations=delegation.eligible_authorizations,
        attributed_by=entries,
        attributed=attributed,
        since=since,
        updated_at=now,
        removed=False,
        reason=reason,
    )
    return DelegationAssessment(
        delegation=delegation,
        attributed=attributed,
        attributed_by=entries,
        reason=reason,
        carriers=tuple(holders.carriers),
        link_actions=tuple(actions) if in_effect else (),
        findings=tuple(findings),
        subjects=frozenset(subjects),
        snapshot=snapshot,
        unknown_roles=tuple(holders.unknown),
        in_effect=in_effect,
        recognised=attributed or (in_effect and _recognised(delegation, states, know, partner_id)),
        offer=offer,
    )


def _link_failures(  # noqa: PLR0917  (what one decision knows of the identities it can link)
    carriers: Sequence[Carrier],
    acting: frozenset[str],
    know: _Knowledge,
    tenant: str,
    partner_id: str,
    subjects: set[str],
) -> list[model.Finding]:
    """link_failed for each identity we act as on the delegation whose last link attempt failed;
    every such identity's link subject goes into `subjects` (decided here completely)."""
    found = []
    for c in carriers:
        if not _can_act(c, acting):
            continue
        subjects.add(catalogue.link_subject(tenant, c.principal_id))
        status = know.linked.get(c.principal_id)
        if status is not None and status.error_code:
            found.append(
                catalogue.link_failed(
                    catalogue.Link(tenant, c.principal_id, c.principal.display_name),
                    code=status.error_code,
                    message=status.error_message,
                    partner_id=partner_id,
                )
            )
    return found


def _with_offer(findings: Sequence[model.Finding], offer: offers.Offer) -> list[model.Finding]:
    """Findings that put credit at stake, with the subscription's offer in their facts (the money
    wording depends on it) and, on an Enterprise Agreement subscription, the DPOR hint."""
    facts = {"offerType": offer.category, **({"quotaId": offer.quota_id} if offer.quota_id else {})}
    hint = offers.enterprise_agreement_hint(offer.quota_id) if offer.category == offers.ENTERPRISE_AGREEMENT else ""
    return [replace(f, detail=f"{f.detail} {hint}".strip(), facts={**f.facts, **facts}) for f in findings]


def loss_findings(
    where: catalogue.Where,
    *,
    attributing_count: int,
    lost: Sequence[tuple[AttributedBy, str]],
    tenant: str,
    partner_id: str,
    elsewhere: int = 0,
) -> list[model.Finding]:
    """identity_lost per lost identity while others attribute the scope (through this delegation, or
    `elsewhere` through others covering it); else one attribution_lost: the scope lost its credit.
    `lost`: each lost entry with what happened to it (`what_happened`)."""
    if not lost:
        return []
    by_principal: dict[str, tuple[AttributedBy, str]] = {}
    for entry, what in lost:
        by_principal.setdefault(entry.principal_id, (entry, what))
    if attributing_count or elsewhere:
        found = [
            catalogue.identity_lost(
                where,
                e,
                what,
                remaining=attributing_count or elsewhere,
                managing_tenant_id=tenant,
                partner_id=partner_id,
            )
            for e, what in by_principal.values()
        ]
        if attributing_count:
            return found
        return [replace(f, detail=f"{f.detail} {scopes.CREDITED_ELSEWHERE}") for f in found]
    described = [(e.principal_id, e.display_name, e.kind, what) for e, what in by_principal.values()]
    since = min((e.lost_at for e, _ in lost if e.lost_at), default=None)
    return [catalogue.attribution_lost(where, described, words.when(since), tenant, partner_id)]


def _recognised(
    delegation: model.Delegation, states: Mapping[str, model.Principal], know: _Knowledge, partner_id: str
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


def _link_actions(
    carriers: Sequence[Carrier], acting: frozenset[str], know: _Knowledge, tenant: str, partner_id: str
) -> list[LinkAction]:
    actions: dict[str, LinkAction] = {}
    for c in carriers:
        if not c.usable or not _can_act(c, acting) or c.principal_id in actions:
            continue
        status = know.linked.get(c.principal_id)
        if status is None or status.partner_id is None:
            actions[c.principal_id] = LinkAction(c.principal_id, tenant, partner_id, "ensure")
        elif not status.points_to(partner_id):
            operation = "repoint" if status.partner_id else "create"
            actions[c.principal_id] = LinkAction(c.principal_id, tenant, partner_id, operation, status.partner_id)
    return list(actions.values())


def _name(role_id: str, names: Mapping[str, str] | None) -> str:
    """A role's name: as its definition was read (roles newer than the shipped list), else the list's."""
    return (names or {}).get(roles.normalize_role_id(role_id)) or roles.role_name(role_id)


def _ruled_note(
    delegation: model.Delegation, eligible: Callable[[str], bool | None], names: Mapping[str, str] | None
) -> str:
    """Says which verdicts come from a role's actions because Microsoft's PEC list does not name the role."""
    ruled = sorted(
        {
            _name(a.role_definition_id, names)
            for a in delegation.authorizations
            if roles.decided_by_rule(a.role_definition_id) and eligible(a.role_definition_id) is not None
        }
    )
    if not ruled:
        return ""
    return (
        f" Not on Microsoft's PEC role list, so judged by their actions (PAL Watch's reading, not "
        f"Microsoft's list): {', '.join(ruled)}."
    )


def _unattributed_reason(  # noqa: PLR0911  (one reason code each)
    delegation: model.Delegation,
    holders: Holders,
    *,
    acting: frozenset[str],
    know: _Knowledge,
    eligible: Callable[[str], bool | None],
    names: Mapping[str, str] | None = None,
) -> tuple[str, str, list[str]]:
    """(reason code, plain detail, principal ids concerned) for a delegation nobody attributes."""
    carriers, unknown, any_eligible = holders
    if not any_eligible:
        jit = [a for a in delegation.eligible_authorizations if eligible(a.role_definition_id) is True]
        held = sorted({_name(a.role_definition_id, names) for a in delegation.authorizations})
        note = f" Roles that could not be classified: {', '.join(unknown)}." if unknown else ""
        note += _ruled_note(delegation, eligible, names)
        if jit:
            names = sorted({roles.role_name(a.role_definition_id) for a in jit})
            return (
                "just_in_time_only",
                f"Eligible roles ({', '.join(names)}) are granted only as just-in-time "
                f"(eligibleAuthorizations), which never earn credit.{note}",
                sorted({a.principal_id.lower() for a in jit}),
            )
        return (
            "no_eligible_role",
            f"The permanent authorizations hold only roles that earn no credit ({', '.join(held) or 'none'}).{note}",
            [],
        )
    usable = [c for c in carriers if c.usable]
    if not usable:
        ids = sorted({c.principal_id for c in carriers})
        return (
            "identities_unusable",
            "Every identity holding an eligible role is disabled or deleted"
            + (" (or the group holding it has no members)." if not carriers else "."),
            ids,
        )
    actable = [c for c in usable if _can_act(c, acting)]
    if actable:
        failed = [c for c in actable if (s := know.linked.get(c.principal_id)) is not None and s.error_code]
        ids = sorted({c.principal_id for c in (failed or actable)})
        if failed:
            return "link_failed", "Linking the identity PAL Watch can act as failed.", ids
        return "link_pending", "An identity PAL Watch can act as holds an eligible role but is not linked yet.", ids
    users = sorted({c.principal_id for c in usable if c.principal.kind is model.PrincipalKind.USER})
    others = sorted({c.principal_id for c in usable if c.principal.kind is not model.PrincipalKind.USER})
    if users and not others:
        names = ", ".join(sorted({catalogue.short(c.principal.display_name or c.principal_id, 60) for c in usable}))
        return (
            "users_only",
            f"Only users ({names}) hold eligible roles; PAL Watch cannot link users, and none of them "
            f"is recorded as linked.",
            users,
        )
    return (
        "cannot_act_as",
        "The identities holding eligible roles are ones PAL Watch cannot authenticate as "
        f"({', '.join(others + users)}).",
        others + users,
    )
