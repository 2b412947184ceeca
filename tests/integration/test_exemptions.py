"""Exemptions end to end: `palwatch exempt` silences exactly its finding (no mail through Microsoft
Graph, shown as accepted in `palwatch findings`), and the day it expires the finding is mailed once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared import cli
from shared.usecases import alerts
from tests.integration.verify_helpers import verify_now

NO_ELIGIBLE = "no authorization holds a PEC-eligible role"  # Woodgrove Core, offer "Contoso Monitoring"
JUST_IN_TIME = "eligible roles are only just-in-time"  # Woodgrove Dev, another offer


def _mails_about(emulator, words: str) -> int:
    return sum(words in m["message"]["body"]["content"] for m in emulator.control("GET", "/mailbox")["messages"])


def test_an_exemption_silences_exactly_its_finding_until_it_expires(emulator, mailed, capsys):
    expires = (datetime.now(UTC) + timedelta(days=3)).date()
    assert (
        cli.main(
            [
                "exempt",
                "--kind",
                "unattributed_delegation",
                "--offer",
                "Contoso Monitoring",
                "--reason",
                "read-only monitoring offer",
                "--expires",
                expires.isoformat(),
            ]
        )
        == 0
    )

    verify_now()

    assert _mails_about(emulator, NO_ELIGIBLE) == 0
    assert _mails_about(emulator, JUST_IN_TIME) == 1
    capsys.readouterr()
    assert cli.main(["findings", "-o", "json"]) == 0
    accepted = {i["title"]: i["accepted"] for i in json.loads(capsys.readouterr().out)}
    (core,) = [a for t, a in accepted.items() if NO_ELIGIBLE in t]
    assert core == f"accepted: read-only monitoring offer, until {expires.isoformat()}"
    assert not [a for t, a in accepted.items() if JUST_IN_TIME in t and a]

    after = datetime.combine(expires, datetime.min.time(), UTC) + timedelta(hours=1)
    alerts.deliver(mailed, after)
    alerts.deliver(mailed, after + timedelta(hours=5))

    assert _mails_about(emulator, NO_ELIGIBLE) == 1
    assert _mails_about(emulator, JUST_IN_TIME) == 1


def test_exemptions_are_listed_and_removed(emulator, mailed, capsys):
    args = ["exempt", "--kind", "identity_lost", "--scope", "/subscriptions/x", "--reason", "r", "--expires"]
    assert cli.main([*args, "2999-01-01"]) == 0
    assert cli.main([*args, "2001-01-01"]) == cli.EXIT_USAGE  # already over
    assert cli.main(["exempt", "--kind", "identity_lost", "--reason", "r", "--expires", "2999-01-01"]) == (
        cli.EXIT_USAGE
    )  # names no place: it would silence every identity_lost
    capsys.readouterr()
    assert cli.main(["exemptions", "list", "-o", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["source"], listed["scope"], listed["expired"]) == ("store", "/subscriptions/x", False)
    assert cli.main(["exemptions", "remove", listed["id"]]) == 0
    assert cli.main(["exemptions", "remove", listed["id"]]) == cli.EXIT_FAILED
    capsys.readouterr()
    assert cli.main(["exemptions", "list", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
