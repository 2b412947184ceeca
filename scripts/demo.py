"""`make run`: the narrated end-to-end scenario on the local emulator and Azurite (no Azure account).

Starts both services, points PAL Watch at them through the same settings Azure would give it,
and drives the function entry points (function_app.*) the way the Functions host would: Event
Grid deliveries decoded by the worker's own converter, timer ticks, HTTP requests. Alerts land
as .eml files in .run/inbox and, through Microsoft Graph, in the emulator's mailbox.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import shutil
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts import services
from shared import roles

RUN_DIR = services.ROOT / ".run"
INBOX = RUN_DIR / "inbox"
REPORT = RUN_DIR / "coverage.html"
LOG = RUN_DIR / "palwatch.log"
CONTRIBUTOR = roles.CONTRIBUTOR
READER = roles.READER
SEATTLE, BERGEN = "5127255", "5127256"  # two location IDs of the demo partner
FABRIKAM = "52b02585-603e-4e21-85cd-9bbea1fbcb60"  # its credit should go to Seattle
DEMO_ASSIGNMENT = "5e1f7c3a-9d42-4b8e-a6f1-2c3d4e5f6a7b"
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text: str) -> None:
    print(textwrap.indent(textwrap.dedent(text).strip("\n"), "  "))


def step(number: int, title: str) -> None:
    print(f"\n{BOLD}{number}. {title}{RESET}")


def decode(event: dict[str, Any]) -> Any:
    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    return EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata={})


def timer() -> Any:
    from azure.functions.timer import TimerRequest

    return TimerRequest(past_due=False)


class Demo:
    def __init__(self, emulator: services.Emulator, storage: str) -> None:
        self.emulator = emulator
        self.scenario = json.loads(services.DEMO_SCENARIO.read_text())
        self.home = next(t for t in self.scenario["tenants"] if t.get("home"))
        self.principals = {p["displayName"]: p for p in self.home["principals"]}
        environment = {
            **emulator.env,
            "AzureWebJobsStorage": storage,
            "PAL_TABLE_PREFIX": "demo",
            "PAL_ALERT_OUTBOX_DIR": str(INBOX),
            "PAL_ALERT_MAIL_FROM": self.principals["PAL Watch alerts"]["userPrincipalName"],
            "PAL_ALERT_MAIL_TO": "cloud-ops@contosomsp.example",
            "PAL_WATCH_SCHEDULE": "0 */5 * * * *",
            "PAL_VERIFY_SCHEDULE": "0 0 */6 * * *",
            "PAL_ALERT_DIGEST_HOUR": "0",
            "PAL_COST": "true",
            "PAL_COST_SCHEDULE": "0 30 2 * * *",
            "PAL_PEC_RATE": "0.15",  # an example rate: Microsoft publishes none, so there is no default
            # The partner's two locations: new links go to the first; a link to either is Contoso's own.
            "PAL_PARTNER_ID": f"{SEATTLE}:Seattle,{BERGEN}:Bergen",
            "PAL_PARTNER_ID_BY_CUSTOMER": f"{FABRIKAM}=Seattle",
            "PAL_BILLING": "true",
            "PAL_CREDIT_SNAPSHOT_SCHEDULE": "0 0 6 * * *",
        }
        os.environ.update(environment)

    def principal(self, name: str) -> str:
        return self.principals[name]["objectId"]

    def links(self) -> dict[str, str]:
        return {
            link["objectId"]: link["partnerId"]
            for link in self.emulator.control("GET", "/links")["links"]
            if link["tenantId"] == self.home["tenantId"] and link.get("state", "Active") == "Active"
        }

    @property
    def observe(self) -> bool:
        """PAL_MODE=observe: PAL Watch writes no link, and the narration says what it would do."""
        from shared.usecases import engine

        return engine.get_engine().settings.observe_only

    def would_link(self, subject_end: str) -> str:
        """The title of the open finding that says what PAL Watch would link for a delegation."""
        from shared.usecases import engine

        return next(
            (
                r.finding.title
                for r in engine.get_engine().store.open_findings()
                if r.finding.subject.endswith(subject_end) and r.finding.reason == "would_link"
            ),
            "no finding",
        )

    def subscription_name(self, scope: str) -> str:
        subscription = scope.split("/")[2].lower()
        return next(
            (
                s["displayName"]
                for t in self.scenario["tenants"]
                for s in t.get("subscriptions", [])
                if s["subscriptionId"].lower() == subscription
            ),
            scope,
        )

    def name_of(self, object_id: str) -> str:
        return next((p["displayName"] for p in self.home["principals"] if p["objectId"] == object_id), object_id)


def run_steps(demo: Demo, steps: list[Callable[[Demo], None]]) -> None:
    for number, action in enumerate(steps, start=1):
        action_title = (action.__doc__ or action.__name__).strip().splitlines()[0]
        step(number, action_title)
        action(demo)


def doctor(demo: Demo) -> None:
    """`palwatch doctor`: settings, tokens and permissions, as the function app would run."""
    from shared import doctor as doctor_module

    report = doctor_module.run_doctor()
    print(textwrap.indent(report.render(), "    "))
    if not report.ok:
        raise SystemExit("the doctor found a required check failing on the demo tenant")


def first_watch(demo: Demo) -> None:
    """The watch timer reads the tenant activity log and meets the existing customers."""
    import function_app
    from shared import offers
    from shared.usecases import engine

    before = demo.links()
    function_app.watch_delegations(timer())
    store = engine.get_engine().store
    snapshots = store.list_delegations(include_removed=False)
    linked_now = [oid for oid in demo.links() if oid not in before]
    if demo.observe:
        say(f"""
            PAL Watch found {len(snapshots)} delegations to Contoso MSP in the activity log. PAL_MODE=observe:
            it linked {"none" if not linked_now else len(linked_now)}; its findings say what it would link.
            """)
    else:
        say(f"""
            PAL Watch found {len(snapshots)} delegations to Contoso MSP in the activity log and linked
            {len(linked_now)} identit{"y" if len(linked_now) == 1 else "ies"} it can act as, without a human:
            """)
    for oid in linked_now:
        print(f"      + {demo.name_of(oid)} → partner ID {demo.links()[oid]}")
    attributed = sum(1 for s in snapshots if s.attributed and offers.classify(s.quota_id).eligible)
    say(f"{attributed} of {len(snapshots)} delegations are attributed now. Open findings:")
    for recorded in store.open_findings():
        finding = recorded.finding
        print(f"      [{finding.severity.value:<8}] {finding.title}")
    for finding in (r.finding for r in store.open_findings() if r.finding.kind == "not_eligible_offer"):
        say(f"""
            {finding.tenant_name}'s subscription "{demo.subscription_name(finding.scope)}" is on a benefit offer
            (quota ID {finding.facts.get("quotaId")}), on which Microsoft pays no ACR through PAL: one info,
            never "not attributed", and its cost stays out of the money at stake.
            """)


def cost_snapshot(demo: Demo) -> None:
    """The daily cost snapshot reads last month's cost of every delegated scope (Cost Management)."""
    import function_app
    from shared import money, words
    from shared.usecases import engine

    function_app.cost_snapshot(timer())
    cached = engine.get_engine().store.costs.all()
    known = [c for c in cached.values() if c.known]
    say(f"""
        {len(cached)} scopes queried within Microsoft's per-tenant limits (12 queries per 10 s, 60 a minute,
        600 an hour); {len(known)} read. What could not be read is said plainly:
        """)
    names = {s.scope.lower(): s for s in engine.get_engine().store.list_delegations()}
    rows = []
    for c in cached.values():
        subscription, group = words.scope_parts(c.scope)
        known_as = names.get(c.scope.lower()) or names.get(f"/subscriptions/{subscription}")
        customer = known_as.customer_tenant_name if known_as else ""
        named = known_as.subscription_name if known_as and known_as.subscription_name else f"{subscription[:8]}…"
        where = named + (f" / {group}" if group else "")
        shown = f"{money.amount(c.acr, c.currency)}/month" if c.known else money.unreadable_reason(c)
        rows.append((customer, where, shown))
    for customer, where, shown in sorted(rows):
        print(f"      {customer[:20]:<20} {where[:32]:<32} {shown}")


