"""Builds emulator scenarios: the hand-written `demo` estate (Contoso MSP and its customers)
and a generated `large` one for `make bench`.

`python -m emulator.make_scenario demo > emulator/scenarios/demo.json` regenerates the demo
(object ids are stable, the certificate is new: copy contoso-deploy's `credentials` back from the
committed file to keep it); `python -m emulator.make_scenario large
--tenants 1000 --delegations 5000 --out FILE` writes a bench estate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

NS = uuid.UUID("6f1f3a52-4f0e-4c51-9d1e-2b7b1c0f6e11")
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
MONITORING_READER = "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
DESKTOP_VIRTUALIZATION_CONTRIBUTOR = "082f0a83-3be5-4ba1-904c-961cca79b387"
GRAPH_ROLES = ["User.Read.All", "Group.Read.All", "Application.Read.All", "Mail.Send", "PartnerBilling.Read.All"]
LINKED_SINCE = "2026-01-05T09:00:00Z"  # the partner linked its identities long before PAL Watch came
# Offers (subscriptionPolicies.quotaId), from Microsoft's table of quota IDs per offer
# (learn.microsoft.com/azure/cost-management-billing/costs/understand-cost-mgt-data, "Supported
# Microsoft Azure offers"): most of an MSP's customers buy through CSP, one has an Enterprise Agreement.
CSP = "CSP_2015-05-01"  # Microsoft Azure (CSP) and Microsoft Azure Plan bought through a partner
AZURE_PLAN = "CSP_MG_2017-12-01"  # Microsoft Azure Plan (Microsoft Customer Agreement supported by partners)
ENTERPRISE = "EnterpriseAgreement_2014-09-01"
PAY_AS_YOU_GO = "PayAsYouGo_2014-09-01"
VISUAL_STUDIO = "MSDN_2014-09-01"  # MSDN Platforms, Visual Studio Professional / Enterprise: a monthly credit


def gid(name: str) -> str:
    """A stable, random-looking (version 4) GUID for a name, so the demo's ids never change."""
    digest = hashlib.sha256(f"{NS}:{name}".encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))


