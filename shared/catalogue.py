"""The catalogue of findings: every kind, the one builder of each finding, and beside each builder
its words (`says`: the subject's few words, what it costs, why it resolved), which alerts read.

Used by the pure decisions (`shared.decisions`), the use cases that report on their own
configuration (activity log, Graph subscriptions) or on links put back (`tenant_links`), and
the alert side (`shared.notify`: dead letters, the daily digest, the cost line of a message).
Pure: text in, `model.Finding` out. Keys are stable (same problem, same key, whatever the
wording), so the store and the alerts dedupe on them. Texts say who is affected (customer
tenant name and id, scope), what it costs, and the exact fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from shared import model, offers, roles, words
from shared.snapshots import AttributedBy

Kind = model.Kind  # the kinds live with the model, where settings can read them too


@dataclass(frozen=True)
class Words:
    """What alerts say about every finding of one kind: the subject's few words, what it costs
    (when the finding does not say it in `facts["cost"]`), and why it resolved."""

    subject: str = ""
    cost: str = ""
    resolution: str = ""


WORDS: dict[Kind, Words] = {}  # filled by `says` beside each builder
NO_WORDS = Words(resolution="PAL Watch's last check found it no longer holds.")
REMOVED_RESOLUTION = "The customer removed the delegation, so there is nothing left to attribute."
_Builder = TypeVar("_Builder", bound=Callable[..., model.Finding])


def says(kind: Kind, *, subject: str = "", cost: str = "", resolution: str = "") -> Callable[[_Builder], _Builder]:
    """Record the words of `kind` beside the builder it decorates (the builder is unchanged)."""

    def register(builder: _Builder) -> _Builder:
        WORDS[kind] = Words(subject, cost, resolution or NO_WORDS.resolution)
        return builder

    return register


def words_of(kind: Kind) -> Words:
    return WORDS.get(kind, NO_WORDS)


# What a finding costs on a CSP (Azure plan) subscription, where the partner earns partner earned
# credit (PEC). The kinds' own words (`says`) are for every other agreement: there PAL gives
# recognition (ACR attributed) and the role decides incentive eligibility.
CSP_COSTS: Mapping[str, str] = {
    Kind.ATTRIBUTION_LOST: "Partner earned credit (PEC) stops for this scope until a PEC path holds again: an "
    "identity with an eligible role linked to the partner ID, or the partner's Admin Agents (AOBO).",
    Kind.UNATTRIBUTED_DELEGATION: "This delegation earns no partner earned credit (PEC): no linked identity holds "
    "an eligible role on it.",
    Kind.IDENTITY_LOST: "Partner earned credit still holds through another path, but coverage is thinner: one "
    "more loss and PEC stops.",
}


# A delegation PAL Watch cannot read: its credit is unknown, never said to be lost.
UNREADABLE = Words(
    subject="attribution unknown",
    cost="Unknown: PAL Watch cannot tell whether this delegation earns partner credit until one of its "
    "identities can read it.",
    resolution="PAL Watch can read the delegation again.",
)


def words_for(finding: model.Finding) -> Words:
    """The words of the finding's kind, or of its reason where that changes the story."""
    return UNREADABLE if finding.reason == "not_visible" else words_of(finding.kind)


def cost(finding: model.Finding) -> str:
    """What the finding costs the partner, in one sentence (empty when nothing is at stake), in the
    words of the subscription's agreement: the kind's words are for a subscription that is not CSP
    (or not known to be), `CSP_COSTS` for a CSP (Azure plan) one."""
    if finding.facts.get("cost"):
        return finding.facts["cost"]
    if finding.facts.get("offerType") == offers.CSP and finding.kind in CSP_COSTS and finding.reason != "not_visible":
        return CSP_COSTS[finding.kind]
    return words_for(finding).cost


# Why a finding of a reason resolved, where the reason says more than its kind's words.
RESOLVED_BECAUSE = {
    "users_only": "A user who holds an eligible role linked to the partner ID (`palwatch link-me`, or "
    "PAL_ATTESTED_USERS), so the delegation earned partner credit.",
    "link_pending": "PAL Watch linked the identity it can act as to the partner ID.",
    "would_link": "PAL Watch linked the identity it can act as to the partner ID (repair mode).",
}


def resolution(finding: model.Finding, *, delegation_removed: bool = False) -> str:
    """Why a finding resolved: its delegation was removed, what its reason's fix did, or what the
    last check found."""
    if delegation_removed:
        return REMOVED_RESOLUTION
    return RESOLVED_BECAUSE.get(finding.reason) or words_for(finding).resolution


AOBO_REMOVED = "aobo_removed"  # the cause of an attribution_lost on a CSP subscription that lost AOBO
AOBO_ALONE = (
    "The scope's partner earned credit now rests on AOBO alone: if the customer removes Admin Agents, credit stops."
)
TENANT_PAL_ALONE = (
    "The scope's partner earned credit now rests on an identity of ours linked in the customer's tenant: "
    "if its role on the subscription is removed, credit stops."
)
AOBO_REMOVED_FIX = (
    "Link an identity with an eligible role in the Lighthouse offer (PAL Watch's managed identity or one in "
    "PAL_IDENTITIES with, for example, Contributor), or ask the customer to restore AOBO: New-AzRoleAssignment "
    "-ObjectId <Admin Agents group object id> -RoleDefinitionName Owner -Scope /subscriptions/{subscription} "
    "-ObjectType ForeignGroup (Partner Center: revoke-reinstate-csp)."
)


PORTAL_PAL_URL = "https://portal.azure.com/#blade/Microsoft_Azure_Billing/managementpartnerblade"
RESTORE_DAYS = 30
CREDITED_ELSEWHERE = (
    "This delegation no longer attributes the scope itself; the scope keeps earning credit through "
    "another delegation (offer) that covers it."
)
_MAX_NAME = 120  # names come from tenants we do not control: keep them short in texts


def attribution_key(delegation_key: str) -> str:
    """One key for "this delegation earns no credit", whether it never did or stopped."""
    return f"attribution:{delegation_key}"


def identity_lost_key(delegation_key: str, principal_id: str) -> str:
    return f"identity_lost:{delegation_key}:{principal_id.lower()}"


def link_failed_key(tenant_id: str, principal_id: str) -> str:
    return f"link_failed:{tenant_id.lower()}:{principal_id.lower()}"


def link_subject(tenant_id: str, principal_id: str) -> str:
    return f"link:{tenant_id.lower()}:{principal_id.lower()}"


def removed_key(delegation_key: str) -> str:
    return f"delegation_removed:{delegation_key}"


MANAGING_TENANT = {"tenantRole": "managing"}  # facts of a finding about the partner's own tenant


