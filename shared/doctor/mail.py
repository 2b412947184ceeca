"""The doctor's proof that alert mail goes out: a message sent, remembered for later checks.

Called by shared.doctor. With Exchange Online RBAC for Applications (the setup docs/deploy.md
recommends) Mail.Send is granted in Exchange, scoped to the sender mailbox, and never appears in
the Graph token: only a sent message (or Exchange's own `Test-ServicePrincipalAuthorization`, run
by an Exchange administrator) proves it. When `palwatch doctor --send-test-alert` (or a POST to
the health function) sends one, the sender and the time are kept in the store, so a later check
of the same sender is green without sending again.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from shared.store import errors as store_errors
from shared.store import store as store_module

STATE = "doctor-mail-proven"


def _open(settings: Any, credential: Any) -> store_module.Store | None:
    storage = settings.storage
    if not storage.configured:
        return None
    if storage.connection_string:
        return store_module.Store.from_connection_string(storage.connection_string, prefix=storage.table_prefix)
    return store_module.Store.from_endpoint(storage.endpoint, credential, prefix=storage.table_prefix)


def remember(settings: Any, credential: Any, sender: str, at: datetime) -> None:
    """Keep that a message from `sender` went out at `at` (best effort: the check itself stands)."""
    with contextlib.suppress(store_errors.StoreError, ValueError):
        state = _open(settings, credential)
        if state is not None:
            try:
                state.put_state(STATE, {"sender": sender.lower(), "at": at.isoformat()})
            finally:
                state.close()


def proven_at(settings: Any, credential: Any, sender: str) -> str:
    """When a message from `sender` was last proven to go out ('' when never, or unreadable)."""
    with contextlib.suppress(store_errors.StoreError, ValueError):
        state = _open(settings, credential)
        if state is not None:
            try:
                found = state.get_state(STATE) or {}
            finally:
                state.close()
            if str(found.get("sender", "")) == sender.lower():
                return str(found.get("at", ""))[:16].replace("T", " ")
    return ""


def how_to_prove(client_id: str, sender: str) -> str:
    """Proof by sending, or Exchange's own check; and the scoped grant, never the tenant-wide one."""
    app = client_id or "<PAL_IDENTITY_CLIENT_ID>"
    return (
        "prove it by sending: `palwatch doctor --send-test-alert` (or POST the health URL) sends one message to "
        f"PAL_ALERT_MAIL_TO; or, as an Exchange administrator, `Test-ServicePrincipalAuthorization -Identity {app} "
        f"-Resource {sender}` must answer InScope True. Not granted yet? Grant Application Mail.Send for this "
        "mailbox only with Exchange RBAC for Applications (scripts/grant-permissions.sh prints the "
        "New-ManagementRoleAssignment commands); a tenant-wide Graph Mail.Send would let PAL Watch send as "
        "every mailbox"
    )
