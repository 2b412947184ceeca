"""`palwatch evidence` through the CLI's `main([...])`, over the emulator and Azurite: every identity
the app acts as, the link it reports (partner name, times) and the scopes it earns credit on."""

from __future__ import annotations

import csv
import io
import json

from shared import cli
from tests.support import demo, triggers


def _scope(part: str) -> str:
    return demo.delegation(part)["scope"]


def test_evidence_lists_every_acting_identity_with_its_link_and_eligible_scopes(emulator, palwatch, capsys):
    triggers.verify_now()
    links_before = emulator.control("GET", "/links")["links"]

    assert cli.main(["evidence", "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)

    by_object = {entry["objectId"]: entry for entry in document}
    assert {demo.MI.object_id, demo.OPS.object_id, demo.AUTOMATION.object_id} <= by_object.keys()
    mi = by_object[demo.MI.object_id]
    assert mi["tenantId"] == demo.MANAGING
    assert mi["type"] == "ManagedIdentity"
    assert mi["partnerId"] == demo.PARTNER
    assert mi["partnerName"] == demo.SCENARIO["partnerIds"][demo.PARTNER]
    stored = next(k for k in links_before if k["objectId"] == demo.MI.object_id and k["tenantId"] == demo.MANAGING)
    assert mi["linkCreated"].startswith(stored["createdTime"][:19])
    assert mi["linkUpdated"].startswith(stored["updatedTime"][:19])
    # Contributor on fabrikam is PEC-eligible; Reader on northwind is not.
    scopes = {s["scope"]: s for s in mi["scopes"]}
    assert _scope("fabrikam") in scopes
    assert scopes[_scope("fabrikam")]["roleName"] == "Contributor"
    assert _scope("northwind") not in scopes
    assert by_object[demo.AUTOMATION.object_id]["type"] == "ServicePrincipal"
    assert _scope("northwind") in {s["scope"] for s in by_object[demo.AUTOMATION.object_id]["scopes"]}
    for entry in document:
        assert entry["scopeCount"] == len(entry["scopes"])


def test_evidence_csv_has_one_row_per_identity_and_scope_and_identity_filters(emulator, palwatch, capsys):
    triggers.verify_now()
    assert cli.main(["evidence", "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    name = next(e["identity"] for e in document if e["objectId"] == demo.AUTOMATION.object_id)

    assert cli.main(["evidence", "-o", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == sum(max(1, len(e["scopes"])) for e in document)
    assert {"identity", "partnerId", "partnerName", "linkCreated", "scope", "roleName"} <= rows[0].keys()

    assert cli.main(["evidence", "--identity", name, "-o", "json"]) == 0
    only = json.loads(capsys.readouterr().out)
    assert [e["objectId"] for e in only] == [demo.AUTOMATION.object_id]

    assert cli.main(["evidence", "--identity", name]) == 0
    text = capsys.readouterr().out
    assert f"partner {demo.PARTNER}" in text
    assert _scope("northwind") in text


def test_evidence_says_plainly_when_an_identity_has_no_link(emulator, palwatch, capsys):
    triggers.verify_now()
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.OPS.object_id}")
    assert cli.main(["evidence", "-o", "json"]) == cli.EXIT_FAILED
    ops = next(e for e in json.loads(capsys.readouterr().out) if e["objectId"] == demo.OPS.object_id)
    assert ops["problem"] == "no PAL link"
    assert cli.main(["evidence", "--identity", "nobody-by-that-name"]) == cli.EXIT_FAILED
    assert "no identity named" in capsys.readouterr().err