def short(text: str, limit: int = _MAX_NAME) -> str:
    return words.cut(" ".join(str(text).split()), limit)


@dataclass(frozen=True)
class Where:
    """Who a delegation finding is about."""

    delegation_key: str
    tenant_id: str
    tenant_name: str
    scope: str
    subscription_name: str = ""
    offer_type: str = ""  # the subscription's offer category (`shared.offers`): decides the words

    @property
    def csp(self) -> bool:
        return self.offer_type == offers.CSP

    @property
    def facts(self) -> dict[str, str]:
        """What alerts show beside the scope: the subscription's name, when known."""
        return {"subscriptionName": short(self.subscription_name)} if self.subscription_name else {}

    @property
    def customer(self) -> str:
        name = short(self.tenant_name)
        return f"{name} ({self.tenant_id})" if name else self.tenant_id

    def cost(self, partner_id: str) -> str:
        if self.csp:
            return (
                f"Until fixed, Microsoft pays partner ID {partner_id} no partner earned credit (PEC) for "
                f"{self.scope} of customer {self.customer}."
            )
        return (
            f"Until fixed, Microsoft attributes no Azure consumed revenue (ACR) of {self.scope} of customer "
            f"{self.customer} to partner ID {partner_id} (recognition), and it counts for no partner incentive."
        )


@dataclass(frozen=True)
class Link:
    """Whose PAL link a link finding is about: an identity in a tenant (the managing one, or a
    customer's for a service principal PAL Watch acts as there)."""

    tenant_id: str
    object_id: str
    name: str = ""
    tenant_name: str = ""
    managing: bool = False  # the partner's own tenant: alerts say so instead of naming a customer

    @property
    def subject(self) -> str:
        return link_subject(self.tenant_id, self.object_id)

    @property
    def facts(self) -> dict[str, str]:
        return dict(MANAGING_TENANT) if self.managing else {}


def manual_link_fix(managing_tenant_id: str, partner_id: str) -> str:
    tenant = managing_tenant_id or "<managing tenant id>"
    return (
        f"Each such user links once, signed in to the managing tenant:\n"
        f"  az login --tenant {tenant}\n"
        f"  az managementpartner create --partner-id {partner_id}\n"
        f"or in the portal: {PORTAL_PAL_URL}\n"
        f"Then record it so PAL Watch counts it: `palwatch link-me --tenant {tenant}` does both, "
        f"or add the user's object id to PAL_ATTESTED_USERS."
    )


_FEDERATION_FIX = (
    "Let PAL Watch act as the service principal: add a federated identity credential to its app "
    "registration that trusts PAL Watch's managed identity (PAL_FEDERATION_DISCOVERY=true picks it up), "
    "or add it to PAL_IDENTITIES with a certificate or secret setting. Or sign in as it and run "
    "`az managementpartner create --partner-id {partner}`."
)

_ELIGIBLE_ROLE_FIX = (
    "Add a permanent authorization with an eligible role (for example Contributor, "
    f"{roles.CONTRIBUTOR}) for an identity PAL Watch can act as (its managed identity "
    "or one in PAL_IDENTITIES) to the Lighthouse offer, and have the customer update the delegation."
)


# Why a delegation earns no credit, in words, by reason code (findings, reports and alerts).
REASONS = {
    "no_eligible_role": "no authorization holds an eligible role",
    "just_in_time_only": "eligible roles are only just-in-time",
    "users_only": "only users hold eligible roles; they must link by hand",
    "cannot_act_as": "no identity PAL Watch can act as holds an eligible role",
    "identities_unusable": "the identities holding eligible roles are disabled or deleted",
    "link_pending": "the identity PAL Watch can act as is not linked yet",
    "link_failed": "linking the identity PAL Watch can act as failed",
    "not_visible": "PAL Watch cannot read this delegation: none of its identities is in the offer",
    "identity_lost": "an identity that carried the credit was lost",
    "aobo_removed": "AOBO removed: the partner's Admin Agents no longer hold a role on the subscription",
    "removed": "the customer removed the delegation",
    "not_eligible_offer": "the subscription's offer earns no ACR through PAL",
}


def reason_words(reason: str) -> str:
    """The reason code in words; an unknown code as it is."""
    return REASONS.get(reason, reason.replace("_", " "))


def unattributed_title(where: Where, reason: str, *, recognised: bool = False) -> str:
    """What an unattributed delegation earns, in the words of its subscription's agreement."""
    why = REASONS.get(reason, reason)
    if where.csp:
        return f"Delegation of {where.customer} earns no partner earned credit: {why}"
    if recognised:
        return f"Delegation of {where.customer} is recognised but counts for no partner incentive: {why}"
    return f"Delegation of {where.customer} is not recognised: {why}"


def _unattributed_cost(where: Where, partner_id: str, recognised: bool) -> str:
    if recognised and not where.csp:
        return (
            f"Microsoft attributes the Azure consumed revenue (ACR) of {where.scope} to partner ID {partner_id} "
            "(recognition: a linked identity holds a role there), but no linked identity holds an eligible role, "
            "so the scope counts for no partner incentive."
        )
    return where.cost(partner_id)


@says(
    Kind.UNATTRIBUTED_DELEGATION,
    subject="earns no partner credit",
    cost="This delegation counts for no partner incentive: no linked identity holds an eligible role on it "
    "(recognition needs a linked identity with any role).",
    resolution="The delegation earns partner credit now: a linked identity holds an eligible role on it (or PAL "
    "Watch can read it again).",
)
def unattributed(
    where: Where,
    reason: str,
    *,
    detail: str,
    fix: str,
    principal_ids: Sequence[str] = (),
    partner_id: str = "",
    recognised: bool = False,
) -> model.Finding:  # params: where and reason, then the finding's words and who it names
    return model.Finding(
        key=attribution_key(where.delegation_key),
        kind=Kind.UNATTRIBUTED_DELEGATION,
        severity=model.Severity.WARNING,
        subject=where.delegation_key,
        title=unattributed_title(where, reason, recognised=recognised),
        reason=reason,
        detail=f"{detail} {_unattributed_cost(where, partner_id, recognised)}".strip(),
        fix=fix,
        tenant_id=where.tenant_id,
        tenant_name=short(where.tenant_name),
        scope=where.scope,
        principal_id=principal_ids[0] if len(principal_ids) == 1 else "",
        facts={**where.facts, **({"principals": ",".join(principal_ids)} if principal_ids else {})},
    )


_GROUP_IN_TEXT = re.compile(r"group ([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})")