def certificate(common_name: str) -> tuple[str, str]:
    """A self-signed RSA certificate and its key, as the app registration would hold them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def auth(principal: dict[str, Any], role: str) -> dict[str, Any]:
    return {
        "principalId": principal["objectId"],
        "principalIdDisplayName": principal["displayName"],
        "roleDefinitionId": role,
    }


def delegation(  # noqa: PLR0917 - reads like a table row in demo()
    name: str, scope: str, managed_by: str, offer: str, auths: list, eligible: list | None = None
) -> dict:
    return {
        "registrationAssignmentId": gid("assignment:" + name),
        "scope": scope,
        "registrationDefinitionId": gid("definition:" + name),
        "registrationDefinitionName": offer,
        "description": f"{offer} ({name})",
        "managedByTenantId": managed_by,
        "authorizations": auths,
        "eligibleAuthorizations": eligible or [],
    }


def quota_id(offer: list[str]) -> dict[str, str]:
    return {"quotaId": offer[0]} if offer else {}


def customer(key: str, name: str, domain: str, subs: list[tuple], principals=None) -> dict:
    """A customer tenant; each subscription is (key, display name, resource groups[, quota ID]):
    without a quota ID the emulator serves its default offer."""
    return {
        "tenantId": gid("tenant:" + key),
        "displayName": name,
        "defaultDomain": domain,
        "subscriptions": [
            {"subscriptionId": gid("sub:" + s), "displayName": title, "resourceGroups": rgs, **quota_id(offer)}
            for s, title, rgs, *offer in subs
        ],
        "principals": principals or [],
    }


def demo() -> dict[str, Any]:
    home = gid("tenant:contoso")
    ops_sub = gid("sub:contoso-ops")
    mi = {
        "objectId": gid("mi:palwatch"),
        "type": "ManagedIdentity",
        "clientId": gid("mi-client:palwatch"),
        "displayName": "id-palwatch-contoso",
        "resourceId": f"/subscriptions/{ops_sub}/resourceGroups/rg-palwatch/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id-palwatch-contoso",
        "rootRoles": [MONITORING_READER],
        "graphAppRoles": GRAPH_ROLES,
    }
    automation = {
        "objectId": gid("sp:automation"),
        "type": "ServicePrincipal",
        "appId": gid("app:automation"),
        "displayName": "contoso-automation",
        "label": "automation",
        "accountEnabled": True,
        "credentials": {"federatedSubjects": [mi["objectId"]]},
    }
    ops = {
        "objectId": gid("sp:ops"),
        "type": "ServicePrincipal",
        "appId": gid("app:ops"),
        "displayName": "contoso-ops",
        "label": "ops",
        "accountEnabled": True,
        "credentials": {"secret": "emu~ops~" + uuid.uuid5(NS, "secret:ops").hex},
    }
    cert_pem, key_pem = certificate("contoso-deploy")
    deploy = {
        "objectId": gid("sp:deploy"),
        "type": "ServicePrincipal",
        "appId": gid("app:deploy"),
        "displayName": "contoso-deploy",
        "label": "deploy",
        "accountEnabled": True,
        "credentials": {"certificatePem": cert_pem, "privateKeyPem": key_pem},
    }
    portal_app = gid("app:portal")
    portal = {
        "objectId": gid("sp:portal"),
        "type": "ServicePrincipal",
        "appId": portal_app,
        "displayName": "Contoso Managed Services Portal",
        "label": "portal",
        "accountEnabled": True,
        "credentials": {"secret": "emu~portal~" + uuid.uuid5(NS, "secret:portal").hex},
    }
    pipeline = {
        "objectId": gid("sp:pipeline"),
        "type": "ServicePrincipal",
        "appId": gid("app:pipeline"),
        "displayName": "contoso-pipeline",
        "accountEnabled": True,
        "configured": False,
        "credentials": {"federatedSubjects": [mi["objectId"]]},
    }
    alice = {
        "objectId": gid("user:alice"),
        "type": "User",
        "displayName": "Alice Operator",
        "userPrincipalName": "alice@contosomsp.onmicrosoft.com",
        "accountEnabled": True,
    }
    bob = {
        "objectId": gid("user:bob"),
        "type": "User",
        "displayName": "Bob Engineer",
        "userPrincipalName": "bob@contosomsp.onmicrosoft.com",
        "accountEnabled": True,
    }
    tier2 = {
        "objectId": gid("group:tier2"),
        "type": "Group",
        "displayName": "Contoso MSP Tier 2",
        "members": [bob["objectId"]],
    }
    operators = {
        "objectId": gid("group:operators"),
        "type": "Group",
        "displayName": "Contoso MSP Operators",
        "members": [alice["objectId"], ops["objectId"], tier2["objectId"]],
    }
    mailer = {
        "objectId": gid("user:palwatch-mailer"),
        "type": "User",
        "displayName": "PAL Watch alerts",
        "userPrincipalName": "palwatch@contosomsp.onmicrosoft.com",
        "accountEnabled": True,
    }
    principals = [mi, automation, ops, deploy, portal, pipeline, alice, bob, tier2, operators, mailer]

    other_msp = gid("tenant:fourthcoffee")
    other_user = {
        "objectId": gid("user:fourthcoffee-admin"),
        "type": "User",
        "displayName": "Fourth Coffee Admin",
        "userPrincipalName": "admin@fourthcoffeemsp.onmicrosoft.com",
    }

    def portal_in(key: str) -> dict[str, Any]:
        return {
            "objectId": gid("sp:portal:" + key),
            "type": "ServicePrincipal",
            "appId": portal_app,
            "displayName": "Contoso Managed Services Portal",
            "accountEnabled": True,
        }

    customers = [
        customer(
            "fabrikam",
            "Fabrikam, Inc.",
            "fabrikam.onmicrosoft.com",
            [
                ("fabrikam-prod", "Fabrikam Production", ["rg-erp"], CSP),
                # a developer's Visual Studio Enterprise subscription, onboarded with the rest
                ("fabrikam-dev", "Fabrikam Dev (Visual Studio)", [], VISUAL_STUDIO),
            ],
        ),
        customer(
            "northwind",
            "Northwind Traders",
            "northwindtraders.onmicrosoft.com",
            [("northwind-prod", "Northwind - Prod", [], CSP)],
        ),
        customer(
            "tailwind",
            "Tailwind Traders",
            "tailwindtraders.onmicrosoft.com",
            [("tailwind-retail", "Tailwind Retail", ["rg-web", "rg-data", "rg-shared"], CSP)],
        ),
        customer(
            "woodgrove",
            "Woodgrove Bank",
            "woodgrovebank.onmicrosoft.com",
            [
                ("woodgrove-core", "Woodgrove Core Banking", [], ENTERPRISE),
                ("woodgrove-dev", "Woodgrove Dev/Test", [], ENTERPRISE),
            ],
        ),
        customer(
            "adventureworks",
            "Adventure Works Cycles",
            "adventureworks.onmicrosoft.com",
            [("adventureworks-prod", "AdventureWorks Production", [], CSP)],
        ),
        customer(
            "litware",
            "Litware, Inc.",
            "litware.onmicrosoft.com",
            [("litware-analytics", "Litware Analytics", ["rg-ml"], PAY_AS_YOU_GO)],
            [portal_in("litware")],
        ),
        customer(
            "proseware",
            "Proseware, Inc.",
            "proseware.onmicrosoft.com",
            [("proseware-platform", "Proseware Platform", [], CSP)],
            [portal_in("proseware")],
        ),
        customer(
            "relecloud",
            "Relecloud",
            "relecloud.onmicrosoft.com",
            [("relecloud-prod", "Relecloud Prod", ["rg-app", "rg-db"], AZURE_PLAN)],
        ),
    ]

    def sub(key: str, rg: str | None = None) -> str:
        return f"/subscriptions/{gid('sub:' + key)}" + (f"/resourceGroups/{rg}" if rg else "")

    offer = "Contoso Managed Azure"
    # Every current offer names PAL Watch's managed identity as Reader (customer-onboarding/ adds it),
    # so the app can read the delegation; Adventure Works onboarded with a 2019 offer that does not.
    watch = auth(mi, READER)
    delegations = [
        delegation("fabrikam", sub("fabrikam-prod"), home, offer, [auth(mi, CONTRIBUTOR), auth(operators, READER)]),
        delegation("northwind", sub("northwind-prod"), home, offer, [watch, auth(automation, CONTRIBUTOR)]),
        delegation("tailwind-web", sub("tailwind-retail", "rg-web"), home, offer, [watch, auth(ops, CONTRIBUTOR)]),
        delegation(
            "tailwind-data", sub("tailwind-retail", "rg-data"), home, offer, [watch, auth(deploy, VM_CONTRIBUTOR)]
        ),
        delegation(
            "tailwind-shared",
            sub("tailwind-retail", "rg-shared"),
            home,
            "Contoso Premier Support",
            [watch, auth(alice, CONTRIBUTOR)],
        ),
        delegation(
            "woodgrove-core",
            sub("woodgrove-core"),
            home,
            "Contoso Monitoring",
            [watch, auth(operators, READER), auth(alice, READER)],
        ),
        delegation(
            "woodgrove-dev",
            sub("woodgrove-dev"),
            home,
            "Contoso Just-in-time",
            [watch, auth(alice, READER)],
            [auth(bob, CONTRIBUTOR)],
        ),
        delegation(
            "adventureworks", sub("adventureworks-prod"), home, "Contoso Managed Azure (2019)", [auth(bob, CONTRIBUTOR)]
        ),
        delegation("litware", sub("litware-analytics"), home, offer, [watch, auth(operators, CONTRIBUTOR)]),
        delegation(
            "litware-ml", sub("litware-analytics", "rg-ml"), home, "Contoso MLOps", [watch, auth(pipeline, CONTRIBUTOR)]
        ),
        delegation(
            "proseware",
            sub("proseware-platform"),
            home,
            offer,
            [watch, auth(portal, CONTRIBUTOR), auth(deploy, READER)],
        ),
        delegation(
            "proseware-fourthcoffee",
            sub("proseware-platform"),
            other_msp,
            "Fourth Coffee Support",
            [auth(other_user, CONTRIBUTOR)],
        ),
        delegation(
            "relecloud-app", sub("relecloud-prod", "rg-app"), home, offer, [watch, auth(automation, VM_CONTRIBUTOR)]
        ),
        delegation(
            "relecloud-db",
            sub("relecloud-prod", "rg-db"),
            home,
            "Contoso AVD",
            [watch, auth(automation, DESKTOP_VIRTUALIZATION_CONTRIBUTOR)],
        ),
        # Same offer on the Visual Studio subscription: the MI would carry its credit, but the offer earns none.
        delegation("fabrikam-dev", sub("fabrikam-dev"), home, offer, [auth(mi, CONTRIBUTOR)]),
    ]
    return {
        "description": "Contoso MSP and eight customers; see emulator/README.md for the table of principals.",
        # Two locations of one partner: links to either are Contoso's own (the demo links one to Bergen).
        "partnerIds": {"5127255": "Contoso MSP (Seattle)", "5127256": "Contoso MSP (Bergen)"},
        "globalPartnerIds": {"4000001": "Contoso MSP (global id: not valid for PAL)"},
        "graphClientState": "emu-client-state-" + uuid.uuid5(NS, "client-state").hex[:16],
        "tenants": [
            {
                "tenantId": home,
                "displayName": "Contoso MSP",
                "defaultDomain": "contosomsp.onmicrosoft.com",
                "home": True,
                "subscriptions": [
                    {
                        "subscriptionId": ops_sub,
                        "displayName": "Contoso MSP - Operations",
                        "resourceGroups": ["rg-palwatch"],
                    }
                ],
                "principals": principals,
            },
            {
                "tenantId": other_msp,
                "displayName": "Fourth Coffee MSP",
                "defaultDomain": "fourthcoffeemsp.onmicrosoft.com",
                "subscriptions": [],
                "principals": [other_user],
            },
            *customers,
        ],
        "delegations": delegations,
        "links": [
            {"tenantId": home, "objectId": mi["objectId"], "partnerId": "5127255", "createdTime": LINKED_SINCE},
            {"tenantId": home, "objectId": ops["objectId"], "partnerId": "5127255", "createdTime": LINKED_SINCE},
            {"tenantId": home, "objectId": alice["objectId"], "partnerId": "5127255", "createdTime": LINKED_SINCE},
        ],
        "graphSubscriptions": [],
        "costs": demo_costs(sub),
    }


def charge(cost: float, rg: str | None = None, model: str = "OnDemand", publisher: str = "Azure", **extra: Any) -> dict:
    """One line of a subscription's last-month costs (the emulator's Cost Management data)."""
    row: dict[str, Any] = {"cost": cost, "pricingModel": model, "publisherType": publisher, "chargeType": "Usage"}
    if rg:
        row["resourceGroup"] = rg
    if model in ("Reservation", "SavingsPlan"):
        row["chargeType"] = "Purchase"
    return {**row, **extra}


def demo_costs(sub: Callable[[str], str]) -> dict[str, Any]:
    """Last month's costs per customer subscription: on-demand usage, reservations, savings plans,
    Spot and Marketplace apart; one EA subscription with view charges off; one in two currencies."""

    def sid(key: str) -> str:
        return sub(key).rsplit("/", 1)[-1]

    return {
        "subscriptions": [
            {
                "subscriptionId": sid("fabrikam-prod"),
                "offer": "CSP",
                "currency": "USD",
                "charges": [
                    charge(9200.0),
                    charge(1800.0, model="Reservation"),
                    charge(640.0, publisher="Marketplace"),
                ],
            },
            {
                # A Visual Studio subscription's usage runs against its monthly credit.
                "subscriptionId": sid("fabrikam-dev"),
                "currency": "USD",
                "charges": [charge(135.0)],
            },
            {
                "subscriptionId": sid("northwind-prod"),
                "offer": "CSP",
                "currency": "USD",
                "charges": [charge(16100.0), charge(2300.0, model="SavingsPlan"), charge(410.0, model="Spot")],
            },
            {
                "subscriptionId": sid("tailwind-retail"),
                "offer": "CSP",
                "currency": "USD",
                "charges": [
                    charge(3100.0, "rg-web"),
                    charge(5400.0, "rg-data"),
                    charge(1200.0, "rg-data", "Reservation"),
                    charge(6200.0, "rg-shared"),
                    charge(450.0, "rg-shared", "Spot"),
                ],
            },
            {
                "subscriptionId": sid("woodgrove-core"),
                "offer": "EA",
                "viewCharges": False,
                "currency": "USD",
                "charges": [charge(22000.0)],
            },
            {
                "subscriptionId": sid("woodgrove-dev"),
                "offer": "EA",
                "viewCharges": True,
                "currency": "USD",
                "charges": [charge(1450.0)],
            },
            {
                "subscriptionId": sid("adventureworks-prod"),
                "offer": "CSP",
                "currency": "USD",
                "charges": [charge(6800.0)],
            },
            {
                "subscriptionId": sid("litware-analytics"),
                "offer": "PAYG",
                "currency": "EUR",
                "charges": [charge(4300.0), charge(2900.0, "rg-ml"), charge(350.0, "rg-ml", publisher="Marketplace")],
            },
            {
                "subscriptionId": sid("proseware-platform"),
                "offer": "CSP",
                "currency": "USD",
                "charges": [charge(5100.0), charge(900.0, currency="GBP")],
            },
            {
                "subscriptionId": sid("relecloud-prod"),
                "offer": "CSP",
                "currency": "USD",
                "charges": [charge(2600.0, "rg-app"), charge(3900.0, "rg-db"), charge(800.0, "rg-db", "Spot")],
            },
        ]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.make_scenario")
    parser.add_argument("kind", choices=["demo", "large"])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--delegations", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.kind == "demo":
        scenario = demo()
    else:
        from emulator.large_scenario import large

        scenario = large(args.tenants, args.delegations)
    text = json.dumps(scenario, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
