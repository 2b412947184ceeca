"""The parsers a settings row names: text in, value out, or `ValueError` with the fix-it words.

A parser is called with the setting's text (stripped, never empty: an empty setting takes the row's
default without being parsed) and the row's default, which some messages quote. Parsers that take
options (`integer`, `choice`, `guid_list`) are factories returning the parser. Used by
`shared.settings.table` only.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from shared import model, redaction

Parser = Callable[[str, Any], Any]

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
GUID_EXAMPLE = "00000000-0000-0000-0000-000000000000"
SMTP_SECURITY = ("starttls", "ssl", "tls", "none")  # "ssl" and "tls" both mean implicit TLS
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_ADDRESS_SEPARATORS = re.compile(r"[,;\s]+")  # Outlook writes ';', people write ',' or one a line
_PARTNER_ID_HELP = (
    "set it to your *associated* partner ID (the digits of the PartnerLocation MPN ID shown "
    "in Partner Center > Account settings > Identifiers), not the global partner ID and not a "
    "tenant GUID; Microsoft rejects a global ID with PartnerIdInvalid"
)
PARTNER_ID_REQUIRED = f"is required: {_PARTNER_ID_HELP}"


class EntriesError(ValueError):
    """Several problems with one setting (each entry of a JSON list)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        super().__init__("; ".join(texts))


def text(value: str, default: Any) -> str:
    return value


def partner_id(value: str, default: Any) -> str:
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"must contain digits only (got {value[:20]!r}): {_PARTNER_ID_HELP}")
    return value


_LOCATION_NAME = re.compile(r"^[\w .&()'/-]{1,40}\Z")


def partner_locations(value: str, default: Any) -> tuple[model.PartnerLocation, ...]:
    """`5127255` or `5127255:Oslo,5127256:Bergen`: the partner's location IDs, each optionally named."""
    found: list[model.PartnerLocation] = []
    for entry in (e.strip() for e in value.split(",")):
        pid, _, name = (part.strip() for part in entry.partition(":"))
        if not pid.isascii() or not pid.isdigit():
            raise ValueError(
                f"must contain digits only (got {entry[:20]!r}; several locations: 5127255:Oslo,5127256:Bergen): "
                f"{_PARTNER_ID_HELP}"
            )
        if name and not _LOCATION_NAME.match(name):
            raise ValueError(f"location name {name[:40]!r} must be 1-40 letters, digits, spaces or .&()'/-")
        if any(f.partner_id == pid for f in found):
            raise ValueError(f"names partner ID {pid} twice")
        found.append(model.PartnerLocation(pid, name))
    return tuple(found)


def customer_locations(value: str, default: Any) -> tuple[tuple[str, str], ...]:
    """Customer tenant -> the location (ID or name) its credit should go to: a JSON object, or
    `tenant=location,…`. Whether each location is one of PAL_PARTNER_ID's is checked across settings."""
    pairs: list[tuple[str, str]]
    if value.startswith("{"):
        try:
            raw = json.loads(value)
        except ValueError as e:
            raise ValueError(f'is not a JSON object ({e.msg}): write {{"<tenant id>": "<location>"}}') from None
        if not isinstance(raw, dict):
            raise ValueError('must be a JSON object {"<tenant id>": "<location ID or name>"}')
        pairs = [(str(k).strip(), str(v).strip()) for k, v in raw.items()]
    else:
        pairs = [tuple(p.strip() for p in e.partition("=")[::2]) for e in value.split(",") if e.strip()]  # type: ignore[misc]
    for tenant, location in pairs:
        if not GUID.match(tenant) or not location:
            raise ValueError(
                f"{tenant[:40]!r}={location[:40]!r}: each entry is a customer tenant id (a GUID) and a location "
                "ID or name of PAL_PARTNER_ID, e.g. 372dd23e-…=Bergen"
            )
    return tuple((tenant.lower(), location) for tenant, location in pairs)


def previous_partner_id(value: str, default: Any) -> str:
    if not value.isascii() or not value.isdigit():
        raise ValueError(
            f"must contain digits only (got {value[:20]!r}): set it to the partner ID your links carried "
            "before a deliberate change of PAL_PARTNER_ID, or leave it empty"
        )
    return value


def guid(value: str, default: Any) -> str:
    if not GUID.match(value):
        raise ValueError(f"must be a GUID like {GUID_EXAMPLE} (got {value[:40]!r})")
    return value


