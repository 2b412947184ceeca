"""Pure decisions: observed state in, findings and actions out (no I/O, no clock, no settings).

Called by the use cases (`shared.usecases`) and the CLI. The public face is re-exported here:
- `assess_delegation` (one delegation: attributed? link what? which findings?),
- `assess_identity_impact` (an identity changed: attribution_lost / identity_lost),
- `assess_estate` (verify: every finding that holds now, coverage, snapshots),
- `assess_removal` (a delegation is gone).
"""

from __future__ import annotations

from shared.reconcile.delegation import (
    RESTORE_WINDOW,
    Carrier,
    DelegationAssessment,
    Eligibility,
    LinkAction,
    LinkStatus,
    assess_delegation,
    eligibility_function,
)
from shared.reconcile.estate import (
    EstateAssessment,
    RemovalAssessment,
    assess_estate,
    assess_removal,
    coverage_row,
    link_findings,
)
from shared.reconcile.identity import IdentityImpact, assess_identity_impact, references
from shared.reconcile.messages import (
    PORTAL_PAL_URL,
    attribution_key,
    identity_lost_key,
    link_failed_key,
    link_subject,
    removed_key,
)
from shared.reconcile.messages import not_visible as not_visible_finding
from shared.snapshots import AttributedBy, CoverageRow, DelegationSnapshot

__all__ = [
    "PORTAL_PAL_URL",
    "RESTORE_WINDOW",
    "AttributedBy",
    "Carrier",
    "CoverageRow",
    "DelegationAssessment",
    "DelegationSnapshot",
    "Eligibility",
    "EstateAssessment",
    "IdentityImpact",
    "LinkAction",
    "LinkStatus",
    "RemovalAssessment",
    "assess_delegation",
    "assess_estate",
    "assess_identity_impact",
    "assess_removal",
    "attribution_key",
    "coverage_row",
    "eligibility_function",
    "identity_lost_key",
    "link_failed_key",
    "link_findings",
    "link_subject",
    "not_visible_finding",
    "references",
    "removed_key",
]
