"""Structured log records: stable names, dimensions in the message (what reaches App Insights), no surprises."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from shared import model, telemetry
from shared.usecases import alerts, outcomes


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, dict]]:
    return [telemetry.parse(r.getMessage()) for r in caplog.records if r.name == "palwatch.telemetry"]


def test_a_record_carries_its_dimensions_in_the_message_and_in_custom_dimensions(caplog) -> None:
    caplog.set_level(logging.INFO, logger="palwatch.telemetry")
    line = telemetry.emit(telemetry.COVERAGE, {"delegations": 3, "attributed": 2, "names": ["a", "b"]})
    assert line == 'PalWatch.Coverage {"attributed":2,"delegations":3,"names":["a","b"]}'
    (record,) = caplog.records
    assert record.getMessage() == line
    assert record.custom_dimensions == {
        "record": "PalWatch.Coverage",
        "delegations": 3,
        "attributed": 2,
        "names": '["a", "b"]',
    }


def test_unknown_names_are_refused_so_the_documented_list_stays_complete() -> None:
    with pytest.raises(ValueError, match="RECORDS"):
        telemetry.emit("PalWatch.Whatever", {})


def test_long_values_are_cut() -> None:
    _, dims = telemetry.parse(telemetry.message(telemetry.TRIGGER_OUTCOME, {"summary": "x" * 5000}))
    assert len(dims["summary"]) == 1000


@dataclass
class _Watch:
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "steps"


def test_trigger_outcomes_ok_partial_and_failed(caplog) -> None:
    caplog.set_level(logging.INFO, logger="palwatch.telemetry")
    with outcomes.trigger_run("watch_delegations") as run:
        run.done(_Watch())
    with outcomes.trigger_run("watch_delegations") as run:
        run.done(_Watch(failed=["alerts"]))
    with pytest.raises(RuntimeError), outcomes.trigger_run("verify_attribution"):
        raise RuntimeError("every step failed")
    with outcomes.trigger_run("coverage") as run:
        run.done(503, httpStatus=503)
    got = [(d["trigger"], d["status"]) for _, d in records(caplog)]
    assert got == [
        ("watch_delegations", "ok"),
        ("watch_delegations", "partial"),
        ("verify_attribution", "failed"),
        ("coverage", "failed"),
    ]
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING", "ERROR", "WARNING"]
    assert records(caplog)[2][1]["error"] == "RuntimeError"


def test_findings_opened_and_resolved_are_records(caplog) -> None:
    caplog.set_level(logging.INFO, logger="palwatch.telemetry")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    finding = model.Finding(
        key="attribution:/subscriptions/s/x", kind="attribution_lost", severity=model.Severity.CRITICAL,
        subject="/subscriptions/s/x", title="Lost", reason="deleted", tenant_id="t1", tenant_name="Fabrikam <b>",
    )  # fmt: skip
    recorded = model.RecordedFinding(finding=finding, opened_at=now)
    alerts.record_findings([recorded], [recorded])
    (opened_name, opened), (resolved_name, resolved) = records(caplog)
    assert (opened_name, resolved_name) == (telemetry.FINDING_OPENED, telemetry.FINDING_RESOLVED)
    assert opened == resolved
    assert opened["kind"] == "attribution_lost"
    assert opened["severity"] == "critical"
    assert opened["tenantName"] == "Fabrikam <b>"
    assert caplog.records[0].levelname == "WARNING"


def test_every_record_name_is_documented() -> None:
    from pathlib import Path

    deploy = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()
    for name in telemetry.RECORDS:
        assert f"`{name}`" in deploy, f"{name} is not documented in docs/deploy.md"


@pytest.mark.parametrize("root_level", [logging.DEBUG, logging.WARNING])
def test_the_app_sets_python_logger_levels_itself_whatever_the_worker_set_on_root(root_level, monkeypatch) -> None:
    """host.json filters the worker's lines only as `Function.<name>.User`, never by Python logger."""
    import importlib

    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root_level)
    for name in ("shared", "palwatch", "azure", "urllib3"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    import function_app

    importlib.reload(function_app)

    assert logging.getLogger("shared.usecases.verify").isEnabledFor(logging.INFO)
    assert logging.getLogger("palwatch.telemetry").isEnabledFor(logging.INFO)
    assert not logging.getLogger("azure.core.pipeline.policies.http_logging_policy").isEnabledFor(logging.INFO)
    assert not logging.getLogger("azure.identity").isEnabledFor(logging.INFO)
    assert logging.getLogger("azure.identity").isEnabledFor(logging.WARNING)