def fix_for_lost_identities(lost: Sequence[tuple[str, str, str]], managing_tenant_id: str, partner_id: str) -> str:
    """Fix lines for lost identities: (object id, kind, what happened) each.

    `what happened` is a `what_happened` text (or just its state word); for a group's loss it
    names the group, which the fix needs.
    """
    lines: list[str] = []
    for object_id, kind, what in lost:
        state = _state_word(what)
        found = _GROUP_IN_TEXT.search(what)
        group = found.group(1).lower() if found else ""
        if state == model.PrincipalState.SOFT_DELETED.value:
            lines.append(
                f"Restore {object_id} from deleted items (possible for {RESTORE_DAYS} days after "
                f"deletion): az rest --method POST --url "
                f"https://graph.microsoft.com/v1.0/directory/deletedItems/{object_id}/restore"
            )
        elif state == model.PrincipalState.DISABLED.value:
            if kind == model.PrincipalKind.USER.value:
                lines.append(f"Re-enable {object_id}: az ad user update --id {object_id} --account-enabled true")
            else:
                lines.append(f"Re-enable {object_id}: az ad sp update --id {object_id} --set accountEnabled=true")
        elif state == model.PrincipalState.DELETED.value:
            lines.append(
                f"{object_id} is permanently deleted and cannot come back; a new identity does not inherit its "
                "authorization. Link another identity that holds an eligible role on this delegation (below), or "
                "publish an updated Lighthouse offer that authorizes a linked identity and have the customer "
                "update the delegation."
            )
        elif state == "group_softDeleted" and group:
            lines.append(
                # Microsoft 365 and security groups reach deletedItems (Graph v1.0 group-delete); a
                # distribution group, or one gone past the window, is DELETED.
                f"Restore group {group} from deleted items (possible for {RESTORE_DAYS} days after "
                "deletion): "
                f"az rest --method POST --url https://graph.microsoft.com/v1.0/directory/deletedItems/{group}/restore"
            )
        elif state == "group_deleted" and group:
            lines.append(
                f"Group {group} is permanently deleted and cannot come back; the delegation's authorization for it "
                "is dead. Publish an updated Lighthouse offer that authorizes a group or identity carrying the "
                "link, and have the customer update the delegation; or link another identity (below)."
            )
        elif state == "removed_from_group":
            if group:
                lines.append(
                    f"Add {object_id} back to group {group}: az ad group member add --group {group} "
                    f"--member-id {object_id}"
                )
            else:
                lines.append(f"Add {object_id} back to the group that holds the role (az ad group member add).")
        elif state == "link_moved":
            lines.append(
                f"Link {object_id} back: signed in as it, az managementpartner update --partner-id {partner_id}"
            )
    lines.append(
        "Or link another identity that holds an eligible role on this delegation: "
        f"az login --tenant {managing_tenant_id or '<managing tenant id>'} && "
        f"az managementpartner create --partner-id {partner_id} (or add it to PAL_IDENTITIES)."
    )
    return "\n".join(dict.fromkeys(lines))  # several members lost with one group: say it once


@says(
    Kind.ATTRIBUTION_LOST,
    subject="partner credit lost",
    cost="Recognition stops for this scope: Microsoft attributes none of its Azure consumed revenue (ACR) to the "
    "partner, and it counts for no partner incentive, until a linked identity holds a role on it again.",
    resolution="A linked identity with an eligible role attributes this scope again, so partner credit counts again.",
)
def attribution_lost(
    where: Where, lost: Sequence[tuple[str, str, str, str]], since_text: str, managing_tenant_id: str, partner_id: str
) -> model.Finding:
    """`lost`: (object id, display name, kind, what happened) of each identity that carried it."""
    who = "; ".join(f"{short(name) or oid} ({oid}): {_prose(what)}" for oid, name, _, what in lost)
    return model.Finding(
        key=attribution_key(where.delegation_key),
        kind=Kind.ATTRIBUTION_LOST,
        severity=model.Severity.CRITICAL,
        subject=where.delegation_key,
        title=f"Partner earned credit lost for {where.customer}: no PEC path holds on {where.scope}"
        if where.csp
        else f"Recognition lost for {where.customer}: no linked identity attributes {where.scope}",
        reason="identity_lost",
        detail=f"{'Since ' + since_text + ', n' if since_text else 'N'}o identity linked to partner ID {partner_id} "
        f"attributes this "
        f"delegation: {who}. {where.cost(partner_id)}",
        fix=fix_for_lost_identities([(oid, kind, what) for oid, _, kind, what in lost], managing_tenant_id, partner_id),
        tenant_id=where.tenant_id,
        tenant_name=short(where.tenant_name),
        scope=where.scope,
        principal_id=lost[0][0] if len(lost) == 1 else "",
        facts={**where.facts, "principals": ",".join(oid for oid, *_ in lost)},
    )


def aobo_removed(
    where: Where, lost: Sequence[tuple[str, str, str, str]], since_text: str, partner_id: str
) -> model.Finding:
    """A CSP subscription lost the partner's Admin Agents (AOBO) and no PAL path holds there.
    `lost`: identities that carried the link too and are gone, as for `attribution_lost`."""
    who = "; ".join(f"{short(name) or oid} ({oid}): {_prose(what)}" for oid, name, _, what in lost)
    also = f" The identities that carried the link are gone too: {who}." if who else ""
    subscription = where.scope.strip("/").split("/")[1] if where.scope.count("/") >= 2 else "<subscription id>"
    return model.Finding(
        key=attribution_key(where.delegation_key),
        kind=Kind.ATTRIBUTION_LOST,
        severity=model.Severity.CRITICAL,
        subject=where.delegation_key,
        title=f"Partner earned credit lost for {where.customer}: AOBO removed from {where.scope}",
        reason=AOBO_REMOVED,
        detail=f"{'Since ' + since_text + ', t' if since_text else 'T'}he partner's Admin Agents group no longer "
        f"holds a role on the subscription (AOBO removed), and no identity linked to partner ID {partner_id} "
        f"holds an eligible role there through Lighthouse.{also} {where.cost(partner_id)}",
        fix=AOBO_REMOVED_FIX.format(subscription=subscription),
        tenant_id=where.tenant_id,
        tenant_name=short(where.tenant_name),
        scope=where.scope,
        principal_id=lost[0][0] if len(lost) == 1 else "",
        facts={**where.facts, **({"principals": ",".join(oid for oid, *_ in lost)} if lost else {})},
    )


