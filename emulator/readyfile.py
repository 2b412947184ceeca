"""The ready-file contract: endpoints, CA bundle and the `env` settings that point the app and
azure-identity at this emulator for the loaded scenario (see README.md).

Written by `__main__` once the servers accept requests; also served at `GET /_emulator/env`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.server import App


def identities(app: App) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """PAL_IDENTITIES entries for the home tenant's credentialed service principals, plus settings."""
    world = app.world
    home = world.home_tenant()
    entries: list[dict[str, Any]] = []
    settings: dict[str, str] = {}
    for p in world.principals.values():
        if p.tenant_id != home or p.type != "ServicePrincipal" or not p.credentials or not p.active:
            continue
        if p.raw.get("configured") is False:
            continue
        creds = p.credentials
        kind = p.raw.get("palKind") or (
            "federated"
            if creds.get("federatedSubjects")
            else "certificate"
            if creds.get("certificatePem")
            else "secret"
        )
        name = p.raw.get("label") or re.sub(r"[^a-z0-9]+", "-", p.display_name.lower()).strip("-")
        setting_base = "PAL_IDENTITY_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")
        entry: dict[str, Any] = {"name": name, "kind": kind, "clientId": p.app_id}
        if kind == "secret":
            entry["secretSetting"] = setting_base + "_SECRET"
            settings[entry["secretSetting"]] = str(creds.get("secret", ""))
        elif kind == "certificate":
            entry["certificateSetting"] = setting_base + "_CERT"
            settings[entry["certificateSetting"]] = str(creds.get("privateKeyPem", "")) + str(creds["certificatePem"])
        entry["multiTenant"] = any(world.principals[o].tenant_id != home for o in world.by_app.get(p.app_id, []))
        entries.append(entry)
    return entries, settings


def env(app: App) -> dict[str, str]:
    world = app.world
    home = world.home_tenant() or ""
    mi = next((p for p in world.principals.values() if p.type == "ManagedIdentity" and p.tenant_id == home), None)
    entries, settings = identities(app)
    home_subs = world.tenants.get(home, {}).get("subscriptions", [])
    topic_sub = home_subs[0] if home_subs else "00000000-0000-0000-0000-000000000000"
    values = {
        "PAL_ARM_ENDPOINT": app.base,
        "PAL_GRAPH_ENDPOINT": app.base,
        "AZURE_AUTHORITY_HOST": app.base,
        "IDENTITY_ENDPOINT": app.identity_endpoint,
        "IDENTITY_HEADER": app.identity_header,
        "REQUESTS_CA_BUNDLE": str(app.ca_path),
        "PAL_MANAGING_TENANT_ID": home,
        "PAL_PARTNER_ID": next(iter(world.partner_ids), ""),
        "PAL_IDENTITIES": json.dumps(entries),
        "PAL_GRAPH_CLIENT_STATE": world.graph_client_state,
        "PAL_GRAPH_NOTIFICATION_URL": (
            f"EventGrid:?azuresubscriptionid={topic_sub}&resourcegroup=rg-palwatch"
            "&partnertopic=palwatch-graph&location=westeurope"
        ),
        **settings,
    }
    if mi is not None:
        values["AZURE_CLIENT_ID"] = mi.app_id
    return values


def info(app: App) -> dict[str, Any]:
    return {
        "arm": app.base,
        "graph": app.base,
        "authority": app.base,
        "control": app.base + "/_emulator",
        "identity_endpoint": app.identity_endpoint,
        "ca_bundle": str(app.ca_path),
        "pid": os.getpid(),
        "env": env(app),
    }


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ready-", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
