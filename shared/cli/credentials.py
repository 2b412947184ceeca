"""`--credential` for every `palwatch` command: who the CLI is when the app's identity is not at hand.

Used by shared.cli (doctor), shared.cli.verify (verify, report, findings) and shared.cli.link_me
(link-me, attest). In Azure the app runs as its managed identity; on a laptop there is none, so
the operator's own sign-in plays that part wherever the app would use its managed identity:
ARM, Graph, the activity log and the state tables. The operator then needs what the app has
(docs/deploy.md, "Run the CLI from a laptop"), at least Storage Table Data Contributor on the
app's storage account. Identities in PAL_IDENTITIES with their own secret or certificate keep
them; federated ones trust only the managed identity, so they work only where the app runs
(the `health` function).
"""

from __future__ import annotations

import argparse
from typing import Any

from shared.azure import identity

CREDENTIALS = ("managed-identity", "default", "cli", "device-code")
HELP = (
    "who the CLI is where the app would use its managed identity: managed-identity (default; only where "
    "the app runs), default (azure-identity DefaultAzureCredential: environment, workload identity, Azure CLI, "
    "VS Code...), cli (your `az login --tenant <managing tenant>`), device-code (sign in in a browser)"
)


class SignedInCredentials(identity.Credentials):
    """Credentials where one given credential (a person or a pipeline) plays the managed identity."""

    def __init__(self, settings: Any, credential: Any, kind: str, **options: Any) -> None:
        super().__init__(settings, **options)
        self.kind = kind
        self._signed_in = credential

    def managed_identity(self) -> Any:
        return self._signed_in


def signed_in_credential(kind: str, settings: Any) -> Any:
    """The azure-identity credential for `kind` (not `managed-identity`), in the managing tenant."""
    from azure import identity as azure_identity

    tenant = settings.managing_tenant_id
    if kind == "cli":
        return azure_identity.AzureCliCredential(tenant_id=tenant)
    if kind == "device-code":
        return azure_identity.DeviceCodeCredential(tenant_id=tenant, authority=settings.authority_host)
    if kind == "default":
        options: dict[str, Any] = {"authority": settings.authority_host}
        if settings.managed_identity_client_id:
            options["managed_identity_client_id"] = settings.managed_identity_client_id
        return azure_identity.DefaultAzureCredential(**options)
    raise ValueError(f"unknown credential kind {kind!r}: choose one of {', '.join(CREDENTIALS)}")


def credentials_for(kind: str, settings: Any, **options: Any) -> identity.Credentials:
    """The engine's credentials for `--credential kind`."""
    if kind == "managed-identity":
        return identity.Credentials(settings, **options)
    return SignedInCredentials(settings, signed_in_credential(kind, settings), kind, **options)


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--credential", choices=CREDENTIALS, default="managed-identity", help=HELP)


def acts_as_app(engine: Any) -> str:
    """Empty when the signed-in credential is PAL Watch's own managed identity (its token's app id is
    AZURE_CLIENT_ID); else the sentence saying whose it is and that the run is read-only."""
    settings = engine.settings
    who = identity.whoami(engine.credentials.managed_identity(), settings.arm_scope)
    app = settings.managed_identity_client_id.lower()
    if app and who.app_id.lower() == app:
        return ""
    return (
        f"signed in as {who.object_id or 'an unknown identity'} (oid), not PAL Watch's managed identity"
        f" (AZURE_CLIENT_ID {app or 'not set'}): read-only run, as --dry-run (no PAL link, finding, snapshot, "
        "coverage or alert is written). Add --write to act as the app with this identity."
    )
