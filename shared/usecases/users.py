"""People link themselves: `palwatch link-me`, and attestations of users linked outside the tool.

Nobody can link or read another identity's PAL link, so the app cannot link a user. A person
runs `palwatch link-me` with their own sign-in (Azure CLI, VS Code, device code); it makes
their link in the chosen tenant exactly as `az managementpartner create` would (GET, then
PUT or PATCH only if needed, and only if the partner ID guard allows it: `links.guard_for_person`), records
the attestation in the store so the user counts as linked from then on, and re-decides the
delegations that were waiting for a human.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import catalogue
from shared.azure import errors, identity, pal
from shared.decisions import partner_guard
from shared.usecases import alerts, pipeline, recorder
from shared.usecases import links as link_writer
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)


@dataclass
class LinkMeOutcome:
    action: str  # unchanged | created | repointed | withheld (the partner ID guard or observe mode)
    tenant_id: str
    object_id: str
    partner_id: str
    now_attributed: list[str] = field(default_factory=list)  # delegation keys that turned attributed
    previous_partner_id: str = ""  # repointed: the PAL_PARTNER_ID_PREVIOUS the link carried
    withheld: str = ""  # withheld: the guard's reason (partner_guard.OBSERVE, ...)
    message: str = ""  # withheld: what the person is told, with both partner IDs and the fix

    @property
    def refused(self) -> bool:
        """The guard kept the link as it is for a reason the person must fix (not observe mode)."""
        return self.action == "withheld" and self.withheld != partner_guard.OBSERVE

    def __str__(self) -> str:
        if self.action == "withheld":
            return self.message
        verb = {"unchanged": "was already linked", "created": "linked", "repointed": "re-pointed"}[self.action]
        text = f"{self.object_id} {verb} to partner ID {self.partner_id} in tenant {self.tenant_id}"
        if self.previous_partner_id:
            text += f" (from PAL_PARTNER_ID_PREVIOUS {self.previous_partner_id})"
        if self.now_attributed:
            text += f"; {len(self.now_attributed)} delegation(s) now attributed"
        return text


def link_me(engine: Engine, credential: Any, now: datetime, *, partner_id: str = "") -> LinkMeOutcome:
    """Link the signed-in identity behind `credential`, attest it, and re-decide what waited for it.

    The write asks the partner ID guard first, as every PAL write does: in observe mode, when the
    links say the partner ID is wrong, or when the person's link carries another partner ID that
    PAL_PARTNER_ID_PREVIOUS does not name, nothing is written or attested.
    """
    partner = partner_id or engine.settings.partner_id
    who = identity.whoami(credential, engine.settings.arm_scope)
    guards: list[partner_guard.Guard] = []
    verdicts: list[partner_guard.Verdict] = []

    def may_write(current: str) -> bool:
        guards.append(link_writer.guard_for_person(engine, who.object_id, current, partner))
        verdicts.append(guards[-1].decide(who.object_id, current))
        return verdicts[-1].allowed

    result = pal.PartnerLinkClient.from_settings(engine.settings, credential).ensure_link(partner, may_write=may_write)
    log.info("link-me: %s %s in tenant %s", result.action, who.object_id, who.tenant_id)
    outcome = LinkMeOutcome(result.action, who.tenant_id, who.object_id, partner)
    if result.action == "withheld":
        setting = "PAL_PARTNER_ID" if partner == engine.settings.partner_id else "--partner-id"
        outcome.withheld = verdicts[-1].reason
        outcome.message = partner_guard.person_refusal(verdicts[-1], guards[-1], who.tenant_id, setting)
        return outcome
    attest(engine, who.tenant_id, who.object_id, by="palwatch link-me", now=now, partner_id=partner)
    if result.action == "repointed" and verdicts and verdicts[-1].reported:
        outcome.previous_partner_id = result.previous_partner_id
        _report_repoint(engine, who, result.previous_partner_id, partner, now)
    if who.tenant_id.lower() == engine.managing_tenant_id.lower() and partner == engine.settings.partner_id:
        outcome.now_attributed = reassess_waiting(engine, now)
    return outcome


def _report_repoint(engine: Engine, who: identity.TokenIdentity, previous: str, partner_id: str, now: datetime) -> None:
    """A person's link moved from PAL_PARTNER_ID_PREVIOUS: reported once, as the verification reports its own."""
    notice = catalogue.link_repointed(catalogue.Link(who.tenant_id, who.object_id, who.object_id), previous, partner_id)
    kept = engine.store.record_notice(notice, now)
    if kept is not None:
        alerts.enqueue(engine, [], [], now, said=[kept])


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
    result = pipeline.reconcile(engine, pipeline.Delegations.stored(waiting), now=now, act=False)
    record = recorder.Recorder(engine.store, now)
    record.record(result, links=False)
    report = record.report
    alerts.enqueue(engine, report.opened, report.resolved, now, said=report.said)
    return [a.key for a in result.plan.assessments if a.attributed]
