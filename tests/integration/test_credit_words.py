"""Words follow Microsoft's rules: partner earned credit (PEC) exists only on CSP (Azure plan)
subscriptions, so no rendered output of the demo estate says it about any other scope. Walks the
alerts (text and HTML of every open finding, with its money), the coverage page, JSON, CSV,
`palwatch report`, `palwatch evidence` and the daily digest, after the demo's verification with
its CSP customers (one losing AOBO) and its Enterprise Agreement and Pay-As-You-Go customers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import function_app
from scripts import demo_csp
from shared import cli, offers, reports
from shared.notify import digest as digest_notice
from shared.notify import notices, render
from shared.usecases import at_stake, digest
from tests.support import demo, remembered, triggers
from tests.support.triggers import decode_event

PEC_WORDS = re.compile(r"\bPEC\b|partner[ -]earned[ -]credit", re.IGNORECASE)
HOME = demo_csp.Managing(demo.MANAGING, demo.HOME.raw["defaultDomain"], demo.ACTORS["id-palwatch-contoso"].object_id)


def _demo_estate(emulator, palwatch) -> None:
    remembered.attest(palwatch, demo.ALICE.object_id)
    triggers.delegation_events(demo_csp.onboard(emulator.control, HOME, demo.PARTNER))
    palwatch.store.attest_user(demo.MANAGING, demo_csp.CAROL, demo.PARTNER, "test", datetime.now(UTC))
    triggers.verify_now()
    for event in demo_csp.remove_aobo(emulator.control):
        function_app.delegation_events(decode_event(event))
    triggers.verify_now()


def _clean(text: str, where: str) -> None:
    found = PEC_WORDS.search(text)
    assert found is None, f"{where} says {found.group(0)!r} about a scope that is not CSP:\n{text[:600]}"


def _csp_names(coverage) -> frozenset[str]:
    """Names that tie a line to a CSP subscription: its customer and subscription names."""
    rows = [r for r in coverage.rows if r.offer_type == offers.CSP]
    return frozenset(n for r in rows for n in (r.customer_tenant_name, r.subscription_name) if n)


def _not_csp(text: str, csp_names: frozenset[str]) -> bool:
    return "CSP" not in text and not any(name in text for name in csp_names)


def test_no_output_speaks_of_partner_earned_credit_on_a_scope_that_is_not_csp(emulator, palwatch, capsys):
    _demo_estate(emulator, palwatch)
    now = datetime.now(UTC)
    recorded = at_stake.with_money(palwatch, palwatch.store.open_findings(), now)
    offer_of = {f.scope.lower(): f.facts.get("offerType") for f in (r.finding for r in recorded) if f.scope}
    assert offers.ENTERPRISE_AGREEMENT in offer_of.values()  # the walk covers an EA scope
    assert offers.CSP in offer_of.values()

    # Alerts: every open finding's message, as each channel renders it.
    for r in recorded:
        if r.finding.scope and r.finding.facts.get("offerType") != offers.CSP:
            message = render.render([notices.opened(r)], now=now)
            _clean(message.text, f"the alert for {r.finding.key}")
            _clean(message.html, f"the HTML alert for {r.finding.key}")
            _clean(render.subject([notices.opened(r)]), f"the subject for {r.finding.key}")

    coverage = palwatch.store.get_coverage()
    document = reports.coverage_json(coverage)
    for item in document["scopes"] + document["delegations"]:
        if item["offerType"] != offers.CSP:
            _clean(json.dumps(item), f"coverage JSON for {item['scope']}")
            if item in document["scopes"]:
                assert item["partnerEarnedCredit"] == "not_applicable"

    for row in csv.DictReader(io.StringIO(reports.coverage_csv(coverage, palwatch.store.costs.all()))):
        if row["offerType"] != offers.CSP:
            _clean(",".join(row.values()), f"the CSV row of {row['scope']}")

    csp_names = _csp_names(coverage)
    page = reports.coverage_html(coverage)
    for chunk in page.split("<tr")[1:]:
        if _not_csp(chunk, csp_names):
            _clean(chunk, "a coverage page row")

    digest_lines = digest_notice.text_lines([digest_notice.to_notice(digest.summarise(coverage, recorded, now))])
    for line in digest_lines:
        if _not_csp(line, csp_names):
            _clean(line, "the digest")

    capsys.readouterr()
    for command in (["report"], ["findings"], ["evidence"]):
        assert cli.main(command) == 0
        out = capsys.readouterr().out
        for line in out.splitlines():
            if _not_csp(line, csp_names):
                _clean(line, f"`palwatch {command[0]}`")
