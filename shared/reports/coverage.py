"""Coverage reports: where attribution stands, per scope and per delegation, as a table or JSON.

Called by `palwatch report` (table, `--json`) and the `coverage` HTTP function (JSON) with
the store's latest `Coverage` snapshot, or None when no verification has run yet. Also holds
what the HTML page (`shared.reports.page`) shares with them: the status of a row, totals,
the order of rows and how an attributing identity is described. Pure: no I/O, no clock
(the snapshot's `generated_at` is the only time shown besides each row's `since`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from shared import catalogue, decisions, offers, snapshots, words
from shared.reports import text as text_

if TYPE_CHECKING:  # the store pulls in the Table Storage SDK; a report only reads two fields
    from shared.store import store

ATTRIBUTED = "attributed"
AT_RISK = "at_risk"
NOT_ATTRIBUTED = "not_attributed"
NOT_VISIBLE = "not_visible"  # announced by Azure, but none of PAL Watch's identities can read it
NOT_ELIGIBLE = "not_eligible_offer"  # the subscription's offer earns no ACR through PAL
STATUSES = (ATTRIBUTED, AT_RISK, NOT_ATTRIBUTED, NOT_VISIBLE, NOT_ELIGIBLE)
LABELS = {
    ATTRIBUTED: "attributed",
    AT_RISK: "at risk",
    NOT_ATTRIBUTED: "not attributed",
    NOT_VISIBLE: "cannot be read",
    NOT_ELIGIBLE: "not eligible",
}
OFFER_LABELS = {  # the subscription's offer category (`shared.offers`), short
    "csp": "CSP",
    "enterprise_agreement": "EA/MCA",
    "pay_as_you_go": "Pay-As-You-Go",
    "not_eligible": "not eligible",
    "unknown": "unknown offer",
}
EMPTY_NEVER_RUN = "No verification has run yet: run `palwatch verify`."
EMPTY_NO_DELEGATIONS = (
    "No delegations: the managing tenant sees no Azure Lighthouse registration assignment. "
    "Onboard a customer (customer-onboarding/) and run `palwatch verify`."
)


def status(row: snapshots.CoverageRow) -> str:
    """The row's status, falling back on `attributed` if a newer engine wrote a status we don't know."""
    if row.status in STATUSES:
        return row.status
    return ATTRIBUTED if row.attributed else NOT_ATTRIBUTED


def told(rows: Iterable[snapshots.CoverageRow]) -> list[snapshots.CoverageRow]:
    """Each delegation's status as its scope's verdict tells it: the one place every report, the
    page and the digest take a status from. A delegation that carries no credit itself, on a scope
    that earns partner credit through another delegation, is at risk (the scope still earns, and its
    alert is a warning), never "not attributed"."""
    items = list(rows)
    by_tenant: dict[str, list[snapshots.CoverageRow]] = {}
    for r in items:
        by_tenant.setdefault(r.customer_tenant_id.lower(), []).append(r)
    earning = {  # a subscription is in one tenant: only that tenant's delegations can carry it
        (tenant, decisions.scopes.scope_key(sc.scope))
        for tenant, mine in by_tenant.items()
        for sc in scopes(mine)
        if sc.earns_credit and level(sc) != NOT_ELIGIBLE
    }
    return [
        replace(r, status=AT_RISK)
        if status(r) == NOT_ATTRIBUTED
        and (r.customer_tenant_id.lower(), decisions.scopes.scope_key(r.scope)) in earning
        else r
        for r in items
    ]


def ordered(rows: Iterable[snapshots.CoverageRow]) -> list[snapshots.CoverageRow]:
    """By customer name, then tenant id (customers without a name or sharing one), then scope;
    each with its status as its scope tells it (`told`)."""
    return sorted(
        told(rows),
        key=lambda r: (
            text_.clean(r.customer_tenant_name).casefold(),
            r.customer_tenant_id.lower(),
            r.scope.lower(),
            r.delegation_key,
        ),
    )


@dataclass(frozen=True)
class Customer:
    tenant_id: str
    name: str
    rows: tuple[snapshots.CoverageRow, ...]

    def count(self, which: str) -> int:
        return sum(1 for r in self.rows if status(r) == which)

    @property
    def status(self) -> str:
        """The worst status of its delegations."""
        found = {status(r) for r in self.rows}
        return next((s for s in (NOT_ATTRIBUTED, NOT_VISIBLE, AT_RISK) if s in found), ATTRIBUTED)


def customers(rows: Iterable[snapshots.CoverageRow]) -> list[Customer]:
    """Rows grouped per customer tenant (case-insensitive id), in report order."""
    groups: dict[str, list[snapshots.CoverageRow]] = {}
    for row in ordered(rows):
        groups.setdefault(row.customer_tenant_id.lower(), []).append(row)
    return [
        Customer(
            tenant_id=g[0].customer_tenant_id,
            name=next((r.customer_tenant_name for r in g if r.customer_tenant_name), ""),
            rows=tuple(g),
        )
        for g in groups.values()
    ]


def totals(rows: Sequence[snapshots.CoverageRow]) -> dict[str, int]:
    """Delegation counts by status, and customer counts by their worst status."""
    per_customer = customers(rows)
    by_status = [status(r) for r in told(rows)]
    worst = [c.status for c in per_customer]
    return {
        "delegations": len(rows),
        "attributed": by_status.count(ATTRIBUTED),
        "atRisk": by_status.count(AT_RISK),
        "notAttributed": by_status.count(NOT_ATTRIBUTED),
        "notVisible": by_status.count(NOT_VISIBLE),
        "notEligibleOffer": by_status.count(NOT_ELIGIBLE),
        "customers": len(per_customer),
        "customersAttributed": worst.count(ATTRIBUTED),
        "customersAtRisk": worst.count(AT_RISK),
        "customersNotAttributed": worst.count(NOT_ATTRIBUTED),
        "customersNotVisible": worst.count(NOT_VISIBLE),
    }


LEVEL_LABELS = {
    decisions.scopes.EARNS_CREDIT: "earns partner credit",
    decisions.scopes.RECOGNISED: "recognised only",
    decisions.scopes.NONE: "not recognised",
    NOT_ELIGIBLE: "offer earns no ACR through PAL",
}


PATH_WORDS = {"aobo": "AOBO", "lighthouse_pal": "Lighthouse PAL", "customer_tenant_pal": "customer-tenant PAL"}


def credit_label(scope: decisions.ScopeCredit) -> str:
    """What a scope earns, in the words of its subscription's agreement: partner earned credit and
    its paths on CSP; recognition and incentive eligibility elsewhere."""
    if level(scope) == NOT_ELIGIBLE:
        return LEVEL_LABELS[NOT_ELIGIBLE]
    if scope.pec_applies:
        paths = scope.pec_paths
        pec = (
            f"partner earned credit via {', '.join(PATH_WORDS[p] for p in paths)}"
            if paths
            else "no partner earned credit"
        )
        return pec + (" (recognised: CSP)" if scope.csp_customer else "")
    if scope.earns_credit:
        return "recognised, incentive eligible"
    recognised = {
        decisions.scopes.RECOGNITION_CSP: "recognised (CSP)",
        decisions.scopes.RECOGNITION_PAL: "recognised only",
    }
    return recognised.get(scope.recognition, "not recognised")


def credit_json(scope: decisions.ScopeCredit) -> dict[str, Any]:
    """The scope's recognition, partner earned credit (CSP only) and incentive eligibility (not CSP)."""
    eligible_offer = level(scope) != NOT_ELIGIBLE
    return {
        "recognition": scope.recognition if eligible_offer else decisions.scopes.NONE,
        "partnerEarnedCredit": {"paths": list(scope.pec_paths), "earns": bool(scope.pec_paths)}
        if scope.pec_applies and eligible_offer
        else "not_applicable",
        "incentiveEligible": scope.incentive_eligible if not scope.pec_applies else "not_applicable",
    }


