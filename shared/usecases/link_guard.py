"""The partner ID guard and observe mode, wired into the one PAL writer (`links.Links`).

Called by `shared.usecases.links` (every write asks `guarded_write`), by `palwatch link-me`
(`shared.usecases.users`: a person's own link, `guard_for_person`), by the reconcile entry
(`pipeline.reconcile`: `halts` before anything is decided, `annotate` on the plan) and by the
verification (`settle`). It builds the pure `partner_guard.Guard` of a pass from the settings, the
managing-tenant links the pass read and the store's memory of which links pointed to our partner
ID, and keeps the one configuration finding about the partner ID open exactly while it holds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from shared import catalogue, model, reconcile
from shared.azure import errors
from shared.reconcile import partner_guard
from shared.snapshots import CoverageRow
from shared.usecases.engine import Engine

if TYPE_CHECKING:  # Links holds a PassGuard; only type hints go the other way
    from shared.usecases.links import Links

log = logging.getLogger(__name__)

KNOWN_LINKS_STATE = "verify-known-links"  # managing tenant: object id -> partner id its link last pointed to


@dataclass
class PassGuard:
    """One pass's guard and what it withheld, re-pointed and opened."""

    guard: partner_guard.Guard | None = None
    withheld: dict[tuple[str, str], partner_guard.Verdict] = field(default_factory=dict)  # (tenant, object id)
    would: list[str] = field(default_factory=list)  # "would link ..." lines for reports
    repointed: list[str] = field(default_factory=list)
    opened: list[model.RecordedFinding] = field(default_factory=list)
    resolved: list[model.RecordedFinding] = field(default_factory=list)
    said: list[model.RecordedFinding] = field(default_factory=list)  # notices kept (links re-pointed)
    # Until Microsoft has accepted the partner ID once in this pass, writes go one at a time, so a
    # PartnerIdInvalid stops the rest instead of racing them.
    first_write: threading.Lock = field(default_factory=threading.Lock)
    accepted: bool = False

    def observed_ids(self) -> set[str]:
        """Identities this pass would have linked, were it not in observe mode."""
        return {oid for (_t, oid), v in self.withheld.items() if v.reason == partner_guard.OBSERVE}


def guard_of(links: Links) -> partner_guard.Guard:
    """The guard of this pass, decided once from every managing-tenant link it read."""
    state = links.guard
    if state.guard is None:
        state.guard = _guard(links.engine, links.seen, links.engine.settings.partner_id)
    return state.guard


def _guard(
    engine: Engine, seen: Mapping[str, reconcile.LinkStatus], partner_id: str, ours: Iterable[str] = ()
) -> partner_guard.Guard:
    """The guard for writes to `partner_id`, judged on the links in `seen` and the store's memory of
    which links pointed to it (`ours`: more identities known to have pointed to it)."""
    settings = engine.settings
    known: dict[str, str] = engine.store.get_state(KNOWN_LINKS_STATE) or {}
    ours_before = frozenset([*(oid.lower() for oid, pid in known.items() if pid == partner_id), *ours])
    setting = partner_guard.check_setting(
        seen, partner_id, previous_partner_id=settings.previous_partner_id, ours_before=ours_before
    )
    if setting.suspect:
        log.warning(
            "every PAL link read points to partner id %s, not %s: no link is written",
            setting.other_partner_id,
            partner_id,
        )
    return partner_guard.Guard(
        partner_id=partner_id,
        previous_partner_id=settings.previous_partner_id,
        observe=settings.observe_only,
        setting=setting,
        ours_before=ours_before,
    )


def guard_for_person(engine: Engine, object_id: str, current_partner_id: str, partner_id: str) -> partner_guard.Guard:
    """The same guard for a person's own link (`palwatch link-me`), who writes it with their own sign-in.

    The app's identities' links cannot be read as the person, so it judges on what the last
    verification saw them point to (the store), the person's attestation and the person's link as
    just read (`current_partner_id`, "" when none).
    """
    oid = object_id.lower()
    known: dict[str, str] = engine.store.get_state(KNOWN_LINKS_STATE) or {}
    seen = {o.lower(): reconcile.LinkStatus(partner_id=pid) for o, pid in known.items() if pid}
    if current_partner_id:
        seen[oid] = reconcile.LinkStatus(partner_id=current_partner_id)
    ours = [a.object_id.lower() for a in engine.store.list_attested_users() if a.partner_id == partner_id]
    return _guard(engine, seen, partner_id, [o for o in ours if o == oid])