def new_customer(demo: Demo) -> None:
    """A new customer delegates a subscription: the Event Grid event brings it to PAL Watch at once."""
    import function_app

    relecloud = next(t for t in demo.scenario["tenants"] if t["displayName"] == "Relecloud")
    subscription = relecloud["subscriptions"][0]["subscriptionId"]
    pipeline = demo.principal("contoso-pipeline")
    body = {
        "registrationAssignmentId": str(uuid.uuid4()),
        "scope": f"/subscriptions/{subscription}",
        "registrationDefinitionId": str(uuid.uuid4()),
        "registrationDefinitionName": "Contoso MLOps",
        "managedByTenantId": demo.home["tenantId"],
        "authorizations": [
            {
                "principalId": demo.principal("id-palwatch-contoso"),
                "principalIdDisplayName": "PAL Watch",
                "roleDefinitionId": READER,
            },
            {"principalId": pipeline, "principalIdDisplayName": "contoso-pipeline", "roleDefinitionId": CONTRIBUTOR},
        ],
        "eligibleAuthorizations": [],
    }
    say(f"""
        Relecloud delegates subscription {subscription} with the Contoso MLOps offer: contoso-pipeline
        (a service principal that trusts PAL Watch's managed identity by federation) gets Contributor.
        contoso-pipeline linked before: {"yes" if pipeline in demo.links() else "no"}
        """)
    events = demo.emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]
    for event in events:
        say(f"{DIM}Event Grid → delegation_events: {event['eventType']} {event['subject'][-60:]}{RESET}")
        function_app.delegation_events(decode(event))
    if demo.observe:
        say(f"""
            contoso-pipeline linked now: {demo.links().get(pipeline, "no")}: PAL_MODE=observe writes no link.
            PAL Watch found it by federation and says: {demo.would_link(body["registrationAssignmentId"])}
            """)
    else:
        linked = demo.links().get(pipeline, "no")
        say(f"contoso-pipeline linked now: {linked} (found by federation and linked as itself)")


