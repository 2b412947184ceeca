"""Coverage as CSV, one row a delegation: for a partner's finance and account managers.

Built from `coverage_json`, so the columns follow the JSON document's names. Called by
`palwatch report -o csv` and the `coverage` HTTP function (`?format=csv`). Cells a customer
controls that a spreadsheet would run as a formula (=, +, -, @ first) are quoted with a
leading apostrophe (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from shared import money
from shared.reports import money as money_
from shared.reports.coverage import coverage_json
from shared.store import store

COLUMNS = (
    "customerTenantName",
    "customerTenantId",
    "scope",
    "subscriptionName",
    "offer",
    "offerType",
    "quotaId",
    "status",
    "attributed",
    "attributedBy",
    "recognition",
    "partnerEarnedCredit",
    "incentiveEligible",
    "credit",
    "partnerLocations",
    "reason",
    "since",
    "delegationKey",
    "creditObserved",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


MONEY_COLUMNS = ("monthlyRevenue", "currency", "costMonth", "costStatus", "costNote")


def coverage_csv(coverage: store.Coverage | None, costs: Mapping[str, money.ScopeCost] | None = None) -> str:
    """One row a delegation; with `costs` (the cost cache), its scope's last-month revenue too."""
    document = coverage_json(coverage)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS + (MONEY_COLUMNS if costs is not None else ()))
    for row in document["delegations"]:
        cells = [_cell(column, row.get(column)) for column in COLUMNS]
        if costs is not None:
            extra = money_.scope_cells(costs, str(row.get("scope") or ""))
            cells += [extra[column] for column in MONEY_COLUMNS]
        writer.writerow(cells)
    return out.getvalue()


def _cell(column: str, value: Any) -> str:
    if column == "attributedBy":
        value = "; ".join(a.get("displayName") or a.get("principalId", "") for a in value or [])
    if column == "partnerLocations":
        value = "; ".join(value or [])
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
