"""Typed, validated settings of the engine, read once from app settings / the environment.

`load_settings()` is called at start by the function triggers, the CLI and the doctor. It
collects every problem and raises one `SettingsError` naming each setting and its fix. Public
cloud defaults; every endpoint can be overridden for sovereign clouds and the emulator.
Secrets (client secrets, certificates, storage keys, SMTP password, Graph clientState) are
kept out of `repr()` and shown redacted by `describe()`.

Every setting is one row of `table.SETTINGS` (env name, field, parser, default, secret, doc);
the loader folds the rows into the frozen dataclasses below, `describe()` walks them, and
tools/settings_coverage.py checks infra/ and the docs against them. To add a setting:
1. add a field (no default: the row holds it) to `Settings` or its group (`AlertSettings`,
   `BillingSettings`, `CostSettings`, `StorageSettings`);
2. add its row to `table.SETTINGS`, with a parser from `parsers` (or a new one there, raising
   `ValueError` with the fix), and `not_in_infra="why"` if Azure must not set it;
3. add a line to the settings table of README.md (and `palSettings` in infra/main.bicep unless
   `not_in_infra` says why not): `make lint` fails until both are there.
A rule between settings goes to `checks.cross_field`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from shared import model
from shared.settings import checks, parsers, table
from shared.settings.checks import IDENTITY_KINDS, MANAGED_IDENTITY_NAME
from shared.settings.exemptions import EXEMPTION_SHAPE, exemption_json, parse_exemption
from shared.settings.parsers import SMTP_SECURITY, is_loopback_host
from shared.settings.table import MODES, PUBLIC_AUTHORITY_HOST, SETTINGS, Setting

__all__ = [
    "EXEMPTION_SHAPE", "IDENTITY_KINDS", "MANAGED_IDENTITY_NAME", "MODES", "PUBLIC_AUTHORITY_HOST", "SETTINGS",
    "SMTP_SECURITY", "AlertSettings", "BillingSettings", "CostSettings", "Setting", "Settings", "SettingsError",
    "StorageSettings",
    "exemption_json", "is_loopback_host", "load_settings", "parse_exemption",
]  # fmt: skip


class SettingsError(ValueError):
    """One or more settings are wrong. `problems` lists (setting, what is wrong and the fix)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = [f"- {name}: {text}" for name, text in self.problems]
        super().__init__(f"{len(self.problems)} setting(s) need attention:\n" + "\n".join(lines))


@dataclass(frozen=True)
class StorageSettings:
    """Where the store lives: a connection string, or identity-based (`__tableServiceUri`/`__accountName`)."""

    connection_string: str = field(repr=False)
    table_service_uri: str
    account_name: str
    table_prefix: str

    @property
    def configured(self) -> bool:
        return bool(self.connection_string or self.table_service_uri or self.account_name)

    @property
    def identity_based(self) -> bool:
        return not self.connection_string and bool(self.table_service_uri or self.account_name)

    @property
    def endpoint(self) -> str:
        """The table service URL for identity-based access ('' with a connection string)."""
        if self.table_service_uri:
            return self.table_service_uri
        if self.account_name:
            return f"https://{self.account_name}.table.core.windows.net"
        return ""


@dataclass(frozen=True)
class AlertSettings:
    """Alert channels; all optional. Parsed here so every setting is validated at start."""

    mail_from: str
    mail_to: tuple[str, ...]
    smtp_host: str
    smtp_port: int | None
    smtp_security: str
    smtp_user: str
    smtp_password: str = field(repr=False)
    webhook_url: str = field(repr=False)  # Teams/Slack URLs carry their own key
    events_topic_endpoint: str
    remind_hours: int  # 0: no reminders
    digest: bool
    digest_hour: int  # UTC hour from which the day's digest goes out (the first watch tick after it)
    outbox_dir: str

    @property
    def remind_every(self) -> timedelta:
        """The reminder period of open critical findings; zero turns reminders off."""
        return timedelta(hours=self.remind_hours)


@dataclass(frozen=True)
class CostSettings:
    """The daily cost snapshot (`cost_snapshot`) and the partner earned credit rate alerts quote."""

    enabled: bool
    schedule: str
    pec_rate: float | None  # no default: Microsoft publishes no fixed rate


@dataclass(frozen=True)
class BillingSettings:
    """The daily credit snapshot (`credit_snapshot`): Microsoft's partner billing export read and judged."""

    enabled: bool
    schedule: str
    currency: str  # the partner's billing currency: the export's currencyCode


