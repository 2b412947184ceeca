"""Users link themselves with `palwatch link-me`, and count as linked from then on.

The person's sign-in is stood in for by a token the emulator mints for that user (the real
CLI uses Azure CLI / VS Code / device code through azure-identity); the PAL call, the store
and the re-decision are the real ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared import cli
from shared.cli import app as cli_app
from shared.usecases import users
from tests.support import demo, remembered, triggers, world
from tests.support.world import links, onboard, pal_writes


def test_link_me_links_the_user_and_their_waiting_delegation_becomes_attributed(emulator, palwatch):
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    triggers.delegation_events(onboard(emulator, body))
    waiting = remembered.snapshot_of(palwatch, body["registrationAssignmentId"])
    assert waiting.reason == "users_only"
    assert demo.BOB.object_id not in links(emulator)

    outcome = users.link_me(palwatch, emulator.signed_in(demo.BOB.object_id, demo.MANAGING), datetime.now(UTC))

    assert outcome.action == "created"
    assert links(emulator)[demo.BOB.object_id] == demo.PARTNER
    assert waiting.key in outcome.now_attributed
    assert remembered.snapshot_of(palwatch, body["registrationAssignmentId"]).attributed
    assert [a.object_id for a in palwatch.store.list_attested_users()] == [demo.BOB.object_id]
    assert not [r for r in palwatch.store.open_findings() if r.finding.subject == waiting.key]


def test_link_me_twice_writes_once(emulator, palwatch):
    users.link_me(palwatch, emulator.signed_in(demo.BOB.object_id, demo.MANAGING), datetime.now(UTC))
    emulator.control("DELETE", "/journal")

    again = users.link_me(palwatch, emulator.signed_in(demo.BOB.object_id, demo.MANAGING), datetime.now(UTC))

    assert again.action == "unchanged"
    assert not [r for r in emulator.journal() if r["method"] in ("PUT", "PATCH")]


def test_an_attested_user_keeps_counting_on_the_next_event(emulator, palwatch):
    users.attest(palwatch, demo.MANAGING, demo.BOB.object_id, by="test", now=datetime.now(UTC))
    body = world.new_delegation(demo.RELECLOUD, (demo.BOB, demo.CONTRIBUTOR))
    triggers.delegation_events(onboard(emulator, body))

    assert remembered.snapshot_of(palwatch, body["registrationAssignmentId"]).attributed


def test_the_cli_offers_link_me_and_attest(capsys):
    cli_app._load_commands()
    help_text = cli.build_parser().format_help()
    assert "link-me" in help_text
    assert "attest" in help_text
    assert cli.main(["attest", "add", "not-a-guid"]) == 2
    assert "is not an object id" in capsys.readouterr().err


def test_attest_refuses_a_service_principal_and_lists_and_revokes_a_user(emulator, palwatch, capsys):
    assert cli.main(["attest", "add", demo.MI.object_id]) == 1
    assert "is not a user of the managing tenant" in capsys.readouterr().err
    assert palwatch.store.list_attested_users() == []

    assert cli.main(["attest", "add", demo.BOB.object_id, "--by", "ops lead"]) == 0
    capsys.readouterr()
    assert cli.main(["attest", "list", "-o", "tsv", "--query", "[].objectId"]) == 0
    assert capsys.readouterr().out.split() == [demo.BOB.object_id]

    assert cli.main(["attest", "revoke", demo.BOB.object_id]) == 0
    assert palwatch.store.list_attested_users() == []


# -- the partner ID guard and observe mode, through `palwatch link-me` --------------------------

OTHER_VALID = "6000001"  # another partner's valid ID: Microsoft would accept the write


def _link_me(emulator, monkeypatch, capsys, *args: str, **env: str) -> tuple[int, str]:
    """`palwatch link-me` as Bob, signed in (the emulator's token for him stands in for `az login`)."""
    from shared.cli import link_me as cli_link_me

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(
        cli_link_me, "person_credential", lambda *_: emulator.signed_in(demo.BOB.object_id, demo.MANAGING)
    )
    emulator.control("DELETE", "/journal")
    capsys.readouterr()
    code = cli.main(["link-me", *args])
    seen = capsys.readouterr()
    return code, seen.out + seen.err


def test_link_me_with_a_wrong_partner_id_leaves_a_correct_link_alone(emulator, palwatch, monkeypatch, capsys):
    emulator.control(
        "PUT", f"/links/{demo.MANAGING}/{demo.BOB.object_id}", {"partnerId": demo.PARTNER}
    )  # Bob linked himself earlier

    code, said = _link_me(emulator, monkeypatch, capsys, PAL_PARTNER_ID=OTHER_VALID)

    assert code == cli.EXIT_FAILED
    assert pal_writes(emulator) == []
    assert links(emulator)[demo.BOB.object_id] == demo.PARTNER
    assert OTHER_VALID in said
    assert demo.PARTNER in said
    assert f"PAL_PARTNER_ID={demo.PARTNER}" in said
    assert f"PAL_PARTNER_ID_PREVIOUS={demo.PARTNER}" in said
    assert "Traceback" not in said
    assert palwatch.store.list_attested_users() == []


def test_link_me_with_a_wrong_partner_id_links_no_new_user_when_the_known_links_say_otherwise(
    emulator, palwatch, monkeypatch, capsys
):
    triggers.verify_now()  # with the right PAL_PARTNER_ID: the app's links are remembered as pointing to it
    assert demo.BOB.object_id not in links(emulator)

    code, said = _link_me(emulator, monkeypatch, capsys, PAL_PARTNER_ID=OTHER_VALID)

    assert code == cli.EXIT_FAILED
    assert pal_writes(emulator) == []
    assert demo.BOB.object_id not in links(emulator)
    assert OTHER_VALID in said
    assert f"PAL_PARTNER_ID={demo.PARTNER}" in said


def test_link_me_in_observe_mode_writes_nothing_and_says_what_it_would_link(emulator, palwatch, monkeypatch, capsys):
    code, said = _link_me(emulator, monkeypatch, capsys, PAL_MODE="observe")

    assert code == cli.EXIT_OK
    assert pal_writes(emulator) == []
    assert demo.BOB.object_id not in links(emulator)
    assert f"would link your sign-in in {demo.MANAGING} to {demo.PARTNER}" in said
    assert "PAL_MODE=repair" in said
    assert palwatch.store.list_attested_users() == []


def test_link_me_repoints_a_declared_previous_partner_id_and_reports_it(emulator, palwatch, monkeypatch, capsys):
    emulator.control("PUT", f"/links/{demo.MANAGING}/{demo.BOB.object_id}", {"partnerId": OTHER_VALID})

    refused, said = _link_me(emulator, monkeypatch, capsys)
    assert refused == cli.EXIT_FAILED  # another partner's link is not moved unless declared
    assert pal_writes(emulator) == []
    assert f"PAL_PARTNER_ID_PREVIOUS={OTHER_VALID}" in said

    code, said = _link_me(emulator, monkeypatch, capsys, PAL_PARTNER_ID_PREVIOUS=OTHER_VALID)

    assert code == cli.EXIT_OK
    assert [w["method"] for w in pal_writes(emulator)] == ["PATCH"]
    assert links(emulator)[demo.BOB.object_id] == demo.PARTNER
    assert OTHER_VALID in said
    kept = palwatch.store.list_findings(include_resolved=True)
    assert [r.finding.principal_id for r in kept if r.finding.kind == "link_repointed"] == [demo.BOB.object_id]
