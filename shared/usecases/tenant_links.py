"""PAL links of the identities we act as: drift in the managing tenant, links in customer tenants.

Called by `shared.usecases.verify` (the full check in every verification) and by the watch timer
(`watch_links`, here, on the watch cadence). A link belongs to its caller, so each check runs as the identity itself.

- Managing tenant: every identity's link is read once (`links.LinkWriter.read`). One that pointed to
  our partner ID when we last looked (remembered in store state) and is now gone or points
  elsewhere was changed by hand: it is put back and reported as a `link_drift_repaired`
  notice (info, said once) or, when that fails, as `link_failed`.
- Customer tenants: a multi-tenant app identity (`multiTenant` in PAL_IDENTITIES) is linked in
  every tenant where its app has a principal, as that tenant's principal. Azure cannot list
  those tenants for an app (`GET /tenants` with an app token names only the token's own
  tenant), so the candidates are the customer tenants of every delegation and subscription we
  see, `PAL_CUSTOMER_TENANTS`, and the tenants it was linked in before. A tenant where the app
  has no principal answers the token request with AADSTS700016: that is "not installed here",
  remembered with a time to ask again, never a finding. What it found is remembered per tenant
  in the store's identities table (rows outside the managing tenant, which the federation
  discovery ignores).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import catalogue, decisions, model
from shared.azure import errors
from shared.snapshots import DelegationSnapshot
from shared.store import store as store_module
from shared.usecases import alerts, observe, outcomes, recorder
from shared.usecases import links as link_writer
from shared.usecases.engine import Engine
from shared.usecases.observe import Identities

log = logging.getLogger(__name__)

KNOWN_STATE = link_writer.KNOWN_LINKS_STATE  # managing tenant: object id -> partner id its link last pointed to
DRIFTED_STATE = link_writer.DRIFTED_LINKS_STATE  # object id -> {"to": partner id, "at": first seen} while withheld
NOT_INSTALLED = "AADSTS700016"  # "Application ... was not found in the directory": no principal there
NOT_INSTALLED_RETRY = timedelta(hours=6)  # ask a tenant that lacks the app again after this long


@dataclass
class LinkCheck:
    """What a link check saw and did; findings and subjects go to the verification's sync."""

    checked: int = 0
    repaired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)  # first links made in customer tenants
    tenants: dict[str, list[str]] = field(default_factory=dict)  # identity name -> customer tenants
    not_installed: list[str] = field(default_factory=list)  # tenants where the app has no principal
    installed: list[str] = field(default_factory=list)  # tenants where its principal got a token
    findings: list[model.Finding] = field(default_factory=list)
    subjects: set[str] = field(default_factory=set)
    drift: list[model.Finding] = field(default_factory=list)  # notices to open and resolve at once
    problems: list[str] = field(default_factory=list)
    statuses: dict[str, decisions.LinkStatus] = field(default_factory=dict)  # managing tenant, after repair

    def merge(self, other: LinkCheck) -> None:
        self.checked += other.checked
        self.repaired += other.repaired
        self.failed += other.failed
        self.linked += other.linked
        self.tenants.update(other.tenants)
        self.not_installed += other.not_installed
        self.installed += other.installed
        self.findings += other.findings
        self.subjects |= other.subjects
        self.drift += other.drift
        self.problems += other.problems
        self.statuses.update(other.statuses)

    def summary(self) -> str:
        return (
            f"{self.checked} link(s) checked, {len(self.repaired)} drift repaired, "
            f"{len(self.linked)} linked in customer tenants, {len(self.failed)} failed"
            + (f", app not installed in {len(self.not_installed)} tenant(s)" if self.not_installed else "")
        )


# -- managing tenant ------------------------------------------------------------------------------


