"""The hand-written settings checks: where the fix-it message is the point, or one setting's
validity depends on another's.

`identities` reads `PAL_IDENTITIES` and the settings its entries name (the secrets and PEMs);
`cross_field` checks the rules between rows once every row is parsed (the previous partner ID,
the mail channel's sender, recipients and transport security). Called by `load_settings` only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from shared import model
from shared.settings import parsers

MANAGED_IDENTITY_NAME = "managed-identity"
IDENTITY_KINDS = ("federated", "certificate", "secret")
_KEY_VAULT_REF = "@microsoft.keyvault("
_IDENTITIES_EXAMPLE = (
    '[{"name": "ops-automation", "kind": "federated", "clientId": "<app id>"}, '
    '{"name": "ops", "kind": "secret", "clientId": "<app id>", "secretSetting": "PAL_IDENTITY_OPS_SECRET"}]'
)

Problem = Callable[[str, str], None]


def identities(
    env: Mapping[str, str], mi_client_id: str, problem: Problem
) -> tuple[tuple[model.ActingIdentity, ...], dict[str, str]]:
    """The managed identity first, then each `PAL_IDENTITIES` entry; and the material they name."""
    managed = model.ActingIdentity(name=MANAGED_IDENTITY_NAME, kind="managedIdentity", client_id=mi_client_id)
    raw = (env.get("PAL_IDENTITIES") or "").strip()
    if not raw:
        return (managed,), {}
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as error:
        problem("PAL_IDENTITIES", f"is not valid JSON ({error.msg} at {error.pos}); expected {_IDENTITIES_EXAMPLE}")
        return (managed,), {}
    if not isinstance(items, list):
        problem("PAL_IDENTITIES", f"must be a JSON list; expected {_IDENTITIES_EXAMPLE}")
        return (managed,), {}
    result = [managed]
    material: dict[str, str] = {}
    seen = {MANAGED_IDENTITY_NAME}
    for index, item in enumerate(items):
        identity, found = _identity(env, f"PAL_IDENTITIES[{index}]", item, seen, material)
        for name_and_text in found:
            problem(*name_and_text)
        if identity is not None:
            result.append(identity)
            seen.add(identity.name)
    return tuple(result), material


def _identity(
    env: Mapping[str, str], where: str, item: object, seen: set[str], material: dict[str, str]
) -> tuple[model.ActingIdentity | None, list[tuple[str, str]]]:
    """One entry as an identity, or None and its problems (its secret or PEM read into `material`)."""
    if not isinstance(item, dict):
        return None, [(where, 'must be an object like {"name": ..., "kind": ..., "clientId": ...}')]
    name = str(item.get("name") or "").strip()
    kind = str(item.get("kind") or "").strip()
    client_id = str(item.get("clientId") or "").strip()
    found: list[tuple[str, str]] = []
    if not name:
        found.append((where, 'needs a "name" (a label used in logs and findings)'))
    elif name in seen:
        found.append((where, f"name {name!r} is used twice (or is reserved for the managed identity)"))
    if kind not in IDENTITY_KINDS:
        found.append((where, f'"kind" must be one of {", ".join(IDENTITY_KINDS)}; got {kind!r}'))
    if not parsers.GUID.match(client_id):
        found.append((where, f'"clientId" must be the app (client) id GUID; got {client_id[:40]!r}'))
    secret_setting = str(item.get("secretSetting") or "").strip()
    certificate_setting = str(item.get("certificateSetting") or "").strip()
    if kind == "secret":
        found += _material(env, where, ("secretSetting", secret_setting), material, pem=False)
    if kind == "certificate":
        found += _material(env, where, ("certificateSetting", certificate_setting), material, pem=True)
    multi = item.get("multiTenant", False)
    if not isinstance(multi, bool):
        found.append((where, f'"multiTenant" must be true or false; got {multi!r}'))
    if found:
        return None, found
    identity = model.ActingIdentity(
        name=name,
        kind=kind,
        client_id=client_id.lower(),
        certificate_setting=certificate_setting if kind == "certificate" else "",
        secret_setting=secret_setting if kind == "secret" else "",
        multi_tenant=multi,
    )
    return identity, found


def _material(
    env: Mapping[str, str], where: str, key_and_setting: tuple[str, str], material: dict[str, str], *, pem: bool
) -> list[tuple[str, str]]:
    """Read the secret or PEM an entry names into `material`; the problems, if any."""
    key, setting = key_and_setting
    what = "PEM certificate with its private key" if pem else "client secret"
    if not setting:
        return [(where, f'needs "{key}": the name of the app setting holding the {what}')]
    value = env.get(setting) or ""
    if not value.strip():
        return [
            (
                setting,
                f"is named by {where}.{key} but is not set: add the app setting {setting} holding the "
                f"{what} (a Key Vault reference in Azure)",
            )
        ]
    if value.strip().lower().startswith(_KEY_VAULT_REF):
        return [
            (
                setting,
                "is an unresolved Key Vault reference: grant the function app's managed identity "
                "'Key Vault Secrets User' on the vault and check the secret URI",
            )
        ]
    if pem and ("-----BEGIN" not in value or "PRIVATE KEY-----" not in value):
        return [(setting, "must hold a PEM with both the certificate and its (RSA) private key")]
    material[setting] = value
    return []


def cross_field(values: Mapping[str, Any], problem: Problem) -> None:
    """The rules between settings, checked once every row is parsed (`values` by field path)."""
    previous, locations = values["previous_partner_id"], values["partner_locations"]
    if previous and previous in {location.partner_id for location in locations}:
        problem(
            "PAL_PARTNER_ID_PREVIOUS",
            "equals PAL_PARTNER_ID (one of its locations): set it to the partner ID you are moving away from, or "
            "leave it empty",
        )
    known = {location.partner_id for location in locations} | {location.name for location in locations if location.name}
    for tenant, location in values["customer_locations"]:
        if location not in known:
            problem(
                "PAL_PARTNER_ID_BY_CUSTOMER",
                f"{tenant}={location}: {location!r} is none of PAL_PARTNER_ID's locations (ids or names): "
                f"{', '.join(sorted(known)) or '(none)'}",
            )
    mail_from, mail_to = values["alerts.mail_from"], values["alerts.mail_to"]
    smtp_host, smtp_user = values["alerts.smtp_host"], values["alerts.smtp_user"]
    for address in (mail_from, *mail_to):
        if address and "@" not in address:
            problem("PAL_ALERT_MAIL_TO/PAL_ALERT_MAIL_FROM", f"{address!r} is not a mail address")
    if (mail_from or smtp_host) and not mail_to:
        problem("PAL_ALERT_MAIL_TO", "is required for mail alerts: the ops inbox (several: comma-separated)")
    if (mail_to or smtp_host) and not mail_from:
        problem("PAL_ALERT_MAIL_FROM", "is required for mail alerts: the mailbox alerts are sent from")
    if smtp_user and values["alerts.smtp_security"] == "none" and not parsers.is_loopback_host(smtp_host):
        problem(
            "PAL_ALERT_SMTP_SECURITY",
            "is none while PAL_ALERT_SMTP_USER is set: the password would cross the network in clear; "
            "use starttls or tls",
        )
