"""The deployment files: Bicep parses and says what the deployment needs, azure.yaml fits azd's schema,
the customer onboarding template carries the PAL identity and the delegation events, and
scripts/grant-permissions.sh grants only what is missing. Offline: no Bicep CLI, azd or az.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from shared import roles
from tools import check_azure_yaml, check_bicep, check_infra

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ONBOARDING = ROOT / "customer-onboarding" / "subscription-onboarding.json"

CONTRIBUTOR = roles.CONTRIBUTOR
ROLE_IDS = {
    "Storage Blob Data Owner": roles.STORAGE_BLOB_DATA_OWNER,
    "Storage Table Data Contributor": roles.STORAGE_TABLE_DATA_CONTRIBUTOR,
    "Storage Queue Data Contributor": roles.STORAGE_QUEUE_DATA_CONTRIBUTOR,
    "Monitoring Metrics Publisher": roles.MONITORING_METRICS_PUBLISHER,
    "EventGrid Data Sender": roles.EVENTGRID_DATA_SENDER,
    "Key Vault Secrets User": roles.KEY_VAULT_SECRETS_USER,
}


def _bicep(name: str) -> str:
    return (INFRA / name).read_text(encoding="utf-8")


def _all_bicep() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in check_bicep.bicep_files(ROOT))


# ---- Bicep ---------------------------------------------------------------------------------


def test_every_bicep_file_parses() -> None:
    files = check_bicep.bicep_files(ROOT)
    assert INFRA / "main.bicep" in files
    assert check_bicep.syntax_errors(files) == []


def test_a_syntax_error_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("resource x 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n}\n")
    errors = check_bicep.syntax_errors([broken])
    assert len(errors) == 1
    assert "broken.bicep" in errors[0]
    assert check_bicep.main([str(broken)]) == 1


@pytest.mark.parametrize("path", check_bicep.bicep_files(ROOT), ids=lambda p: p.name)
def test_bicep_stays_inside_what_checkovs_parser_reads(path: Path) -> None:
    # checkov bundles an older pycep-parser and silently skips files it cannot parse.
    text = path.read_text(encoding="utf-8")
    assert "=>" not in text, "lambdas are not parsed by checkov's pycep-parser"
    run = 0
    for line in text.splitlines():
        indented_comment = line[:1] in (" ", "\t") and line.strip().startswith("//")
        run = run + 1 if indented_comment else 0
        assert run <= 4, "more than 4 comment lines in a row inside a block break checkov's pycep-parser"


def test_every_checkov_skip_gives_a_reason() -> None:
    skips = re.findall(r"//\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?", _all_bicep())
    assert skips, "expected justified skips"
    for check_id, reason in skips:
        assert len(reason.strip()) > 15, f"{check_id} skipped without a reason"


def test_function_app_is_flex_consumption_python_311_with_azd_tag() -> None:
    api = _bicep("app/api.bicep")
    assert "kind: 'functionapp,linux'" in api
    assert re.search(r"name: 'FC1'\s+tier: 'FlexConsumption'", api)
    assert re.search(r"runtime: \{\s+name: 'python'\s+version: '3.11'", api)
    assert "'azd-service-name': 'api'" in api
    # Deployment storage with the user-assigned identity, not a connection string.
    assert re.search(r"type: 'UserAssignedIdentity'\s+userAssignedIdentityResourceId: identityId", api)
    assert "keyVaultReferenceIdentity: identityId" in api
    assert "'azd-env-name': environmentName" in _bicep("main.bicep")


def test_storage_is_identity_based_without_keys() -> None:
    api = _bicep("app/api.bicep")
    assert "AzureWebJobsStorage__credential: 'managedidentity'" in api
    assert "AzureWebJobsStorage__clientId: identityClientId" in api
    assert "AzureWebJobsStorage__accountName: storage.name" in api
    assert not re.search(r"AzureWebJobsStorage\s*:", api), "no connection-string setting in Azure"
    assert "listKeys" not in _all_bicep()
    assert "allowSharedKeyAccess: false" in _bicep("core/storage.bicep")
    assert "DisableLocalAuth: true" in _bicep("core/monitoring.bicep")
    assert "disableLocalAuth: true" in _bicep("app/events-topic.bicep")


def test_role_assignments_are_the_least_privilege_set() -> None:
    text = _all_bicep()
    for name, role_id in ROLE_IDS.items():
        assert role_id in text, f"{name} is not granted"
    assigned = set(re.findall(r"var \w+ = '([0-9a-f-]{36})'", text))
    assert assigned == set(ROLE_IDS.values()), "an unexpected role is granted; explain it in docs/deploy.md"
    # Each grant is on one resource, never on the resource group or the subscription.
    blocks = re.findall(r"roleAssignments@[^']+' = [^{]*\{(.*?)\n\}", text, flags=re.DOTALL)
    assert len(blocks) == len(ROLE_IDS)
    for block in blocks:
        assert re.search(r"\n  scope: \w+\n", block), block


def test_outputs_azd_and_the_operator_need() -> None:
    outputs = set(re.findall(r"(?m)^output (\w+) ", _bicep("main.bicep")))
    for name in ("AZURE_LOCATION", "AZURE_TENANT_ID", "SERVICE_API_NAME", "AZURE_FUNCTION_NAME",
                 "PAL_IDENTITY_PRINCIPAL_ID", "PAL_IDENTITY_CLIENT_ID", "PAL_GRAPH_PARTNER_TOPIC"):  # fmt: skip
        assert name in outputs


def test_parameters_file_matches_main_bicep() -> None:
    main = _bicep("main.bicep")
    declared = dict(re.findall(r"(?m)^param (\w+) [\w]+( =)?", main))
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(mapped) <= set(declared), f"unknown parameters: {set(mapped) - set(declared)}"
    required = {name for name, has_default in declared.items() if not has_default}
    assert required <= set(mapped), f"required parameters not mapped: {required - set(mapped)}"


def test_graph_notification_url_names_the_partner_topic() -> None:
    main = _bicep("main.bicep")
    assert "'EventGrid:?azuresubscriptionid=${subscription().subscriptionId}&resourcegroup=${rg.name}" in main
    assert "&partnertopic=${partnerTopicName}&location=${location}'" in main
    sub = _bicep("app/graph-subscription.bicep")
    assert "'${functionApp.id}/functions/identity_events'" in sub
    assert "eventDeliverySchema: 'CloudEventSchemaV1_0'" in sub
    assert "partnerName: 'MicrosoftGraphAPI'" in _bicep("app/graph-partner.bicep")


# ---- azure.yaml ----------------------------------------------------------------------------


def test_azure_yaml_is_valid_and_deploys_the_api_service() -> None:
    doc = check_azure_yaml.load_yaml(ROOT / "azure.yaml")
    assert check_azure_yaml.schema_errors(doc) == []
    assert doc["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    assert doc["infra"]["provider"] == "bicep"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(name="PAL Watch"), "name"),
        (lambda d: d["services"]["api"].pop("project"), "services/api"),
        (lambda d: d["services"]["api"].pop("host"), "services/api"),
        (lambda d: d["services"]["api"].update(image="x"), "services/api"),
        (lambda d: d.update(hooks={"postprovision": {"shell": "bash", "run": "x"}}), "hooks"),
    ],
)
def test_the_schema_rejects_broken_azure_yaml(change, where: str) -> None:
    doc = check_azure_yaml.load_yaml(ROOT / "azure.yaml")
    change(doc)
    errors = check_azure_yaml.schema_errors(doc)
    assert errors
    assert any(e.startswith(where) for e in errors), errors


# ---- customer onboarding -------------------------------------------------------------------


def _walk(resources: list[dict]) -> list[dict]:
    found = []
    for res in resources:
        found.append(res)
        found.extend(_walk(res.get("properties", {}).get("template", {}).get("resources", [])))
    return found


SUPPORT_REQUEST_CONTRIBUTOR = roles.SUPPORT_REQUEST_CONTRIBUTOR
READER = roles.READER
EVENTS = ROOT / "customer-onboarding" / "delegation-events.json"


def test_onboarding_adds_the_pal_identity_with_the_least_privileged_eligible_role() -> None:
    tpl = json.loads(ONBOARDING.read_text())
    reader, credit = tpl["variables"]["palWatchAuthorization"]
    assert reader["principalId"] == credit["principalId"] == "[parameters('palWatchPrincipalId')]"
    assert reader["roleDefinitionId"] == "[variables('readerRoleDefinitionId')]"
    assert tpl["variables"]["readerRoleDefinitionId"] == READER
    role = tpl["parameters"]["palWatchRoleDefinitionId"]
    assert role["defaultValue"] == SUPPORT_REQUEST_CONTRIBUTOR
    assert role["allowedValues"] == [SUPPORT_REQUEST_CONTRIBUTOR, CONTRIBUTOR]
    eligible = json.dumps(json.loads((ROOT / "shared" / "data" / "pec-eligible-roles.json").read_text())["eligible"])
    assert all(r in eligible for r in role["allowedValues"])
    (definition,) = [r for r in tpl["resources"] if r["type"].endswith("/registrationDefinitions")]
    assert "variables('palWatchAuthorization')" in definition["properties"]["authorizations"]
    assert "palWatch" not in definition["properties"]["eligibleAuthorizations"]


def test_the_onboarding_assignment_has_no_dependency_on_event_grid() -> None:
    tpl = json.loads(ONBOARDING.read_text())
    types = {r["type"] for r in _walk(tpl["resources"])}
    assert types == {f"Microsoft.ManagedServices/registration{kind}" for kind in ("Definitions", "Assignments")}
    (assignment,) = [r for r in tpl["resources"] if r["type"].endswith("/registrationAssignments")]
    assert assignment["dependsOn"] == [
        "[resourceId('Microsoft.ManagedServices/registrationDefinitions', variables('mspRegistrationName'))]"
    ]
    assert "eventgrid" not in json.dumps(tpl).lower()
    assert set(tpl["outputs"]) >= {"registrationAssignmentId", "palWatchPrincipalId", "palWatchRoleDefinitionIds"}


def test_the_event_wiring_is_a_separate_template_that_reuses_a_topic_and_refuses_an_empty_host() -> None:
    tpl = json.loads(EVENTS.read_text())
    resources = _walk(tpl["resources"])
    (topic,) = [r for r in resources if r["type"] == "Microsoft.EventGrid/systemTopics"]
    assert topic["condition"] == "[parameters('createTopic')]"  # an existing topic is reused, not duplicated
    assert topic["properties"] == {"source": "[subscription().id]", "topicType": "Microsoft.Resources.Subscriptions"}
    assert topic["location"] == "global"
    assert "existingSystemTopicId" in tpl["variables"]["reuseTopic"]
    (sub,) = [r for r in resources if r["type"] == "Microsoft.EventGrid/systemTopics/eventSubscriptions"]
    flt = sub["properties"]["filter"]
    assert flt["includedEventTypes"] == [
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
    ]
    (adv,) = flt["advancedFilters"]
    assert adv["key"] == "data.operationName"
    assert adv["operatorType"] == "StringIn"
    assert sorted(adv["values"]) == [
        "Microsoft.ManagedServices/registrationAssignments/delete",
        "Microsoft.ManagedServices/registrationAssignments/write",
    ]
    assert sub["properties"]["destination"]["endpointType"] == "WebHook"
    assert "functionName=delegation_events" in tpl["variables"]["webhookUrl"]
    host, key = tpl["parameters"]["palWatchFunctionAppHost"], tpl["parameters"]["palWatchEventGridKey"]
    assert "defaultValue" not in host
    assert host["minLength"] >= 1
    assert key["type"] == "securestring"
    assert key["minLength"] == 1
    assert "defaultValue" not in key


def test_the_infra_checks_pass_on_the_repository() -> None:
    assert check_infra.problems(ROOT) == []
    assert check_infra.main([str(ROOT)]) == 0


def _copy(tmp_path: Path) -> Path:
    import shutil

    for folder in ("infra", "customer-onboarding", "shared/data"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _edit_json(root: Path, rel: str, change) -> None:
    path = root / rel
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _depend_on_events(doc: dict) -> None:
    doc["resources"].append({"type": "Microsoft.Resources/deployments", "name": "pal-watch-delegation-events"})
    events = "[resourceId('Microsoft.Resources/deployments', 'pal-watch-delegation-events')]"
    doc["resources"][1]["dependsOn"].append(events)


BROKEN = [
    ("no doctor rule", lambda r: _edit(r, "infra/core/alerts.bicep", "name: 'pal-watch-doctor-red'", "name: 'x'"),
     "pal-watch-doctor-red is missing"),
    ("unknown record", lambda r: _edit(r, "infra/core/alerts.bicep", "record: 'PalWatch.OutboxDeadLetter'",
                                       "record: 'PalWatch.DeadLetters'"), "never writes"),
    ("rules notify nobody", lambda r: _edit(r, "infra/core/alerts.bicep", "actionGroup.id\n      ]", "\n      ]"),
     "do not notify the action group"),
    ("no lock", lambda r: _edit(r, "infra/core/identity.bicep", "'CanNotDelete'", "'ReadOnly'"), "CanNotDelete"),
    ("identity in the app group", lambda r: _edit(r, "infra/main.bicep", "scope: identityRg", "scope: rg"),
     "own resource group"),
    ("identity named from the environment", lambda r: _edit(
        r, "infra/main.bicep", ": identityName\n", ": '${identityName}-${resourceToken}'\n"), "from the environment"),
    ("workbook not JSON", lambda r: (r / "infra/app/workbook.json").write_text("{"), "not JSON"),
    ("workbook reads an unknown record", lambda r: _edit(r, "infra/app/workbook.json", "PalWatch.Coverage ",
                                                         "PalWatch.Covrage "), "never writes"),
    ("assignment waits for Event Grid", lambda r: _edit_json(r, "customer-onboarding/subscription-onboarding.json",
                                                             _depend_on_events), "depends on something else"),
    ("Owner offered", lambda r: _edit_json(r, "customer-onboarding/subscription-onboarding.json", lambda d: d[
        "parameters"]["palWatchRoleDefinitionId"]["allowedValues"].append(roles.OWNER)),
     "refused by Lighthouse"),
    ("Reader offered", lambda r: _edit_json(r, "customer-onboarding/subscription-onboarding.json", lambda d: d[
        "parameters"]["palWatchRoleDefinitionId"].update(defaultValue=READER)), "not PEC-eligible"),
    ("empty host allowed", lambda r: _edit_json(r, "customer-onboarding/delegation-events.json", lambda d: d[
        "parameters"]["palWatchFunctionAppHost"].update(defaultValue="")), "palWatchFunctionAppHost must be required"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "breaks", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_the_infra_checks_fail_on_a_broken_copy(tmp_path: Path, what: str, breaks, expected: str) -> None:
    root = _copy(tmp_path)
    assert check_infra.problems(root) == []
    breaks(root)
    found = check_infra.problems(root)
    assert any(expected in p for p in found), (what, found)
    assert check_infra.main([str(root)]) == 1


# ---- scripts/grant-permissions.sh ----------------------------------------------------------

SCRIPT = ROOT / "scripts" / "grant-permissions.sh"
FAKE_AZ = r"""#!/usr/bin/env bash
echo "$*" >> "$AZ_LOG"
case "$*" in
  "account show"*) echo tenant-1 ;;
  "ad sp show --id 00000003-0000-0000-c000-000000000000 --query id"*) echo graph-sp ;;
  *"value=='User.Read.All'"*) echo role-user ;;
  *"value=='Group.Read.All'"*) echo role-group ;;
  *"value=='Application.Read.All'"*) echo role-app ;;
  *"value=='Mail.Send'"*) echo role-mail ;;
  "rest --method GET"*) echo role-user ;;
  "role assignment list"*) echo "$ROOT_COUNT" ;;
