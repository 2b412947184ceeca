"""The partner ID guard as a table of plain data: which link writes may happen, and when the
setting looks wrong. Property: in observe mode no write is ever allowed, whatever the links say."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import catalogue
from shared.decisions import LinkStatus
from shared.decisions import partner_guard as pg

OURS, OTHER, THIRD = "5127255", "6000001", "7000001"


def _links(**by_object: str | None) -> dict[str, LinkStatus]:
    return {oid: LinkStatus(partner_id=pid) for oid, pid in by_object.items()}


@pytest.mark.parametrize(
    ("links", "previous", "ours_before", "suspect"),
    [
        (_links(a=OTHER, b=OTHER), "", (), OTHER),  # every link says another id: the setting is wrong
        (_links(a=OTHER, b="", c=None), "", (), OTHER),  # unlinked and unreadable ones say nothing
        (_links(a=OTHER, b=OURS), "", (), ""),  # one of ours: the setting is right
        (_links(a=OTHER, b=THIRD), "", (), ""),  # two other ids: not one wrong setting
        (_links(a=OTHER, b=OTHER), OTHER, (), ""),  # a declared move
        (_links(a=OTHER), "", ("a",), ""),  # it was ours: a person re-pointed it (drift)
        (_links(a="", b=None), "", (), ""),  # a fresh install
        ({}, "", (), ""),
    ],
)
def test_when_the_setting_looks_wrong(links, previous, ours_before, suspect) -> None:
    check = pg.check_setting(links, OURS, previous_partner_id=previous, ours_before=ours_before)
    assert check.other_partner_id == suspect
    assert check.suspect is bool(suspect)


@pytest.mark.parametrize(
    ("guard", "current", "allowed", "reason", "reported"),
    [
        (pg.Guard(OURS), "", True, "", False),
        (pg.Guard(OURS), OTHER, False, pg.FOREIGN_LINK, False),
        (pg.Guard(OURS, previous_partner_id=OTHER), OTHER, True, "", True),
        (pg.Guard(OURS, previous_partner_id=OTHER), THIRD, False, pg.FOREIGN_LINK, False),
        (pg.Guard(OURS, ours_before=frozenset({"x"})), OTHER, True, "", False),  # drift repair
        (pg.Guard(OURS, observe=True), "", False, pg.OBSERVE, False),
        (pg.Guard(OURS, setting=pg.SettingCheck(OURS, OTHER, 2)), "", False, pg.SETTING_SUSPECT, False),
        (pg.Guard(OURS, partner_id_refused=True), "", False, pg.PARTNER_ID_INVALID, False),
    ],
)
def test_which_writes_may_happen(guard, current, allowed, reason, reported) -> None:
    verdict = guard.decide("X", current)
    assert (verdict.allowed, verdict.reason, verdict.reported) == (allowed, reason, reported)
    assert verdict.operation == ("repoint" if current else "create")


@given(
    current=st.sampled_from(["", OURS, OTHER, THIRD]),
    previous=st.sampled_from(["", OTHER]),
    ours=st.booleans(),
)
def test_observe_mode_never_allows_a_write(current: str, previous: str, ours: bool) -> None:
    guard = pg.Guard(OURS, previous_partner_id=previous, observe=True, ours_before=frozenset({"x"} if ours else ()))
    assert not guard.decide("x", current).allowed


def test_the_finding_names_both_ids_and_the_fix() -> None:
    check = pg.check_setting(_links(a=OTHER, b=OTHER), OURS)
    finding = catalogue.partner_id_mismatch(check.partner_id, check.other_partner_id, check.links_read, "tenant")
    assert finding.severity.value == "critical"
    assert OURS in finding.title
    assert OTHER in finding.title
    assert f"PAL_PARTNER_ID={OTHER}" in finding.fix
    assert f"PAL_PARTNER_ID_PREVIOUS={OTHER}" in finding.fix