def _row_credit(scope: decisions.ScopeCredit) -> dict[str, Any]:
    """A delegation row's scope credit, flat (one cell each in CSV)."""
    credit = credit_json(scope)
    pec = credit["partnerEarnedCredit"]
    return {
        "recognition": credit["recognition"],
        "partnerEarnedCredit": pec if isinstance(pec, str) else ", ".join(pec["paths"]) or "none",
        "incentiveEligible": credit["incentiveEligible"],
        "credit": credit_label(scope),
    }


def level(scope: decisions.ScopeCredit) -> str:
    """The scope's level as reported: on an offer that earns no ACR through PAL it earns nothing,
    whoever holds a role there."""
    return NOT_ELIGIBLE if scope.offer_type == offers.NOT_ELIGIBLE else scope.level


def scopes(rows: Iterable[snapshots.CoverageRow]) -> list[decisions.ScopeCredit]:
    """The scopes (subscriptions, resource groups) with the delegations at each, counted the way
    Microsoft counts: any delegation covering a scope (or its subscription) can carry its credit."""
    return decisions.scope_credit(
        decisions.Standing(
            key=r.delegation_key,
            scope=r.scope,
            attributed=r.attributed,
            carriers=frozenset(a.principal_id for a in r.attributed_by),
            recognised=r.recognised or r.attributed,
            customer_tenant_id=r.customer_tenant_id,
            customer_tenant_name=r.customer_tenant_name,
            definition_name=r.definition_name,
            offer_type=r.offer_type,
            aobo=r.aobo,
            csp_customer=r.csp_customer,
            customer_tenant_pal=r.customer_tenant_pal,
        )
        for r in rows
    )


