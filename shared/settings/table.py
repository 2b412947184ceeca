"""Every setting the engine reads, one row each: the loader, `describe()`, the doctor and
tools/settings_coverage.py (infra and docs in step) all read `SETTINGS`.

A row names the environment variable, the field it fills (`group.field` for the alert, cost and
storage groups), the parser, the default an unset or empty value takes, whether the value is a
secret, one line of documentation, and how the doctor shows the value. Rows appear in the doctor
in this order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import redaction
from shared.settings import exemptions, parsers

PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com"
MODES = ("repair", "observe")  # PAL_MODE: observe never writes a PAL link
HAND_WRITTEN = None  # the parse of a row read by `checks` (it needs other settings' values)


def shown(value: Any) -> str:
    """A value as the doctor prints it: lists joined, booleans in lower case, unset as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def redacted(value: Any) -> str:
    return f"(set, {len(value)} characters, redacted)" if value else ""


def _or(placeholder: str) -> Callable[[Any], str]:
    return lambda value: shown(value) or placeholder


def _connection_string_shown(value: str) -> str:
    shown_parts = []
    for part in value.split(";") if value else ():
        key, _, _ = part.partition("=")
        if key.strip().lower() in ("accountname", "tableendpoint", "defaultendpointsprotocol", "usedevelopmentstorage"):
            shown_parts.append(part)
        elif key.strip():
            shown_parts.append(f"{key}=(redacted)")
    return ";".join(shown_parts)


