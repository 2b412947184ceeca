"""Pure decisions: observed state in, a plan out (no I/O, no clock, no settings).

Called by the one reconcile entry (`shared.usecases.pipeline`) and the CLI. The public face is
re-exported here:
- `Observation` (what one pass saw, frozen) and `LinkStatus` (one identity's link),
- `assess_estate` (delegations + observation + now -> `Plan`: links to make, snapshots, findings,
  coverage, removals),
- `attribute` (one delegation: who carries it, who was lost, does it lose its last carrier?) and
  `judge` (its links to make and findings, once its scope's other paths are counted);
  `assess_delegation` is both for one delegation alone,
- `assess_removal` (a delegation is gone),
- `scope_credit` (attribution per scope across delegations, recognised vs earning credit).
"""

from __future__ import annotations

from shared.catalogue import (
    PORTAL_PAL_URL,
    attribution_key,
    identity_lost_key,
    link_failed_key,
    link_subject,
    removed_key,
)
from shared.catalogue import not_visible as not_visible_finding
from shared.decisions.aobo import AoboState
from shared.decisions.attribution import Attribution, attribute, raises_attribution_lost
from shared.decisions.delegation import (
    RESTORE_WINDOW,
    Carrier,
    DelegationAssessment,
    LinkAction,
    assess_delegation,
    judge,
)
from shared.decisions.estate import (
    Plan,
    RemovalAssessment,
    assess_estate,
    assess_removal,
    coverage_row,
    credit_elsewhere,
    link_findings,
    losing_credit,
    snapshot_standing,
    standing,
)
from shared.decisions.observation import LinkStatus, Observation
from shared.decisions.scopes import ScopeCredit, Standing, elsewhere_counts, scope_credit
from shared.snapshots import AttributedBy, CoverageRow, DelegationSnapshot

__all__ = [
    "PORTAL_PAL_URL",
    "RESTORE_WINDOW",
    "AoboState",
    "AttributedBy",
    "Attribution",
    "Carrier",
    "CoverageRow",
    "DelegationAssessment",
    "DelegationSnapshot",
    "LinkAction",
    "LinkStatus",
    "Observation",
    "Plan",
    "RemovalAssessment",
    "ScopeCredit",
    "Standing",
    "assess_delegation",
    "assess_estate",
    "assess_removal",
    "attribute",
    "attribution_key",
    "coverage_row",
    "credit_elsewhere",
    "elsewhere_counts",
    "identity_lost_key",
    "judge",
    "link_failed_key",
    "link_findings",
    "link_subject",
    "losing_credit",
    "not_visible_finding",
    "raises_attribution_lost",
    "removed_key",
    "scope_credit",
    "snapshot_standing",
    "standing",
]