def scope_totals(rows: Iterable[snapshots.CoverageRow]) -> dict[str, int]:
    levels = [level(s) for s in scopes(rows)]
    return {
        "scopes": len(levels),
        "scopesEarningCredit": levels.count(decisions.scopes.EARNS_CREDIT),
        "scopesRecognisedOnly": levels.count(decisions.scopes.RECOGNISED),
        "scopesNotRecognised": levels.count(decisions.scopes.NONE),
        "scopesNotEligibleOffer": levels.count(NOT_ELIGIBLE),
    }


def role_name(row: snapshots.CoverageRow, index: int) -> str:
    """The role's name as the snapshot recorded it, else its id (a custom or unknown role)."""
    if index < len(row.role_names) and row.role_names[index]:
        return row.role_names[index]
    return row.attributed_by[index].role_id.rstrip("/").rsplit("/", 1)[-1]


def describe_attributor(row: snapshots.CoverageRow, index: int, *, limit: int = 60) -> str:
    """`Ops Automation as Contributor via group 1a2b3c4d…`: who, with which role, through what."""
    entry = row.attributed_by[index]
    who = text_.fit(text_.clean(entry.display_name), limit) or text_.clean(entry.principal_id)
    said = f"{who} as {text_.fit(text_.clean(role_name(row, index)), limit)}"
    if entry.via_group:
        said += f" via group {text_.short_id(entry.via_group)}"
    return said


def _compact_scope(scope: str) -> str:
    subscription, group = words.scope_parts(scope)
    if not subscription:
        return text_.fit(text_.clean(scope), 80)
    return text_.clean(subscription) + (f" / {text_.fit(text_.clean(group), 40)}" if group else "")


def scope_cell(scope: str, subscription_name: str = "", offer: str = "") -> text_.Cell:
    """`Production (7b7b7b7b…) / rg-app · Gold offer`; when cut, the subscription id goes before any name."""
    subscription, group = words.scope_parts(scope)
    if not subscription:
        return text_.Cell(text_.fit(text_.clean(scope), 80))
    rest = f" / {text_.fit(text_.clean(group), 60)}" if group else ""
    rest += f" · {text_.fit(text_.clean(offer), 40)}" if offer else ""
    name = text_.fit(text_.clean(subscription_name), 60)
    if name:
        return text_.Cell(f"{name} ({text_.short_id(subscription)}){rest}", compact=f"{name}{rest}")
    return text_.Cell(f"{text_.clean(subscription)}{rest}", compact=f"{text_.short_id(subscription)}{rest}")


def customer_cell(tenant_name: str, tenant_id: str) -> text_.Cell:
    """`Contoso (1111aaaa…)`; when cut, the tenant id goes first and the name stays."""
    tenant = text_.short_id(tenant_id) if tenant_id else ""
    name = text_.fit(text_.clean(tenant_name), 80)
    if not name:
        return text_.Cell(f"tenant {tenant}" if tenant else "-")
    return text_.Cell(f"{name} ({tenant})", compact=name) if tenant else text_.Cell(name)


def reason_text(row: snapshots.CoverageRow) -> str:
    """Why the row is not (fully) attributed, in words; "" when attributed."""
    if status(row) == ATTRIBUTED or not row.reason:
        return ""
    return text_.fit(text_.clean(catalogue.reason_words(row.reason)), 160)


def credit_words(observed: snapshots.ObservedCredit | None, in_billing: bool) -> str:
    """What Microsoft's billing export says of a scope's latest complete day, beside PAL Watch's verdict."""
    if observed is None:
        return "" if in_billing else "not in billing"
    billed = catalogue.billed_amount(observed.billed, observed.currency)
    if observed.percent > 0:
        return f"credited {observed.day}: {observed.percent:g} % of {billed} (Microsoft billing)"
    return f"not credited {observed.day}: 0 % of {billed} (Microsoft billing)"


