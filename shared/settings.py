"""Typed, validated settings of the engine, read once from app settings / the environment.

`load_settings()` is called at start by the function triggers, the CLI and the doctor. It
collects every problem and raises one `SettingsError` naming each setting and its fix. Public
cloud defaults; every endpoint can be overridden for sovereign clouds and the emulator.
Secrets (client secrets, certificates, storage keys, SMTP password, Graph clientState) are
kept out of `repr()` and shown redacted by `describe()`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from urllib.parse import urlsplit

from shared import model, redaction

MANAGED_IDENTITY_NAME = "managed-identity"
IDENTITY_KINDS = ("federated", "certificate", "secret")
MODES = ("repair", "observe")  # PAL_MODE: observe never writes a PAL link
PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_KEY_VAULT_REF = "@microsoft.keyvault("
_ADDRESS_SEPARATORS = re.compile(r"[,;\s]+")  # Outlook writes ';', people write ',' or one a line
SMTP_SECURITY = ("starttls", "ssl", "tls", "none")  # "ssl" and "tls" both mean implicit TLS


class SettingsError(ValueError):
    """One or more settings are wrong. `problems` lists (setting, what is wrong and the fix)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = [f"- {name}: {text}" for name, text in self.problems]
        super().__init__(f"{len(self.problems)} setting(s) need attention:\n" + "\n".join(lines))


@dataclass(frozen=True)
class StorageSettings:
    """Where the store lives: a connection string, or identity-based (`__tableServiceUri`/`__accountName`)."""

    connection_string: str = field(default="", repr=False)
    table_service_uri: str = ""
    account_name: str = ""
    table_prefix: str = "palwatch"

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

    mail_from: str = ""
    mail_to: tuple[str, ...] = ()
    smtp_host: str = ""
    smtp_port: int | None = None
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    webhook_url: str = field(default="", repr=False)  # Teams/Slack URLs carry their own key
    events_topic_endpoint: str = ""
    remind_hours: int = 24  # 0: no reminders
    digest: bool = False
    digest_hour: int = 7  # UTC hour from which the day's digest goes out (the first watch tick after it)
    outbox_dir: str = ""

    @property
    def remind_every(self) -> timedelta:
        """The reminder period of open critical findings; zero turns reminders off."""
        return timedelta(hours=self.remind_hours)


@dataclass(frozen=True)
class CostSettings:
    """The daily cost snapshot (`cost_snapshot`) and the partner earned credit rate alerts quote."""

    enabled: bool = False  # PAL_COST
    schedule: str = "0 30 2 * * *"  # PAL_COST_SCHEDULE: daily, 02:30 UTC
    pec_rate: float | None = None  # PAL_PEC_RATE: no default, Microsoft publishes no fixed rate


