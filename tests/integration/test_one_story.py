"""One true story per customer: after the only carrier of one offer on a scope is deleted while
another offer still earns the scope's credit, the alert is a warning, and the coverage page (its
"Needs attention" and its customer sections), the report, the CSV and the digest all call that
customer "at risk", never "not attributed"; the customer whose scope lost its credit is "not
attributed" everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import function_app
from shared import cli, reports
from shared.notify import digest as digest_
from shared.usecases import digest as digest_use
from tests.support import demo, remembered, triggers, world
from tests.support.remembered import open_findings
from tests.support.triggers import decode_event

SUBSCRIPTION = f"/subscriptions/{demo.RELECLOUD.subscription_id}"
WORST_FIRST = ("not attributed", "cannot be read", "at risk", "attributed")


def _offer(name: str, *authorizations: tuple[str, str, str]) -> dict:
    body = world.new_delegation(demo.RELECLOUD, *authorizations)
    body["registrationDefinitionName"] = name
    body["scope"] = SUBSCRIPTION
    return body


def _attention(page: str) -> dict[str, str]:
    nav = page.split("<nav", 1)[1].split("</nav>", 1)[0]
    return dict(re.findall(r'<a href="#c\d+">([^<]+)</a>: <span class="badge [a-z_]+">([^<]+)</span>', nav))


def _worst(statuses: list[str]) -> str:
    return min(statuses, key=WORST_FIRST.index)


def test_every_output_tells_each_customer_s_status_from_its_scopes(emulator, palwatch, capsys):
    remembered.attest(palwatch, demo.ALICE.object_id)
    triggers.onboard(emulator, _offer("Contoso Managed Azure", (demo.OPS, demo.CONTRIBUTOR)))
    premier = triggers.onboard(emulator, _offer("Contoso Premier Support", (demo.ALICE, demo.CONTRIBUTOR)))
    triggers.subscribe(palwatch)
    for event in world.act(emulator, demo.ALICE.object_id, "softDelete"):
        function_app.identity_events(decode_event(event))
    triggers.verify_now()
    about = [f for f in open_findings(palwatch).values() if f.subject == premier]
    assert [f.severity.value for f in about] == ["warning"]  # the alert's verdict: credit thinner, not lost

    coverage = palwatch.store.get_coverage()
    page = reports.coverage_html(coverage)
    attention = _attention(page)
    assert attention["Relecloud"] == "at risk", attention
    assert attention["Tailwind Traders"] == "not attributed", attention

    rows = list(csv.DictReader(io.StringIO(reports.coverage_csv(coverage))))
    per_customer: dict[str, list[str]] = {}
    for row in rows:
        per_customer.setdefault(row["customerTenantName"], []).append(row["status"].replace("_", " "))
    assert _worst(per_customer["Relecloud"]) == "at risk", per_customer["Relecloud"]
    assert _worst(per_customer["Tailwind Traders"]) == "not attributed"

    assert cli.main(["report", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["totals"]["customersAtRisk"] >= 1
    relecloud = [d["status"] for d in document["delegations"] if d["customerTenantName"] == "Relecloud"]
    assert "not_attributed" not in relecloud, relecloud

    summary = digest_use.summarise(coverage, palwatch.store.list_findings(include_resolved=True), datetime.now(UTC))
    told = {c.name: c.status for c in summary.attention}
    assert told["Relecloud"] == "at_risk", told
    assert told["Tailwind Traders"] == "not_attributed", told
    text = "\n".join(digest_.text_lines([digest_.to_notice(summary)]))
    attention_lines = text.split("Customers needing attention:", 1)[1].split("\n\n", 1)[0]
    (line,) = [line for line in attention_lines.splitlines() if "Relecloud" in line]
    assert "not attributed" not in line, line