def billing_sentence(latest: Mapping[str, snapshots.ObservedCredit]) -> str:
    """One line for the digest: Microsoft's billing on its latest complete day, per subscription."""
    subscriptions = [r for scope, r in latest.items() if "/resourcegroups/" not in scope]
    if not subscriptions:
        return ""
    day = max(r.day for r in subscriptions)
    that_day = [r for r in subscriptions if r.day == day]
    credited = sum(1 for r in that_day if r.percent > 0)
    return (
        f"Microsoft billing on {day}: {words.plural(credited, 'subscription')} credited, "
        f"{len(that_day) - credited} not credited."
    )


def _detail_cell(row: snapshots.CoverageRow) -> text_.Cell:
    """Who carries the credit, then why it is not (fully) earned, then what Microsoft's billing says."""
    reason = "; ".join(x for x in (reason_text(row), row.credit_observed) if x)
    if not row.attributed_by:
        return text_.Cell(reason or "-")
    more = len(row.attributed_by) - 1
    who = describe_attributor(row, 0) + (f" +{more} more" if more else "")
    return text_.Cell(text_.fit(f"{who}; {reason}" if reason else who, 240))


_COLUMNS = (
    text_.Column("CUSTOMER", cap=48, minimum=14, wrap=True),
    text_.Column("SCOPE · OFFER", cap=110, minimum=16, wrap=True),
    text_.Column("STATUS", cap=14),
    text_.Column("ATTRIBUTED BY / REASON", cap=72, minimum=22, wrap=True, prose=True),
    text_.Column("SINCE (UTC)", cap=16, optional=1),
)


_NATURAL_WIDTH = sum(c.cap for c in _COLUMNS) + 2 * (len(_COLUMNS) - 1)  # the table's width uncut


def summary_lines(coverage: store.Coverage) -> list[str]:
    t = totals(coverage.rows)
    by_scope = scope_totals(coverage.rows)
    return [
        f"Coverage at {words.minute(coverage.generated_at)} UTC: {words.plural(t['delegations'], 'delegation')}, "
        f"{t['attributed']} attributed, {t['atRisk']} at risk, {t['notAttributed']} not attributed"
        + (f", {t['notVisible']} PAL Watch cannot read" if t["notVisible"] else "")
        + (f", {t['notEligibleOffer']} on offers that earn no ACR through PAL" if t["notEligibleOffer"] else ""),
        f"Customers: {t['customers']} ({t['customersAttributed']} fully attributed, "
        f"{t['customersAtRisk']} at risk, {t['customersNotAttributed']} with delegations not attributed)",
        f"Scopes: {by_scope['scopes']} ({by_scope['scopesEarningCredit']} earn credit, "
        f"{by_scope['scopesRecognisedOnly']} recognised only, {by_scope['scopesNotRecognised']} not recognised"
        + (
            f", {by_scope['scopesNotEligibleOffer']} on an offer that earns no ACR through PAL"
            if by_scope["scopesNotEligibleOffer"]
            else ""
        )
        + ")",
        "Credit: PEC on CSP subscriptions; incentive eligibility on others.",
    ]


def coverage_table(coverage: store.Coverage | None, *, width: int | None = None) -> str:
    """Totals, then one aligned line per delegation; fits `width` terminal columns when given."""
    if coverage is None:
        return EMPTY_NEVER_RUN
    if not coverage.rows:
        return f"Coverage at {words.minute(coverage.generated_at)} UTC: {EMPTY_NO_DELEGATIONS}"
    rows = [
        [
            customer_cell(r.customer_tenant_name, r.customer_tenant_id),
            scope_cell(r.scope, r.subscription_name, offer=_offer_words(r)),
            text_.Cell(LABELS[status(r)]),
            _detail_cell(r),
            text_.Cell(words.minute(r.since)),
        ]
        for r in ordered(coverage.rows)
    ]
    lines = [*summary_lines(coverage), "", *text_.layout(_COLUMNS, rows, width)]
    every_scope = scopes(coverage.rows)
    shared_scopes = [sc for sc in every_scope if len(sc.delegations) > 1 or sc.inherited_from]
    if shared_scopes:
        lines += ["", "Scopes covered by more than one delegation (credit is counted once per scope):"]
        lines += [text_.fit(_scope_line(sc), width or _NATURAL_WIDTH) for sc in shared_scopes]
    per_location = by_location(coverage.rows)
    if len(per_location) > 1:  # a partner with several locations: where the credit goes
        lines += ["", "Credited per partner location (the IDs the attributing identities' links carry):"]
        lines += [
            f"  {pid}: {n['delegations']} delegation(s) of {n['customers']} customer(s)"
            for pid, n in sorted(per_location.items())
        ]
    return "\n".join(lines)


