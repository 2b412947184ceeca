"""What one Lighthouse delegation asks for: links to make and findings, from its attribution.

Pure: called by `estate.assess_estate` (and tests). The second half of a delegation's decision:
`attribution.attribute` says who carries it; `judge` turns that, with how many identities earn
its scope credit through other paths, into link actions, findings and the snapshot to store.
No I/O, no clock (`now` comes in), no logging, no settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared import catalogue, model, offers, roles, words
from shared.decisions import scopes
from shared.decisions.attribution import (
    RESTORE_WINDOW,
    Attribution,
    Carrier,
    Holders,
    Knowledge,
    attribute,
    can_act,
    expand_carriers,
    raises_attribution_lost,
    what_happened,
)
from shared.decisions.observation import Observation
from shared.snapshots import AttributedBy, DelegationSnapshot

__all__ = ["RESTORE_WINDOW", "Carrier", "DelegationAssessment", "LinkAction", "expand_carriers", "judge"]


@dataclass(frozen=True)
class LinkAction:
    """Link this identity (which we can act as) to the partner ID in `tenant_id`."""

    object_id: str
    tenant_id: str
    partner_id: str
    operation: str  # "create" (not linked), "repoint" (linked elsewhere), "ensure" (not read yet)
    current_partner_id: str = ""


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
    attribution: Attribution | None = field(default=None, compare=False, repr=False)  # what it was judged from

    @property
    def key(self) -> str:
        return self.delegation.key


def assess_delegation(
    delegation: model.Delegation, observation: Observation, now: datetime, *, credited_elsewhere: int = 0
) -> DelegationAssessment:
    """Decide one delegation alone (`credited_elsewhere`: identities attributing its scope through
    other delegations, as `estate.assess_estate` counts them)."""
    return judge(attribute(delegation, observation, now), observation, now, elsewhere=credited_elsewhere)


def judge(
    attribution: Attribution, observation: Observation, now: datetime, *, elsewhere: int = 0
) -> DelegationAssessment:
    """Link actions, findings and snapshot of one attributed delegation. `elsewhere`: identities
    attributing its scope through other delegations (another offer on the same scope, or a
    subscription delegation above a resource group): losing this delegation's last carrier then
    thins coverage (`identity_lost`) but loses no credit."""
    a = attribution
    delegation, previous, where, offer, know = a.delegation, a.previous, a.where, a.offer, a.know
    partner_id, tenant = observation.partner_id, a.tenant
    acting_set = frozenset(observation.acting)
    carriers = a.holders.carriers
    attributed = a.attributed
    subjects = {delegation.key}
    findings = _link_failures(carriers, acting_set, know, tenant, partner_id, subjects) if a.in_effect else []
    reason = ""
    if a.in_effect:
        since = previous.since if previous and previous.attributed == attributed and previous.since else now
        if not offer.eligible:  # nothing to lose or earn through PAL here: said once, apart
            findings.append(catalogue.not_eligible_offer(where, offer, offers.rule_text()))
            reason = catalogue.Kind.NOT_ELIGIBLE_OFFER
        loss = [] if reason else loss_findings(a, observation, now, elsewhere=elsewhere)
        if loss:
            findings.extend(_with_offer(loss, offer))
            reason = (
                ""
                if attributed
                else loss[0].reason
                if loss[0].kind == catalogue.Kind.ATTRIBUTION_LOST
                else "identity_lost"
            )
        elif not attributed and not reason:
            reason, detail, ids = _unattributed_reason(
                delegation,
                a.holders,
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
                recognised=a.recognised,
            )
            if a.pec_applies and (a.aobo or a.customer_tenant_pal):
                alone = catalogue.AOBO_ALONE if a.aobo else catalogue.TENANT_PAL_ALONE
                unattributed = replace(unattributed, detail=f"{unattributed.detail} {alone}")
            findings.extend(_with_offer([unattributed], offer))
    else:
        since = previous.since if previous and not previous.attributed and previous.since else now
        reason = "not_in_effect"
    entries = a.attributed_by
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
        aobo=a.aobo,
        aobo_lost_at=a.aobo_lost_at,
    )
    return DelegationAssessment(
        delegation=delegation,
        attributed=attributed,
        attributed_by=entries,
        reason=reason,
        carriers=tuple(carriers),
        link_actions=tuple(_link_actions(carriers, acting_set, know, tenant, partner_id)) if a.in_effect else (),
        findings=tuple(findings),
        subjects=frozenset(subjects),
        snapshot=snapshot,
        unknown_roles=tuple(a.holders.unknown),
        in_effect=a.in_effect,
        recognised=a.recognised,
        offer=offer,
        attribution=a,
    )


def _link_failures(  # noqa: PLR0917  (what one decision knows of the identities it can link)
    carriers: Sequence[Carrier],
    acting: frozenset[str],
    know: Knowledge,
    tenant: str,
    partner_id: str,
    subjects: set[str],
) -> list[model.Finding]:
    """link_failed for each identity we act as on the delegation whose last link attempt failed;
    every such identity's link subject goes into `subjects` (decided here completely)."""
    found = []
    for c in carriers:
        if not can_act(c, acting):
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
    attribution: Attribution, observation: Observation, now: datetime, *, elsewhere: int = 0
) -> list[model.Finding]:
    """identity_lost per lost identity while another path still earns the scope its credit (a carrier
    of this delegation, `elsewhere` identities through others covering it, or AOBO on a CSP
    subscription); else one attribution_lost: the scope lost its credit."""
    a = attribution
    if not a.lost and not a.aobo_removed:
        return []
    carrier_keys = {(c.principal_id, c.role_id, c.via_group) for c in a.holders.carriers}
    # A loss is dated in words only where the delegation has history: then this decision is what
    # remembers when it was lost, and every later pass says the same "since" from the first alert
    # on. Without history the text must not depend on `now`.
    entries = a.lost.values() if a.previous is not None else (e._replace(lost_at=None) for e in a.lost.values())
    lost = [
        (e, what_happened(e, observation.principals, carrier_keys, a.know.linked, observation.partner_ids))
        for e in entries
    ]
    by_principal: dict[str, tuple[AttributedBy, str]] = {}
    for e, what in lost:
        by_principal.setdefault(e.principal_id, (e, what))
    tenant, partner_id = a.tenant, observation.partner_id
    if raises_attribution_lost(a, elsewhere):
        described = [(e.principal_id, e.display_name, e.kind, what) for e, what in by_principal.values()]
        dates = [e.lost_at for e, _ in lost if e.lost_at]
        if a.aobo_removed:
            dates += [a.aobo_lost_at] if a.aobo_lost_at and a.previous is not None else []
            return [catalogue.aobo_removed(a.where, described, words.when(min(dates, default=None)), partner_id)]
        return [
            catalogue.attribution_lost(a.where, described, words.when(min(dates, default=None)), tenant, partner_id)
        ]
    remaining = len(a.attributing_ids) or elsewhere
    found = [
        catalogue.identity_lost(a.where, e, what, remaining=remaining, managing_tenant_id=tenant, partner_id=partner_id)
        for e, what in by_principal.values()
    ]
    if a.attributing:
        return found
    alone = catalogue.AOBO_ALONE if a.aobo or not a.customer_tenant_pal else catalogue.TENANT_PAL_ALONE
    rest = scopes.CREDITED_ELSEWHERE if elsewhere else alone
    return [replace(f, detail=f"{f.detail} {rest}") for f in found]


def _link_actions(
    carriers: Sequence[Carrier], acting: frozenset[str], know: Knowledge, tenant: str, partner_id: str
) -> list[LinkAction]:
    actions: dict[str, LinkAction] = {}
    for c in carriers:
        if not c.usable or not can_act(c, acting) or c.principal_id in actions:
            continue
        status = know.linked.get(c.principal_id)
        if status is None or status.partner_id is None:
            actions[c.principal_id] = LinkAction(c.principal_id, tenant, partner_id, "ensure")
        elif not status.points_to(know.ours or partner_id):  # a link to any of the partner's locations stays
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
    know: Knowledge,
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
    actable = [c for c in usable if can_act(c, acting)]
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