@says(
    Kind.IDENTITY_LOST,
    subject="an identity carrying credit was lost",
    cost="Recognition still holds through another identity, but coverage is thinner: one more loss and it stops.",
    resolution="The identity attributes the delegation again, or the delegation no longer depends on it.",
)
def identity_lost(
    where: Where, entry: AttributedBy, what: str, *, remaining: int, managing_tenant_id: str, partner_id: str
) -> model.Finding:
    object_id, name, kind = entry.principal_id, entry.display_name, entry.kind
    return model.Finding(
        key=identity_lost_key(where.delegation_key, object_id),
        kind=Kind.IDENTITY_LOST,
        severity=model.Severity.WARNING,
        subject=where.delegation_key,
        title=f"{short(name) or object_id} no longer attributes the delegation of {where.customer}",
        reason=_state_word(what),
        detail=f"{short(name) or object_id} ({object_id}): {_prose(what)}."
        + (
            f" The delegation of {where.scope} is still attributed through {remaining} other "
            f"identit{'y' if remaining == 1 else 'ies'}, so partner ID {partner_id} keeps its "
            f"{'partner earned credit' if where.csp else 'recognition (ACR attributed)'} for now, "
            "but coverage is thinner: if the rest go too, it stops."
            if remaining
            else ""
        ),
        fix=fix_for_lost_identities([(object_id, kind, what)], managing_tenant_id, partner_id),
        tenant_id=where.tenant_id,
        tenant_name=short(where.tenant_name),
        scope=where.scope,
        facts=where.facts,
        principal_id=object_id,
    )


@says(
    Kind.NOT_ELIGIBLE_OFFER,
    cost="Nothing is lost: Microsoft credits no Azure consumed revenue through PAL on this subscription's offer, so "
    "PAL Watch does not count it as at stake.",
)
def not_eligible_offer(where: Where, offer: offers.Offer, rule: str) -> model.Finding:
    """The delegation's subscription is on an offer that earns no ACR through PAL (`rule`: Microsoft's words)."""
    quota = f" (quota ID {short(offer.quota_id, 60)})" if offer.quota_id else ""
    cloud = f" in {offer.cloud}" if offer.cloud else ""
    return model.Finding(
        key=f"{Kind.NOT_ELIGIBLE_OFFER}:{where.delegation_key}",
        kind=Kind.NOT_ELIGIBLE_OFFER,
        severity=model.Severity.INFO,
        subject=where.delegation_key,
        title=f"{where.scope} of {where.customer} is on an offer that earns no partner credit through PAL",
        reason=Kind.NOT_ELIGIBLE_OFFER,
        detail=f'The subscription is {offer.why or offer.label}{quota}{cloud}. Microsoft: "{rule}" '
        f"(Source: {offer.rule_source}; offers and quota IDs: {offer.source}). "
        + (f"This exclusion is an assumption: {offer.rule_assumption} " if offer.rule_assumption else "")
        + "PAL Watch reports it apart and does not count it as not attributed or as revenue at stake.",
        fix="Nothing to do for PAL. If the customer moves the subscription to a paid offer (Pay-As-You-Go, "
        "CSP, Enterprise Agreement), the next verification counts it.",
        tenant_id=where.tenant_id,
        tenant_name=short(where.tenant_name),
        scope=where.scope,
        facts={**where.facts, "offerType": offer.category, **({"quotaId": offer.quota_id} if offer.quota_id else {})},
    )


def _prose(what: str) -> str:
    """The plain-words part of a what-happened text."""
    return what.split(":", 1)[1].strip() if ":" in what else what


def _state_word(what: str) -> str:
    """The machine word at the front of a what-happened text (`softDeleted: ...`)."""
    return what.split(":", 1)[0].strip()


PARTNER_ID_INVALID_FIX = (
    "Set PAL_PARTNER_ID to the associated partner ID shown in Partner Center > Account settings "
    "> Identifiers (the MPN/location id for Azure), then run `palwatch verify`."
)


@says(
    Kind.LINK_FAILED,
    subject="PAL link failed",
    cost="The identity is not linked to the partner ID, so the delegations it covers earn no partner credit.",
    resolution="The identity is linked to the partner ID now.",
)
def link_failed(link: Link, *, code: str, message: str, partner_id: str) -> model.Finding:
    tenant_id, object_id, name = link.tenant_id, link.object_id, link.name
    if code.lower() == "partneridinvalid":
        detail = (
            f"Microsoft rejected partner ID {partner_id} (PartnerIdInvalid) when linking "
            f"{short(name) or object_id}. The setting most likely holds the global partner ID "
            f"(PGA) instead of the associated (location) partner ID."
        )
        fix = PARTNER_ID_INVALID_FIX
    else:
        detail = (
            f"Linking {short(name) or object_id} to partner ID {partner_id} in tenant {tenant_id} "
            f"failed: {short(code or 'error', 60)} {short(message, 200)}".strip()
        )
        fix = (
            "Check the identity's permissions and the partner ID, then run `palwatch verify`; "
            f"or sign in as the identity and run `az managementpartner create --partner-id {partner_id}`."
        )
    return model.Finding(
        key=link_failed_key(tenant_id, object_id),
        kind=Kind.LINK_FAILED,
        severity=model.Severity.CRITICAL if code.lower() == "partneridinvalid" else model.Severity.WARNING,
        subject=link.subject,
        title=f"Could not link {short(name) or object_id} to partner ID {partner_id}",
        reason=short(code or "error", 60),
        detail=detail,
        fix=fix,
        tenant_id=tenant_id,
        principal_id=object_id,
        facts=link.facts,
    )


@says(
    Kind.DELEGATION_REMOVED,
    subject="delegation removed",
    cost="The customer removed the delegation: revenue on this scope is no longer attributed to the partner.",
)
def delegation_removed(where: Where, when_text: str, was_attributed: bool) -> model.Finding:
    return model.Finding(
        key=removed_key(where.delegation_key),
        kind=Kind.DELEGATION_REMOVED,
        severity=model.Severity.INFO,
        subject=where.delegation_key,
        title=f"Delegation of {where.scope} by {where.customer} was removed",
        reason="removed",
        detail=(
            f"The Lighthouse delegation ended ({when_text}). "
            + ("It was attributed; its credit ends with it." if was_attributed else "It was not attributed.")
        ),
        fix="Nothing to do unless the removal was unexpected: then ask the customer to onboard again.",
        tenant_id=where.tenant_id,
        tenant_name=short(where.tenant_name),
        scope=where.scope,
        facts=where.facts,
    )


def fix_for(reason: str, managing_tenant_id: str, partner_id: str) -> str:
    """The fix text for an unattributed delegation's reason code."""
    manual = manual_link_fix(managing_tenant_id, partner_id)
    fixes = {
        "no_eligible_role": _ELIGIBLE_ROLE_FIX,
        "just_in_time_only": "Just-in-time (eligible) authorizations never earn credit. " + _ELIGIBLE_ROLE_FIX,
        "users_only": manual,
        "cannot_act_as": _FEDERATION_FIX.format(partner=partner_id) + "\nFor users among them: " + manual,
        "identities_unusable": (
            "Re-enable the identity, or restore it from deleted items within 30 days (users, service "
            "principals, Microsoft 365 and security groups: POST /v1.0/directory/deletedItems/{id}/restore; "
            "a deleted distribution group is gone for good), "
            "or add another identity with an eligible role. " + _ELIGIBLE_ROLE_FIX
        ),
        "link_pending": "PAL Watch links it on its next pass; run `palwatch verify` to do it now.",
        "link_failed": "See the link_failed finding for this identity.",
        "not_visible": _not_visible_fix(managing_tenant_id),
    }
    return fixes.get(reason, "")