def person_refusal(verdict: partner_guard.Verdict, guard: partner_guard.Guard, tenant_id: str, setting: str) -> str:
    """What a person is told when the guard keeps their link as it is (`setting` names where the
    partner ID came from: PAL_PARTNER_ID or --partner-id); observe mode says what it would do."""
    partner_id = guard.partner_id
    if verdict.reason == partner_guard.OBSERVE:
        would = partner_guard.would_text(verdict, "your sign-in", tenant_id, partner_id)
        return (
            f"PAL_MODE is observe: PAL Watch {would}, and wrote nothing. Set PAL_MODE=repair to let it link, or "
            f"link yourself: az managementpartner create --partner-id {partner_id}"
        )
    if verdict.reason == partner_guard.SETTING_SUSPECT and guard.setting is not None:
        other = guard.setting.other_partner_id
        use = f"use {setting} {other}" if setting.startswith("-") else f"set {setting}={other}"
        return (
            f"{setting} is {partner_id} but every PAL link PAL Watch knows of points to {other}: your link was "
            f"left as it is. If {other} is your associated partner ID, {use}. If you are moving "
            f"to {partner_id} on purpose, set PAL_PARTNER_ID_PREVIOUS={other}."
        )
    message = partner_guard.foreign_link_message(verdict.current_partner_id, partner_id)
    return (
        f"Your PAL link in tenant {tenant_id} is {message}; or re-point it yourself: "
        f"az managementpartner update --partner-id {partner_id}"
    )


def guarded_write(links: Links, identity: model.ActingIdentity, tenant_id: str, object_id: str) -> reconcile.LinkStatus:
    """The PAL write (GET, then PUT/PATCH only if the guard allows it): every link the engine makes."""
    state = links.guard
    engine = links.engine
    partner_id = engine.settings.partner_id
    decided: list[partner_guard.Verdict] = []
    try:
        with state.first_write if not state.accepted else contextlib.nullcontext():
            guard = guard_of(links)

            def may_write(current: str) -> bool:
                decided.append(guard.decide(object_id, current))
                return decided[-1].allowed

            try:
                result = engine.pal_for(identity, tenant_id).ensure_link(partner_id, may_write=may_write)
            except errors.PartnerIdInvalidError as e:
                return _refused(links, identity, tenant_id, object_id, e)
            state.accepted = state.accepted or result.wrote
    except errors.TransientError as e:
        return links.deferred(identity, e)
    except errors.AzureError as e:
        log.warning("linking %s in %s failed: %s", identity.name, tenant_id, e)
        return reconcile.LinkStatus(partner_id=None, error_code=e.code or type(e).__name__, error_message=str(e))
    if result.action == "withheld":
        return _withheld(links, identity, tenant_id, object_id, decided[-1], result.link)
    if result.wrote:
        links.written.append(f"{result.action} {identity.name} in {tenant_id}")
        log.info("PAL link %s for %s in tenant %s (partner %s)", result.action, identity.name, tenant_id, partner_id)
        if decided and decided[-1].reported:
            _report_repoint(links, identity, tenant_id, object_id, result.previous_partner_id)
    return reconcile.LinkStatus.from_link(result.link)


def _withheld(  # noqa: PLR0917
    links: Links,
    identity: model.ActingIdentity,
    tenant_id: str,
    object_id: str,
    verdict: partner_guard.Verdict,
    link: model.PartnerLink | None,
) -> reconcile.LinkStatus:
    """A write the guard refused: the link stays as read; another partner's link is a link_failed."""
    partner_id = links.engine.settings.partner_id
    status = reconcile.LinkStatus.from_link(link)
    if verdict.reason == partner_guard.FOREIGN_LINK:
        message = partner_guard.foreign_link_message(verdict.current_partner_id, partner_id)
        log.warning("PAL link of %s not re-pointed: %s", identity.name, message)
        return replace(status, error_code=partner_guard.FOREIGN_LINK_CODE, error_message=message)
    links.guard.withheld[(tenant_id.lower(), object_id.lower())] = verdict
    text = partner_guard.would_text(verdict, identity.name, tenant_id, partner_id)
    if text not in links.guard.would:
        links.guard.would.append(text)
        log.info("PAL link write withheld (%s): %s", verdict.reason, text)
    return status


def _refused(
    links: Links, identity: model.ActingIdentity, tenant_id: str, object_id: str, error: errors.AzureError
) -> reconcile.LinkStatus:
    """PartnerIdInvalid: one configuration finding, and no further write in this pass."""
    settings = links.engine.settings
    log.warning("Microsoft rejects partner id %s: %s", settings.partner_id, error)
    state = links.guard
    state.guard = replace(guard_of(links), partner_id_refused=True)
    current = links.seen.get(object_id.lower()) or reconcile.LinkStatus(partner_id="")
    operation = "repoint" if current.partner_id else "create"
    state.withheld[(tenant_id.lower(), object_id.lower())] = partner_guard.Verdict(
        False, operation, current.partner_id or "", partner_guard.PARTNER_ID_INVALID
    )
    finding = catalogue.partner_id_refused(settings.partner_id, settings.managing_tenant_id, [identity.name])
    _sync(links, finding.subject, [finding])
    return current


