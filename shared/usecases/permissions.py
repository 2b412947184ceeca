"""A Graph permission the engine needs and lacks: one critical `configuration` finding, not a failed run.

Called by the verification (`shared.usecases.verify`) when Microsoft Graph answers 403 to a read
the decisions need. The finding names the permission the refused call is documented to need, the
call, what the managed identity's Graph token does grant (its `roles` claim) and the exact grant,
in the doctor's words (`shared.doctor.fixes.graph_fix`), so `palwatch doctor`, `health` and the
alert say the same. It is recorded under one subject that every complete run clears, so it
resolves itself on the first run after the grant.
"""

from __future__ import annotations

import logging

from shared import catalogue, model
from shared.azure import errors, identity
from shared.doctor import fixes
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

SUBJECT = catalogue.GRAPH_PERMISSION_SUBJECT


def graph_refused(engine: Engine, error: errors.ForbiddenError) -> model.Finding:
    """The finding for a Graph read refused with 403 (`error.permission`/`error.call` set by the adapter)."""
    settings = engine.settings
    permission = error.permission or "Group.Read.All"
    call = error.call or "a Microsoft Graph read"
    granted: tuple[str, ...] | None = None
    object_id = "<managed identity object id>"
    try:
        token = identity.acquire_token(engine.credentials.managed_identity(), settings.graph_scope)
        who = identity.token_identity(token)
        granted = who.roles if who.has_roles_claim else None
        object_id = who.object_id or object_id
    except errors.AzureError as e:
        log.info("Graph token unreadable while explaining a refusal: %s", e)
    fix = fixes.graph_fix(permission, graph_endpoint=settings.graph_endpoint, mi_object_id=object_id)
    log.warning("Graph refused %s: the managed identity lacks %s", call, permission)
    return catalogue.graph_permission_missing(
        settings.managing_tenant_id, permission=permission, call=call, granted=granted, fix=fix
    )


def is_graph_refusal(error: errors.AzureError) -> bool:
    """A 403 from Microsoft Graph that a permission grant would cure (the adapter labelled it)."""
    return isinstance(error, errors.ForbiddenError) and error.permission in fixes.GRAPH_ROLES
