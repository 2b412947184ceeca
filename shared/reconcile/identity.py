"""What an identity's change costs: attribution_lost / identity_lost from stored snapshots.

Pure: called by the identity use case (issue 4) after it has read the changed principal's
current state from Graph (and, for a group, its transitive members). Works from the stored
delegation snapshots alone, so it needs no ARM read: each snapshot says which identities
attribute the delegation; the ones whose current state no longer allows it are lost. The
findings have the same keys and words as `assess_delegation` produces for the same state, so
a later full reconcile or verify refreshes them instead of raising new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from shared import model
from shared.reconcile import delegation as decide
from shared.reconcile import messages
from shared.snapshots import AttributedBy, DelegationSnapshot


@dataclass(frozen=True)
class IdentityImpact:
    findings: tuple[model.Finding, ...]
    subjects: frozenset[str]  # delegation keys decided here: sync exactly these
    snapshots: tuple[DelegationSnapshot, ...]  # the affected snapshots, updated: store them
    affected: tuple[str, ...]  # delegation keys the changed identity mattered to


def references(snapshot: DelegationSnapshot, object_id: str) -> bool:
    """Whether `object_id` attributes (or attributed) the delegation, directly or as the group."""
    oid = object_id.lower()
    return any(oid in (a.principal_id, a.via_group) for a in snapshot.attributed_by)


def _still_attributes(
    entry: AttributedBy, states: Mapping[str, model.Principal], linked: Mapping[str, decide.LinkStatus], partner_id: str
) -> bool | None:
    """True/False from what we were told now; None when nothing new is known about it."""
    known = False
    principal = states.get(entry.principal_id)
    if principal is not None:
        known = True
        if not principal.usable:
            return False
    if entry.via_group:
        group = states.get(entry.via_group)
        if group is not None:
            known = True
            if not group.usable or entry.principal_id not in {m.lower() for m in group.member_ids}:
                return False
    status = linked.get(entry.principal_id)
    if status is not None and status.partner_id is not None:
        known = True
        if not status.points_to(partner_id):
            return False
    return True if known else None


def assess_identity_impact(
    changed: model.Principal,
    snapshots: Iterable[DelegationSnapshot],
    partner_id: str,
    now: datetime,
    *,
    principals: Mapping[str, model.Principal] | None = None,
    linked: Mapping[str, decide.LinkStatus] | None = None,
) -> IdentityImpact:
    """Re-decide every delegation the changed identity attributes (or attributed).

    `changed` is its current state (a group with its current transitive `member_ids`);
    `principals` may add the current state of other identities read in the same pass.
    Identities not mentioned keep their stored status.
    """
    states = {k.lower(): v for k, v in (principals or {}).items()}
    states[changed.object_id.lower()] = changed
    links = {k.lower(): v for k, v in (linked or {}).items()}
    findings: list[model.Finding] = []
    updated: list[DelegationSnapshot] = []
    affected: list[str] = []
    for snap in snapshots:
        if snap.removed or not references(snap, changed.object_id):
            continue
        affected.append(snap.key)
        entries: list[AttributedBy] = []
        for entry in snap.attributed_by:
            still = _still_attributes(entry, states, links, partner_id)
            if still is None:
                still = entry.active
            if still:
                entries.append(entry._replace(active=True, lost_at=None))
                continue
            lost_at = entry.lost_at or now
            if now - lost_at <= decide.RESTORE_WINDOW:
                entries.append(entry._replace(active=False, lost_at=lost_at))
        attributing = {e.principal_id for e in entries if e.active}
        lost = [e for e in entries if not e.active and e.principal_id not in attributing]
        where = messages.Where(snap.key, snap.customer_tenant_id, snap.customer_tenant_name, snap.scope)
        findings.extend(
            decide.loss_findings(
                where,
                attributing_count=len(attributing),
                lost=lost,
                describe=lambda e: decide.what_happened(e, states, None, links, partner_id),
                tenant=snap.managed_by_tenant_id,
                partner_id=partner_id,
                now=now,
            )
        )
        attributed = bool(attributing)
        since = snap.since if snap.attributed == attributed and snap.since else now
        reason = "" if attributed else ("identity_lost" if lost else snap.reason)
        updated.append(
            replace(
                snap, attributed_by=tuple(entries), attributed=attributed, since=since, updated_at=now, reason=reason
            )
        )
    return IdentityImpact(tuple(findings), frozenset(affected), tuple(updated), tuple(affected))