def _report_repoint(
    links: Links, identity: model.ActingIdentity, tenant_id: str, object_id: str, previous_partner_id: str
) -> None:
    """A link moved from PAL_PARTNER_ID_PREVIOUS: said once (a notice, kept before its alert)."""
    partner_id = links.engine.settings.partner_id
    links.guard.repointed.append(f"{identity.name} in {tenant_id} from {previous_partner_id} to {partner_id}")
    notice = catalogue.link_repointed(
        catalogue.Link(tenant_id, object_id, identity.name), previous_partner_id, partner_id
    )
    kept = links.engine.store.record_notice(notice, links.now)
    if kept is not None:
        links.guard.said.append(kept)


def _sync(links: Links, subject: str, findings: list[model.Finding]) -> None:
    opened, resolved = links.engine.store.sync_findings(subject, findings, links.now)
    links.guard.opened += opened
    links.guard.resolved += resolved


def halts(links: Links) -> bool:
    """True when the links say PAL_PARTNER_ID is wrong: the one configuration finding is open, and
    the pass must judge nothing against a partner ID that is probably not the partner's."""
    guard = guard_of(links)
    if guard.setting is None or not guard.setting.suspect:
        return False
    check = guard.setting
    finding = catalogue.partner_id_mismatch(
        check.partner_id, check.other_partner_id, check.links_read, links.engine.settings.managing_tenant_id
    )
    _sync(links, finding.subject, [finding])
    problem = f"{finding.title}. {finding.fix}"
    if problem not in links.problems:
        links.problems.append(problem)
    return True


def settle(links: Links) -> None:
    """End of a verification: the partner ID finding holds only if this pass found it so."""
    guard = guard_of(links)
    if guard.partner_id_refused or (guard.setting is not None and guard.setting.suspect):
        return
    _sync(links, catalogue.PARTNER_ID_SUBJECT, [])


# -- observe mode in the words ------------------------------------------------------------------


def annotate(plan: reconcile.Plan, links: Links) -> reconcile.Plan:
    """In observe mode the plan's findings and coverage say what PAL Watch would link."""
    withheld = links.guard.observed_ids()
    if not withheld:
        return plan
    offers = _offers_to_name(plan.assessments)
    assessments = tuple(
        replace(a, findings=tuple(observe_findings(a.findings, withheld, offers))) for a in plan.assessments
    )
    findings = observe_findings(plan.delegation_findings, withheld, offers)
    return replace(
        plan,
        assessments=assessments,
        delegation_findings=tuple(findings),
        coverage=observe_coverage(plan.coverage, findings),
    )


def observe_findings(
    findings: Iterable[model.Finding], withheld_ids: Iterable[str], offers: Mapping[str, str] | None = None
) -> list[model.Finding]:
    """Findings in observe mode say what PAL Watch would link instead of 'links it next pass';
    `offers` (delegation key -> offer name) names the offer where a scope has several."""
    withheld, offers = {w.lower() for w in withheld_ids}, offers or {}
    return [
        catalogue.as_would_link(f, offer=offers.get(f.subject, "")) if _pending_for(f, withheld) else f
        for f in findings
    ]


def _offers_to_name(assessments: Iterable[reconcile.DelegationAssessment]) -> dict[str, str]:
    """Delegation key -> offer name, for the delegations that share their scope with another one."""
    by_scope: dict[str, list[model.Delegation]] = {}
    for a in assessments:
        by_scope.setdefault(a.delegation.scope.rstrip("/").lower(), []).append(a.delegation)
    return {
        d.key: d.definition_name
        for delegations in by_scope.values()
        if len(delegations) > 1
        for d in delegations
        if d.definition_name
    }


def _pending_for(finding: model.Finding, withheld: set[str]) -> bool:
    if finding.kind != catalogue.Kind.UNATTRIBUTED_DELEGATION or finding.reason != "link_pending":
        return False
    ids = {p for p in (finding.facts.get("principals", "") or finding.principal_id).split(",") if p}
    return bool(ids & withheld)


def would_link_keys(findings: Iterable[model.Finding]) -> Mapping[str, str]:
    """Delegation key -> reason for every delegation whose finding says 'would link'."""
    return {f.subject: f.reason for f in findings if f.reason == catalogue.WOULD_LINK}


def observe_coverage(rows: Iterable[CoverageRow], findings: Iterable[model.Finding]) -> tuple[CoverageRow, ...]:
    """Coverage rows whose delegation PAL Watch would link say so (reason `would_link`)."""
    would = would_link_keys(findings)
    return tuple(replace(r, reason=would[r.delegation_key]) if r.delegation_key in would else r for r in rows)