def check_managing_links(engine: Engine, identities: Identities, links: link_writer.LinkWriter) -> LinkCheck:
    """Read every acting identity's link (one GET each) and put back the ones changed by hand."""
    settings = engine.settings
    partner, tenant = settings.partner_id, settings.managing_tenant_id
    known: dict[str, str] = engine.store.get_state(KNOWN_STATE) or {}
    acting = identities.acting
    check = LinkCheck()
    statuses = links.read(acting)
    for object_id, status in sorted(statuses.items()):
        check.checked += 1
        ours = settings.partner_ids or (partner,)
        if status.partner_id is None or known.get(object_id) not in ours or status.points_to(ours):
            continue  # unreadable, never ours, or fine: the estate's decisions handle the rest
        identity = acting[object_id]
        log.warning("PAL link of %s was %s by hand; putting it back", identity.name, status.partner_id or "removed")
        was = known[object_id]  # one of the partner's locations: put back where it was
        repaired = links.ensure(identity, tenant, object_id, was)
        statuses[object_id] = repaired
        check.subjects.add(catalogue.link_subject(tenant, object_id))
        if (tenant.lower(), object_id) in links.withheld:  # observe mode: say what it would do
            withheld = catalogue.Link(tenant, object_id, identity.name)
            since = drifted_since(engine, object_id) or links.now.isoformat()
            check.findings.append(catalogue.link_drift_withheld(withheld, status.partner_id or "", was, since))
            continue
        link = catalogue.Link(tenant, object_id, identity.name, managing=True)
        if repaired.points_to(was):
            check.repaired.append(f"{identity.name} in {tenant}")
            check.drift.append(catalogue.link_drift_repaired(link, status.partner_id or "", was))
        else:
            check.failed.append(f"{identity.name} in {tenant}: {repaired.error_code}")
            check.findings.append(
                catalogue.link_failed(
                    link, code=repaired.error_code or "NotLinked", message=repaired.error_message, partner_id=was
                )
            )
    check.statuses = statuses
    return check


def remember_managing_links(links: link_writer.LinkWriter, statuses: Mapping[str, decisions.LinkStatus]) -> None:
    """Remember which identities' links point to our partner ID now (the baseline for drift).

    A link that was ours and now reads another ID stays ours while the pass withheld its repair
    (observe mode, a suspect setting): what observe mode says it would put back is what repair
    puts back next. When it was first seen changed is kept beside it (`DRIFTED_STATE`), so the
    partner ID guard never takes those links for a setting to adopt.
    """
    engine, store = links.engine, links.engine.store
    ours = engine.settings.partner_ids or (engine.settings.partner_id,)
    managing = engine.managing_tenant_id.lower()
    withheld = {oid for (tenant, oid), _verdict in links.withheld.items() if tenant == managing}
    known: dict[str, str] = store.get_state(KNOWN_STATE) or {}
    drifted: dict[str, dict[str, str]] = store.get_state(DRIFTED_STATE) or {}
    current, drift = dict(known), dict(drifted)
    for object_id, status in statuses.items():
        if status.partner_id is None:
            continue  # unreadable now: keep what we knew
        if status.points_to(ours):
            current[object_id] = status.partner_id
            drift.pop(object_id, None)
        elif object_id in withheld and known.get(object_id) in ours:
            first = drift.get(object_id, {})
            if first.get("to") != status.partner_id:
                drift[object_id] = {"to": status.partner_id, "at": links.now.isoformat()}
        elif not status.error_code:
            current.pop(object_id, None)  # not ours (never linked, or a human chose another id)
            drift.pop(object_id, None)
    if current != known:
        store.put_state(KNOWN_STATE, current)
    if drift != drifted:
        store.put_state(DRIFTED_STATE, drift)


def drifted_since(engine: Engine, object_id: str) -> str:
    """When PAL Watch first saw the link of `object_id` changed by hand ("" not seen before)."""
    drifted: dict[str, dict[str, str]] = engine.store.get_state(DRIFTED_STATE) or {}
    return drifted.get(object_id.lower(), {}).get("at", "")


# -- customer tenants (multi-tenant app identities) -------------------------------------------


def candidate_tenants(
    engine: Engine,
    seen: Mapping[str, str] | None = None,
    snapshots: Iterable[DelegationSnapshot] | None = None,
) -> dict[str, str]:
    """Customer tenants a multi-tenant app may be installed in (tenant id -> name, "" unknown).

    `seen` is what this run's enumeration found (delegations' and subscriptions' tenants);
    `snapshots` the delegations remembered in the store (read from it when not given); then
    `PAL_CUSTOMER_TENANTS`, for customers who installed the app without Lighthouse.
    """
    managing = engine.managing_tenant_id.lower()
    found: dict[str, str] = {}
    for tenant_id, name in (seen or {}).items():
        found.setdefault(tenant_id.lower(), name)
    remembered = engine.store.list_delegations(include_removed=False) if snapshots is None else snapshots
    for snapshot in remembered:
        if snapshot.customer_tenant_id and not snapshot.removed:
            found.setdefault(snapshot.customer_tenant_id.lower(), snapshot.customer_tenant_name)
    for tenant_id in engine.settings.customer_tenants:
        found.setdefault(tenant_id.lower(), "")
    found.pop(managing, None)
    found.pop("", None)
    return found


