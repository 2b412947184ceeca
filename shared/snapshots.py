"""What the engine remembers about each delegation, and the coverage rows it reports.

Produced by the pure decisions in `shared.decisions`, persisted by `shared.store`, read back
by the identity-impact decisions and the reports. It lives here, beside `shared.model`, because
the layer contract keeps `shared.decisions` and `shared.store` from importing each other.
Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from shared import model


class AttributedBy(NamedTuple):
    """One identity known to carry the PAL link and to hold an eligible role on a delegation.

    `active` False means it attributed the delegation before and no longer does (disabled,
    deleted, removed from the group, role gone); `lost_at` says since when. Such entries are
    kept for the restore window so a restore or re-enable can close the findings.
    """

    principal_id: str
    role_id: str
    via_group: str = ""  # the group's object id when held through a group
    active: bool = True
    lost_at: datetime | None = None
    display_name: str = ""
    kind: str = ""  # model.PrincipalKind value


@dataclass(frozen=True)
class DelegationSnapshot:
    """A delegation as last assessed: who it is for, who attributes it, since when."""

    key: str  # model.Delegation.key: the assignment id, lower case
    assignment_id: str
    customer_tenant_id: str
    scope: str
    customer_tenant_name: str = ""
    subscription_name: str = ""
    managed_by_tenant_id: str = ""
    definition_name: str = ""
    quota_id: str = ""  # the subscription's offer as last read (an event's read names none)
    plan: str = ""  # the definition's Marketplace plan ("" from a template)
    authorizations: tuple[model.Authorization, ...] = ()
    eligible_authorizations: tuple[model.Authorization, ...] = ()
    attributed_by: tuple[AttributedBy, ...] = ()
    attributed: bool = False
    since: datetime | None = None  # when `attributed` took its current value
    updated_at: datetime | None = None
    removed: bool = False
    reason: str = ""  # reason code when not attributed
    aobo: bool = False  # the partner's Admin Agents held an eligible role at its CSP subscription, as last read
    aobo_lost_at: datetime | None = None  # when that AOBO was last seen gone (kept for the restore window)

    @property
    def active_attributors(self) -> tuple[AttributedBy, ...]:
        return tuple(a for a in self.attributed_by if a.active)

    def to_delegation(self) -> model.Delegation:
        """The delegation as it was, to re-assess it without reading ARM again."""
        return model.Delegation(
            assignment_id=self.assignment_id,
            scope=self.scope,
            customer_tenant_id=self.customer_tenant_id,
            managed_by_tenant_id=self.managed_by_tenant_id,
            customer_tenant_name=self.customer_tenant_name,
            subscription_name=self.subscription_name,
            definition_name=self.definition_name,
            quota_id=self.quota_id,
            plan=self.plan,
            authorizations=self.authorizations,
            eligible_authorizations=self.eligible_authorizations,
        )


@dataclass(frozen=True)
class CoverageRow:
    """One line of the coverage report."""

    delegation_key: str
    customer_tenant_id: str
    customer_tenant_name: str
    scope: str
    attributed: bool
    status: str  # "attributed" | "at_risk" | "not_attributed"
    attributed_by: tuple[AttributedBy, ...] = ()
    role_names: tuple[str, ...] = ()  # names of the roles of `attributed_by`, same order
    reason: str = ""
    since: datetime | None = None
    definition_name: str = ""  # the offer: registrationDefinitionName
    recognised: bool = False  # a linked identity holds any permanent role (PAL association)
    subscription_name: str = ""  # displayName of the scope's subscription ("" unknown)
    quota_id: str = ""  # the subscription's offer (subscriptionPolicies.quotaId; "" unknown)
    offer_type: str = ""  # its category (`shared.offers`): csp, enterprise_agreement, ... ("" unknown)
    plan: str = ""  # the Lighthouse offer's Marketplace plan ("" deployed from a template)
    locations: tuple[str, ...] = ()  # the partner's location IDs its attributing identities' links carry
    aobo: bool = False  # CSP subscription: the partner's Admin Agents hold an eligible role there (AOBO)
    csp_customer: bool = False  # the customer is the partner's own CSP business (recognition `csp`)
    foreign_aobo: tuple[str, ...] = ()  # foreign groups PAL Watch does not know holding roles there
    customer_tenant_pal: bool = False  # CSP: our identity linked in the customer's tenant holds an eligible role
    credit_observed: str = ""  # what Microsoft's billing export says (credit snapshot); "" without billing data


@dataclass(frozen=True)
class ObservedCredit:
    """What Microsoft's billing export says about one scope on one complete day (the credit snapshot's row)."""

    scope: str  # lower case: /subscriptions/{id} or .../resourcegroups/{name}
    day: str  # ISO date (UTC)
    billed: float  # BillingPreTaxTotal summed, in `currency`
    percent: float  # PartnerEarnedCreditPercentage, weighted by cost (0: no credit applied)
    currency: str = ""
    mpn_ids: tuple[str, ...] = ()
    tier2_mpn_ids: tuple[str, ...] = ()