def _not_visible_fix(managing_tenant_id: str) -> str:
    return (
        "Add PAL Watch's managed identity to the offer's permanent authorizations (Reader is enough to "
        "verify; an eligible role such as Contributor also earns the credit), then ask the customer "
        f"to update the delegation. Managing tenant: {managing_tenant_id}."
    )


def not_visible(
    assignment_id: str, scope: str, refused: Sequence[str], managing_tenant_id: str, customer_tenant_id: str = ""
) -> model.Finding:
    """A delegation event names an assignment that none of the app's identities can read."""
    key = assignment_id.lower()
    who = ", ".join(refused) or "the managed identity"
    return model.Finding(
        key=f"not_visible:{key}",
        kind=Kind.UNATTRIBUTED_DELEGATION,
        severity=model.Severity.WARNING,
        subject=key,
        title=(
            f"A delegation of {scope}"
            + (f" by customer tenant {customer_tenant_id}" if customer_tenant_id else "")
            + " cannot be read by PAL Watch, so its attribution is unknown"
        ),
        reason="not_visible",
        detail=(
            "Azure announced a Lighthouse delegation, but none of PAL Watch's identities "
            f"({who}) holds an authorization in it, so it cannot check or link anything for it."
        ),
        fix=_not_visible_fix(managing_tenant_id),
        tenant_id=customer_tenant_id,
        scope=scope,
    )


# -- links put back, configuration, alert delivery, digest ----------------------------------


def drift_subject(tenant_id: str, object_id: str) -> str:
    return f"link_drift:{tenant_id.lower()}:{object_id.lower()}"


@says(
    Kind.LINK_DRIFT_REPAIRED,
    subject="PAL link put back",
    cost="Nothing was lost: the link was put back. Someone removed or re-pointed it by hand.",
)
def link_drift_repaired(link: Link, found: str, partner_id: str) -> model.Finding:
    """The link had been removed (`found` "") or re-pointed by hand, and is back."""
    tenant_id, object_id = link.tenant_id, link.object_id
    who, what = short(link.name) or object_id, _link_change(found)
    return model.Finding(
        key=f"{Kind.LINK_DRIFT_REPAIRED}:{tenant_id.lower()}:{object_id.lower()}",
        kind=Kind.LINK_DRIFT_REPAIRED,
        severity=model.Severity.INFO,
        subject=drift_subject(tenant_id, object_id),
        title=f"The PAL link of {who} had been {what}; PAL Watch put it back",
        reason="removed" if not found else "repointed",
        detail=(
            f"The Partner Admin Link of {who} ({object_id}) in tenant {tenant_id} was {what} outside PAL Watch. "
            f"It has been linked to partner ID {partner_id} again; attribution did not lapse for long."
        ),
        fix=(
            "Nothing to do now. If someone changes links on purpose (e.g. a partner change), update "
            "PAL_PARTNER_ID instead, or PAL Watch will keep putting the link back."
        ),
        tenant_id=tenant_id,
        tenant_name=link.tenant_name,
        principal_id=object_id,
        facts=link.facts,
    )


# -- the partner ID guard: a setting that looks wrong, writes withheld, links moved on purpose ----

PARTNER_ID_SUBJECT = "config:partner-id"  # subject and key of the one partner ID finding
WOULD_LINK = "would_link"  # reason of an unattributed delegation PAL Watch would link but for observe mode
OBSERVE_FIX = (
    "PAL_MODE is observe: PAL Watch only reports. Set PAL_MODE=repair to let it link (or run "
    "`palwatch verify` once in repair mode)."
)


def _partner_id_finding(managing_tenant_id: str, reason: str, *, title: str, detail: str, fix: str) -> model.Finding:
    """The one critical configuration finding about PAL_PARTNER_ID (whichever check raised it)."""
    return model.Finding(
        key=PARTNER_ID_SUBJECT,
        kind=Kind.CONFIGURATION,
        severity=model.Severity.CRITICAL,
        subject=PARTNER_ID_SUBJECT,
        title=title,
        reason=reason,
        detail=detail,
        fix=fix,
        tenant_id=managing_tenant_id,
    )


def partner_id_mismatch(
    partner_id: str, other_partner_id: str, links_read: int, managing_tenant_id: str
) -> model.Finding:
    """The one critical finding when every link the app can read carries another partner ID."""
    other, ours = other_partner_id, partner_id
    return _partner_id_finding(
        managing_tenant_id,
        "partner_id_mismatch",
        title=f"PAL_PARTNER_ID is {ours} but every existing PAL link points to {other}: nothing was re-pointed",
        detail=(
            f"All {links_read} PAL link(s) PAL Watch can read point to partner ID {other}, while "
            f"PAL_PARTNER_ID is {ours}. The setting is probably wrong (the global instead of the associated "
            f"partner ID, a typo, or another partner's ID), so PAL Watch re-pointed and linked nothing."
        ),
        fix=(
            f"If {other} is your associated partner ID, set PAL_PARTNER_ID={other}. If you are moving to {ours} "
            f"on purpose, set PAL_PARTNER_ID_PREVIOUS={other}: PAL Watch then re-points those links and reports "
            "each."
        ),
    )


def partner_id_refused(partner_id: str, managing_tenant_id: str, refused_for: Iterable[str]) -> model.Finding:
    """Microsoft answered PartnerIdInvalid: one configuration finding, not one per identity."""
    names = sorted(set(refused_for))
    return _partner_id_finding(
        managing_tenant_id,
        "partner_id_invalid",
        title=f"Microsoft rejects PAL_PARTNER_ID {partner_id} (PartnerIdInvalid): nothing can be linked",
        detail=(
            f"Linking {', '.join(names[:5]) or 'an identity'} to partner ID {partner_id} failed with "
            "PartnerIdInvalid. The setting most likely holds the global partner ID (PGA) instead of the "
            "associated (location) partner ID; PAL Watch stopped trying for this run."
        ),
        fix=PARTNER_ID_INVALID_FIX,
    )


