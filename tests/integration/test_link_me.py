"""Users link themselves with `palwatch link-me`, and count as linked from then on.

The person's sign-in is stood in for by a token the emulator mints for that user (the real
CLI uses Azure CLI / VS Code / device code through azure-identity); the PAL call, the store
and the re-decision are the real ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

import function_app
from shared import cli
from shared.usecases import users
from tests.conftest import decode_event
from tests.integration.test_delegation_events import BOB, CONTRIBUTOR, MANAGING, PARTNER, delegation, snapshot_of
from tests.support.world import links, onboard


def test_link_me_links_the_user_and_their_waiting_delegation_becomes_attributed(emulator, palwatch):
    body = delegation((BOB, "Bob Engineer", CONTRIBUTOR))
    for event in onboard(emulator, body):
        function_app.delegation_events(decode_event(event))
    waiting = snapshot_of(palwatch, body["registrationAssignmentId"])
    assert waiting.reason == "users_only"
    assert BOB not in links(emulator)

    outcome = users.link_me(palwatch, emulator.signed_in(BOB, MANAGING), datetime.now(UTC))

    assert outcome.action == "created"
    assert links(emulator)[BOB] == PARTNER
    assert waiting.key in outcome.now_attributed
    assert snapshot_of(palwatch, body["registrationAssignmentId"]).attributed
    assert [a.object_id for a in palwatch.store.list_attested_users()] == [BOB]
    assert not [r for r in palwatch.store.open_findings() if r.finding.subject == waiting.key]


def test_link_me_twice_writes_once(emulator, palwatch):
    users.link_me(palwatch, emulator.signed_in(BOB, MANAGING), datetime.now(UTC))
    emulator.control("DELETE", "/journal")

    again = users.link_me(palwatch, emulator.signed_in(BOB, MANAGING), datetime.now(UTC))

    assert again.action == "unchanged"
    assert not [r for r in emulator.journal() if r["method"] in ("PUT", "PATCH")]


def test_an_attested_user_keeps_counting_on_the_next_event(emulator, palwatch):
    users.attest(palwatch, MANAGING, BOB, by="test", now=datetime.now(UTC))
    body = delegation((BOB, "Bob Engineer", CONTRIBUTOR))
    for event in onboard(emulator, body):
        function_app.delegation_events(decode_event(event))

    assert snapshot_of(palwatch, body["registrationAssignmentId"]).attributed


def test_the_cli_offers_link_me_and_attest(capsys):
    cli._load_commands()
    help_text = cli.build_parser().format_help()
    assert "link-me" in help_text
    assert "attest" in help_text
    assert cli.main(["attest", "add", "not-a-guid"]) == 2
    assert "is not an object id" in capsys.readouterr().err


def test_attest_refuses_a_service_principal_and_lists_and_revokes_a_user(emulator, palwatch, capsys):
    from tests.integration.verify_helpers import MI

    assert cli.main(["attest", "add", MI]) == 1
    assert "is not a user of the managing tenant" in capsys.readouterr().err
    assert palwatch.store.list_attested_users() == []

    assert cli.main(["attest", "add", BOB, "--by", "ops lead"]) == 0
    capsys.readouterr()
    assert cli.main(["attest", "list", "-o", "tsv", "--query", "[].objectId"]) == 0
    assert capsys.readouterr().out.split() == [BOB]

    assert cli.main(["attest", "revoke", BOB]) == 0
    assert palwatch.store.list_attested_users() == []
