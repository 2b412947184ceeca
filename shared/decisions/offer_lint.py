"""The offer linter: is a Lighthouse offer right for PAL Watch before it is published or deployed?

Pure: called by `palwatch lint-offer` (shared.cli.lint_offer) with a parsed JSON document (an
ARM or Bicep-compiled template, a parameters file, or a registration definition as ARM returns
it), the object ids of the identities PAL Watch acts as, and optional role definitions. It uses
the engine's own decisions: `roles.is_eligible` (PEC eligibility) and `delegation.expand_carriers`
(only permanent authorizations carry attribution, never `eligibleAuthorizations`).

Lighthouse's own rules (learn.microsoft.com/azure/lighthouse/concepts/tenants-users-roles, "Role
support for Azure Lighthouse"): Owner and built-in roles with DataActions are not supported; User
Access Administrator only to assign roles to managed identities, with delegatedRoleDefinitionIds;
custom roles are not supported. Just-in-time (eligible) authorizations take users and groups only
(learn.microsoft.com/azure/lighthouse/how-to/create-eligible-authorizations).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared import model, roles
from shared.decisions import delegation as decide
from shared.decisions.observation import Observation

# Built-in roles made for Lighthouse itself (not on the PEC list): lets the partner remove a delegation.
LIGHTHOUSE_ROLES = {roles.MANAGED_SERVICES_REGISTRATION_DELETE: "Managed Services Registration assignment Delete Role"}
PALWATCH_PARAMETER = "palWatchPrincipalId"  # customer-onboarding/: the parameter naming PAL Watch's identity
# A parameters file belongs to an offer when it sets one of these (the Lighthouse sample templates' names).
OFFER_PARAMETERS = frozenset({"mspOfferName", "authorizations", "eligibleAuthorizations", PALWATCH_PARAMETER})
ERROR, WARNING = "error", "warning"
_EXPRESSION = re.compile(r"^\[(?!\[)(.*)\]$", re.DOTALL)
_CALL = re.compile(r"^(parameters|variables)\(\s*'([^']+)'\s*\)$")
_MAX_DEPTH = 20


@dataclass(frozen=True)
class Problem:
    severity: str  # error | warning
    code: str
    message: str
    offer: str = ""


@dataclass
class Offer:
    """One registration definition found in the document, with its expressions resolved where possible."""

    name: str
    authorizations: list[dict[str, Any]] = field(default_factory=list)
    eligible_authorizations: list[dict[str, Any]] = field(default_factory=list)
    palwatch_parameter: bool = False  # a principal comes from the palWatchPrincipalId parameter
    unresolved: list[str] = field(default_factory=list)
    # `<name>` stand-ins for template parameters given no value here (filled in at deployment)
    not_given: frozenset[str] = frozenset()


# -- reading the document ------------------------------------------------------------------------


class _Scope:
    """Parameters and variables of one template, for the few ARM expressions offers use."""

    def __init__(self, template: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        self.parameters = {
            name: values[name] if name in values else (spec or {}).get("defaultValue")
            for name, spec in (template.get("parameters") or {}).items()
            if isinstance(spec, Mapping) or spec is None
        }
        self.variables = dict(template.get("variables") or {})
        self.from_palwatch = False
        self.unresolved: list[str] = []
        self.not_given: set[str] = set()

    def resolve(self, value: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, list):
            return [self.resolve(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v, depth + 1) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        match = _EXPRESSION.match(value.strip())
        return self._expression(match.group(1).strip(), value, depth) if match else value

    def _expression(self, text: str, raw: str, depth: int) -> Any:
        call = _CALL.match(text)
        if call:
            kind, name = call.groups()
            if kind == "parameters" and name == PALWATCH_PARAMETER:
                self.from_palwatch = True
            table = self.parameters if kind == "parameters" else self.variables
            found = table.get(name)
            if found is None:
                self.not_given.add(f"<{name}>")
                return f"<{name}>"
            return self.resolve(found, depth + 1)
        if text.startswith(("concat(", "union(")) and text.endswith(")"):
            parts = [self._argument(p, raw, depth) for p in _arguments(text[text.index("(") + 1 : -1])]
            if all(isinstance(p, list) for p in parts):
                return [item for p in parts for item in p]
            if all(isinstance(p, str) for p in parts):
                return "".join(parts)
        self.unresolved.append(raw[:120])
        return raw

    def _argument(self, text: str, raw: str, depth: int) -> Any:
        literal = _literal(text)
        return literal if literal is not None else self._expression(text.strip(), raw, depth + 1)


def _literal(text: str) -> str | None:
    """An ARM string literal ('it''s') as its value, or None when `text` is not one."""
    t = text.strip()
    if len(t) >= 2 and t[0] == "'" and t[-1] == "'":
        return t[1:-1].replace("''", "'")
    return None


def _arguments(text: str) -> list[str]:
    """Top-level comma-separated arguments of an ARM function call (quotes and parentheses respected)."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [a for a in out if a.strip()]


