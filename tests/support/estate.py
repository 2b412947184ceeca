"""A made-up estate as plain data for the pure decisions' tests: a partner, a managing tenant, one
customer scope and the roles that matter; principals built in one line each.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared import model, roles

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PARTNER = "1234567"
MANAGING = "83abe5cd-bcc3-441a-bd86-e6a75360cecc"
CUSTOMER = "01c0bcd5-4f47-4e4b-b492-418b7e2a8854"
CONTRIBUTOR = roles.CONTRIBUTOR
READER = roles.READER
MONITORING_READER = roles.MONITORING_READER
NEW_ROLE = "11111111-2222-3333-4444-555555555555"
SCOPE = "/subscriptions/0afefe50-734e-4610-8c82-a144aff49dea"
ASSIGNMENT = f"{SCOPE}/providers/Microsoft.ManagedServices/registrationAssignments/484a7d5f-9729-4b87-bc9b-26610985a013"

U = model.PrincipalKind.USER
G = model.PrincipalKind.GROUP
SP = model.PrincipalKind.SERVICE_PRINCIPAL
MI = model.PrincipalKind.MANAGED_IDENTITY


def principal(
    oid: str, kind: model.PrincipalKind, state: str = "active", members: tuple[str, ...] = ()
) -> model.Principal:
    """A principal of the managing tenant, named after its id."""
    return model.Principal(oid, kind, model.PrincipalState(state), display_name=f"name-{oid}", member_ids=members)