def person_delegation(demo: Demo) -> None:
    """Northwind adds a person to its delegation; she links herself with `palwatch link-me`."""
    from datetime import UTC, datetime

    import function_app
    from shared.usecases import engine, users

    northwind = next(t for t in demo.scenario["tenants"] if t["displayName"] == "Northwind Traders")
    subscription = northwind["subscriptions"][0]["subscriptionId"]
    alice = demo.principal("Alice Operator")
    body = {
        "registrationAssignmentId": DEMO_ASSIGNMENT,
        "scope": f"/subscriptions/{subscription}",
        "registrationDefinitionId": str(uuid.uuid4()),
        "registrationDefinitionName": "Contoso Premier Support",
        "managedByTenantId": demo.home["tenantId"],
        "authorizations": [
            {
                "principalId": demo.principal("id-palwatch-contoso"),
                "principalIdDisplayName": "PAL Watch",
                "roleDefinitionId": READER,
            },
            {"principalId": alice, "principalIdDisplayName": "Alice Operator", "roleDefinitionId": CONTRIBUTOR},
        ],
        "eligibleAuthorizations": [],
    }
    for event in demo.emulator.control("PUT", f"/delegations/{DEMO_ASSIGNMENT}", body)["events"]:
        function_app.delegation_events(decode(event))
    store = engine.get_engine().store
    finding = next(r.finding for r in store.open_findings() if r.finding.subject.endswith(DEMO_ASSIGNMENT))
    say(f"""
        Northwind's new "Contoso Premier Support" delegation gives Alice Operator (a user) Contributor,
        as Tailwind's shared-services resource group (rg-shared) already does through the same offer.
        The app cannot link a person, so it says what she must do ({finding.reason}):
        """)
    print(textwrap.indent(finding.fix, "      "))
    outcome = users.link_me(
        engine.get_engine(), demo.emulator.signed_in(alice, demo.home["tenantId"]), datetime.now(UTC)
    )
    say(f"Alice runs `palwatch link-me`: {outcome}.")