def offers_in(document: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> list[Offer]:
    """Every registration definition in a template (nested deployments too), a parameters file of an
    offer or an ARM registration definition; none in anything else (e.g. a template of other
    resources). `parameters` is a parameters file's `parameters` object."""
    values = {k: (v or {}).get("value") for k, v in (parameters or {}).items() if isinstance(v, Mapping)}
    if str(document.get("type", "")).lower() == "microsoft.managedservices/registrationdefinitions":
        return [_offer(document.get("properties") or {}, _Scope({}, {}))]
    if "resources" in document:
        return _from_template(document, values, 0)
    if isinstance(document.get("parameters"), Mapping) and OFFER_PARAMETERS & set(document["parameters"]):
        given = {k: (v or {}).get("value") for k, v in (document.get("parameters") or {}).items()}
        offer = Offer(name=str(given.get("mspOfferName") or "parameters file"))
        offer.authorizations = [a for a in given.get("authorizations") or [] if isinstance(a, dict)]
        offer.eligible_authorizations = [a for a in given.get("eligibleAuthorizations") or [] if isinstance(a, dict)]
        if given.get(PALWATCH_PARAMETER):
            role = given.get("palWatchRoleDefinitionId") or roles.CONTRIBUTOR
            offer.authorizations.append({"principalId": given[PALWATCH_PARAMETER], "roleDefinitionId": role})
            offer.palwatch_parameter = True
        return [offer]
    return []


def _from_template(template: Mapping[str, Any], values: Mapping[str, Any], depth: int) -> list[Offer]:
    scope = _Scope(template, values)
    found: list[Offer] = []
    resources = template.get("resources") or []
    for resource in resources.values() if isinstance(resources, Mapping) else resources:
        if not isinstance(resource, Mapping):
            continue
        kind = str(resource.get("type", "")).lower()
        if kind == "microsoft.managedservices/registrationdefinitions":
            found.append(_offer(resource.get("properties") or {}, scope))
        elif kind == "microsoft.resources/deployments" and depth < 5:
            inner = (resource.get("properties") or {}).get("template")
            if isinstance(inner, Mapping):
                passed = {
                    k: scope.resolve((v or {}).get("value"))
                    for k, v in ((resource.get("properties") or {}).get("parameters") or {}).items()
                    if isinstance(v, Mapping)
                }
                found += _from_template(inner, passed, depth + 1)
    return found


def _offer(properties: Mapping[str, Any], scope: _Scope) -> Offer:
    scope.unresolved, scope.from_palwatch, scope.not_given = [], False, set()  # what this offer's own values use
    authorizations = scope.resolve(properties.get("authorizations") or [])
    eligible = scope.resolve(properties.get("eligibleAuthorizations") or [])
    name = scope.resolve(properties.get("registrationDefinitionName") or "")
    return Offer(
        name=str(name) if isinstance(name, str) else "offer",
        authorizations=[a for a in authorizations if isinstance(a, dict)] if isinstance(authorizations, list) else [],
        eligible_authorizations=[a for a in eligible if isinstance(a, dict)] if isinstance(eligible, list) else [],
        palwatch_parameter=scope.from_palwatch,
        unresolved=list(scope.unresolved),
        not_given=frozenset(scope.not_given),
    )


# -- the checks ------------------------------------------------------------------------------------


def lint(
    offer: Offer,
    *,
    palwatch_principals: Iterable[str] = (),
    acting_principals: Iterable[str] = (),
    role_definitions: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Problem]:
    """What is wrong with `offer` for PAL Watch and for Lighthouse, errors first."""
    definitions = {roles.normalize_role_id(k): v for k, v in (role_definitions or {}).items()}
    ours = {p.lower() for p in palwatch_principals}
    acting = ours | {p.lower() for p in acting_principals}
    problems: list[Problem] = []

    def add(severity: str, code: str, message: str) -> None:
        problems.append(Problem(severity, code, message, offer.name))

    for where, items in (
        ("authorizations", offer.authorizations),
        ("eligibleAuthorizations", offer.eligible_authorizations),
    ):
        for auth in items:
            role = roles.normalize_role_id(str(auth.get("roleDefinitionId", "")))
            _role_problems(add, where, auth, role, definitions.get(role))
            _principal_problems(add, where, auth, offer.not_given)
    for auth in offer.eligible_authorizations:
        if str(auth.get("principalId", "")).lower() in acting:
            add(
                ERROR,
                "service_principal_just_in_time",
                f"{_who(auth)} is a service principal in eligibleAuthorizations: "
                "just-in-time access takes users and groups only, and never earns partner credit",
            )

    permanent = tuple(_authorization(a) for a in offer.authorizations)
    jit = tuple(_authorization(a, just_in_time=True) for a in offer.eligible_authorizations)
    # The engine's own eligibility: the shipped list, or a definition's actions when one was given.
    eligible = Observation("", eligibility={r: roles.is_eligible(r, d) for r, d in definitions.items()}).eligible
    principals = {
        a.principal_id.lower(): model.Principal(a.principal_id.lower(), model.PrincipalKind.SERVICE_PRINCIPAL)
        for a in (*permanent, *jit)
    }
    carriers, _unknown, _any = decide.expand_carriers(permanent, principals, eligible)
    holders = {a.principal_id.lower() for a in permanent}

    if not (ours & holders or offer.palwatch_parameter):
        where = " only in eligibleAuthorizations (just-in-time)" if ours & {a.principal_id.lower() for a in jit} else ""
        add(
            ERROR,
            "palwatch_missing",
            "PAL Watch's identity is not in the permanent authorizations"
            + where
            + ": PAL Watch cannot see the delegation. Add it (any role; Reader is enough to read it), e.g. with "
            "customer-onboarding/, or pass --palwatch-principal with its object id.",
        )
    attributing = [
        c for c in carriers if c.principal_id in acting or (offer.palwatch_parameter and c.principal_id.startswith("<"))
    ]
    if not attributing and not (offer.palwatch_parameter and _palwatch_role_eligible(offer, eligible)):
        jit_roles = [a for a in jit if eligible(a.role_definition_id) is True and a.principal_id.lower() in acting]
        add(
            ERROR,
            "no_attributing_identity",
            "No identity PAL Watch can act as holds a PEC-eligible role in the permanent authorizations"
            + (" (it is only just-in-time, which never earns credit)" if jit_roles else "")
            + ": the offer earns partner credit only if people link by hand. Give PAL Watch's identity (or one "
            "in PAL_IDENTITIES) a PEC-eligible role such as Contributor.",
        )
    if not carriers and not (offer.palwatch_parameter and _palwatch_role_eligible(offer, eligible)):
        add(
            WARNING,
            "no_pec_role",
            "No permanent authorization holds a PEC-eligible role: the offer earns no "
            "partner credit at all (Reader and other read-only roles never do).",
        )
    if offer.unresolved:
        add(
            WARNING,
            "unresolved",
            "Some values are ARM expressions the linter does not evaluate: " + "; ".join(offer.unresolved[:3]),
        )
    return sorted(problems, key=lambda p: (p.severity != ERROR, p.code))


def _palwatch_role_eligible(offer: Offer, eligible: Any) -> bool:
    return any(
        str(a.get("principalId", "")).startswith("<") and eligible(str(a.get("roleDefinitionId", ""))) is True
        for a in offer.authorizations
    )


def _role_problems(
    add: Any, where: str, auth: Mapping[str, Any], role: str, definition: Mapping[str, Any] | None
) -> None:
    who = _who(auth)
    if role == roles.OWNER:
        add(ERROR, "owner_role", f"{who} has Owner in {where}: Lighthouse does not accept Owner.")
        return
    if role == roles.USER_ACCESS_ADMINISTRATOR:
        if not auth.get("delegatedRoleDefinitionIds"):
            add(
                ERROR,
                "user_access_administrator",
                f"{who} has User Access Administrator in {where} without "
                "delegatedRoleDefinitionIds: Lighthouse allows it only to assign those roles to managed identities.",
            )
        return
    if definition is not None:
        permissions = _permissions(definition)
        if any(p.get("dataActions") for p in permissions):
            add(
                ERROR,
                "data_actions",
                f"{who} has {roles.role_name(role, definition)} in {where}: roles with "
                "DataActions are not supported by Lighthouse.",
            )
        if any(_authorization_write(a, p.get("notActions") or []) for p in permissions for a in p.get("actions") or []):
            add(
                ERROR,
                "authorization_write",
                f"{who} has {roles.role_name(role, definition)} in {where}: it may "
                "write or delete Microsoft.Authorization resources, which Lighthouse does not accept.",
            )
    elif roles.is_eligible(role) is None and role not in LIGHTHOUSE_ROLES and role.strip("<>") == role:
        add(
            WARNING,
            "unknown_role",
            f"{who} has role {role} in {where}, which PAL Watch's list does not know: "
            "Lighthouse accepts built-in roles only; pass --role-definitions (az role definition list) to check it.",
        )


def _principal_problems(add: Any, where: str, auth: Mapping[str, Any], not_given: frozenset[str]) -> None:
    """A principal id must be an object id (a GUID): a placeholder left in a parameters file, or a
    name, deploys nothing that PAL Watch (or anyone) can use. A template parameter given no value
    yet is fine: it is filled in at deployment."""
    principal = str(auth.get("principalId") or "").strip()
    if roles.is_guid(principal) or principal in not_given:
        return
    name = str(auth.get("principalIdDisplayName") or "").strip()
    who = f"{name}: " if name else ""
    if principal.startswith("<") or not principal:
        add(
            ERROR,
            "principal_placeholder",
            f"{who}principalId {principal or '(empty)'!r} in {where} is a placeholder: put the object id there "
            "(for PAL Watch's identity: `azd env get-value PAL_IDENTITY_PRINCIPAL_ID`).",
        )
        return
    add(
        ERROR,
        "principal_not_guid",
        f"{who}principalId {principal[:80]!r} in {where} is not an object id: Lighthouse takes the principal's "
        "object id, a GUID (`az ad sp show --id <app id> --query id -o tsv`, `az ad group show`).",
    )


def _permissions(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    node = definition.get("properties") if isinstance(definition.get("properties"), Mapping) else definition
    return [p for p in (node.get("permissions") or []) if isinstance(p, Mapping)]


def _authorization_write(action: str, not_actions: Iterable[str]) -> bool:
    text = str(action).lower()
    if not (text == "*" or text.startswith("microsoft.authorization/")):
        return False
    if not (text == "*" or text.endswith(("/write", "/delete", "/*"))):
        return False
    blocked = {str(n).lower() for n in not_actions}
    return not {"microsoft.authorization/*/write", "microsoft.authorization/*/delete"} <= blocked


def _authorization(auth: Mapping[str, Any], *, just_in_time: bool = False) -> model.Authorization:
    return model.Authorization(
        principal_id=str(auth.get("principalId", "")),
        role_definition_id=str(auth.get("roleDefinitionId", "")),
        principal_display_name=str(auth.get("principalIdDisplayName", "")),
        just_in_time=just_in_time,
    )


def _who(auth: Mapping[str, Any]) -> str:
    name = str(auth.get("principalIdDisplayName") or "").strip()
    pid = str(auth.get("principalId") or "?")
    return f"{name} ({pid})" if name else pid