esac
"""


def _grant(tmp_path: Path, *args: str, root_count: str = "0") -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "az").write_text(FAKE_AZ)
    (bin_dir / "az").chmod(0o755)
    log = tmp_path / "az.log"
    log.write_text("")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AZ_LOG": str(log),
        "ROOT_COUNT": root_count,
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), "--principal-id", "mi-object", "--client-id", "mi-client", *args],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return done, log.read_text().splitlines()


def test_grant_script_is_valid_bash_with_strict_mode() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    assert "set -euo pipefail" in SCRIPT.read_text()


def test_grant_script_adds_only_the_missing_grants(tmp_path: Path) -> None:
    done, calls = _grant(tmp_path, "--mailbox", "pal@contoso.com")
    assert done.returncode == 0, done.stderr
    posts = [c for c in calls if c.startswith("rest --method POST")]
    # User.Read.All is already granted: two POSTs, one per missing Graph permission. Mail.Send is
    # granted in Exchange (RBAC for Applications), never tenant-wide in Graph.
    assert len(posts) == 2
    assert {re.search(r'"appRoleId": "([^"]+)"', p).group(1) for p in posts} == {"role-group", "role-app"}
    assert all("servicePrincipals/mi-object/appRoleAssignments" in p for p in posts)
    creates = [c for c in calls if c.startswith("role assignment create")]
    assert creates == [
        "role assignment create --assignee-object-id mi-object --assignee-principal-type ServicePrincipal "
        "--role Monitoring Reader --scope / --output none"
    ]
    assert "New-ManagementRoleAssignment" in done.stdout
    assert "-App mi-object" in done.stdout  # the service principal's object id (cmdlet help), not the client id
    assert '"Application Mail.Send"' in done.stdout
    assert "pal@contoso.com" in done.stdout
    assert "New-ApplicationAccessPolicy -AppId" not in done.stdout


def test_grant_script_keeps_the_application_access_policy_as_an_option(tmp_path: Path) -> None:
    done, calls = _grant(tmp_path, "--mailbox", "pal@contoso.com", "--mail-access-policy")
    assert done.returncode == 0, done.stderr
    posts = [c for c in calls if c.startswith("rest --method POST")]
    assert "role-mail" in " ".join(posts)
    assert "New-ApplicationAccessPolicy -AppId mi-client" in done.stdout


def test_grant_script_is_idempotent_and_dry_run_changes_nothing(tmp_path: Path) -> None:
    done, calls = _grant(tmp_path, "--no-mail", root_count="1")
    assert done.returncode == 0, done.stderr
    assert "Monitoring Reader at /: already assigned" in done.stdout
    assert not [c for c in calls if c.startswith("role assignment create")]
    assert "Mail.Send" not in " ".join(c for c in calls if "POST" in c)

    done, calls = _grant(tmp_path, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "$ az rest --method POST" in done.stdout  # the plan is shown ...
    assert not [c for c in calls if "POST" in c or c.startswith("role assignment create")]  # ... not run