def operator_leaves(demo: Demo) -> None:
    """Alice leaves the company: her account is deleted, and the loss is flagged with what it costs."""
    from datetime import UTC, datetime

    import function_app
    from shared.usecases import engine, identities

    identities.ensure_graph_subscriptions(engine.get_engine(), datetime.now(UTC))
    alice = demo.principal("Alice Operator")
    events = demo.emulator.control("POST", f"/principals/{alice}", {"action": "softDelete"})["events"]
    say(f"An admin deletes Alice's account; Microsoft Graph sends {len(events)} change notification(s).")
    for event in events:
        say(f"{DIM}Graph partner topic → identity_events: {event.get('type')} {event.get('subject')}{RESET}")
        function_app.identity_events(decode(event))
    from shared.usecases import at_stake

    running = engine.get_engine()
    losses = [r.finding for r in at_stake.with_money(running, running.store.open_findings(), datetime.now(UTC))]
    for finding in losses:
        if finding.kind in ("attribution_lost", "identity_lost"):
            print(f"      [{finding.severity.value:<8}] {finding.title}")
            print(
                textwrap.fill(finding.facts.get("cost", ""), 100, initial_indent=" " * 17, subsequent_indent=" " * 17)
            )
            print(textwrap.indent(finding.fix, "                 "))
    if any(f.kind == "attribution_lost" for f in losses):
        say("""
            On Tailwind's rg-shared Alice was the only linked identity with an eligible role: partner
            credit stops there now, so it is a critical, and the alert says what is at stake.
            """)
    if any(f.kind == "identity_lost" and f.subject.endswith(DEMO_ASSIGNMENT) for f in losses):
        say("""
            Northwind's subscription still earns credit through its other offer, Contoso Managed Azure
            (contoso-automation, linked by PAL Watch): Microsoft counts credit per scope, so losing Alice
            there is a warning (coverage thinner), not a critical.
            """)


def verification(demo: Demo) -> None:
    """Someone removes a link by hand; the verification puts it back (or says it would) and reports coverage."""
    import function_app
    from shared import reports
    from shared.reports import money as money_report
    from shared.usecases import engine

    name = "contoso-ops" if demo.observe else "contoso-automation"  # observe mode linked no automation
    who = demo.principal(name)
    demo.emulator.control("DELETE", f"/links/{demo.home['tenantId']}/{who}")
    say(f"""
        An engineer runs `az managementpartner delete` as {name}: its link is gone
        (linked now: {demo.links().get(who, "no")}). No event exists for that; the verification finds it.
        """)
    function_app.verify_attribution(timer())
    store = engine.get_engine().store
    if demo.observe:
        said = [r.finding.title for r in store.open_findings() if r.finding.reason == "would_repair"]
        say(f"""
            After verify_attribution, PAL_MODE=observe: {name} linked now: {demo.links().get(who, "no")}.
            PAL Watch says: {said[0] if said else "nothing about it"}
            """)
    else:
        say(f"After verify_attribution: {name} linked to {demo.links().get(who, 'no')} again.")
    coverage, costs = store.get_coverage(), store.costs.all()
    for line in money_report.money_lines(coverage, costs):
        print(textwrap.indent(line, "    "))
    print(textwrap.indent(reports.coverage_table(coverage, width=160), "    "))
    REPORT.write_text(reports.coverage_html(coverage, money=money_report.money_html(coverage, costs)))
    say(f"The same coverage as a self-contained HTML page: {REPORT}")


def locations(demo: Demo) -> None:
    """Two locations of one partner: a link to Bergen is Contoso's own, counted and never re-pointed."""
    import function_app
    from shared.usecases import engine

    mi = demo.principal("id-palwatch-contoso")
    demo.emulator.control("PUT", f"/links/{demo.home['tenantId']}/{mi}", {"partnerId": BERGEN})
    demo.emulator.control("DELETE", "/journal")
    say(f"""
        The Bergen office links id-palwatch-contoso to its own location ID {BERGEN}
        (PAL_PARTNER_ID={SEATTLE}:Seattle,{BERGEN}:Bergen; Fabrikam's credit should go to Seattle).
        """)
    function_app.verify_attribution(timer())
    writes = [
        r
        for r in demo.emulator.control("GET", "/journal")["requests"]
        if "/providers/microsoft.managementpartner/partners" in r["path"].lower() and r["method"] in ("PUT", "PATCH")
    ]
    store = engine.get_engine().store
    coverage = store.get_coverage()
    per_location: dict[str, int] = {}
    for row in coverage.rows if coverage else ():
        for location in row.locations:
            per_location[location] = per_location.get(location, 0) + 1
    said = [r.finding.title for r in store.open_findings() if r.finding.kind == "link_location"]
    say(f"""
        After verify_attribution: id-palwatch-contoso linked to {demo.links().get(mi, "no")}, not re-pointed
        ({len(writes)} PAL write(s) in that run). Delegations credited per location: {per_location}.
        PAL Watch says, once: {said[0] if said else "nothing"}
        """)