def tenant_id(value: str, default: Any) -> str:
    return guid(value, default).lower()


def guid_list(what: str) -> Parser:
    """Comma-separated GUIDs, lower-cased, without repeats."""

    def parse(value: str, default: Any) -> tuple[str, ...]:
        items = [item.strip() for item in value.split(",") if item.strip()]
        bad = [item for item in items if not GUID.match(item)]
        if bad:
            raise ValueError(f"must be comma-separated {what} (GUIDs); not GUIDs: {', '.join(bad[:5])}")
        return tuple(dict.fromkeys(item.lower() for item in items))

    return parse


def choice(*allowed: str) -> Parser:
    def parse(value: str, default: Any) -> str:
        if value.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)} (got {value.lower()[:20]!r})")
        return value.lower()

    return parse


def boolean(value: str, default: Any) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"must be true/false (also 1/0, yes/no); got {value[:20]!r}")


def integer(low: int, high: int) -> Parser:
    def parse(value: str, default: Any) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"must be a whole number between {low} and {high}; got {value[:20]!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}; got {number}")
        return number

    return parse


def seconds(low: int, high: int) -> Parser:
    """Whole seconds, as the float the HTTP client takes."""
    whole = integer(low, high)
    return lambda value, default: float(whole(value, default))


def hour(value: str, default: Any) -> int:
    """An hour of the day in UTC, 0 to 23."""
    number = int(value) if value.isascii() and value.isdigit() else -1
    if not 0 <= number <= 23:
        raise ValueError(
            f"must be an hour of the day in UTC, a whole number from 0 to 23 (e.g. {default} for "
            f"{default:02d}:00 UTC); got {value[:20]!r}"
        )
    return number


def rate(value: str, default: Any) -> float:
    """A share: `0.15` or `15%` (unset means unknown, never a guess)."""
    try:
        share = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError(f"must be a share such as 0.15 or 15%; got {value[:20]!r}") from None
    if not 0 < share <= 1:
        raise ValueError(f"must be above 0 and at most 1 (100%); got {value[:20]!r}")
    return share


def currency(value: str, default: Any) -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError("must be an ISO 4217 currency code such as USD or EUR")
    return code


def endpoint(value: str, default: Any) -> str:
    value = value.rstrip("/")
    if not url_ok(value):
        raise ValueError(f"must be an https:// URL (http:// only for loopback hosts); got {redaction.url(value)!r}")
    return value


def schedule(value: str, default: Any) -> str:
    if len(value.split()) != 6 and not value.startswith("%"):
        raise ValueError(
            "must be a six-field NCRONTAB expression (second minute hour day month weekday), "
            f"e.g. {default!r}; got {value[:40]!r}"
        )
    return value


def addresses(value: str, default: Any) -> tuple[str, ...]:
    """Mail addresses separated by commas, semicolons or white space (checked with the sender)."""
    return tuple(part for part in _ADDRESS_SEPARATORS.split(value) if part)


def smtp_security(value: str, default: Any) -> str:
    if value.lower() not in SMTP_SECURITY:
        raise ValueError(f"must be starttls, tls (or ssl) or none; got {value.lower()!r}")
    return value.lower()


def connection_string(value: str, default: Any) -> str:
    if value != "UseDevelopmentStorage=true":
        keys = {part.split("=", 1)[0].strip().lower() for part in value.split(";") if "=" in part}
        if not keys & {"accountname", "tableendpoint"}:
            raise ValueError(
                "is not a storage connection string (needs AccountName=...;AccountKey=... or "
                "TableEndpoint=...); or use AzureWebJobsStorage__accountName for identity-based access"
            )
    return value


def table_service_uri(value: str, default: Any) -> str:
    value = value.rstrip("/")
    if not url_ok(value):
        raise ValueError("must be an https:// URL of the table service")
    return value


def table_prefix(value: str, default: Any) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,39}", value):
        raise ValueError("must be letters and digits, starting with a letter, at most 40")
    return value


def notification_url(value: str, default: Any) -> str:
    if not (value.startswith("EventGrid:?") or url_ok(value)):
        raise ValueError(
            "must be the partner topic address 'EventGrid:?azuresubscriptionid=...&resourcegroup=..."
            "&partnertopic=...&location=...' (or an https URL)"
        )
    return value


def client_state(value: str, default: Any) -> str:
    if len(value) > 128:
        raise ValueError("must be at most 128 characters (a Graph limit)")
    return value


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_ok(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))