def offer_label(offer_type: str) -> str:
    """The subscription's offer category, short ('' when no pass read it)."""
    return OFFER_LABELS.get(offer_type, offer_type)


def _offer_words(row: snapshots.CoverageRow) -> str:
    """`Gold offer (CSP)`: the Lighthouse offer's name, then the subscription's offer category."""
    kind = offer_label(row.offer_type)
    if row.definition_name and kind:
        return f"{row.definition_name} ({kind})"
    return row.definition_name or kind


def _scope_line(scope: decisions.ScopeCredit) -> str:
    offers = ", ".join(
        f"{text_.fit(text_.clean(d.definition_name or text_.short_id(d.key.rsplit('/', 1)[-1])), 40)}"
        f" ({'attributed' if d.attributed else 'not attributed'})"
        for d in scope.delegations
    )
    above = f"; also covered by {words.plural(len(scope.inherited_from), 'subscription delegation')}"
    kind = f" ({offer_label(scope.offer_type)})" if scope.offer_type else ""
    return f"  {_compact_scope(scope.scope)}{kind}: {credit_label(scope)}; offers: {offers}" + (
        above if scope.inherited_from else ""
    )


def _attributor_json(row: snapshots.CoverageRow, index: int) -> dict[str, Any]:
    entry = row.attributed_by[index]
    return {
        "principalId": entry.principal_id,
        "displayName": entry.display_name,
        "kind": entry.kind,
        "roleId": entry.role_id,
        "roleName": role_name(row, index),
        "viaGroup": entry.via_group or None,
    }


def coverage_json(coverage: store.Coverage | None) -> dict[str, Any]:
    """Stable camelCase document; `generatedAt` null and no delegations when no verify has run."""
    rows = ordered(coverage.rows) if coverage is not None else []
    by_key = {r.delegation_key: r for r in rows}
    every_scope = scopes(rows)
    scope_of = {decisions.scopes.scope_key(sc.scope): sc for sc in every_scope}
    return {
        "generatedAt": words.iso_z(coverage.generated_at) if coverage is not None else None,
        "totals": {**totals(rows), **scope_totals(rows)},
        "scopes": [
            {
                "scope": sc.scope,
                "customerTenantId": sc.customer_tenant_id,
                "customerTenantName": sc.customer_tenant_name,
                "level": level(sc),
                "earnsPartnerCredit": sc.earns_credit and level(sc) != NOT_ELIGIBLE,
                "recognised": sc.recognised and level(sc) != NOT_ELIGIBLE,
                "offerType": sc.offer_type or None,
                **credit_json(sc),
                "credit": credit_label(sc),
                "delegations": [
                    {
                        "delegationKey": d.key,
                        "offer": d.definition_name or None,
                        "status": status(by_key[d.key]),
                        "attributed": d.attributed,
                    }
                    for d in sc.delegations
                ],
                "coveredBySubscriptionDelegations": list(sc.inherited_from),
            }
            for sc in every_scope
        ],
        "delegations": [
            {
                "delegationKey": r.delegation_key,
                "customerTenantId": r.customer_tenant_id,
                "customerTenantName": r.customer_tenant_name,
                "scope": r.scope,
                "subscriptionName": r.subscription_name or None,
                "offer": r.definition_name or None,
                "offerType": r.offer_type or None,
                "quotaId": r.quota_id or None,
                "offerSource": ("marketplace" if r.plan else "template") if r.offer_type else None,
                "marketplacePlan": r.plan or None,
                "status": status(r),
                "attributed": r.attributed,
                "recognised": r.recognised or r.attributed,
                "attributedBy": [_attributor_json(r, i) for i in range(len(r.attributed_by))],
                "reason": r.reason or None,
                "since": words.iso_z(r.since),
                **_row_credit(scope_of[decisions.scopes.scope_key(r.scope)]),
                "foreignAobo": list(r.foreign_aobo),
                "partnerLocations": list(r.locations),
                "creditObserved": r.credit_observed or None,
            }
            for r in rows
        ],
        "byLocation": by_location(rows),
    }


def by_location(rows: Sequence[snapshots.CoverageRow]) -> dict[str, dict[str, int]]:
    """Per partner location ID its links carry: the delegations and customers credited to it."""
    found: dict[str, dict[str, set[str]]] = {}
    for r in rows:
        for location in r.locations:
            entry = found.setdefault(location, {"delegations": set(), "customers": set()})
            entry["delegations"].add(r.delegation_key)
            entry["customers"].add(r.customer_tenant_id)
    return {pid: {name: len(keys) for name, keys in entry.items()} for pid, entry in found.items()}
