"""The doctor's "reading roles" row: the delegations where PAL Watch's reading identity holds no role
that allows the reads the engine makes there.

ARM refuses a registration-assignment read without `Microsoft.ManagedServices/registrationAssignments/read`
and a cost query without `Microsoft.CostManagement/query/read` (403 `AuthorizationFailed`), whatever
else the identity may do: Reader has both (`*/read`), Cost Management Reader only the second,
Virtual Machine Contributor neither. The delegations come from the store (what the last runs saw),
the managed identity's permanent authorizations from each, the actions from the role definitions
(one ARM read per role). Called by `shared.doctor` after the ARM rows; a pure verdict
(`lacking`) and one function that reads and adds the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shared import roles
from shared.azure import errors
from shared.azure.arm import ArmClient
from shared.snapshots import DelegationSnapshot

Add = Callable[..., None]
NAME = "reading roles"
_NAMED = 5  # delegations named in the row; the rest are counted


def lacking(
    delegations: Iterable[DelegationSnapshot], reader_id: str, allows: Mapping[str, tuple[bool | None, bool | None]]
) -> tuple[list[DelegationSnapshot], list[DelegationSnapshot]]:
    """(delegations whose assignments the reader may not read, those whose costs it may not read).

    `allows`: role id -> (allows the assignment read, allows the cost read); None when unknown,
    which names nothing. The reader's roles are its own permanent authorizations on each delegation.
    """
    no_assignments: list[DelegationSnapshot] = []
    no_costs: list[DelegationSnapshot] = []
    for snap in delegations:
        held = [
            allows.get(roles.normalize_role_id(a.role_definition_id), (None, None))
            for a in snap.authorizations
            if a.principal_id.lower() == reader_id.lower()
        ]
        if not any(v[0] is not False for v in held):
            no_assignments.append(snap)
        if not any(v[1] is not False for v in held):
            no_costs.append(snap)
    return no_assignments, no_costs


def check_reading_roles(add: Add, settings: Any, credential: Any, arm: ArmClient, reader_id: str) -> None:
    """Add the row: OK, or WARN naming the delegations and the role to add for each read."""
    delegations = _remembered(settings, credential)
    if delegations is None:
        add(NAME, "SKIP", "the store could not be read (see the store row)", required=False)
        return
    if not delegations:
        add(NAME, "OK", "no delegation remembered yet: checked once a verification has run", required=False)
        return
    verdicts: dict[str, tuple[bool | None, bool | None]] = {}
    for role_id in {roles.normalize_role_id(a.role_definition_id) for d in delegations for a in d.authorizations}:
        try:
            definition = arm.get_role_definition(role_id)
        except errors.AzureError:
            verdicts[role_id] = (None, None)
            continue
        verdicts[role_id] = (
            roles.allows(definition.actions, definition.not_actions, roles.ASSIGNMENTS_READ),
            roles.allows(definition.actions, definition.not_actions, roles.COST_READ),
        )
    no_assignments, no_costs = lacking(delegations, reader_id, verdicts)
    if not no_assignments and not no_costs:
        add(NAME, "OK", f"the managed identity may read every one of {len(delegations)} remembered delegation(s)")
        return
    parts = []
    if no_assignments:
        parts.append(f"no {roles.ASSIGNMENTS_READ} (Reader) in {_named(no_assignments)}")
    if no_costs:
        parts.append(f"no {roles.COST_READ} (Reader or Cost Management Reader) in {_named(no_costs)}")
    fix = (
        f"add the managed identity (principalId {reader_id}) to the offer's authorizations with Reader "
        f"({roles.READER}), or for costs alone Cost Management Reader ({roles.COST_MANAGEMENT_READER}), "
        "and have each customer named here update to that offer version"
    )
    add(NAME, "WARN", "; ".join(parts), fix, required=False)


def _named(delegations: list[DelegationSnapshot]) -> str:
    names = [f"{d.customer_tenant_name or d.customer_tenant_id} {d.scope}" for d in delegations[:_NAMED]]
    more = f" and {len(delegations) - _NAMED} more" if len(delegations) > _NAMED else ""
    return ", ".join(names) + more


def _remembered(settings: Any, credential: Any) -> list[DelegationSnapshot] | None:
    """The delegations the last runs stored (not removed); None when the store cannot be read."""
    from shared.store import errors as store_errors
    from shared.store import store

    storage = settings.storage
    if not storage.configured:
        return None
    state: store.Store | None = None
    try:
        if storage.connection_string:
            state = store.Store.from_connection_string(
                storage.connection_string, prefix=storage.table_prefix, budget="probe"
            )
        else:
            state = store.Store.from_endpoint(storage.endpoint, credential, prefix=storage.table_prefix, budget="probe")
        return list(state.list_delegations(include_removed=False))
    except store_errors.StoreError:
        return None
    finally:
        if state is not None:
            state.close()