@dataclass(frozen=True)
class Settings:
    """Everything the engine reads from its environment, validated."""

    partner_locations: tuple[model.PartnerLocation, ...]  # PAL_PARTNER_ID: the first is where new links point
    customer_locations: tuple[tuple[str, str], ...]  # customer tenant -> location id or name its credit goes to
    managing_tenant_id: str
    managed_identity_client_id: str
    previous_partner_id: str  # links still carrying it may be re-pointed (a deliberate change)
    mode: str  # "observe": decide and report, never write a PAL link
    exemptions: tuple[model.Exemption, ...]  # accepted findings, each with a reason and an expiry
    identities: tuple[model.ActingIdentity, ...]  # the managed identity first
    federation_discovery: bool
    attested_users: tuple[str, ...]
    customer_tenants: tuple[str, ...]  # where a multi-tenant app may be installed without Lighthouse
    csp_tenants: tuple[str, ...]  # customer tenants whose subscriptions are the partner's own CSP business
    aobo_group_ids: tuple[str, ...]  # Admin Agents groups (own, indirect provider's, reseller's) for AOBO
    arm_endpoint: str
    graph_endpoint: str
    authority_host: str
    arm_audience: str
    graph_audience: str
    identity_endpoint: str
    storage: StorageSettings
    max_concurrency: int
    http_timeout_seconds: float
    watch_schedule: str
    verify_schedule: str
    graph_notification_url: str
    graph_client_state: str = field(repr=False)
    alerts: AlertSettings
    costs: CostSettings
    billing: BillingSettings
    # Values of the settings that PAL_IDENTITIES names (secrets and PEMs): never in repr.
    credential_material: Mapping[str, str] = field(repr=False, compare=False, hash=False)

    @property
    def partner_id(self) -> str:
        """The partner ID new links point to: the first of PAL_PARTNER_ID's locations."""
        return self.partner_locations[0].partner_id if self.partner_locations else ""

    @property
    def partner_ids(self) -> tuple[str, ...]:
        """Every location ID of the partner, the default first."""
        return tuple(location.partner_id for location in self.partner_locations)

    def ours(self, partner_id: str | None) -> bool:
        """A link to any of the partner's locations is the partner's own: never re-pointed, always counted."""
        return bool(partner_id) and partner_id in self.partner_ids

    @property
    def location_names(self) -> dict[str, str]:
        """Location id -> the name PAL_PARTNER_ID gave it ("" unnamed)."""
        return {location.partner_id: location.name for location in self.partner_locations}

    @property
    def expected_locations(self) -> dict[str, str]:
        """Customer tenant -> the location ID its credit should go to (PAL_PARTNER_ID_BY_CUSTOMER)."""
        by_name = {location.name: location.partner_id for location in self.partner_locations if location.name}
        return {tenant: by_name.get(location, location) for tenant, location in self.customer_locations}

    @property
    def arm_scope(self) -> str:
        return _scope(self.arm_audience)

    @property
    def graph_scope(self) -> str:
        return _scope(self.graph_audience)

    @property
    def public_cloud(self) -> bool:
        return self.authority_host.rstrip("/").lower() == PUBLIC_AUTHORITY_HOST

    @property
    def observe_only(self) -> bool:
        return self.mode == "observe"

    @property
    def managed_identity(self) -> model.ActingIdentity:
        return self.identities[0]

    def secret_for(self, identity: model.ActingIdentity) -> str:
        """The client secret of a `secret` identity (from the setting it names)."""
        return self.credential_material.get(identity.secret_setting, "")

    def certificate_for(self, identity: model.ActingIdentity) -> bytes:
        """The PEM (certificate and private key) of a `certificate` identity."""
        return self.credential_material.get(identity.certificate_setting, "").encode()

    def describe(self) -> list[tuple[str, str]]:
        """(setting, value) pairs for the doctor, one per row of the table, secrets redacted."""
        rows = [(setting.env, setting.display(self._value(setting.field))) for setting in SETTINGS]
        for identity in self.identities[1:]:
            for name in (identity.secret_setting, identity.certificate_setting):
                if name:
                    rows.append((name, table.redacted(self.credential_material.get(name, ""))))
        return [(name, value if value else "(not set)") for name, value in rows]

    def _value(self, path: str) -> Any:
        group, _, name = path.rpartition(".")
        return getattr(getattr(self, group) if group else self, name)


_GROUPS = {"storage": StorageSettings, "alerts": AlertSettings, "costs": CostSettings, "billing": BillingSettings}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise one `SettingsError` listing all problems."""
    env = os.environ if environ is None else environ
    problems: list[tuple[str, str]] = []
    values = {setting.field: _read(setting, env, problems) for setting in SETTINGS}
    identities, material = checks.identities(env, values["managed_identity_client_id"], _add_to(problems))
    values["identities"] = identities
    checks.cross_field(values, _add_to(problems))
    if problems:
        raise SettingsError(problems)
    groups: dict[str, dict[str, Any]] = {name: {} for name in _GROUPS}
    top: dict[str, Any] = {}
    for path, value in values.items():
        group, _, name = path.rpartition(".")
        (groups[group] if group else top)[name] = value
    folded = {name: kind(**groups[name]) for name, kind in _GROUPS.items()}
    return Settings(**top, **folded, credential_material=MappingProxyType(material))


def _read(setting: Setting, env: Mapping[str, str], problems: list[tuple[str, str]]) -> Any:
    """One row's value: its default when unset or empty, else what its parser makes of it."""
    raw = env.get(setting.env) or ""
    text = raw.strip()
    if not text or setting.parse is None:
        if setting.required and not text:
            problems.append((setting.env, setting.required))
        return setting.default
    try:
        return setting.parse(text if setting.strip else raw, setting.default)
    except parsers.EntriesError as error:
        problems.extend((setting.env, problem) for problem in error.texts)
    except ValueError as error:
        problems.append((setting.env, str(error)))
    return setting.default


def _add_to(problems: list[tuple[str, str]]) -> checks.Problem:
    return lambda name, text: problems.append((name, text))


def _scope(audience: str) -> str:
    return audience.rstrip("/") + "/.default"