def as_would_link(finding: model.Finding, *, offer: str = "") -> model.Finding:
    """An unattributed delegation PAL Watch would link itself, were it not in observe mode.

    The title names the scope, and `offer` (the registration definition's name) when the caller
    says the scope has several, so that one customer's delegations read as distinct lines."""
    who = finding.facts.get("principals", "") or finding.principal_id
    name = short(finding.tenant_name)
    customer = f"Delegation of {name} ({finding.tenant_id})" if name else f"Delegation of {finding.tenant_id}"
    where = words.scope_words(finding) + (f" (offer {short(offer)})" if offer else "")
    return replace(
        finding,
        reason=WOULD_LINK,
        title=f"{customer} earns no partner credit yet on {where}: PAL Watch would link it (observe mode)",
        detail=f"PAL Watch would link {who.replace(',', ', ')} to the partner ID. {finding.detail}".strip(),
        fix=OBSERVE_FIX,
    )


def _link_change(found: str) -> str:
    """What happened to a link that was ours: `removed`, or `re-pointed to partner ID …`."""
    return f"re-pointed to partner ID {found}" if found else "removed"


def link_drift_withheld(link: Link, found: str, partner_id: str, since: str = "") -> model.Finding:
    """A link that was ours and was removed or re-pointed by hand, left alone in observe mode
    (`since`: when PAL Watch first saw it changed, ISO 8601)."""
    tenant_id, object_id = link.tenant_id, link.object_id
    who, what = link.name or object_id, _link_change(found)
    return model.Finding(
        key=link_failed_key(tenant_id, object_id),
        kind=Kind.LINK_FAILED,
        severity=model.Severity.WARNING,
        subject=link.subject,
        title=f"The PAL link of {who} was {what}; PAL Watch would put it back (observe mode)",
        reason="would_repair",
        detail=(
            f"The Partner Admin Link of {who} ({object_id}) in tenant {tenant_id} pointed to partner ID "
            f"{partner_id} and was {what} outside PAL Watch"
            + (f" (first seen {since[:16].replace('T', ' ')} UTC)" if since else "")
            + f". It would re-link it to {partner_id}; set PAL_MODE=repair to restore it."
        ),
        fix=OBSERVE_FIX,
        tenant_id=tenant_id,
        principal_id=object_id,
    )


def link_repointed(link: Link, previous: str, partner_id: str) -> model.Finding:
    """`link_repointed` (info): a link carrying PAL_PARTNER_ID_PREVIOUS now points to PAL_PARTNER_ID."""
    tenant_id, object_id = link.tenant_id, link.object_id
    who = link.name or object_id
    key = f"{Kind.LINK_REPOINTED}:{tenant_id.lower()}:{object_id.lower()}"
    return model.Finding(
        key=key,
        kind=Kind.LINK_REPOINTED,
        severity=model.Severity.INFO,
        subject=key,
        title=f"The PAL link of {who} was re-pointed from partner ID {previous} to {partner_id}",
        reason="previous_partner_id",
        detail=(
            f"PAL_PARTNER_ID_PREVIOUS is {previous}, so PAL Watch moved the Partner Admin Link of {who} "
            f"({object_id}) in tenant {tenant_id} to partner ID {partner_id}."
        ),
        fix="Nothing to do. Clear PAL_PARTNER_ID_PREVIOUS once every link has moved.",
        tenant_id=tenant_id,
        principal_id=object_id,
    )


@says(
    Kind.LINK_LOCATION,
    subject="credit attributed to another of your locations",
    cost="Nothing is lost: the credit stays the partner's, attributed to another of its locations.",
    resolution="The customer's credit now goes to the location PAL_PARTNER_ID_BY_CUSTOMER names for it.",
)
def link_location(where: Where, object_id: str, name: str, actual: str, expected: str) -> model.Finding:
    """`link_location` (info): an identity serving a customer is linked to another of the partner's
    locations than PAL_PARTNER_ID_BY_CUSTOMER names for that customer (`actual`, `expected`: labels)."""
    key = f"{Kind.LINK_LOCATION}:{where.tenant_id.lower()}:{object_id.lower()}"
    who, customer = name or object_id, where.tenant_name or where.tenant_id
    return model.Finding(
        key=key,
        kind=Kind.LINK_LOCATION,
        severity=model.Severity.INFO,
        subject=key,
        title=f"{customer}'s credit through {who} is attributed to {actual}, expected {expected}",
        reason="other_location",
        detail=(
            f"{who} ({object_id}) attributes {customer}'s delegation on {where.scope} and is linked to the "
            f"partner's location {actual}; PAL_PARTNER_ID_BY_CUSTOMER says {customer}'s credit should go to "
            f"{expected}. Both are the partner's own, so PAL Watch re-points nothing: an identity carries one "
            "link for every customer it serves."
        ),
        fix=(
            f"If {customer} should be credited to {expected}, let an identity linked to {expected} carry its "
            f"delegation (or re-point {who} by hand if it serves no customer of {actual}); otherwise change "
            "PAL_PARTNER_ID_BY_CUSTOMER."
        ),
        tenant_id=where.tenant_id,
        tenant_name=where.tenant_name,
        scope=where.scope,
        principal_id=object_id,
    )


ACTIVITY_LOG_SUBJECT = "config:activity-log"
GRAPH_SUBSCRIPTIONS_SUBJECT = "config:graph-subscriptions"
GRAPH_SUBSCRIPTIONS_KEY = "config:graph-subscriptions-failed"


SILENCED_CHANNEL = "alertChannel"  # fact: a finding about a channel is not announced on that channel


def alert_channel_failing(
    name: str, pending: int, last_error: str, *, attempts: tuple[int, datetime] | None = None
) -> model.Finding:
    """The one critical finding for an alert channel that fails as a whole (told on the others);
    `attempts`: how many failed in a row, since when."""
    streak = (
        f"Its last {attempts[0]} attempts failed, since {words.when(attempts[1])}. " if attempts is not None else ""
    )
    return model.Finding(
        key=f"configuration:alert-channel:{name}",
        kind=Kind.CONFIGURATION,
        severity=model.Severity.CRITICAL,
        subject=f"channel:{name}",
        title=f"Alert channel {name} is failing: alerts wait in the outbox",
        reason="alert_channel_failing",
        detail=f"{streak}{pending} alert(s) are waiting for channel {name}; its last attempt failed: {last_error}. "
        "Nothing is given up: they are sent, with back-off, as soon as the channel works again.",
        fix=f"Check the {name} channel's settings: the SMTP user and password (a rotated password answers 535), "
        "the sender and recipient addresses, the webhook URL, the Mail.Send permission. `palwatch doctor` "
        "checks them.",
        facts={SILENCED_CHANNEL: name, "lastError": last_error},
    )


EXEMPTIONS_SUBJECT = "config:exemptions"


