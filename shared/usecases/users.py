"""People link themselves: `palwatch link-me`, and attestations of users linked outside the tool.

Nobody can link or read another identity's PAL link, so the app cannot link a user. A person
runs `palwatch link-me` with their own sign-in (Azure CLI, VS Code, device code); it makes
their link in the chosen tenant exactly as `az managementpartner create` would (GET, then
PUT or PATCH only if needed), records the attestation in the store so the user counts as
linked from then on, and re-decides the delegations that were waiting for a human.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.azure import errors, identity, pal
from shared.usecases import alerts, pipeline, recorder
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)


@dataclass
class LinkMeOutcome:
    action: str  # unchanged | created | repointed
    tenant_id: str
    object_id: str
    partner_id: str
    now_attributed: list[str] = field(default_factory=list)  # delegation keys that turned attributed

    def __str__(self) -> str:
        verb = {"unchanged": "was already linked", "created": "linked", "repointed": "re-pointed"}[self.action]
        text = f"{self.object_id} {verb} to partner ID {self.partner_id} in tenant {self.tenant_id}"
        if self.now_attributed:
            text += f"; {len(self.now_attributed)} delegation(s) now attributed"
        return text


def link_me(engine: Engine, credential: Any, now: datetime, *, partner_id: str = "") -> LinkMeOutcome:
    """Link the signed-in identity behind `credential`, attest it, and re-decide what waited for it."""
    partner = partner_id or engine.settings.partner_id
    who = identity.whoami(credential, engine.settings.arm_scope)
    result = pal.PartnerLinkClient.from_settings(engine.settings, credential).ensure_link(partner)
    log.info("link-me: %s %s in tenant %s", result.action, who.object_id, who.tenant_id)
    outcome = LinkMeOutcome(result.action, who.tenant_id, who.object_id, partner)
    attest(engine, who.tenant_id, who.object_id, by="palwatch link-me", now=now, partner_id=partner)
    if who.tenant_id.lower() == engine.managing_tenant_id.lower() and partner == engine.settings.partner_id:
        outcome.now_attributed = reassess_waiting(engine, now)
    return outcome


def attest(engine: Engine, tenant_id: str, object_id: str, *, by: str, now: datetime, partner_id: str = "") -> None:
    """Record that a user is linked (they did it themselves; the app cannot read a user's link)."""
    engine.store.attest_user(tenant_id.lower(), object_id.lower(), partner_id or engine.settings.partner_id, by, now)


class NotAUserError(ValueError):
    """`attest` was given an object that is not a user of the managing tenant."""


def attest_user(engine: Engine, object_id: str, *, by: str, now: datetime) -> None:
    """`attest`, for an operator: only a user of the managing tenant can be vouched for.

    Service principals and groups are not attested: the app reads a service principal's own link,
    and a group cannot hold one. Raises NotAUserError, or an AzureError when Graph cannot answer.
    """
    try:
        user = engine.graph().get_user(object_id)
    except errors.NotFoundError as e:
        raise NotAUserError(
            f"{object_id} is not a user of the managing tenant {engine.managing_tenant_id} "
            "(a service principal's link is read by PAL Watch itself; groups cannot be linked)"
        ) from e
    if not user.usable:
        raise NotAUserError(f"user {user.display_name or object_id} is {user.state.value}: a link would not count")
    attest(engine, engine.managing_tenant_id, object_id, by=by, now=now)


def reassess_waiting(engine: Engine, now: datetime) -> list[str]:
    """Re-decide every delegation that is not attributed yet, from its stored snapshot; returns those now attributed."""
    waiting = [s for s in engine.store.list_delegations(include_removed=False) if not s.attributed]
    if not waiting:
        return []
    plan = pipeline.reconcile(engine, pipeline.Delegations.stored(waiting), now=now, act=False).plan
    record = recorder.Recorder(engine.store, now)
    record.plan(plan, links=False)
    alerts.enqueue(engine, record.report.opened, record.report.resolved, now)
    return [a.key for a in plan.assessments if a.attributed]