def check_customer_tenants(
    engine: Engine,
    links: link_writer.LinkWriter,
    now: datetime,
    candidates: Mapping[str, str],
    *,
    only_new: bool = False,
    workers: int = 8,
) -> LinkCheck:
    """Link each multi-tenant identity in every candidate tenant where its app has a principal.

    Tenants it was linked in before are candidates too. `only_new` (the watch cadence) touches
    only tenants not seen before; verify checks them all. A tenant that lacked the app is asked
    again only once `NOT_INSTALLED_RETRY` has passed.
    """
    managing = engine.managing_tenant_id.lower()
    total = LinkCheck()
    multi_tenant = [i for i in engine.settings.identities if i.multi_tenant]
    if not multi_tenant:
        return total
    remembered_rows = engine.store.list_remembered_identities()
    absent = engine.store.list_not_installed()
    for identity in multi_tenant:
        client_id = identity.client_id.lower()
        remembered = {
            r.tenant_id.lower(): r
            for r in remembered_rows
            if r.client_id.lower() == client_id and r.tenant_id.lower() != managing
        }
        tenants = dict(candidates)
        for tenant_id in remembered:
            tenants.setdefault(tenant_id, "")
        targets = [
            (tenant_id, name)
            for tenant_id, name in sorted(tenants.items())
            if not (only_new and tenant_id in remembered) and _due(absent.get((client_id, tenant_id)), now)
        ]
        installed = {t for t in remembered if (client_id, t) not in absent}
        if targets:
            link = functools.partial(_link_in_tenant_safely, links, identity, remembered=remembered, now=now)
            pool_size = max(1, min(workers, len(targets)))
            with ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="verify-mt") as pool:
                for (tenant_id, _name), result in zip(targets, pool.map(link, targets), strict=True):
                    total.merge(result)
                    _remember_presence(engine, client_id, tenant_id, result, absent=absent, now=now)
                    if tenant_id in result.not_installed:
                        installed.discard(tenant_id)
                    elif tenant_id in result.installed:
                        installed.add(tenant_id)
        total.tenants[identity.name] = sorted(installed)
    return total


def _due(retry_at: datetime | None, now: datetime) -> bool:
    return retry_at is None or retry_at <= now


def _remember_presence(
    engine: Engine,
    client_id: str,
    tenant_id: str,
    result: LinkCheck,
    *,
    absent: Mapping[tuple[str, str], datetime],
    now: datetime,
) -> None:
    """Remember "not installed here" with a time to ask again; forget it once the app is there."""
    if tenant_id in result.not_installed:
        engine.store.remember_not_installed(client_id, tenant_id, now + NOT_INSTALLED_RETRY)
    elif tenant_id in result.installed and (client_id, tenant_id) in absent:
        engine.store.forget_not_installed(client_id, tenant_id)


def _link_in_tenant_safely(
    links: link_writer.LinkWriter,
    identity: model.ActingIdentity,
    tenant: tuple[str, str],
    *,
    remembered: dict[str, store_module.RememberedIdentity],
    now: datetime,
) -> LinkCheck:
    """A transient failure is a problem to retry next pass, not a finding: the subject is left alone."""
    tenant_id = tenant[0]
    try:
        return _link_in_tenant(links, identity, tenant, remembered.get(tenant_id), now)
    except errors.TransientError as e:
        log.warning("checking %s in tenant %s failed for now: %s", identity.name, tenant_id, e)
        return LinkCheck(problems=[f"{identity.name} in {tenant_id}: {e}"])


