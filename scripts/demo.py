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
from typing import Any

from scripts import services

RUN_DIR = services.ROOT / ".run"
INBOX = RUN_DIR / "inbox"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
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
    from shared.usecases import engine

    before = demo.links()
    function_app.watch_delegations(timer())
    store = engine.get_engine().store
    snapshots = store.list_delegations(include_removed=False)
    linked_now = [oid for oid in demo.links() if oid not in before]
    say(f"""
        PAL Watch found {len(snapshots)} delegations to Contoso MSP in the activity log and linked
        {len(linked_now)} identit{"y" if len(linked_now) == 1 else "ies"} it can act as, without a human:
        """)
    for oid in linked_now:
        print(f"      + {demo.name_of(oid)} → partner ID {demo.links()[oid]}")
    attributed = sum(1 for s in snapshots if s.attributed)
    say(f"{attributed} of {len(snapshots)} delegations earn partner credit now. Open findings:")
    for recorded in store.open_findings():
        finding = recorded.finding
        print(f"      [{finding.severity.value:<8}] {finding.title}")


def new_customer(demo: Demo) -> None:
    """A new customer delegates a subscription: the Event Grid event links the partner ID at once."""
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
    say(f"contoso-pipeline linked now: {demo.links().get(pipeline, 'no')} (found by federation and linked as itself)")


def alerts(demo: Demo) -> None:
    """Alerts reach the ops inbox: one message per batch, most severe first."""
    import function_app

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


STEPS: list[Callable[[Demo], None]] = [doctor, new_customer, first_watch, alerts]


def main() -> int:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    INBOX.mkdir(parents=True)
    # The engine's operator log goes to a file, so the narration stays readable.
    logging.basicConfig(
        filename=RUN_DIR / "palwatch.log", level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    print(f"{BOLD}PAL Watch — the local demo{RESET} (emulated Entra ID, ARM and Graph; Azurite for state)")
    with services.azurite() as storage, services.emulator() as emulator:
        say(f"emulator on {emulator.info['arm']}, Azurite tables on loopback; nothing leaves this machine")
        run_steps(Demo(emulator, storage), STEPS)
    print(f"\n{BOLD}Done.{RESET} Alerts: {INBOX}   Engine log: {RUN_DIR / 'palwatch.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
