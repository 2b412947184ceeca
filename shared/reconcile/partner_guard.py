"""May PAL Watch write this PAL link? The guard every link write passes through.

Pure: called by the attribution pipeline (`shared.usecases.link_guard` builds a `Guard` per pass
from what it read) and by the doctor and the offer linter. A tool that protects partner credit
must never be the thing that moves it, so a write is withheld when:

- the app runs in observe mode (`PAL_MODE=observe`): it says what it would do instead;
- the setting looks wrong: every existing link the app can read points to one other partner ID
  (the global instead of the associated ID, a typo, another partner's valid ID), and none of them
  was ours before. Then nothing is linked or re-pointed and one configuration finding says why;
- Microsoft already refused the partner ID in this pass (`PartnerIdInvalid`): further writes
  would fail the same way;
- the link carries another partner ID that `PAL_PARTNER_ID_PREVIOUS` does not name, and PAL Watch
  never saw it pointing to ours (a link it had linked and a person re-pointed is drift: put back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from shared import catalogue, model
from shared.reconcile.observation import LinkStatus

OBSERVE = "observe"
SETTING_SUSPECT = "setting_suspect"
PARTNER_ID_INVALID = "partner_id_invalid"
FOREIGN_LINK = "foreign_link"

CONFIG_SUBJECT = "config:partner-id"
CONFIG_KEY = "config:partner-id"
FOREIGN_LINK_CODE = "LinkedToAnotherPartner"
WOULD_LINK = "would_link"
OBSERVE_FIX = (
    "PAL_MODE is observe: PAL Watch only reports. Set PAL_MODE=repair to let it link (or run "
    "`palwatch verify` once in repair mode)."
)


@dataclass(frozen=True)
class SettingCheck:
    """What the links say about PAL_PARTNER_ID: `other_partner_id` set when the setting looks wrong."""

    partner_id: str
    other_partner_id: str = ""
    links_read: int = 0  # active links the app could read

    @property
    def suspect(self) -> bool:
        return bool(self.other_partner_id)


def check_setting(
    links: Mapping[str, LinkStatus],
    partner_id: str,
    *,
    previous_partner_id: str = "",
    ours_before: Iterable[str] = (),
) -> SettingCheck:
    """Suspect iff every readable active link points to one partner ID that is neither ours nor the
    declared previous one, and none of those identities was seen linked to ours before."""
    active = {oid.lower(): s.partner_id for oid, s in links.items() if s.partner_id and s.state.lower() == "active"}
    targets = set(active.values())
    if len(targets) != 1 or partner_id in targets:
        return SettingCheck(partner_id, links_read=len(active))
    other = next(iter(targets))
    ours = {o.lower() for o in ours_before}
    if other == previous_partner_id or ours & active.keys():
        return SettingCheck(partner_id, links_read=len(active))
    return SettingCheck(partner_id, other_partner_id=other, links_read=len(active))


@dataclass(frozen=True)
class Verdict:
    """The answer for one write: allowed, or withheld with a reason; `reported` marks a re-point
    of the previous partner ID (a deliberate change) that the run must report."""

    allowed: bool
    operation: str  # "create" | "repoint"
    current_partner_id: str = ""
    reason: str = ""
    reported: bool = False


@dataclass(frozen=True)
class Guard:
    """The rules of one pass: the mode, the partner IDs, what the links said, what Microsoft said."""

    partner_id: str
    previous_partner_id: str = ""
    observe: bool = False
    setting: SettingCheck | None = None
    partner_id_refused: bool = False
    ours_before: frozenset[str] = frozenset()

    def decide(self, object_id: str, current_partner_id: str) -> Verdict:
        """May the link of `object_id`, now pointing to `current_partner_id` ("" none), be written?"""
        operation = "repoint" if current_partner_id else "create"
        withheld = ""
        if self.observe:
            withheld = OBSERVE
        elif self.setting is not None and self.setting.suspect:
            withheld = SETTING_SUSPECT
        elif self.partner_id_refused:
            withheld = PARTNER_ID_INVALID
        elif (
            current_partner_id
            and current_partner_id != self.previous_partner_id
            and object_id.lower() not in self.ours_before
        ):
            withheld = FOREIGN_LINK
        if withheld:
            return Verdict(False, operation, current_partner_id, withheld)
        reported = bool(current_partner_id) and current_partner_id == self.previous_partner_id
        return Verdict(True, operation, current_partner_id, reported=reported)


def would_text(verdict: Verdict, name: str, tenant_id: str, partner_id: str) -> str:
    """One line for reports: what the withheld write would have done."""
    if verdict.operation == "repoint":
        return f"would re-point {name} in {tenant_id} from {verdict.current_partner_id} to {partner_id}"
    return f"would link {name} in {tenant_id} to {partner_id}"


def setting_finding(check: SettingCheck, managing_tenant_id: str, *, previous_setting: str = "") -> model.Finding:
    """The one critical finding when every link the app can read carries another partner ID."""
    other, ours = check.other_partner_id, check.partner_id
    return model.Finding(
        key=CONFIG_KEY,
        kind=catalogue.Kind.CONFIGURATION,
        severity=model.Severity.CRITICAL,
        subject=CONFIG_SUBJECT,
        title=setting_title(check),
        reason="partner_id_mismatch",
        detail=(
            f"All {check.links_read} PAL link(s) PAL Watch can read point to partner ID {other}, while "
            f"PAL_PARTNER_ID is {ours}. The setting is probably wrong (the global instead of the associated "
            f"partner ID, a typo, or another partner's ID), so PAL Watch re-pointed and linked nothing."
        ),
        fix=setting_fix(check),
        tenant_id=managing_tenant_id,
    )


def setting_title(check: SettingCheck) -> str:
    return (
        f"PAL_PARTNER_ID is {check.partner_id} but every existing PAL link points to {check.other_partner_id}: "
        "nothing was re-pointed"
    )


def setting_fix(check: SettingCheck) -> str:
    other, ours = check.other_partner_id, check.partner_id
    return (
        f"If {other} is your associated partner ID, set PAL_PARTNER_ID={other}. If you are moving to {ours} "
        f"on purpose, set PAL_PARTNER_ID_PREVIOUS={other}: PAL Watch then re-points those links and reports each."
    )


def refused_finding(partner_id: str, managing_tenant_id: str, refused_for: Iterable[str]) -> model.Finding:
    """Microsoft answered PartnerIdInvalid: one configuration finding, not one per identity."""
    names = sorted(set(refused_for))
    return model.Finding(
        key=CONFIG_KEY,
        kind=catalogue.Kind.CONFIGURATION,
        severity=model.Severity.CRITICAL,
        subject=CONFIG_SUBJECT,
        title=f"Microsoft rejects PAL_PARTNER_ID {partner_id} (PartnerIdInvalid): nothing can be linked",
        reason="partner_id_invalid",
        detail=(
            f"Linking {', '.join(names[:5]) or 'an identity'} to partner ID {partner_id} failed with "
            "PartnerIdInvalid. The setting most likely holds the global partner ID (PGA) instead of the "
            "associated (location) partner ID; PAL Watch stopped trying for this run."
        ),
        fix=(
            "Set PAL_PARTNER_ID to the associated partner ID shown in Partner Center > Account settings "
            "> Identifiers (the MPN/location id for Azure), then run `palwatch verify`."
        ),
        tenant_id=managing_tenant_id,
    )


def foreign_link_message(current_partner_id: str, partner_id: str) -> str:
    """Why a link carrying another partner ID was left alone (short: it goes into finding texts)."""
    return (
        f"linked to partner ID {current_partner_id}, not re-pointed to {partner_id}; if that change is "
        f"on purpose, set PAL_PARTNER_ID_PREVIOUS={current_partner_id}"
    )


def as_would_link(finding: model.Finding) -> model.Finding:
    """An unattributed delegation PAL Watch would link itself, were it not in observe mode."""
    who = finding.facts.get("principals", "") or finding.principal_id
    customer = finding.title.split(" earns no partner credit", 1)[0]
    return replace(
        finding,
        reason=WOULD_LINK,
        title=f"{customer} earns no partner credit yet: PAL Watch would link it (observe mode)",
        detail=f"PAL Watch would link {who.replace(',', ', ')} to the partner ID. {finding.detail}".strip(),
        fix=OBSERVE_FIX,
    )


def withheld_drift(
    tenant_id: str, object_id: str, name: str, found: str, partner_id: str, *, subject: str, key: str
) -> model.Finding:
    """A link that was ours and was removed or re-pointed by hand, left alone in observe mode."""
    who = name or object_id
    what = f"re-pointed to partner ID {found}" if found else "removed"
    return model.Finding(
        key=key,
        kind=catalogue.Kind.LINK_FAILED,
        severity=model.Severity.WARNING,
        subject=subject,
        title=f"The PAL link of {who} was {what}; PAL Watch would put it back (observe mode)",
        reason="would_repair",
        detail=(
            f"The Partner Admin Link of {who} ({object_id}) in tenant {tenant_id} pointed to partner ID "
            f"{partner_id} and was {what} outside PAL Watch. It would re-link it to {partner_id}."
        ),
        fix=OBSERVE_FIX,
        tenant_id=tenant_id,
        principal_id=object_id,
    )


def repointed_notice(tenant_id: str, object_id: str, name: str, previous: str, partner_id: str) -> model.Finding:
    """`link_repointed` (info): a link carrying PAL_PARTNER_ID_PREVIOUS now points to PAL_PARTNER_ID."""
    who = name or object_id
    return model.Finding(
        key=f"link_repointed:{tenant_id.lower()}:{object_id.lower()}",
        kind=catalogue.Kind.LINK_REPOINTED,
        severity=model.Severity.INFO,
        subject=f"link_repointed:{tenant_id.lower()}:{object_id.lower()}",
        title=f"The PAL link of {who} was re-pointed from partner ID {previous} to {partner_id}",
        reason="previous_partner_id",
        detail=(
            f"PAL_PARTNER_ID_PREVIOUS is {previous}, so PAL Watch moved the Partner Admin Link of {who} "
            f"({object_id}) in tenant {tenant_id} to partner ID {partner_id}."
        ),
        fix="Nothing to do. Clear PAL_PARTNER_ID_PREVIOUS once every link has moved.",
        tenant_id=tenant_id,
        principal_id=object_id,
    )
