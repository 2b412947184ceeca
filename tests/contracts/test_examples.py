"""Microsoft's x-ms-examples: valid against their own schemas, and replayed against the emulator.

Each vendored example's request (its parameters, with the example's ids replaced by the demo
scenario's) is sent to the emulator; the answer must have the example's status and its shape:
the example's top-level properties, the same JSON type wherever both have a property (list items
compared with the example's first item), and the same ARM resource `type`. The answer is also
validated against the operation's schema, like every recorded answer.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.contracts.conformance import Checker, Result
from tests.contracts.swagger import SPECS, Operation, Specs
from tests.support import demo
from tests.support.callers import Probe
from tests.support.services import Emulator

FABRIKAM_DELEGATION = demo.delegation("fabrikam")
EXAMPLE_DIRS = {
    "managementpartner-2018-02-01.json": "managementpartner",
    "managedservices-2022-10-01.json": "managedservices",
    "subscriptions-2022-12-01.json": "subscriptions",
    "authorization-roledefinitions-2022-04-01.json": "authorization",
    "insights-tenantactivitylogs-2015-04-01.json": "insights",
}
WAIVERS = json.loads((SPECS.parent / "waivers.json").read_text())["examples"]
LINKED_CALLER_WRITES = {
    "Partner_Create",
    "Partner_Update",
    "Partner_Delete",
}  # the MI is linked already: use a newcomer


def vendored_examples() -> list[tuple[str, str, Path]]:
    """(operationId, example name, file) for every x-ms-example whose file is vendored."""
    specs = Specs.load()
    found = []
    for op in specs.operations:
        folder = EXAMPLE_DIRS.get(op.file)
        for name, ref in op.examples.items():
            path = SPECS / "examples" / folder / Path(ref).name if folder else None
            if path is not None and path.exists():
                found.append((op.operation_id, name, path))
    return found


EXAMPLES = vendored_examples()


def waived(operation_id: str, path: str) -> dict[str, Any] | None:
    """The example waiver for a property path ('properties.version'), list indices ignored."""
    bare = ".".join(p for p in re.split(r"[./]", path) if p and not p.isdigit())
    for waiver in WAIVERS:
        if (operation_id in waiver["operations"] or "*" in waiver["operations"]) and bare.endswith(waiver["path"]):
            return waiver
    return None


def kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def shape_differences(example: Any, actual: Any, operation_id: str, path: str = "") -> list[str]:
    if example is None or actual is None:
        return []  # no value on one side: nothing to compare
    if waived(operation_id, path):
        return []
    if kind(example) != kind(actual):
        return [f"{path or '(body)'}: the example has {kind(example)}, the emulator {kind(actual)}"]
    found: list[str] = []
    if isinstance(example, dict):
        for key, value in example.items():
            where = f"{path}.{key}" if path else key
            if key in actual:
                found += shape_differences(value, actual[key], operation_id, where)
            elif not path and not waived(operation_id, where):
                found.append(f"{where}: in the example, missing from the answer")
        if "type" in example and isinstance(example["type"], str) and "/" in example["type"]:
            waiver = waived(operation_id, f"{path}.type" if path else "type")
            expected = waiver.get("value", actual.get("type")) if waiver else example["type"]
            if str(actual.get("type", "")).lower() != str(expected).lower():
                found.append(f"{path or '(body)'}.type: {actual.get('type')!r}, expected {expected!r}")
    elif isinstance(example, list) and example:
        if not actual:
            return [f"{path}: the answer has no items to compare"] if path == "value" else []
        for item in actual:
            found += shape_differences(example[0], item, operation_id, f"{path}.0")
    return found


def test_vendored_examples_are_found() -> None:
    assert len(EXAMPLES) >= 12, EXAMPLES


@pytest.mark.parametrize(("operation_id", "name", "path"), EXAMPLES, ids=[f"{o}:{n}" for o, n, _ in EXAMPLES])
def test_microsofts_example_satisfies_the_vendored_schema(
    specs: Specs, operation_id: str, name: str, path: Path
) -> None:
    op = specs.operation(operation_id)
    example = json.loads(path.read_text())
    for status, answer in example["responses"].items():
        schema = op.responses.get(status)
        if schema is None:
            assert answer.get("body") in (None, ""), f"{status} declares no body"
            continue
        errors = [e for e in specs.errors(schema, op.file, answer["body"]) if not waived(operation_id, e.split(":")[0])]
        assert errors == [], errors


def replay_request(op: Operation, example: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The example's request as a path and query, its ids replaced by the demo scenario's."""
    params = dict(example["parameters"])
    now = datetime.now(UTC)
    ours = {
        "partnerId": demo.PARTNER,
        "subscriptionId": demo.HOME.subscription_id,
        "registrationAssignmentId": FABRIKAM_DELEGATION["registrationAssignmentId"],
        "registrationDefinitionId": FABRIKAM_DELEGATION["registrationDefinitionId"],
        "roleDefinitionId": demo.CONTRIBUTOR,
        "scope": f"subscriptions/{demo.HOME.subscription_id}"
        if "Authorization" in op.template
        else FABRIKAM_DELEGATION["scope"].lstrip("/"),
    }
    path = op.template
    for name in re.findall(r"\{([^}]+)\}", op.template):
        path = path.replace("{" + name + "}", ours[name])
    query = {}
    for name in op.query_parameters():
        if name in params:
            query[name] = str(params[name])
    if "$filter" in query:
        text = re.sub(r"managedByTenantId eq '[^']*'", f"managedByTenantId eq '{demo.MANAGING}'", query["$filter"])
        stamps = iter(
            [
                (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            ]
        )
        query["$filter"] = re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z", lambda _m: next(stamps), text)
    return path, query


@pytest.mark.parametrize(("operation_id", "name", "path"), EXAMPLES, ids=[f"{o}:{n}" for o, n, _ in EXAMPLES])
def test_example_replayed_against_the_emulator_answers_the_same_shape(  # noqa: PLR0917 - pytest passes fixtures and parameters by name
    emulator: Emulator, specs: Specs, checker: Checker, operation_id: str, name: str, path: Path
) -> None:
    op = specs.operation(operation_id)
    example = json.loads(path.read_text())
    url, query = replay_request(op, example)
    caller = demo.MI.object_id
    if operation_id in LINKED_CALLER_WRITES:
        caller = "5f0c1d2e-0000-4000-8000-00000000c0de"
        emulator.control(
            "PUT", f"/principals/{caller}", {"tenantId": demo.MANAGING, "type": "User", "displayName": "Newcomer"}
        )
        if operation_id == "Partner_Update":
            emulator.control("PUT", f"/links/{demo.MANAGING}/{caller}", {"partnerId": demo.PARTNER})
    emulator.control("POST", "/journal", {"recordBodies": True})
    answer = Probe(emulator).call(op.method, url, caller, params=query)
    status, expected = next(iter(example["responses"].items()))
    assert answer.status_code == int(status), answer.text[:300]
    body = answer.json() if answer.content else None
    assert shape_differences(expected.get("body") or None, body, operation_id) == []
    result = Result()
    checker.arm_response(emulator.journal()[-1], result)
    assert result.errors == []


def test_emulated_arm_events_have_the_shape_of_microsofts_event_examples(emulator: Emulator) -> None:
    examples = SPECS / "examples" / "eventgrid"
    write_example = json.loads((examples / "resource_write_success.json").read_text())
    delete_example = json.loads((examples / "resource_delete_success.cloudevent.json").read_text())
    body = {**FABRIKAM_DELEGATION, "registrationAssignmentId": "6b1f0c4e-0000-4000-8000-0000000000e1"}
    (written,) = emulator.control("PUT", f"/delegations/{body['registrationAssignmentId']}", body)["events"]
    (deleted,) = emulator.control("DELETE", f"/delegations/{body['registrationAssignmentId']}")["events"]
    assert shape_differences(write_example, written, "event:Microsoft.Resources.ResourceWriteSuccess") == []
    assert (
        shape_differences(delete_example["data"], deleted["data"], "event:Microsoft.Resources.ResourceDeleteSuccess")
        == []
    )


def test_the_shape_comparison_catches_what_it_compares() -> None:
    example = {
        "id": "/s/1",
        "type": "Microsoft.Resources/things",
        "properties": {"n": 1, "tags": ["a"]},
        "value": [{"x": "1"}],
    }
    assert shape_differences(example, json.loads(json.dumps(example)), "Any") == []
    assert shape_differences(example, {**example, "properties": {"n": "1", "tags": ["a"]}}, "Any") == [
        "properties.n: the example has number, the emulator string"
    ]
    assert shape_differences(example, {k: v for k, v in example.items() if k != "id"}, "Any") == [
        "id: in the example, missing from the answer"
    ]
    assert shape_differences(example, {**example, "type": "Microsoft.Resources/thing"}, "Any") != []
    assert shape_differences(example, {**example, "value": []}, "Any") == ["value: the answer has no items to compare"]


@pytest.mark.parametrize("name", ["resource_write_success.json", "resource_delete_success.cloudevent.json"])
def test_microsofts_event_examples_satisfy_the_envelopes_and_their_data(checker: Checker, name: str) -> None:
    event = json.loads((SPECS / "examples" / "eventgrid" / name).read_text())
    for waiver in WAIVERS:
        if "renameTo" in waiver and waiver["path"] in event:
            event[waiver["renameTo"]] = event.pop(waiver["path"])
    result = Result()
    checker.event(event, result, name)
    assert result.errors == []
