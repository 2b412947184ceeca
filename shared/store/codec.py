"""Model values <-> Table Storage entities (properties, JSON columns, datetimes).

Used by the `shared.store` table modules only. Long text is cut to stay under the 64 KiB
property limit; structured parts (authorizations, who attributes) are JSON columns.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared import model, words
from shared.snapshots import AttributedBy, CoverageRow, DelegationSnapshot

MAX_TEXT = 30_000  # characters; a string property holds 64 KiB of UTF-16


def text(value: object) -> str:
    s = "" if value is None else str(value)
    return words.cut(s, MAX_TEXT)


def when(value: Any) -> datetime | None:
    """A tz-aware datetime from an entity value (TablesEntityDatetime, str or None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime(*parsed.utctimetuple()[:6], parsed.microsecond, tzinfo=UTC)


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


# ------------------------------------------------------------ findings


def finding_properties(f: model.Finding) -> dict[str, Any]:
    return {
        "Key": f.key,
        "Kind": str(f.kind),
        "Severity": f.severity.value,
        "Subject": f.subject,
        "Title": text(f.title),
        "Reason": text(f.reason),
        "Detail": text(f.detail),
        "Fix": text(f.fix),
        "TenantId": f.tenant_id,
        "TenantName": text(f.tenant_name),
        "Scope": text(f.scope),
        "PrincipalId": f.principal_id,
        "Facts": text(json.dumps(f.facts, sort_keys=True)),
    }


def finding(entity: Any) -> model.RecordedFinding:
    try:
        facts = json.loads(entity.get("Facts") or "{}")
    except ValueError:
        facts = {}
    found = model.Finding(
        key=entity.get("Key", ""),
        kind=model.Kind.of(entity.get("Kind", "")),
        severity=model.Severity(entity.get("Severity", "warning")),
        subject=entity.get("Subject", ""),
        title=entity.get("Title", ""),
        reason=entity.get("Reason", ""),
        detail=entity.get("Detail", ""),
        fix=entity.get("Fix", ""),
        tenant_id=entity.get("TenantId", ""),
        tenant_name=entity.get("TenantName", ""),
        scope=entity.get("Scope", ""),
        principal_id=entity.get("PrincipalId", ""),
        facts={str(k): str(v) for k, v in facts.items()} if isinstance(facts, dict) else {},
    )
    return model.RecordedFinding(
        finding=found,
        opened_at=when(entity.get("OpenedAt")) or datetime.fromtimestamp(0, UTC),
        resolved_at=when(entity.get("ResolvedAt")),
        last_seen_at=when(entity.get("LastSeenAt")),
        last_notified_at=when(entity.get("LastNotifiedAt")),
        notice=bool(entity.get("Notice", False)),
    )


# ------------------------------------------------------------ delegation snapshots


def _auth(a: model.Authorization) -> dict[str, Any]:
    return {"p": a.principal_id, "r": a.role_definition_id, "n": a.principal_display_name, "j": a.just_in_time}


def _auth_back(d: dict[str, Any]) -> model.Authorization:
    return model.Authorization(str(d.get("p", "")), str(d.get("r", "")), str(d.get("n", "")), bool(d.get("j")))


def _by(a: AttributedBy) -> list[Any]:
    return [a.principal_id, a.role_id, a.via_group, a.active, iso(a.lost_at), a.display_name, a.kind]


def _by_back(row: list[Any]) -> AttributedBy:
    row = [*list(row), "", "", True, "", "", ""][:7] if len(row) < 7 else row
    return AttributedBy(
        str(row[0]), str(row[1]), str(row[2] or ""), bool(row[3]), when(row[4]), str(row[5] or ""), str(row[6] or "")
    )


def snapshot_properties(s: DelegationSnapshot) -> dict[str, Any]:
    return {
        "Key": s.key,
        "AssignmentId": s.assignment_id,
        "CustomerTenantId": s.customer_tenant_id,
        "CustomerTenantName": text(s.customer_tenant_name),
        "Scope": s.scope,
        "ManagedByTenantId": s.managed_by_tenant_id,
        "DefinitionName": text(s.definition_name),
        "SubscriptionName": text(s.subscription_name),
        "QuotaId": text(s.quota_id),
        "Plan": text(s.plan),
        "Authorizations": json.dumps([_auth(a) for a in s.authorizations]),
        "EligibleAuthorizations": json.dumps([_auth(a) for a in s.eligible_authorizations]),
        "AttributedBy": json.dumps([_by(a) for a in s.attributed_by]),
        "Attributed": s.attributed,
        "Since": iso(s.since),
        "UpdatedAt": iso(s.updated_at),
        "Removed": s.removed,
        "Reason": s.reason,
        "Aobo": s.aobo,
        "AoboLostAt": iso(s.aobo_lost_at),
    }


def snapshot(entity: Any) -> DelegationSnapshot:
    return DelegationSnapshot(
        key=entity.get("Key", ""),
        assignment_id=entity.get("AssignmentId", ""),
        customer_tenant_id=entity.get("CustomerTenantId", ""),
        scope=entity.get("Scope", ""),
        customer_tenant_name=entity.get("CustomerTenantName", ""),
        managed_by_tenant_id=entity.get("ManagedByTenantId", ""),
        definition_name=entity.get("DefinitionName", ""),
        subscription_name=entity.get("SubscriptionName", ""),
        quota_id=entity.get("QuotaId", ""),
        plan=entity.get("Plan", ""),
        authorizations=tuple(_auth_back(d) for d in json.loads(entity.get("Authorizations") or "[]")),
        eligible_authorizations=tuple(_auth_back(d) for d in json.loads(entity.get("EligibleAuthorizations") or "[]")),
        attributed_by=tuple(_by_back(r) for r in json.loads(entity.get("AttributedBy") or "[]")),
        attributed=bool(entity.get("Attributed")),
        since=when(entity.get("Since")),
        updated_at=when(entity.get("UpdatedAt")),
        removed=bool(entity.get("Removed")),
        reason=entity.get("Reason", ""),
        aobo=bool(entity.get("Aobo")),
        aobo_lost_at=when(entity.get("AoboLostAt")),
    )


# ------------------------------------------------------------ coverage rows


def coverage_json(row: CoverageRow) -> str:
    return json.dumps(
        {
            "k": row.delegation_key,
            "t": row.customer_tenant_id,
            "n": row.customer_tenant_name,
            "s": row.scope,
            "a": row.attributed,
            "st": row.status,
            "by": [_by(a) for a in row.attributed_by],
            "rn": list(row.role_names),
            "r": row.reason,
            "since": iso(row.since),
            "o": row.definition_name,
            "rec": row.recognised,
            "sn": row.subscription_name,
            "q": row.quota_id,
            "ot": row.offer_type,
            "pl": row.plan,
            "loc": list(row.locations),
            "aobo": row.aobo,
            "csp": row.csp_customer,
            "fa": list(row.foreign_aobo),
            "ctp": row.customer_tenant_pal,
        }
    )


def coverage_row(data: str) -> CoverageRow:
    d = json.loads(data)
    return CoverageRow(
        delegation_key=d["k"],
        customer_tenant_id=d["t"],
        customer_tenant_name=d["n"],
        scope=d["s"],
        attributed=bool(d["a"]),
        status=d["st"],
        attributed_by=tuple(_by_back(r) for r in d["by"]),
        role_names=tuple(d["rn"]),
        reason=d["r"],
        since=when(d["since"]),
        definition_name=d.get("o", ""),
        recognised=bool(d.get("rec", d["a"])),
        subscription_name=d.get("sn", ""),
        quota_id=d.get("q", ""),
        offer_type=d.get("ot", ""),
        plan=d.get("pl", ""),
        locations=tuple(d.get("loc", ())),
        aobo=bool(d.get("aobo")),
        csp_customer=bool(d.get("csp")),
        foreign_aobo=tuple(d.get("fa") or ()),
        customer_tenant_pal=bool(d.get("ctp")),
    )
