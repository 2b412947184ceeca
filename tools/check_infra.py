"""What the deployment files must say, checked offline (no Bicep CLI, azd or az).

Called by tools/lint-infra.sh (``python -m tools.check_infra``) and tests/unit/test_infra.py
(which also runs it on broken copies to prove each check can fail). Checks:
  - alert rules: every rule docs/deploy.md promises exists, queries a record the app writes
    (shared.telemetry.RECORDS) and notifies the action group, which mails the ops address;
  - the identity customers' offers name: its own resource group (not the app's), a CanNotDelete
    lock, a name not derived from the environment, reuse by resource id;
  - the workbook: valid gallery JSON whose queries read only known records, deployed by main.bicep;
  - customer onboarding: the delegation depends on nothing but its definition (no Event Grid
    resource or nested deployment at all), the PAL Watch roles are PEC-eligible and acceptable to
    Lighthouse, and the optional event template refuses an empty host or key before creating anything.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from shared import roles

ROOT = Path(__file__).resolve().parent.parent
RULES = {
    "pal-watch-function-failures",
    "pal-watch-verification-overdue",
    "pal-watch-watch-timer-stopped",
    "pal-watch-outbox-dead-letters",
    "pal-watch-doctor-red",
}
OWNER = roles.OWNER
USER_ACCESS_ADMINISTRATOR = roles.USER_ACCESS_ADMINISTRATOR
# Roles whose definitions hold DataActions: Lighthouse refuses them in authorizations.
_DATA_ROLE = re.compile(r"Data (Owner|Contributor|Reader|Sender|Receiver|Message)|Data Access Administrator")


def _records() -> set[str]:
    sys.path.insert(0, str(ROOT))
    from shared import telemetry

    return set(telemetry.RECORDS)


def _read(root: Path, rel: str) -> str:
    path = root / rel
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def alert_problems(root: Path) -> list[str]:
    text = _read(root, "infra/core/alerts.bicep")
    main = _read(root, "infra/main.bicep")
    if not text:
        return ["infra/core/alerts.bicep is missing: nothing watches the watcher"]
    problems = []
    records = _records()
    blocks = re.findall(r"\{\s*name: '([\w-]+)'\s*record: '([\w.]+)'(.*?)query: '(.*?)'\n", text, flags=re.DOTALL)
    found = {name for name, *_ in blocks}
    problems += [f"alert rule {name} is missing" for name in sorted(RULES - found)]
    for name, record, _middle, query in blocks:
        if record not in records:
            problems.append(f"alert rule {name} reads {record}, which the app never writes")
        if record not in query and name != "pal-watch-function-failures":
            problems.append(f"alert rule {name}: its query does not read {record}")
    if "Microsoft.Insights/scheduledQueryRules@" not in text:
        problems.append("no scheduledQueryRules resource")
    if not re.search(r"actionGroups: \[\s*actionGroup\.id\s*\]", text):
        problems.append("the alert rules do not notify the action group")
    if not re.search(r"emailReceivers: .*?emailAddress: opsEmail", text, flags=re.DOTALL):
        problems.append("the action group does not mail the ops address")
    if "module alerts './core/alerts.bicep'" not in main:
        problems.append("main.bicep does not deploy infra/core/alerts.bicep")
    return problems


def _block(head: str) -> str:
    """A top-level Bicep block created only when the identity is not reused; group 1 is its body."""
    return head + r" = if \(!reuseIdentity\) \{(.*?)\n\}"


def identity_problems(root: Path) -> list[str]:
    main = _read(root, "infra/main.bicep")
    ident = _read(root, "infra/core/identity.bicep")
    problems = []
    lock = r"resource \w+ 'Microsoft\.Authorization/locks@[^']+' = \{.*?level: 'CanNotDelete'"
    if not re.search(lock, ident, re.DOTALL):
        problems.append("the identity's group has no CanNotDelete lock (infra/core/identity.bicep)")
    create = re.search(_block("module identityCreate './core/identity.bicep'"), main, re.DOTALL)
    if not create:
        problems.append("main.bicep does not create the identity with core/identity.bicep (when not reused)")
    elif "scope: identityRg" not in create.group(1):
        problems.append("the identity is not created in its own resource group (scope must be identityRg, not rg)")
    name_param = re.search(r"(?m)^param identityName string = '([^']*)'", main)
    if not name_param or not name_param.group(1):
        problems.append("identityName needs a fixed default (not derived from the environment)")
    if re.search(r"(?m)^var identityResourceName = .*(environmentName|resourceToken)", main):
        problems.append("the identity's name is derived from the environment")
    if not re.search(r"(?m)^param existingIdentityId string", main):
        problems.append("no existingIdentityId parameter: azd up cannot reuse an existing identity")
    group = re.search(_block("resource identityRg 'Microsoft.Resources/resourceGroups@[^']+'"), main, re.DOTALL)
    if not group:
        problems.append("no separate resource group for the identity")
    elif "tags: tags" in group.group(1) or "environmentName" in group.group(1):
        problems.append("the identity's group carries the environment (azd down would treat it as the environment's)")
    return problems


def _queries(workbook: dict[str, Any]) -> list[str]:
    return [i["content"]["query"] for i in workbook.get("items", []) if i.get("type") == 3]


def workbook_problems(root: Path) -> list[str]:
    raw = _read(root, "infra/app/workbook.json")
    if not raw:
        return ["infra/app/workbook.json is missing"]
    try:
        workbook = json.loads(raw)
    except json.JSONDecodeError as e:
        return [f"infra/app/workbook.json is not JSON: {e}"]
    problems = []
    if workbook.get("version") != "Notebook/1.0":
        problems.append("the workbook's version must be Notebook/1.0 (the gallery format)")
    queries = _queries(workbook)
    if len(queries) < 3:
        problems.append("the workbook needs coverage, findings and trigger health queries")
    records = _records()
    for query in queries:
        for name in re.findall(r"PalWatch\.\w+", query):
            if name not in records:
                problems.append(f"the workbook reads {name}, which the app never writes")
    for needed in ("PalWatch.Coverage", "PalWatch.FindingOpened", "PalWatch.TriggerOutcome"):
        if not any(needed in q for q in queries):
            problems.append(f"the workbook has no query over {needed}")
    bicep = _read(root, "infra/app/workbook.bicep")
    if "loadJsonContent('./workbook.json')" not in bicep or "Microsoft.Insights/workbooks@" not in bicep:
        problems.append("infra/app/workbook.bicep does not deploy workbook.json")
    if "module workbook './app/workbook.bicep'" not in _read(root, "infra/main.bicep"):
        problems.append("main.bicep does not deploy the workbook")
    return problems


def _load(root: Path, rel: str) -> dict[str, Any] | None:
    raw = _read(root, rel)
    try:
        return json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return None


def _walk(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for res in resources:
        found.append(res)
        found.extend(_walk(res.get("properties", {}).get("template", {}).get("resources", [])))
    return found


def onboarding_problems(root: Path) -> list[str]:
    tpl = _load(root, "customer-onboarding/subscription-onboarding.json")
    if tpl is None:
        return ["customer-onboarding/subscription-onboarding.json is missing or not JSON"]
    problems = []
    resources = _walk(tpl.get("resources", []))
    for res in resources:
        if res["type"].startswith("Microsoft.EventGrid/") or res["type"] == "Microsoft.Resources/deployments":
            problems.append(f"the onboarding template holds {res['type']}: Event Grid goes in delegation-events.json")
    assignments = [r for r in resources if r["type"] == "Microsoft.ManagedServices/registrationAssignments"]
    if len(assignments) != 1:
        problems.append("the onboarding template needs exactly one registrationAssignments resource")
    for assignment in assignments:
        for dep in assignment.get("dependsOn", []):
            if "Microsoft.ManagedServices/registrationDefinitions" not in dep:
                problems.append(f"the delegation depends on something else than its definition: {dep}")
    problems += _role_problems(root, tpl)
    if not tpl.get("outputs"):
        problems.append("the onboarding template has no outputs")
    return problems + _event_problems(root)


def _event_problems(root: Path) -> list[str]:
    problems = []
    events = _load(root, "customer-onboarding/delegation-events.json")
    if events is None:
        problems.append("customer-onboarding/delegation-events.json is missing or not JSON")
        return problems
    params = events.get("parameters", {})
    for name in ("palWatchFunctionAppHost", "palWatchEventGridKey"):
        spec = params.get(name, {})
        if "defaultValue" in spec or int(spec.get("minLength", 0)) < 1:
            problems.append(f"delegation-events.json: {name} must be required, with a minLength (empty fails first)")
    if "existingSystemTopicId" not in params:
        problems.append("delegation-events.json cannot reuse an existing system topic (existingSystemTopicId)")
    if not events.get("outputs"):
        problems.append("delegation-events.json has no outputs")
    return problems


def _role_problems(root: Path, tpl: dict[str, Any]) -> list[str]:
    problems = []
    eligible = json.loads(_read(root, "shared/data/pec-eligible-roles.json") or '{"eligible": []}')
    names = {r["roleDefinitionId"]: r["name"] for r in eligible.get("eligible", [])}
    spec = tpl.get("parameters", {}).get("palWatchRoleDefinitionId", {})
    offered = set(spec.get("allowedValues", [])) | {spec.get("defaultValue", "")}
    if not spec.get("allowedValues"):
        problems.append("palWatchRoleDefinitionId needs allowedValues (a wrong role must fail validation)")
    for role in sorted(offered):
        if role not in names:
            problems.append(f"PAL Watch role {role} is not PEC-eligible: it would earn no credit")
        elif role in (OWNER, USER_ACCESS_ADMINISTRATOR) or _DATA_ROLE.search(names[role]):
            problems.append(f"PAL Watch role {names[role]} is refused by Lighthouse in authorizations")
    default = spec.get("defaultValue", "")
    if names.get(default) == "Contributor":
        problems.append("the default PAL Watch role should be the least-privileged eligible one, not Contributor")
    return problems


def parameter_problems(root: Path) -> list[str]:
    """A main.bicep parameter whose description names the azd setting that sets it
    ("PAL_X: ...") must be mapped from that setting in main.parameters.json, unless its description
    says it defaults to something else; otherwise `azd env set PAL_X` silently does nothing."""
    main = _read(root, "infra/main.bicep")
    mapped = (_load(root, "infra/main.parameters.json") or {}).get("parameters", {})
    problems = []
    declared = re.finditer(r"@description\('([A-Z][A-Z0-9_]+): ([^\n]*)'\)\n(?:@[^\n]*\n)*param (\w+)", main)
    for setting, description, name in (m.groups() for m in declared):
        if "defaults to" in description:
            continue
        value = str((mapped.get(name) or {}).get("value", ""))
        if "${" + setting not in value:
            problems.append(
                f"main.bicep parameter {name} says {setting} sets it, but main.parameters.json does not map it"
            )
    return problems


CHECKS = (alert_problems, identity_problems, workbook_problems, onboarding_problems, parameter_problems)


def problems(root: Path = ROOT) -> list[str]:
    return [p for check in CHECKS for p in check(root)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else ROOT
    found = problems(root)
    for line in found:
        print(f"check_infra: {line}", file=sys.stderr)
    print(f"check_infra: {len(CHECKS)} groups of checks, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
