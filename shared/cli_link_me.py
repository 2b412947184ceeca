"""`palwatch link-me` and `palwatch attest`: the CLI face of shared.usecases.users.

Registered with shared.cli on import (listed in `cli.PLUGIN_MODULES`). link-me signs in as the
person running it (Azure CLI, VS Code or device code, through azure-identity), never as the app.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from shared import cli

CREDENTIALS = ("default", "cli", "vscode", "device-code")


def _configure_link_me(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenant", help="the tenant to link in (default: PAL_MANAGING_TENANT_ID, the right one for Lighthouse)"
    )
    parser.add_argument("--partner-id", help="the associated partner ID (default: PAL_PARTNER_ID)")
    parser.add_argument(
        "--credential",
        choices=CREDENTIALS,
        default="default",
        help="how you sign in: your Azure CLI login, VS Code, or a device code (default: the first that works)",
    )


def person_credential(kind: str, tenant_id: str, authority: str) -> Any:
    """A credential for the person at the keyboard; never a managed identity or app secret."""
    from azure import identity as azure_identity

    if kind == "cli":
        return azure_identity.AzureCliCredential(tenant_id=tenant_id)
    if kind == "vscode":
        return azure_identity.VisualStudioCodeCredential(tenant_id=tenant_id)
    if kind == "device-code":
        return azure_identity.DeviceCodeCredential(tenant_id=tenant_id, authority=authority)
    return azure_identity.DefaultAzureCredential(
        authority=authority,
        exclude_environment_credential=True,
        exclude_managed_identity_credential=True,
        exclude_workload_identity_credential=True,
        shared_cache_tenant_id=tenant_id,
        visual_studio_code_tenant_id=tenant_id,
        additionally_allowed_tenants=[tenant_id],
    )


def _run_link_me(args: argparse.Namespace) -> int:
    from shared import settings as settings_module
    from shared.azure import errors
    from shared.usecases import engine as engine_module
    from shared.usecases import users

    settings = settings_module.load_settings()
    tenant = args.tenant or settings.managing_tenant_id
    engine = engine_module.Engine(settings)
    try:
        credential = person_credential(args.credential, tenant, settings.authority_host)
        outcome = users.link_me(engine, credential, datetime.now(UTC), partner_id=args.partner_id or "")
    except errors.PartnerIdInvalidError:
        print(
            f"Microsoft does not accept partner ID {args.partner_id or settings.partner_id}: use the *associated* "
            "partner ID shown on your Partner Center profile, not the global one."
        )
        return 1
    except errors.AzureError as e:
        print(f"link-me failed: {e}")
        return 1
    finally:
        engine.close()
    print(outcome)
    return 0


def _configure_attest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("object_id", help="the user's object id in the managing tenant")
    parser.add_argument("--by", default="an operator", help="who vouches for the link (kept with the attestation)")


def _run_attest(args: argparse.Namespace) -> int:
    from shared import roles
    from shared import settings as settings_module
    from shared.usecases import engine as engine_module
    from shared.usecases import users

    if not roles.is_guid(args.object_id):
        print(f"{args.object_id!r} is not an object id (a GUID)")
        return 2
    settings = settings_module.load_settings()
    engine = engine_module.Engine(settings)
    try:
        now = datetime.now(UTC)
        users.attest(engine, settings.managing_tenant_id, args.object_id, by=args.by, now=now)
        attributed = users.reassess_waiting(engine, now)
    finally:
        engine.close()
    print(f"{args.object_id} recorded as linked to {settings.partner_id}; {len(attributed)} delegation(s) attributed")
    return 0


cli.register(
    "link-me",
    "link YOUR sign-in to the partner ID (users cannot be linked by the app) and record it",
    _configure_link_me,
    _run_link_me,
)
cli.register(
    "attest",
    "record that a user linked the partner ID outside PAL Watch, so it counts as linked",
    _configure_attest,
    _run_attest,
)
