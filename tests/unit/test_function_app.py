"""function_app.py indexes as the Functions host indexes it, and holds triggers only."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import function_app

ROOT = Path(__file__).resolve().parents[2]


def _functions() -> dict[str, dict]:
    # app.get_functions() may be called once per app object (it caches); index a fresh copy each time.
    return {f.get_function_name(): json.loads(f.get_function_json()) for f in function_app.app.get_functions()}


FUNCTIONS = _functions()


def _trigger(name: str) -> dict:
    return next(b for b in FUNCTIONS[name]["bindings"] if b["direction"] == "IN")


def test_every_trigger_is_indexed_with_its_binding():
    assert {n: _trigger(n)["type"] for n in FUNCTIONS} == {
        "delegation_events": "eventGridTrigger",
        "watch_delegations": "timerTrigger",
        "identity_events": "eventGridTrigger",
        "verify_attribution": "timerTrigger",
        "cost_snapshot": "timerTrigger",
        "credit_snapshot": "timerTrigger",
        "coverage": "httpTrigger",
        "health": "httpTrigger",
    }


def test_schedules_come_from_app_settings():
    assert _trigger("watch_delegations")["schedule"] == "%PAL_WATCH_SCHEDULE%"
    assert _trigger("verify_attribution")["schedule"] == "%PAL_VERIFY_SCHEDULE%"
    assert _trigger("cost_snapshot")["schedule"] == "%PAL_COST_SCHEDULE%"
    assert _trigger("credit_snapshot")["schedule"] == "%PAL_CREDIT_SNAPSHOT_SCHEDULE%"


def test_the_coverage_endpoint_needs_a_function_key():
    assert _trigger("coverage")["authLevel"].lower() == "function"
    assert _trigger("coverage")["methods"] == ["GET"]


def test_the_health_endpoint_needs_a_function_key():
    assert _trigger("health")["authLevel"].lower() in ("function", "admin")
    assert _trigger("health")["methods"] == ["GET", "POST"]
    assert _trigger("health")["route"] == "health"


def test_function_app_imports_nothing_but_the_functions_library_at_module_level():
    tree = ast.parse((ROOT / "function_app.py").read_text())
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = {alias.name for n in top_level if isinstance(n, ast.Import) for alias in n.names}
    modules |= {n.module for n in top_level if isinstance(n, ast.ImportFrom)}
    assert modules <= {"azure.functions", "logging", "datetime", "__future__"}, modules


def test_triggers_only_call_the_engine_use_cases():
    tree = ast.parse((ROOT / "function_app.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared"):
            assert node.module == "shared.usecases", f"function_app imports {node.module}: call a use case instead"
        assert not isinstance(node, ast.If | ast.For | ast.While), "no business branching in triggers"
