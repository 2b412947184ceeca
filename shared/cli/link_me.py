"""`palwatch link-me` and `palwatch attest`: the CLI face of shared.usecases.users.

Registered with shared.cli on import (imported by `cli._load_commands`). link-me signs in as the
person running it (Azure CLI or device code, through azure-identity), never as the app.
`attest` records (`add`), lists and revokes users linked outside the tool; it adds only users of
the managing tenant, checked in Graph.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from shared.cli import base as cli
from shared.cli import credentials as cli_credentials

CREDENTIALS = ("default", "cli", "device-code")


def _configure_link_me(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenant", help="the tenant to link in (default: PAL_MANAGING_TENANT_ID, the right one for Lighthouse)"
    )
    parser.add_argument("--partner-id", help="the associated partner ID (default: PAL_PARTNER_ID)")
    parser.add_argument(
        "--credential",
        choices=CREDENTIALS,
        default="default",
        help="how you sign in: your Azure CLI login or a device code (default: the first that works)",
    )


def person_credential(kind: str, tenant_id: str, authority: str) -> Any:
    """A credential for the person at the keyboard; never a managed identity or app secret."""
    from azure import identity as azure_identity

    if kind == "cli":
        return azure_identity.AzureCliCredential(tenant_id=tenant_id)
    if kind == "device-code":
        return azure_identity.DeviceCodeCredential(tenant_id=tenant_id, authority=authority)
    return azure_identity.DefaultAzureCredential(
        authority=authority,
        exclude_environment_credential=True,
        exclude_managed_identity_credential=True,
        exclude_workload_identity_credential=True,
        exclude_visual_studio_code_credential=True,
        shared_cache_tenant_id=tenant_id,
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
        # The same sign-in reaches the state tables (a laptop has no managed identity).
        engine.use_credentials(cli_credentials.SignedInCredentials(settings, credential, args.credential))
        outcome = users.link_me(engine, credential, datetime.now(UTC), partner_id=args.partner_id or "")
    except errors.PartnerIdInvalidError:
        print(
            f"Microsoft does not accept partner ID {args.partner_id or settings.partner_id}: use the *associated* "
            "partner ID shown on your Partner Center profile, not the global one."
        )
        return 1
    except errors.CredentialError:
        print(
            f"palwatch link-me could not sign you in to tenant {tenant}: run `az login --tenant {tenant}` "
            "and try again, or use `--credential device-code` (-v shows why)",
            file=sys.stderr,
        )
        return cli.EXIT_FAILED
    except errors.AzureError as e:
        print(f"palwatch link-me failed: {e}", file=sys.stderr)
        return cli.EXIT_FAILED
    finally:
        engine.close()
    if outcome.refused:  # the partner ID guard kept the link: nothing was written
        print(f"palwatch link-me: {outcome}", file=sys.stderr)
        return cli.EXIT_FAILED
    print(outcome)
    return cli.EXIT_OK


def _configure_attest(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    common = [cli.common_options()]
    add = actions.add_parser("add", help="record a user of the managing tenant as linked", parents=common)
    add.add_argument("object_id", help="the user's object id in the managing tenant")
    add.add_argument("--by", default="an operator", help="who vouches for the link (kept with the attestation)")
    listing = actions.add_parser("list", help="the users recorded as linked", parents=common)
    revoke = actions.add_parser("revoke", help="stop counting a user as linked", parents=common)
    revoke.add_argument("object_id", help="the user's object id")
    for action in (add, listing, revoke):
        cli_credentials.add_option(action)


def _run_attest(args: argparse.Namespace) -> int:
    from shared import roles
    from shared import settings as settings_module
    from shared.usecases import engine as engine_module

    action = getattr(args, "action", None) or "list"
    object_id = getattr(args, "object_id", "")
    if action != "list" and not roles.is_guid(object_id):
        print(f"palwatch attest: {object_id!r} is not an object id (a GUID)", file=sys.stderr)
        return cli.EXIT_USAGE
    engine = engine_module.Engine(settings_module.load_settings())
    kind = getattr(args, "credential", "managed-identity")
    if kind != "managed-identity":
        engine.use_credentials(cli_credentials.credentials_for(kind, engine.settings))
    try:
        return _ATTEST_ACTIONS[action](engine, args)
    finally:
        engine.close()


def _attest_add(engine: Any, args: argparse.Namespace) -> int:
    from shared.azure import errors
    from shared.usecases import users

    try:
        users.attest_user(engine, args.object_id, by=args.by, now=datetime.now(UTC))
    except users.NotAUserError as e:
        print(f"palwatch attest: {e}", file=sys.stderr)
        return cli.EXIT_FAILED
    except errors.AzureError as e:
        print(f"palwatch attest: could not check {args.object_id} in Graph: {e}", file=sys.stderr)
        return cli.EXIT_FAILED
    attributed = users.reassess_waiting(engine, datetime.now(UTC))
    print(
        f"{args.object_id} recorded as linked to {engine.settings.partner_id}; "
        f"{len(attributed)} delegation(s) attributed"
    )
    return cli.EXIT_OK


def _attest_list(engine: Any, args: argparse.Namespace) -> int:
    rows = [
        {
            "objectId": a.object_id,
            "tenantId": a.tenant_id,
            "partnerId": a.partner_id,
            "by": a.by,
            "at": a.at.isoformat(timespec="seconds") if a.at else None,
        }
        for a in engine.store.list_attested_users()
    ]
    cli.emit(args, rows, empty="No attested users: `palwatch attest add <objectId>` records one.")
    return cli.EXIT_OK


def _attest_revoke(engine: Any, args: argparse.Namespace) -> int:
    engine.store.remove_attestation(engine.managing_tenant_id, args.object_id.lower())
    print(f"{args.object_id} no longer counts as linked; the next verification decides again")
    return cli.EXIT_OK


_ATTEST_ACTIONS = {"add": _attest_add, "list": _attest_list, "revoke": _attest_revoke}


cli.register(
    "link-me",
    "link YOUR sign-in to the partner ID (users cannot be linked by the app) and record it",
    _configure_link_me,
    _run_link_me,
)
cli.register(
    "attest",
    "record (add), list or revoke users who linked the partner ID outside PAL Watch",
    _configure_attest,
    _run_attest,
    examples="examples:\n  palwatch attest add 7c2f5d11-3a4b-4c5d-8e9f-0a1b2c3d4e5f --by 'Alice, ops lead'\n"
    "  palwatch attest list -o table\n  palwatch attest revoke 7c2f5d11-3a4b-4c5d-8e9f-0a1b2c3d4e5f",
)
