"""May PAL Watch write this PAL link? The guard every link write passes through.

Pure: called by the attribution pipeline (`shared.usecases.links.LinkWriter` builds a `Guard` per pass
from what it read) and by the doctor and the offer linter. A tool that protects partner credit
must never be the thing that moves it, so a write is withheld when:

- the app runs in observe mode (`PAL_MODE=observe`): it says what it would do instead;
- the setting looks wrong: every existing link the app can read points to one other partner ID
  (the global instead of the associated ID, a typo, another partner's valid ID), and none of them
  was ours before. Then nothing is linked or re-pointed and one configuration finding says why;
- Microsoft already refused the partner ID in this pass (`PartnerIdInvalid`): further writes
  would fail the same way;
- the link carries another partner ID that `PAL_PARTNER_ID_PREVIOUS` does not name, and PAL Watch
  never saw it pointing to ours (a link it had linked and a person re-pointed is drift: put back);
- the link carries another of the partner's own location IDs (PAL_PARTNER_ID lists them): it is
  the partner's own and counts as it is, so it is never re-pointed.

The findings these verdicts lead to are built in `shared.catalogue` from plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.decisions.observation import LinkStatus

OBSERVE = "observe"
SETTING_SUSPECT = "setting_suspect"
PARTNER_ID_INVALID = "partner_id_invalid"
FOREIGN_LINK = "foreign_link"
OWN_LOCATION = "own_location"

FOREIGN_LINK_CODE = "LinkedToAnotherPartner"


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
    partner_ids: Iterable[str] = (),
) -> SettingCheck:
    """Suspect iff every readable active link points to one partner ID that is neither one of ours
    (`partner_id` and the partner's other location IDs, `partner_ids`) nor the declared previous one,
    and none of those identities was seen linked to ours before."""
    active = {oid.lower(): s.partner_id for oid, s in links.items() if s.partner_id and s.state.lower() == "active"}
    targets = set(active.values())
    if len(targets) != 1 or targets & {partner_id, *partner_ids}:
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
    partner_ids: frozenset[str] = frozenset()  # the partner's other location IDs: links to them stay

    def decide(self, object_id: str, current_partner_id: str) -> Verdict:
        """May the link of `object_id`, now pointing to `current_partner_id` ("" none), be written?"""
        operation = "repoint" if current_partner_id else "create"
        withheld = ""
        if current_partner_id and current_partner_id in self.partner_ids:
            withheld = OWN_LOCATION
        elif self.observe:
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


def foreign_link_message(current_partner_id: str, partner_id: str) -> str:
    """Why a link carrying another partner ID was left alone (short: it goes into finding texts)."""
    return (
        f"linked to partner ID {current_partner_id}, not re-pointed to {partner_id}; if that change is "
        f"on purpose, set PAL_PARTNER_ID_PREVIOUS={current_partner_id}"
    )


def person_refusal(verdict: Verdict, guard: Guard, tenant_id: str, setting: str) -> str:
    """What a person is told when the guard keeps their link as it is (`setting` names where the
    partner ID came from: PAL_PARTNER_ID or --partner-id); observe mode says what it would do."""
    partner_id = guard.partner_id
    if verdict.reason == OWN_LOCATION:
        return (
            f"Your PAL link in tenant {tenant_id} already points to {verdict.current_partner_id}, one of the partner's "
            "location IDs (PAL_PARTNER_ID): it counts as it is and was left alone."
        )
    if verdict.reason == OBSERVE:
        would = would_text(verdict, "your sign-in", tenant_id, partner_id)
        return (
            f"PAL_MODE is observe: PAL Watch {would}, and wrote nothing. Set PAL_MODE=repair to let it link, or "
            f"link yourself: az managementpartner create --partner-id {partner_id}"
        )
    if verdict.reason == SETTING_SUSPECT and guard.setting is not None:
        other = guard.setting.other_partner_id
        use = f"use {setting} {other}" if setting.startswith("-") else f"set {setting}={other}"
        return (
            f"{setting} is {partner_id} but every PAL link PAL Watch knows of points to {other}: your link was "
            f"left as it is. If {other} is your associated partner ID, {use}. If you are moving "
            f"to {partner_id} on purpose, set PAL_PARTNER_ID_PREVIOUS={other}."
        )
    message = foreign_link_message(verdict.current_partner_id, partner_id)
    return (
        f"Your PAL link in tenant {tenant_id} is {message}; or re-point it yourself: "
        f"az managementpartner update --partner-id {partner_id}"
    )