def csp_customers(demo: Demo) -> None:
    """Two CSP customers with AOBO: what is left decides whether a loss is a warning or a critical."""
    from datetime import UTC, datetime

    import function_app
    from scripts import demo_csp
    from shared.usecases import engine

    running = engine.get_engine()
    home = demo_csp.Managing(demo.home["tenantId"], demo.home["defaultDomain"], demo.principal("id-palwatch-contoso"))
    for event in demo_csp.onboard(demo.emulator.control, home, running.settings.partner_id):
        function_app.delegation_events(decode(event))
    running.store.attest_user(home.tenant_id, demo_csp.CAROL, running.settings.partner_id, "demo", datetime.now(UTC))
    function_app.verify_attribution(timer())
    say("""
        Alpine Ski House and Coho Winery buy Azure through Contoso's CSP (Azure plan): Partner Center made
        Contoso's Admin Agents group Owner of their subscriptions (AOBO), a path to partner earned credit of
        its own. Alpine also delegates to Carol (linked); Coho only gives PAL Watch Reader.
        """)

    def about(subscription: str) -> list[Any]:
        return [r.finding for r in engine.get_engine().store.open_findings() if subscription in r.finding.scope]

    events = demo.emulator.control("POST", f"/principals/{demo_csp.CAROL}", {"action": "softDelete"})["events"]
    for event in events:
        function_app.identity_events(decode(event))
    say("Carol's account is deleted. Alpine's Lighthouse carrier is gone, but AOBO still holds Owner:")
    for finding in about(demo_csp.ALPINE_SUB):
        print(f"      [{finding.severity.value:<8}] {finding.title}")
        print(textwrap.fill(finding.detail, 100, initial_indent=" " * 17, subsequent_indent=" " * 17))
    for event in demo_csp.remove_aobo(demo.emulator.control):
        say(f"{DIM}Event Grid: {event['eventType']} {event['subject'][-70:]}{RESET}")
        function_app.delegation_events(decode(event))
    function_app.verify_attribution(timer())
    say("Coho Winery removes Admin Agents from its subscription; no PAL path holds there:")
    for finding in about(demo_csp.COHO_SUB):
        print(f"      [{finding.severity.value:<8}] {finding.title}")
        print(textwrap.indent(finding.fix, " " * 17))
    woodgrove = next(t for t in demo.scenario["tenants"] if t["displayName"] == "Woodgrove Bank")
    core = woodgrove["subscriptions"][0]["subscriptionId"]
    say("Woodgrove Bank has an Enterprise Agreement: no partner earned credit exists there, PAL gives recognition:")
    for finding in about(core):
        print(f"      [{finding.severity.value:<8}] {finding.title}")


NORTHWIND_LEGACY = "c0ffee00-5a1e-4b0b-9d2e-0d1e2f3a4b5c"  # a CSP subscription no delegation covers


def usage_line(subscription: str, customer: str, day: str, cost: float, percent: int) -> dict[str, Any]:
    """One daily rated usage line in Microsoft's attribute names (the `full` set, trimmed)."""
    return {
        "PartnerId": "24c37422-30bf-4299-b2f0-a128b77a3378",
        "CustomerId": customer,
        "MpnId": "5127255",
        "SubscriptionId": str(uuid.uuid5(uuid.NAMESPACE_URL, subscription)),  # the Azure plan's: not the join key
        "EntitlementId": subscription,  # the Azure subscription id
        "UsageDate": f"{day}T00:00:00Z",
        "MeterCategory": "Virtual Machines",
        "BillingPreTaxTotal": cost,
        "BillingCurrency": "USD",
        "PartnerEarnedCreditPercentage": percent,
    }