def exemptions_malformed(problems: Sequence[str]) -> model.Finding:
    """PAL_EXEMPTIONS entries that do not parse: each is ignored (its findings are alerted as usual)."""
    listed = "; ".join(p[:200] for p in problems[:10]) + ("; ..." if len(problems) > 10 else "")
    return model.Finding(
        key="config:exemptions-malformed",
        kind=Kind.CONFIGURATION,
        severity=model.Severity.WARNING,
        subject=EXEMPTIONS_SUBJECT,
        title=f"{len(problems)} PAL_EXEMPTIONS entr{'y' if len(problems) == 1 else 'ies'} ignored: they do not parse",
        reason="exemption_malformed",
        detail=(
            f"PAL_EXEMPTIONS: {listed}. These entries exempt nothing: the findings they meant are alerted as "
            "usual. The other entries, and everything else, work."
        ),
        fix=(
            "Correct the entries in the app setting PAL_EXEMPTIONS (dates as 2026-12-31, scopes as "
            "/subscriptions/{id}[/resourceGroups/{name}], a finding kind other than configuration), or record "
            "them with `palwatch exempt`, which checks them as you type."
        ),
    )


def activity_log_unreadable(managing_tenant_id: str, error: str) -> model.Finding:
    """The watcher may not read the tenant activity log (Monitoring Reader at root is missing)."""
    return model.Finding(
        key="config:activity-log-unreadable",
        kind=Kind.CONFIGURATION,
        severity=model.Severity.WARNING,
        subject=ACTIVITY_LOG_SUBJECT,
        title="PAL Watch cannot read the tenant activity log: new customers are found only by verification",
        reason="monitoring_reader_missing",
        detail=(
            "The watcher reads the managing tenant's activity log every few minutes to learn of new and removed "
            "Lighthouse delegations. Azure refused: " + error[:200]
        ),
        fix=(
            "Grant the function app's managed identity Monitoring Reader at root scope (needs elevated access):\n"
            "  az role assignment create --assignee <managed identity object id> "
            "--role 'Monitoring Reader' --scope /\n"
            f"in tenant {managing_tenant_id}. The watcher retries after the next verification."
        ),
        tenant_id=managing_tenant_id,
    )


GRAPH_PERMISSION_SUBJECT = "config:graph-permission"


def graph_permission_missing(
    managing_tenant_id: str, *, permission: str, call: str, granted: Sequence[str] | None, fix: str
) -> model.Finding:
    """Graph refuses a read the engine needs: one finding naming the permission, the call and the grant.

    `granted` is the token's `roles` claim (None: the token carries none, nothing is granted).
    """
    have = ", ".join(granted) if granted else "no application permission"
    return model.Finding(
        key="config:graph-permission-missing",
        kind=Kind.CONFIGURATION,
        severity=model.Severity.CRITICAL,
        subject=GRAPH_PERMISSION_SUBJECT,
        title=f"PAL Watch lacks the Microsoft Graph permission {permission}: delegations are not judged",
        reason="graph_permission_missing",
        detail=(
            f"Microsoft Graph refused {call} (403): the managed identity's Graph token grants {have}, "
            f"not {permission}. Without it PAL Watch cannot tell who holds a delegation's roles, so "
            "no delegation is judged and nothing is linked until the permission is granted; this "
            "finding resolves on the first run after the grant."
        ),
        fix=fix,
        tenant_id=managing_tenant_id,
        facts={"permission": permission, "call": call[:200]},
    )


def graph_subscriptions_failed(managing_tenant_id: str, code: str, error: str) -> model.Finding:
    """Graph refuses to keep our change-notification subscriptions."""
    return model.Finding(
        key=GRAPH_SUBSCRIPTIONS_KEY,
        kind=Kind.CONFIGURATION,
        severity=model.Severity.WARNING,
        subject=GRAPH_SUBSCRIPTIONS_SUBJECT,
        title="PAL Watch cannot keep its Microsoft Graph subscriptions: user and group changes are found late",
        reason=code[:60],
        detail=(
            "PAL Watch subscribes to Graph change notifications for users and groups so that a deleted or "
            "disabled identity carrying the PAL link is flagged within minutes; Graph refused: "
            + error[:200]
            + ". Until fixed, such changes are found by the watch poll and the verification only."
        ),
        fix=(
            "Grant the function app's managed identity the Graph application permissions User.Read.All and "
            "Group.Read.All (scripts/grant-permissions.sh), and check that PAL_GRAPH_NOTIFICATION_URL is the "
            "Graph partner topic address (EventGrid:?azuresubscriptionid=...&resourcegroup=...&partnertopic=..."
            f"&location=...) in tenant {managing_tenant_id}."
        ),
        tenant_id=managing_tenant_id,
    )


def alert_delivery_failed(  # noqa: PLR0917  (the channel, what was lost, and the policy that gave up)
    channel: str, digest: str, count: int, titles: str, given_up_after: str, last_error: str
) -> model.Finding:
    """Alerts given up on one channel: a warning of its own, sent on the other channels."""
    return model.Finding(
        key=f"outbox:dead-letter:{channel}:{digest}",
        kind=Kind.ALERT_DELIVERY_FAILED,
        severity=model.Severity.WARNING,
        subject=f"channel:{channel}",
        title=f"{count} alert(s) could not be delivered on channel {channel}",
        detail=f"Given up after {given_up_after}: {titles}",
        fix=f"Check the {channel} channel's settings and reachability (last error: {last_error}). "
        "`palwatch findings` lists every open finding.",
        facts={"channel": channel, "lastError": last_error},
    )


def daily_digest(day: str, headline: str, detail: str, fix: str, facts: Mapping[str, str]) -> model.Finding:
    """The daily digest, carried as an info finding so that every channel can send it."""
    return model.Finding(
        key=f"digest:{day}",
        kind=Kind.DAILY_DIGEST,
        severity=model.Severity.INFO,
        subject="digest",
        title=f"Daily digest for {day}: {headline}",
        detail=detail,
        fix=fix,
        facts=dict(facts),
    )


def channel_test_alert(stamp: str) -> model.Finding:
    """One harmless finding that says what it is (`palwatch doctor --send-test-alert`), never a real one."""
    return model.Finding(
        key=f"doctor:test-alert:{stamp}",
        kind=Kind.TEST_ALERT,
        severity=model.Severity.INFO,
        subject="palwatch doctor",
        title="PAL Watch test alert: this channel works",
        detail="Sent by `palwatch doctor --send-test-alert` to prove that alerts reach this channel. Nothing is wrong.",
        fix="Nothing to do.",
    )


# -- credit observed in Microsoft's billing (the credit snapshot) -------------------------------

PEC_TROUBLESHOOT = "learn.microsoft.com/partner-center/billing/partner-earned-credit-troubleshoot"


