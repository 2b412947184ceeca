"""Federation discovery: service principals with an eligible role that may trust our identity.

A step of the reconcile entry (`shared.usecases.pipeline.reconcile`), after the directory is
read and before links are: each such principal we do not act as yet is tried once per window
(its app registration may accept the managed identity's token as a client assertion). What it
learns is written here and nowhere else: the identities it found (store identities table) and
the apps that refused (store state `federation-tried`, so they are not asked every pass).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared import model, roles
from shared.azure import errors
from shared.store import store as store_module
from shared.usecases.engine import Engine
from shared.usecases.observe import Directory, Identities

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(hours=6)
TRIED_KEPT = 300  # ~23K characters: the state row stays under the store's 30K per property
TRIED_STATE = "federation-tried"


def discover(
    engine: Engine,
    delegations: Iterable[model.Delegation],
    directory: Directory,
    identities: Identities,
    now: datetime,
    *,
    tolerate: bool = False,
) -> Identities:
    """`identities` plus every federated identity found among the delegations' eligible principals.
    A token that fails transiently raises, or with `tolerate` is asked again next pass."""
    settings = engine.settings
    if not settings.federation_discovery:
        return identities
    store = engine.store
    tried: dict[str, str] = store.get_state(TRIED_STATE) or {}
    changed = False
    for d in delegations:
        for auth in d.authorizations:
            principal = directory.principals.get(auth.principal_id.lower())
            if (
                principal is None
                or principal.kind is not model.PrincipalKind.SERVICE_PRINCIPAL
                or not principal.app_id
                or principal.object_id in identities.acting
                or not principal.usable
                or directory.eligibility.get(roles.normalize_role_id(auth.role_definition_id)) is not True
            ):
                continue
            last = tried.get(principal.app_id.lower())
            if last and datetime.fromisoformat(last) > now - RETRY_AFTER:
                continue
            candidate = model.ActingIdentity(
                name=principal.display_name or principal.app_id, kind="federated", client_id=principal.app_id
            )
            try:
                who = engine.whoami(candidate)
            except errors.TransientError as e:
                if not tolerate:
                    raise  # not an answer: do not remember this app as "does not trust us"
                log.warning("federation with %s not tried for now: %s", principal.app_id, e)
                continue
            except errors.AzureError as e:
                tried[principal.app_id.lower()] = now.isoformat()
                changed = True
                engine.forget("whoami", "federated", principal.app_id.lower())
                log.info("service principal %s does not trust our identity (%s)", principal.object_id, e.code or e)
                continue
            identities = identities.adding(who.object_id, candidate)
            store.remember_identity(
                store_module.RememberedIdentity(
                    tenant_id=settings.managing_tenant_id,
                    object_id=who.object_id.lower(),
                    client_id=principal.app_id,
                    name=candidate.name,
                    kind="federated",
                    discovered_at=now,
                )
            )
            log.info("discovered federated identity %s (%s)", candidate.name, principal.app_id)
    if changed:
        store.put_state(TRIED_STATE, _recent(tried, now - RETRY_AFTER))
    return identities


def _recent(tried: dict[str, str], cutoff: datetime) -> dict[str, str]:
    """The federation attempts still inside the retry window, newest first, bounded in number."""
    recent = sorted(((at, app) for app, at in tried.items() if datetime.fromisoformat(at) > cutoff), reverse=True)
    return {app: at for at, app in recent[:TRIED_KEPT]}