def _endpoint_shown(value: str) -> str:
    """An endpoint as it is, unless it carries a query (a SAS token): then scheme and host only."""
    return redaction.url(value) if "?" in value else value


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One setting: where it comes from, where it goes, how it is read, said and shown."""

    env: str
    field: str
    parse: parsers.Parser | None
    default: Any = ""
    secret: bool = False
    doc: str = ""
    show: Callable[[Any], str] | None = None  # default: `shown`, or `redacted` for a secret
    required: str = ""  # the problem when unset (a required setting has no default)
    strip: bool = True  # False: the value as given (a password may begin or end with a space)
    not_in_infra: str = ""  # why infra/ does not set it (local or platform-injected)

    def display(self, value: Any) -> str:
        return (self.show or (redacted if self.secret else shown))(value)


def row(env: str, field: str, parse: parsers.Parser | None, default: Any = "", doc: str = "", **more: Any) -> Setting:
    return Setting(env=env, field=field, parse=parse, default=default, doc=doc, **more)


GUID_REQUIRED = f"is required: set it to a GUID like {parsers.GUID_EXAMPLE}"


def _exemptions_shown(value: tuple[Any, ...]) -> str:
    return f"{len(value)} exemption(s)" if value else ""


def _locations_shown(value: tuple[Any, ...]) -> str:
    return ", ".join(location.label for location in value)


def _customer_locations_shown(value: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{tenant}={location}" for tenant, location in value) or "(none)"


def _extra_identities(value: tuple[Any, ...]) -> str:
    """The identities besides the managed identity (always first), by name and kind."""
    return ", ".join(f"{i.name} ({i.kind})" for i in value[1:]) or "(none)"


# fmt: off
SETTINGS: tuple[Setting, ...] = (
    row("PAL_PARTNER_ID", "partner_locations", parsers.partner_locations, (),
        "the partner's associated location IDs (digits), comma-separated, each optionally named (id:name); the "
        "first is where new links point, a link to any of them is the partner's own",
        required=parsers.PARTNER_ID_REQUIRED, show=_locations_shown),
    row("PAL_PARTNER_ID_BY_CUSTOMER", "customer_locations", parsers.customer_locations, (),
        "customer tenant -> the location (ID or name) its credit should go to: JSON object or tenant=location,...",
        show=_customer_locations_shown),
    row("PAL_PARTNER_ID_PREVIOUS", "previous_partner_id", parsers.previous_partner_id,
        doc="the partner ID links carried before a deliberate change; only those links are re-pointed"),
    row("PAL_MODE", "mode", parsers.choice(*MODES), "repair", "observe: decide and report, never write a PAL link"),
    row("PAL_EXEMPTIONS", "exemptions", exemptions.parse_list, (), "JSON list of accepted findings",
        show=_exemptions_shown),
    row("PAL_MANAGING_TENANT_ID", "managing_tenant_id", parsers.tenant_id, doc="the partner's (managing) tenant id",
        required=GUID_REQUIRED),
    row("AZURE_CLIENT_ID", "managed_identity_client_id", parsers.guid,
        doc="client id of the user-assigned managed identity", show=_or("(system-assigned identity)")),
    row("PAL_IDENTITIES", "identities", HAND_WRITTEN, (), "JSON list of extra identities the app may act as",
        show=_extra_identities),
    row("PAL_FEDERATION_DISCOVERY", "federation_discovery", parsers.boolean, True,
        "try federation for unknown service principals"),
    row("PAL_ATTESTED_USERS", "attested_users", parsers.guid_list("object ids"), (),
        "object ids of users linked outside the tool", show=_or("(none)")),
    row("PAL_CUSTOMER_TENANTS", "customer_tenants", parsers.guid_list("tenant ids"), (),
        "tenants where a multi-tenant identity's app is installed without Lighthouse", show=_or("(none)")),
    row("PAL_CSP_TENANTS", "csp_tenants", parsers.guid_list("tenant ids"), (),
        "customer tenants whose subscriptions are the partner's own CSP business (recognition `csp`)",
        show=_or("(none)")),
    row("PAL_AOBO_GROUP_IDS", "aobo_group_ids", parsers.guid_list("group object ids"), (),
        "Admin Agents groups (own, indirect provider's, reseller's) whose AOBO counts",
        show=_or("(found in Graph: AdminAgents)")),
    row("PAL_ARM_ENDPOINT", "arm_endpoint", parsers.endpoint, "https://management.azure.com", "Resource Manager"),
    row("PAL_GRAPH_ENDPOINT", "graph_endpoint", parsers.endpoint, "https://graph.microsoft.com", "Microsoft Graph"),
    row("AZURE_AUTHORITY_HOST", "authority_host", parsers.endpoint, PUBLIC_AUTHORITY_HOST, "Entra ID sign-in"),
    row("PAL_ARM_AUDIENCE", "arm_audience", parsers.text, "https://management.azure.com/", "Resource Manager tokens"),
    row("PAL_GRAPH_AUDIENCE", "graph_audience", parsers.text, "https://graph.microsoft.com", "Graph tokens"),
    row("IDENTITY_ENDPOINT", "identity_endpoint", parsers.text, doc="managed identity endpoint (the platform's)",
        show=_or("(not set: not running in Azure)"),
        not_in_infra="injected by the Functions platform for the managed identity"),
    row("AzureWebJobsStorage", "storage.connection_string", parsers.connection_string,
        doc="connection string (Azurite, local runs)", secret=True, show=_connection_string_shown,
        not_in_infra="connection-string form for Azurite/local runs; Azure uses the identity-based "
        "AzureWebJobsStorage__* settings"),
    row("AzureWebJobsStorage__tableServiceUri", "storage.table_service_uri", parsers.table_service_uri,
        doc="identity-based table storage", show=_endpoint_shown),
    row("AzureWebJobsStorage__accountName", "storage.account_name", parsers.text, doc="identity-based storage"),
    row("PAL_TABLE_PREFIX", "storage.table_prefix", parsers.table_prefix, "palwatch", "prefix of the state tables"),
    row("PAL_MAX_CONCURRENCY", "max_concurrency", parsers.integer(1, 256), 16, "concurrent requests in a verify"),
    row("PAL_HTTP_TIMEOUT_SECONDS", "http_timeout_seconds", parsers.seconds(1, 600), 30.0, "per request"),
    row("PAL_WATCH_SCHEDULE", "watch_schedule", parsers.schedule, "0 */5 * * * *", "watch timer (NCRONTAB)"),
    row("PAL_VERIFY_SCHEDULE", "verify_schedule", parsers.schedule, "0 0 */6 * * *", "verification timer"),
    row("PAL_GRAPH_NOTIFICATION_URL", "graph_notification_url", parsers.notification_url,
        doc="the Event Grid partner topic Graph subscriptions notify"),
    row("PAL_GRAPH_CLIENT_STATE", "graph_client_state", parsers.client_state, secret=True,
        doc="secret checked on every Graph notification"),
    row("PAL_ALERT_MAIL_FROM", "alerts.mail_from", parsers.text, doc="the mailbox alerts are sent from"),
    row("PAL_ALERT_MAIL_TO", "alerts.mail_to", parsers.addresses, (), "the ops inbox (several: comma-separated)"),
    row("PAL_ALERT_SMTP_HOST", "alerts.smtp_host", parsers.text, doc="SMTP instead of Graph mail"),
    row("PAL_ALERT_SMTP_PORT", "alerts.smtp_port", parsers.integer(1, 65535), None, "SMTP port"),
    row("PAL_ALERT_SMTP_SECURITY", "alerts.smtp_security", parsers.smtp_security, "starttls",
        "starttls, tls (or ssl) or none"),
    row("PAL_ALERT_SMTP_USER", "alerts.smtp_user", parsers.text, doc="SMTP user"),
    row("PAL_ALERT_SMTP_PASSWORD", "alerts.smtp_password", parsers.text, secret=True, strip=False,
        doc="SMTP password"),
    row("PAL_ALERT_WEBHOOK_URL", "alerts.webhook_url", parsers.endpoint, secret=True, show=redaction.url,
        doc="JSON POST receiver (its URL carries its own key)"),
    row("PAL_EVENTS_TOPIC_ENDPOINT", "alerts.events_topic_endpoint", parsers.endpoint,
        doc="Event Grid custom topic for findings opened and resolved"),
    row("PAL_ALERT_REMIND_HOURS", "alerts.remind_hours", parsers.integer(0, 24 * 30), 24,
        "reminder cadence of open critical findings (0: off)", show=lambda v: str(v) if v else "0 (reminders off)"),
    row("PAL_ALERT_DIGEST", "alerts.digest", parsers.boolean, False, "the daily coverage digest"),
    row("PAL_ALERT_DIGEST_HOUR", "alerts.digest_hour", parsers.hour, 7, "UTC hour the digest goes out from",
        show=lambda v: f"{v} (UTC)"),
    row("PAL_ALERT_OUTBOX_DIR", "alerts.outbox_dir", parsers.text, doc="also write alerts as .eml files there",
        not_in_infra="local development only (.eml folder)"),
    row("PAL_COST", "costs.enabled", parsers.boolean, False, "the daily cost snapshot"),
    row("PAL_COST_SCHEDULE", "costs.schedule", parsers.schedule, "0 30 2 * * *", "cost snapshot timer"),
    row("PAL_PEC_RATE", "costs.pec_rate", parsers.rate, None,
        "partner earned credit rate to quote (no default: Microsoft publishes no fixed rate)"),
    row("PAL_BILLING", "billing.enabled", parsers.boolean, False,
        "the daily credit snapshot (Graph partner billing export; PartnerBilling.Read.All)"),
    row("PAL_CREDIT_SNAPSHOT_SCHEDULE", "billing.schedule", parsers.schedule, "0 0 6 * * *", "credit snapshot timer"),
    row("PAL_BILLING_CURRENCY", "billing.currency", parsers.currency, "USD",
        "the partner's billing currency (ISO 4217), the export's currencyCode"),
)
# fmt: on