def _link_in_tenant(
    links: link_writer.LinkWriter,
    identity: model.ActingIdentity,
    tenant: tuple[str, str],
    remembered: store_module.RememberedIdentity | None,
    now: datetime,
) -> LinkCheck:
    engine = links.engine
    tenant_id, tenant_name = tenant
    partner = engine.settings.partner_id
    check = LinkCheck(checked=1)
    try:
        object_id = engine.whoami(identity, tenant_id).object_id.lower()
    except errors.TransientError:
        raise
    except errors.AzureError as e:
        engine.forget("whoami", identity.kind, identity.client_id.lower(), tenant_id.lower())
        if e.code.upper() == NOT_INSTALLED:
            log.info("app of %s is not installed in tenant %s; asking again later", identity.name, tenant_id)
            return LinkCheck(not_installed=[tenant_id])
        failed = catalogue.Link(tenant_id, identity.client_id.lower(), identity.name)
        return _failed(check, failed, e.code or "CredentialError", str(e), partner)
    check.installed.append(tenant_id)
    link_of = catalogue.Link(tenant_id, object_id, identity.name)
    check.subjects.add(link_of.subject)
    try:
        link = engine.pal_for(identity, tenant_id).get_link()
    except errors.TransientError:
        raise
    except errors.AzureError as e:
        return _failed(check, link_of, e.code or type(e).__name__, str(e), partner)
    before = decisions.LinkStatus.from_link(link)
    status = before
    if not before.points_to(engine.settings.partner_ids or (partner,)):
        status = links.ensure(identity, tenant_id, object_id)
        if status.error_code:
            return _failed(check, link_of, status.error_code, status.error_message, partner)
        if (tenant_id.lower(), object_id) in links.withheld:
            return check  # observe mode or a suspect partner ID: reported by the run, nothing remembered
        if remembered is not None and remembered.partner_id in (engine.settings.partner_ids or (partner,)):
            check.repaired.append(f"{identity.name} in {tenant_id}")
            drifted = catalogue.Link(tenant_id, object_id, identity.name, tenant_name=tenant_name)
            check.drift.append(catalogue.link_drift_repaired(drifted, before.partner_id or "", partner))
        else:
            check.linked.append(f"{identity.name} in {tenant_id}")
    if remembered is None or remembered.partner_id != (status.partner_id or "") or remembered.object_id != object_id:
        engine.store.remember_identity(
            store_module.RememberedIdentity(
                tenant_id=tenant_id.lower(),
                object_id=object_id,
                client_id=identity.client_id,
                name=identity.name,
                kind=identity.kind,
                discovered_at=remembered.discovered_at if remembered and remembered.discovered_at else now,
                partner_id=status.partner_id or "",
                link_checked_at=now,
            )
        )
    return check


def _failed(check: LinkCheck, link: catalogue.Link, code: str, message: str, partner_id: str) -> LinkCheck:
    """A link that could not be read or written: said in the outcome line and as a finding."""
    log.warning("linking %s in tenant %s failed: %s %s", link.name, link.tenant_id, code, message[:200])
    check.failed.append(f"{link.name} in {link.tenant_id}: {code}")
    check.subjects.add(link.subject)
    check.findings.append(catalogue.link_failed(link, code=code, message=message, partner_id=partner_id))
    return check


def linked_in_customer_tenants(engine: Engine) -> dict[str, frozenset[str]]:
    """Customer tenant -> object ids there of our multi-tenant identities whose link points to one
    of our partner IDs, as remembered by the last link check (a tenant not linked: none)."""
    managing = engine.managing_tenant_id.lower()
    ours = set(engine.settings.partner_ids or (engine.settings.partner_id,))
    multi_tenant = {i.client_id.lower() for i in engine.settings.identities if i.multi_tenant}
    found: dict[str, set[str]] = {}
    for row in engine.store.list_remembered_identities():
        tenant = row.tenant_id.lower()
        if tenant != managing and row.client_id.lower() in multi_tenant and row.partner_id in ours and row.object_id:
            found.setdefault(tenant, set()).add(row.object_id.lower())
    return {tenant: frozenset(ids) for tenant, ids in found.items()}


# -- the watch cadence: links repaired within minutes ---------------------------------------------


def watch_links(engine: Engine, now: datetime) -> outcomes.Outcome:
    """Re-read each managing-tenant link (one GET per identity) and put back what was changed by
    hand; let each multi-tenant identity link itself in candidate tenants it has not seen."""
    links = link_writer.LinkWriter(engine, now, defer_transient=True)
    check = check_managing_links(engine, observe.acting_identities(engine, tolerate=True), links)
    candidates = candidate_tenants(engine)
    check.merge(
        check_customer_tenants(engine, links, now, candidates, only_new=True, workers=engine.settings.max_concurrency)
    )
    # Only the subjects this pass decided: links it repaired or tried to, tenants it linked in.
    by_subject: dict[str, list[model.Finding]] = {s: [] for s in check.subjects}
    for f in check.findings:
        by_subject.setdefault(f.subject, []).append(f)
    record = recorder.Recorder(engine.store, now)
    for subject, items in sorted(by_subject.items()):
        record.subject(subject, items)
    record.notices(check.drift)
    record.said(links.said())
    remember_managing_links(links, check.statuses)
    alerts.enqueue(engine, record.report.opened, record.report.resolved, now, said=record.report.said)
    opened, resolved = len(record.report.opened), len(record.report.resolved)
    detail = f"{check.summary()}; {opened} finding(s) opened, {resolved} resolved" + (
        f"; problems: {'; '.join(check.problems[:3])}" if check.problems else ""
    )
    return outcomes.Outcome(
        "partial" if check.problems else "ok",
        detail,
        counts={"linksChecked": check.checked, "findingsOpened": opened, "findingsResolved": resolved},
        problems=tuple(check.problems),
        facts={"repaired": list(check.repaired), "notInstalled": list(check.not_installed)},
    )