def credit_subject(scope: str) -> str:
    """One subject per scope judged against the billing export (its findings are decided together)."""
    return f"credit:{scope.lower()}"


@dataclass(frozen=True)
class CreditHolder:
    """An identity PAL Watch counts as the scope's PEC path: who, which role, linked since when."""

    name: str
    object_id: str
    role_id: str
    linked_since: datetime | None = None  # the link's createdTime, as ARM's PAL API returned it


@dataclass(frozen=True)
class CreditLoss:
    """The complete days Microsoft applied 0 % while a path held, and what they cost."""

    days: tuple[str, ...]
    assumed: bool  # some day predates PAL Watch's records: the path is implied by the link's age
    billed: float
    currency: str
    lost: float | None  # billed x percent, None when no rate is known
    percent: float | None
    rate_source: str  # "billing" | "setting" | ""
    mpn_ids: tuple[str, ...] = ()


def billed_amount(value: float, currency: str) -> str:
    """Billing figures to the cent: `$12.40` in USD, `12.40 EUR` otherwise."""
    return f"${value:,.2f}" if currency.upper() in ("USD", "") else f"{value:,.2f} {currency.upper()}"


def _days_text(days: Sequence[str]) -> str:
    return days[0] if len(days) == 1 else f"{len(days)} days ({days[0]} to {days[-1]})"


@says(
    Kind.CREDIT_MISSING,
    subject="Microsoft applied no partner earned credit",
    resolution="Microsoft's billing export now shows partner earned credit on those days, or no longer bills them.",
)
def credit_missing(where: Where, loss: CreditLoss, holders: Sequence[CreditHolder]) -> model.Finding:
    """A PEC path held whole days, and Microsoft's billing applied no partner earned credit on them."""
    money = loss.lost is not None and loss.lost > 0
    held = "PAL Watch assumes" if loss.assumed else "PAL Watch recorded"
    how = (
        "the link's createdTime predates the day and today's delegation holds the role; PAL Watch had not verified "
        "it yet then"
        if loss.assumed
        else "its own verification saw the scope attributed before the day began"
    )
    rate = (
        f"{loss.percent:g} % (the rate Microsoft applied on the partner's credited lines in the same export)"
        if loss.rate_source == "billing"
        else f"{loss.percent:g} % (PAL_PEC_RATE: no line of the export was credited)"
        if loss.rate_source == "setting"
        else ""
    )
    cost = (
        f"{billed_amount(loss.lost or 0, loss.currency)} of partner earned credit not applied: "
        f"{billed_amount(loss.billed, loss.currency)} billed on those days (Microsoft billing) x {rate}."
        if loss.lost is not None
        else f"{billed_amount(loss.billed, loss.currency)} billed on those days without partner earned credit "
        "(set PAL_PEC_RATE to put a figure on it)."
    )
    who = "; ".join(
        f"{short(h.name)} ({h.object_id}), role {h.role_id}, linked since "
        f"{h.linked_since.isoformat() if h.linked_since else 'unknown'}"
        for h in holders
    )
    mpn = ", ".join(loss.mpn_ids) or "none on the lines"
    fix = (
        f"Microsoft's PEC troubleshooting checklist ({PEC_TROUBLESHOOT}), with what PAL Watch knows: "
        f"1. The subscription is an Azure plan (CSP) one: it is in your billing export. "
        f"2. Admin access held the entire day: {held} it ({how}). "
        f"3. The identity and role that carry it: {who or 'none recorded'}; the role must be a PEC-eligible "
        f"permanent (not just-in-time) Azure role at {where.scope}. "
        f"4. The PAL link points to the partner ID of the CSP partner or the indirect reseller of record "
        f"(MpnId on these lines: {mpn}). "
        f"5. The meters are eligible (Azure plan consumption; reservations, savings plans and Marketplace "
        f"earn none). "
        f"6. If all hold, open a Partner Center support request with the subscription, the days and the identity."
    )
    return model.Finding(
        key=f"credit_missing:{where.scope.lower()}",
        kind=Kind.CREDIT_MISSING,
        severity=model.Severity.CRITICAL if money else model.Severity.WARNING,
        subject=credit_subject(where.scope),
        title=f"Microsoft applied no partner earned credit on {where.scope} for {_days_text(loss.days)} "
        f"while a PEC path held ({'assumed' if loss.assumed else 'recorded'})",
        detail=(
            f"Customer {where.customer}, {where.scope}: on {', '.join(loss.days)} Microsoft's billing export shows "
            f"PartnerEarnedCreditPercentage 0 on every line, while {held} an identity linked to the partner ID held "
            f"an eligible role there the whole day ({how})."
        ),
        fix=fix,
        tenant_id=where.tenant_id,
        tenant_name=short(where.tenant_name),
        scope=where.scope,
        facts={
            **where.facts,
            "cost": cost,
            "days": ", ".join(loss.days),
            "billed": billed_amount(loss.billed, loss.currency),
            "rateSource": loss.rate_source or "none",
            "path": "assumed" if loss.assumed else "recorded",
            "offerType": offers.CSP,
        },
    )


@says(
    Kind.CREDIT_UNEXPLAINED,
    subject="credit PAL Watch cannot explain",
    cost="Nothing is lost: Microsoft credited this subscription; PAL Watch only cannot see the path it came through.",
    resolution="PAL Watch now knows a path to the credited subscription, or Microsoft no longer credits it.",
)
def credit_unexplained(
    scope: str, *, customer_id: str, name: str, days: Sequence[str], percent: float, managing_tenant_id: str
) -> model.Finding:
    """Microsoft applied partner earned credit where PAL Watch sees no path: its model misses one."""
    return model.Finding(
        key=f"credit_unexplained:{scope.lower()}",
        kind=Kind.CREDIT_UNEXPLAINED,
        severity=model.Severity.INFO,
        subject=credit_subject(scope),
        title=f"Microsoft applied {percent:g} % partner earned credit on {scope}, where PAL Watch knows no path",
        detail=(
            f"{short(name) or scope} (customer {customer_id or 'unknown'}) was credited on {_days_text(list(days))} "
            "in Microsoft's billing export, but no delegation PAL Watch watches attributes it. Nothing is lost; "
            "PAL Watch cannot warn you if that path goes."
        ),
        fix=(
            "Find the path Microsoft counts: AOBO (the Admin Agents foreign group holding Owner on the "
            "subscription), a user or service principal linked with PAL outside PAL Watch, or an identity in the "
            "customer's own tenant. If it is a Lighthouse offer, onboard it so PAL Watch watches it "
            f"(managing tenant {managing_tenant_id}); if it is a person, ask them to run `palwatch link-me`."
        ),
        tenant_id=customer_id,
        scope=scope,
        facts={"days": ", ".join(days), "offerType": offers.CSP},
    )