@dataclass(frozen=True)
class Settings:
    """Everything the engine reads from its environment, validated."""

    partner_id: str
    managing_tenant_id: str
    managed_identity_client_id: str = ""
    previous_partner_id: str = ""  # links still carrying it may be re-pointed (a deliberate change)
    mode: str = "repair"  # "observe": decide and report, never write a PAL link
    exemptions: tuple[model.Exemption, ...] = ()  # accepted findings, each with a reason and an expiry
    identities: tuple[model.ActingIdentity, ...] = ()  # the managed identity first
    federation_discovery: bool = True
    attested_users: tuple[str, ...] = ()
    customer_tenants: tuple[str, ...] = ()  # where a multi-tenant app may be installed without Lighthouse
    csp_tenants: tuple[str, ...] = ()  # customer tenants whose subscriptions are the partner's own CSP business
    aobo_group_ids: tuple[str, ...] = ()  # Admin Agents groups (own, indirect provider's, reseller's) for AOBO
    arm_endpoint: str = "https://management.azure.com"
    graph_endpoint: str = "https://graph.microsoft.com"
    authority_host: str = PUBLIC_AUTHORITY_HOST
    arm_audience: str = "https://management.azure.com/"
    graph_audience: str = "https://graph.microsoft.com"
    identity_endpoint: str = ""
    storage: StorageSettings = field(default_factory=StorageSettings)
    max_concurrency: int = 16
    http_timeout_seconds: float = 30.0
    watch_schedule: str = "0 */5 * * * *"
    verify_schedule: str = "0 0 */6 * * *"
    graph_notification_url: str = ""
    graph_client_state: str = field(default="", repr=False)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    costs: CostSettings = field(default_factory=CostSettings)
    # Values of the settings that PAL_IDENTITIES names (secrets and PEMs): never in repr.
    credential_material: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False, hash=False
    )

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
        """(setting, value) pairs for the doctor, secrets redacted."""
        alerts, storage = self.alerts, self.storage
        rows = [
            ("PAL_PARTNER_ID", self.partner_id),
            ("PAL_PARTNER_ID_PREVIOUS", self.previous_partner_id),
            ("PAL_MODE", self.mode),
            ("PAL_EXEMPTIONS", f"{len(self.exemptions)} exemption(s)" if self.exemptions else ""),
            ("PAL_MANAGING_TENANT_ID", self.managing_tenant_id),
            ("AZURE_CLIENT_ID", self.managed_identity_client_id or "(system-assigned identity)"),
            ("PAL_IDENTITIES", ", ".join(f"{i.name} ({i.kind})" for i in self.identities[1:]) or "(none)"),
            ("PAL_FEDERATION_DISCOVERY", str(self.federation_discovery).lower()),
            ("PAL_ATTESTED_USERS", ", ".join(self.attested_users) or "(none)"),
            ("PAL_CUSTOMER_TENANTS", ", ".join(self.customer_tenants) or "(none)"),
            ("PAL_CSP_TENANTS", ", ".join(self.csp_tenants) or "(none)"),
            ("PAL_AOBO_GROUP_IDS", ", ".join(self.aobo_group_ids) or "(found in Graph: AdminAgents)"),
            ("PAL_ARM_ENDPOINT", self.arm_endpoint),
            ("PAL_GRAPH_ENDPOINT", self.graph_endpoint),
            ("AZURE_AUTHORITY_HOST", self.authority_host),
            ("PAL_ARM_AUDIENCE", self.arm_audience),
            ("PAL_GRAPH_AUDIENCE", self.graph_audience),
            ("IDENTITY_ENDPOINT", self.identity_endpoint or "(not set: not running in Azure)"),
            ("AzureWebJobsStorage", _redact_connection_string(storage.connection_string)),
            (
                "AzureWebJobsStorage__tableServiceUri",
                _endpoint_shown(storage.endpoint) if storage.identity_based else "",
            ),
            ("PAL_TABLE_PREFIX", storage.table_prefix),
            ("PAL_MAX_CONCURRENCY", str(self.max_concurrency)),
            ("PAL_HTTP_TIMEOUT_SECONDS", f"{self.http_timeout_seconds:g}"),
            ("PAL_WATCH_SCHEDULE", self.watch_schedule),
            ("PAL_VERIFY_SCHEDULE", self.verify_schedule),
            ("PAL_GRAPH_NOTIFICATION_URL", self.graph_notification_url),
            ("PAL_GRAPH_CLIENT_STATE", _redact(self.graph_client_state)),
            ("PAL_ALERT_MAIL_FROM", alerts.mail_from),
            ("PAL_ALERT_MAIL_TO", ", ".join(alerts.mail_to)),
            ("PAL_ALERT_SMTP_HOST", alerts.smtp_host),
            ("PAL_ALERT_SMTP_PORT", "" if alerts.smtp_port is None else str(alerts.smtp_port)),
            ("PAL_ALERT_SMTP_SECURITY", alerts.smtp_security if alerts.smtp_host else ""),
            ("PAL_ALERT_SMTP_USER", alerts.smtp_user),
            ("PAL_ALERT_SMTP_PASSWORD", _redact(alerts.smtp_password)),
            ("PAL_ALERT_WEBHOOK_URL", redaction.url(alerts.webhook_url)),
            ("PAL_EVENTS_TOPIC_ENDPOINT", alerts.events_topic_endpoint),
            ("PAL_ALERT_REMIND_HOURS", str(alerts.remind_hours) if alerts.remind_hours else "0 (reminders off)"),
            ("PAL_ALERT_DIGEST", str(alerts.digest).lower()),
            ("PAL_ALERT_DIGEST_HOUR", f"{alerts.digest_hour} (UTC)"),
            ("PAL_ALERT_OUTBOX_DIR", alerts.outbox_dir),
            ("PAL_COST", str(self.costs.enabled).lower()),
            ("PAL_COST_SCHEDULE", self.costs.schedule),
            ("PAL_PEC_RATE", "" if self.costs.pec_rate is None else f"{self.costs.pec_rate:g}"),
        ]
        for identity in self.identities[1:]:
            for name in (identity.secret_setting, identity.certificate_setting):
                if name:
                    rows.append((name, _redact(self.credential_material.get(name, ""))))
        return [(name, value if value else "(not set)") for name, value in rows]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise one `SettingsError` listing all problems."""
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    partner_id = reader.partner_id()
    managing_tenant_id = reader.guid("PAL_MANAGING_TENANT_ID", required=True)
    mi_client_id = reader.guid("AZURE_CLIENT_ID")
    identities, material = reader.identities(mi_client_id)
    settings = Settings(
        partner_id=partner_id,
        managing_tenant_id=managing_tenant_id.lower(),
        managed_identity_client_id=mi_client_id,
        previous_partner_id=reader.previous_partner_id(partner_id),
        mode=reader.choice("PAL_MODE", MODES, "repair"),
        exemptions=reader.exemptions(),
        identities=identities,
        federation_discovery=reader.boolean("PAL_FEDERATION_DISCOVERY", default=True),
        attested_users=reader.guid_list("PAL_ATTESTED_USERS"),
        customer_tenants=reader.guid_list("PAL_CUSTOMER_TENANTS", what="tenant ids"),
        csp_tenants=reader.guid_list("PAL_CSP_TENANTS", what="tenant ids"),
        aobo_group_ids=reader.guid_list("PAL_AOBO_GROUP_IDS", what="group object ids"),
        arm_endpoint=reader.endpoint("PAL_ARM_ENDPOINT", "https://management.azure.com"),
        graph_endpoint=reader.endpoint("PAL_GRAPH_ENDPOINT", "https://graph.microsoft.com"),
        authority_host=reader.endpoint("AZURE_AUTHORITY_HOST", PUBLIC_AUTHORITY_HOST),
        arm_audience=reader.text("PAL_ARM_AUDIENCE", "https://management.azure.com/"),
        graph_audience=reader.text("PAL_GRAPH_AUDIENCE", "https://graph.microsoft.com"),
        identity_endpoint=reader.text("IDENTITY_ENDPOINT", ""),
        storage=reader.storage(),
        max_concurrency=reader.integer("PAL_MAX_CONCURRENCY", 16, low=1, high=256),
        http_timeout_seconds=float(reader.integer("PAL_HTTP_TIMEOUT_SECONDS", 30, low=1, high=600)),
        watch_schedule=reader.schedule("PAL_WATCH_SCHEDULE", "0 */5 * * * *"),
        verify_schedule=reader.schedule("PAL_VERIFY_SCHEDULE", "0 0 */6 * * *"),
        graph_notification_url=reader.notification_url(),
        graph_client_state=reader.client_state(),
        alerts=reader.alerts(),
        costs=reader.costs(),
        credential_material=MappingProxyType(material),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


class _Reader:
    """Reads one setting at a time, recording problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[tuple[str, str]] = []

    def problem(self, name: str, text: str) -> None:
        self.problems.append((name, text))

    def text(self, name: str, default: str = "") -> str:
        return (self.env.get(name) or "").strip() or default

    def partner_id(self) -> str:
        value = self.text("PAL_PARTNER_ID")
        explain = (
            "set it to your *associated* partner ID (the digits of the PartnerLocation MPN ID shown "
            "in Partner Center > Account settings > Identifiers), not the global partner ID and not a "
            "tenant GUID; Microsoft rejects a global ID with PartnerIdInvalid"
        )
        if not value:
            self.problem("PAL_PARTNER_ID", f"is required: {explain}")
        elif not value.isascii() or not value.isdigit():
            self.problem("PAL_PARTNER_ID", f"must contain digits only (got {value[:20]!r}): {explain}")
        return value

    def previous_partner_id(self, partner_id: str) -> str:
        value = self.text("PAL_PARTNER_ID_PREVIOUS")
        if value and (not value.isascii() or not value.isdigit()):
            self.problem(
                "PAL_PARTNER_ID_PREVIOUS",
                f"must contain digits only (got {value[:20]!r}): set it to the partner ID your links carried "
                "before a deliberate change of PAL_PARTNER_ID, or leave it empty",
            )
        elif value and value == partner_id:
            self.problem(
                "PAL_PARTNER_ID_PREVIOUS",
                "equals PAL_PARTNER_ID: set it to the partner ID you are moving away from, or leave it empty",
            )
        return value

    def exemptions(self) -> tuple[model.Exemption, ...]:
        """PAL_EXEMPTIONS: a JSON list of accepted findings (see `parse_exemption`)."""
        raw = self.text("PAL_EXEMPTIONS")
        if not raw:
            return ()
        try:
            items = json.loads(raw)
        except ValueError as e:
            self.problem("PAL_EXEMPTIONS", f"is not valid JSON ({e.msg} at character {e.pos}): {EXEMPTION_SHAPE}")
            return ()
        if not isinstance(items, list):
            self.problem("PAL_EXEMPTIONS", f"must be a JSON list: {EXEMPTION_SHAPE}")
            return ()
        found = []
        for index, item in enumerate(items):
            try:
                found.append(parse_exemption(item))
            except ValueError as e:
                self.problem("PAL_EXEMPTIONS", f"entry {index}: {e}")
        return tuple(found)

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default).lower()
        if value not in allowed:
            self.problem(name, f"must be one of {', '.join(allowed)} (got {value[:20]!r})")
            return default
        return value

    def guid(self, name: str, *, required: bool = False) -> str:
        value = self.text(name)
        if not value:
            if required:
                self.problem(name, "is required: set it to a GUID like 00000000-0000-0000-0000-000000000000")
            return ""
        if not _GUID.match(value):
            self.problem(name, f"must be a GUID like 00000000-0000-0000-0000-000000000000 (got {value[:40]!r})")
        return value

    def guid_list(self, name: str, *, what: str = "object ids") -> tuple[str, ...]:
        items = [item.strip() for item in self.text(name).split(",") if item.strip()]
        bad = [item for item in items if not _GUID.match(item)]
        if bad:
            self.problem(name, f"must be comma-separated {what} (GUIDs); not GUIDs: {', '.join(bad[:5])}")
        return tuple(dict.fromkeys(item.lower() for item in items if _GUID.match(item)))

    def costs(self) -> CostSettings:
        return CostSettings(
            enabled=self.boolean("PAL_COST", default=False),
            schedule=self.schedule("PAL_COST_SCHEDULE", "0 30 2 * * *"),
            pec_rate=self.rate("PAL_PEC_RATE"),
        )

    def rate(self, name: str) -> float | None:
        """A share: `0.15` or `15%`; unset means unknown (None), never a guess."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        except ValueError:
            self.problem(name, f"must be a share such as 0.15 or 15%; got {raw[:20]!r}")
            return None
        if not 0 < value <= 1:
            self.problem(name, f"must be above 0 and at most 1 (100%); got {raw[:20]!r}")
            return None
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self.env.get(name)
        if raw is None or not raw.strip():
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.problem(name, f"must be true/false (also 1/0, yes/no); got {raw[:20]!r}")
        return default

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problem(name, f"must be a whole number between {low} and {high}; got {raw[:20]!r}")
            return default
        if not low <= value <= high:
            self.problem(name, f"must be between {low} and {high}; got {value}")
            return default
        return value

    def hour(self, name: str, default: int) -> int:
        """An hour of the day in UTC, 0 to 23."""
        raw = self.text(name)
        if not raw:
            return default
        value = int(raw) if raw.isascii() and raw.isdigit() else -1
        if not 0 <= value <= 23:
            self.problem(
                name,
                f"must be an hour of the day in UTC, a whole number from 0 to 23 (e.g. {default} for "
                f"{default:02d}:00 UTC); got {raw[:20]!r}",
            )
            return default
        return value

    def endpoint(self, name: str, default: str, *, allow_empty: bool = False) -> str:
        value = self.text(name, default).rstrip("/")
        if not value and allow_empty:
            return ""
        if not _url_ok(value):
            self.problem(
                name,
                f"must be an https:// URL (http:// only for loopback hosts); got {redaction.url(value)!r}",
            )
        return value

    def schedule(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if len(value.split()) != 6 and not value.startswith("%"):
            self.problem(
                name,
                f"must be a six-field NCRONTAB expression (second minute hour day month weekday), "
                f"e.g. {default!r}; got {value[:40]!r}",
            )
        return value

    def identities(self, mi_client_id: str) -> tuple[tuple[model.ActingIdentity, ...], dict[str, str]]:
        managed = model.ActingIdentity(name=MANAGED_IDENTITY_NAME, kind="managedIdentity", client_id=mi_client_id)
        raw = self.text("PAL_IDENTITIES")
        if not raw:
            return (managed,), {}
        example = (
            '[{"name": "ops-automation", "kind": "federated", "clientId": "<app id>"}, '
            '{"name": "ops", "kind": "secret", "clientId": "<app id>", "secretSetting": "PAL_IDENTITY_OPS_SECRET"}]'
        )
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as error:
            self.problem("PAL_IDENTITIES", f"is not valid JSON ({error.msg} at {error.pos}); expected {example}")
            return (managed,), {}
        if not isinstance(items, list):
            self.problem("PAL_IDENTITIES", f"must be a JSON list; expected {example}")
            return (managed,), {}
        result = [managed]
        material: dict[str, str] = {}
        seen = {MANAGED_IDENTITY_NAME}
        for index, item in enumerate(items):
            identity = self._identity(index, item, seen, material)
            if identity is not None:
                result.append(identity)
                seen.add(identity.name)
        return tuple(result), material

    def _identity(
        self, index: int, item: object, seen: set[str], material: dict[str, str]
    ) -> model.ActingIdentity | None:
        where = f"PAL_IDENTITIES[{index}]"
        if not isinstance(item, dict):
            self.problem(where, 'must be an object like {"name": ..., "kind": ..., "clientId": ...}')
            return None
        name = str(item.get("name") or "").strip()
        kind = str(item.get("kind") or "").strip()
        client_id = str(item.get("clientId") or "").strip()
        before = len(self.problems)
        if not name:
            self.problem(where, 'needs a "name" (a label used in logs and findings)')
        elif name in seen:
            self.problem(where, f"name {name!r} is used twice (or is reserved for the managed identity)")
        if kind not in IDENTITY_KINDS:
            self.problem(where, f'"kind" must be one of {", ".join(IDENTITY_KINDS)}; got {kind!r}')
        if not _GUID.match(client_id):
            self.problem(where, f'"clientId" must be the app (client) id GUID; got {client_id[:40]!r}')
        secret_setting = str(item.get("secretSetting") or "").strip()
        certificate_setting = str(item.get("certificateSetting") or "").strip()
        if kind == "secret":
            self._material(where, "secretSetting", secret_setting, material, pem=False)
        if kind == "certificate":
            self._material(where, "certificateSetting", certificate_setting, material, pem=True)
        multi = item.get("multiTenant", False)
        if not isinstance(multi, bool):
            self.problem(where, f'"multiTenant" must be true or false; got {multi!r}')
            multi = False
        if len(self.problems) > before:
            return None
        return model.ActingIdentity(
            name=name,
            kind=kind,
            client_id=client_id.lower(),
            certificate_setting=certificate_setting if kind == "certificate" else "",
            secret_setting=secret_setting if kind == "secret" else "",
            multi_tenant=multi,
        )

    def _material(self, where: str, key: str, setting: str, material: dict[str, str], *, pem: bool) -> None:
        what = "PEM certificate with its private key" if pem else "client secret"
        if not setting:
            self.problem(where, f'needs "{key}": the name of the app setting holding the {what}')
            return
        value = self.env.get(setting) or ""
        if not value.strip():
            self.problem(
                setting,
                f"is named by {where}.{key} but is not set: add the app setting {setting} holding the "
                f"{what} (a Key Vault reference in Azure)",
            )
            return
        if value.strip().lower().startswith(_KEY_VAULT_REF):
            self.problem(
                setting,
                "is an unresolved Key Vault reference: grant the function app's managed identity "
                "'Key Vault Secrets User' on the vault and check the secret URI",
            )
            return
        if pem and ("-----BEGIN" not in value or "PRIVATE KEY-----" not in value):
            self.problem(setting, "must hold a PEM with both the certificate and its (RSA) private key")
            return
        material[setting] = value

    def storage(self) -> StorageSettings:
        connection = self.text("AzureWebJobsStorage")
        uri = self.text("AzureWebJobsStorage__tableServiceUri").rstrip("/")
        account = self.text("AzureWebJobsStorage__accountName")
        prefix = self.text("PAL_TABLE_PREFIX", "palwatch")
        if connection and connection != "UseDevelopmentStorage=true":
            keys = {part.split("=", 1)[0].strip().lower() for part in connection.split(";") if "=" in part}
            if not keys & {"accountname", "tableendpoint"}:
                self.problem(
                    "AzureWebJobsStorage",
                    "is not a storage connection string (needs AccountName=...;AccountKey=... or "
                    "TableEndpoint=...); or use AzureWebJobsStorage__accountName for identity-based access",
                )
        if uri and not _url_ok(uri):
            self.problem("AzureWebJobsStorage__tableServiceUri", "must be an https:// URL of the table service")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,39}", prefix):
            self.problem("PAL_TABLE_PREFIX", "must be letters and digits, starting with a letter, at most 40")
        return StorageSettings(connection, uri, account, prefix)

    def notification_url(self) -> str:
        value = self.text("PAL_GRAPH_NOTIFICATION_URL")
        if value and not (value.startswith("EventGrid:?") or _url_ok(value)):
            self.problem(
                "PAL_GRAPH_NOTIFICATION_URL",
                "must be the partner topic address 'EventGrid:?azuresubscriptionid=...&resourcegroup=..."
                "&partnertopic=...&location=...' (or an https URL)",
            )
        return value

    def client_state(self) -> str:
        value = self.text("PAL_GRAPH_CLIENT_STATE")
        if len(value) > 128:
            self.problem("PAL_GRAPH_CLIENT_STATE", "must be at most 128 characters (a Graph limit)")
        return value

    def alerts(self) -> AlertSettings:
        security = self.text("PAL_ALERT_SMTP_SECURITY", "starttls").lower()
        if security not in SMTP_SECURITY:
            self.problem("PAL_ALERT_SMTP_SECURITY", f"must be starttls, tls (or ssl) or none; got {security!r}")
        port = self.integer("PAL_ALERT_SMTP_PORT", 0, low=1, high=65535) or None
        mail_from, smtp_host, smtp_user = (
            self.text("PAL_ALERT_MAIL_FROM"),
            self.text("PAL_ALERT_SMTP_HOST"),
            self.text("PAL_ALERT_SMTP_USER"),
        )
        mail_to = tuple(part for part in _ADDRESS_SEPARATORS.split(self.text("PAL_ALERT_MAIL_TO")) if part)
        for address in (mail_from, *mail_to):
            if address and "@" not in address:
                self.problem("PAL_ALERT_MAIL_TO/PAL_ALERT_MAIL_FROM", f"{address!r} is not a mail address")
        if (mail_from or smtp_host) and not mail_to:
            self.problem("PAL_ALERT_MAIL_TO", "is required for mail alerts: the ops inbox (several: comma-separated)")
        if (mail_to or smtp_host) and not mail_from:
            self.problem("PAL_ALERT_MAIL_FROM", "is required for mail alerts: the mailbox alerts are sent from")
        if smtp_user and security == "none" and not is_loopback_host(smtp_host):
            self.problem(
                "PAL_ALERT_SMTP_SECURITY",
                "is none while PAL_ALERT_SMTP_USER is set: the password would cross the network in clear; "
                "use starttls or tls",
            )
        return AlertSettings(
            mail_from=mail_from,
            mail_to=mail_to,
            smtp_host=smtp_host,
            smtp_port=port,
            smtp_security=security,
            smtp_user=smtp_user,
            smtp_password=self.env.get("PAL_ALERT_SMTP_PASSWORD") or "",  # as given: a space may belong to it
            webhook_url=self.endpoint("PAL_ALERT_WEBHOOK_URL", "", allow_empty=True),
            events_topic_endpoint=self.endpoint("PAL_EVENTS_TOPIC_ENDPOINT", "", allow_empty=True),
            remind_hours=self.integer("PAL_ALERT_REMIND_HOURS", 24, low=0, high=24 * 30),
            digest=self.boolean("PAL_ALERT_DIGEST", default=False),
            digest_hour=self.hour("PAL_ALERT_DIGEST_HOUR", 7),
            outbox_dir=self.text("PAL_ALERT_OUTBOX_DIR"),
        )


EXEMPTION_SHAPE = (
    '[{"kind": "unattributed_delegation", "reason": "...", "expires": "2026-12-31", '
    '"customerTenantId"?, "scope"?, "registrationDefinitionName"?}] with at least one of the last three'
)


def parse_exemption(item: object, *, by: str = "") -> model.Exemption:
    """One exemption from its JSON object (PAL_EXEMPTIONS entries and the store use the same shape)."""
    if not isinstance(item, dict):
        raise ValueError(f"must be an object: {EXEMPTION_SHAPE}")
    text = {k: str(item.get(k) or "").strip() for k in ("kind", "reason", "expires", "customerTenantId", "scope")}
    offer = str(item.get("registrationDefinitionName") or "").strip()
    for required in ("kind", "reason", "expires"):
        if not text[required]:
            raise ValueError(f'"{required}" is required: {EXEMPTION_SHAPE}')
    if text["kind"] not in model.EXEMPTABLE_KINDS:
        kinds = ", ".join(model.EXEMPTABLE_KINDS)
        raise ValueError(f'"kind" must be a finding kind: one of {kinds} (got {text["kind"][:40]!r})')
    if not (text["customerTenantId"] or text["scope"] or offer):
        raise ValueError(f"names no customer tenant, scope or offer, so it would silence too much: {EXEMPTION_SHAPE}")
    if text["customerTenantId"] and not _GUID.match(text["customerTenantId"]):
        raise ValueError(f'"customerTenantId" must be a GUID (got {text["customerTenantId"][:40]!r})')
    if text["scope"] and not text["scope"].lower().startswith("/subscriptions/"):
        shape = "/subscriptions/{id}[/resourceGroups/{name}]"
        raise ValueError(f'"scope" must be {shape} (got {text["scope"][:80]!r})')
    try:
        expires = datetime.fromisoformat(text["expires"])
    except ValueError:
        raise ValueError(f'"expires" must be a date like 2026-12-31 (got {text["expires"][:40]!r})') from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return model.Exemption(
        kind=text["kind"],
        reason=text["reason"][:300],
        expires=expires,
        tenant_id=text["customerTenantId"].lower(),
        scope=text["scope"],
        definition_name=offer[:200],
        by=str(item.get("by") or by)[:120],
    )


def exemption_json(exemption: model.Exemption) -> dict[str, str]:
    """The JSON object `parse_exemption` reads back."""
    out = {"kind": exemption.kind, "reason": exemption.reason, "expires": exemption.expires.isoformat()}
    if exemption.tenant_id:
        out["customerTenantId"] = exemption.tenant_id
    if exemption.scope:
        out["scope"] = exemption.scope
    if exemption.definition_name:
        out["registrationDefinitionName"] = exemption.definition_name
    if exemption.by:
        out["by"] = exemption.by
    return out


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_ok(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def _scope(audience: str) -> str:
    return audience.rstrip("/") + "/.default"


def _redact(value: str) -> str:
    return f"(set, {len(value)} characters, redacted)" if value else ""


def _endpoint_shown(value: str) -> str:
    """An endpoint as it is, unless it carries a query (a SAS token): then scheme and host only."""
    return redaction.url(value) if "?" in value else value


def _redact_connection_string(value: str) -> str:
    if not value:
        return ""
    shown = []
    for part in value.split(";"):
        key, _, _ = part.partition("=")
        if key.strip().lower() in ("accountname", "tableendpoint", "defaultendpointsprotocol", "usedevelopmentstorage"):
            shown.append(part)
        elif key.strip():
            shown.append(f"{key}=(redacted)")
    return ";".join(shown)
