"""Exemptions (accepted findings) as `PAL_EXEMPTIONS` and the store write them: one JSON shape.

`parse_list` is the `PAL_EXEMPTIONS` row's parser; `parse_exemption` and `exemption_json` are
also used by `usecases/exemptions.py` and the CLI's `exempt` to read and write stored ones.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from shared import model
from shared.settings import parsers

_SCOPE = re.compile(r"^/subscriptions/[^/\s]+(/resourceGroups/[^/\s]+)?/?\Z", re.IGNORECASE)
EXEMPTION_SHAPE = (
    '[{"kind": "unattributed_delegation", "reason": "...", "expires": "2026-12-31", '
    '"customerTenantId"?, "scope"?, "registrationDefinitionName"?}] with at least one of the last three'
)


class Exemptions(tuple[model.Exemption, ...]):
    """The exemptions that parsed, and what was wrong with each one that did not (`problems`):
    a bad entry is ignored and said as one `configuration` finding, it never stops the app."""

    problems: tuple[str, ...] = ()

    def __new__(cls, found: tuple[model.Exemption, ...] = (), problems: tuple[str, ...] = ()) -> Exemptions:
        made = super().__new__(cls, found)
        made.problems = problems
        return made


def parse_list(value: str, default: Any) -> Exemptions:
    """A JSON list of accepted findings; the entries that do not parse are kept as problems."""
    try:
        items = json.loads(value)
    except ValueError as e:
        raise ValueError(f"is not valid JSON ({e.msg} at character {e.pos}): {EXEMPTION_SHAPE}") from None
    except RecursionError:
        raise ValueError(f"is nested too deep to read: {EXEMPTION_SHAPE}") from None
    if not isinstance(items, list):
        raise ValueError(f"must be a JSON list: {EXEMPTION_SHAPE}")
    found, problems = [], []
    for index, item in enumerate(items):
        try:
            found.append(parse_exemption(item))
        except ValueError as e:
            problems.append(f"entry {index}: {e}")
    return Exemptions(tuple(found), tuple(problems))


KEYS = ("kind", "reason", "expires", "customerTenantId", "scope", "registrationDefinitionName", "by")


def parse_exemption(item: object, *, by: str = "") -> model.Exemption:
    """One exemption from its JSON object (PAL_EXEMPTIONS entries and the store use the same shape).
    An unknown key is refused: a misspelt "scope" would otherwise widen it to the whole tenant."""
    if not isinstance(item, dict):
        raise ValueError(f"must be an object: {EXEMPTION_SHAPE}")
    unknown = sorted(str(k) for k in item if k not in KEYS)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], KEYS, n=1, cutoff=0.6)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        raise ValueError(f'unknown key "{unknown[0][:40]}"{hint}: the keys are {", ".join(KEYS)}')
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
    if text["customerTenantId"] and not parsers.GUID.match(text["customerTenantId"]):
        raise ValueError(f'"customerTenantId" must be a GUID (got {text["customerTenantId"][:40]!r})')
    if text["scope"] and not _SCOPE.match(text["scope"]):
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