def credit_observed(demo: Demo) -> None:
    """The daily credit snapshot reads what Microsoft actually credited (Graph partner billing export)."""
    from datetime import UTC, datetime, timedelta

    import function_app
    from shared.decisions import billing
    from shared.usecases import coverage_view, engine

    tenants = {t["displayName"]: t for t in demo.scenario["tenants"]}
    fabrikam, northwind = tenants["Fabrikam, Inc."], tenants["Northwind Traders"]
    last = datetime.fromisoformat(billing.last_complete_day(datetime.now(UTC)))
    days = [(last - timedelta(days=n)).date().isoformat() for n in (1, 0)]
    prod, trade = fabrikam["subscriptions"][0]["subscriptionId"], northwind["subscriptions"][0]["subscriptionId"]
    lines = [usage_line(prod, fabrikam["tenantId"], d, cost, 0) for d, cost in zip(days, (412.50, 388.20), strict=True)]
    lines += [usage_line(trade, northwind["tenantId"], d, 1240.00, 15) for d in days]
    lines += [usage_line(NORTHWIND_LEGACY, northwind["tenantId"], d, 96.40, 15) for d in days]
    demo.emulator.control("PUT", "/partnerBilling", {"currency": "USD", "usage": lines, "retryAfterSeconds": 1})
    function_app.credit_snapshot(timer())
    store = engine.get_engine().store
    say(f"""
        Microsoft's billing export (Graph, PartnerBilling.Read.All) for the two complete days {days[0]} and
        {days[1]}: {len(lines)} usage lines, joined to PAL Watch's scopes on EntitlementId (the Azure
        subscription; the line's SubscriptionId is the Azure plan's). What Microsoft credited, beside the verdict:
        """)
    for finding in (r.finding for r in store.open_findings() if r.finding.kind.startswith("credit_")):
        print(f"      [{finding.severity.value:<8}] {finding.title}")
        print(f"                 {finding.facts.get('cost') or finding.detail}")
    coverage = coverage_view.current(engine.get_engine())
    shown = {r.scope.lower(): r for r in (coverage.rows if coverage else ()) if r.credit_observed != "not in billing"}
    for row in shown.values():
        if row.credit_observed:
            print(f"      {row.customer_tenant_name[:20]:<20} {row.scope[:52]:<52} {row.credit_observed}")


def alerts(demo: Demo) -> None:
    """Alerts reach the ops inbox: one message per batch, most severe first; the daily digest too."""
    import function_app
    from shared.usecases import engine

    os.environ["PAL_ALERT_DIGEST"] = "true"  # on from here, so today's digest has coverage and costs to tell
    engine.reset_engine()
    function_app.watch_delegations(timer())
    files = sorted(INBOX.glob("*.eml"))
    mailbox = demo.emulator.control("GET", "/mailbox")
    messages = mailbox.get("messages", mailbox) if isinstance(mailbox, dict) else mailbox
    say(f"""
        {len(files)} message(s) written to {INBOX} (open them in any mail client),
        and {len(messages)} sent through Microsoft Graph to the emulator's mailbox.
        """)
    for path in files[:5]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        print(f"      {path.name}: {message['Subject']}")


STEPS: list[Callable[[Demo], None]] = [
    doctor,
    new_customer,
    first_watch,
    cost_snapshot,
    person_delegation,
    operator_leaves,
    verification,
    csp_customers,
    credit_observed,
    locations,
    alerts,
]


def clear_previous_run(run_dir: Path = RUN_DIR) -> None:
    """Only the demo's own files go: a sandbox running beside it keeps its settings and inbox in .run."""
    shutil.rmtree(run_dir / INBOX.name, ignore_errors=True)
    for name in (REPORT.name, LOG.name):
        (run_dir / name).unlink(missing_ok=True)
    (run_dir / INBOX.name).mkdir(parents=True)


def main() -> int:
    clear_previous_run()
    # The engine's operator log goes to a file, so the narration stays readable.
    logging.basicConfig(filename=LOG, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"{BOLD}PAL Watch — the local demo{RESET} (emulated Entra ID, ARM and Graph; Azurite for state)")
    with services.azurite() as storage, services.emulator() as emulator:
        say(f"emulator on {emulator.info['arm']}, Azurite tables on loopback; nothing leaves this machine")
        run_steps(Demo(emulator, storage), STEPS)
    print(f"\n{BOLD}Done.{RESET} Alerts: {INBOX}   Coverage page: {REPORT}   Engine log: {LOG}")
    return 0


def interruptible() -> int:
    """`make run` stopped with Ctrl-C: the services stop (their context managers), no traceback."""
    try:
        return main()
    except KeyboardInterrupt:
        print("\ninterrupted: the emulator and Azurite were stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(interruptible())
