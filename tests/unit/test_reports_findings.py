"""`palwatch findings`: most severe then oldest first, the fix beneath, JSON with the promised fields."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import model, reports, roles
from shared.reports import text

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
TENANT = "11111111-1111-1111-1111-111111111111"
SCOPE = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-app"
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def recorded(
    key: str,
    severity: model.Severity = model.Severity.CRITICAL,
    opened: datetime = T0,
    resolved: datetime | None = None,
    **fields: str,
) -> model.RecordedFinding:
    values = {
        "kind": "unattributed_delegation",
        "subject": f"subject-{key}",
        "title": f"Delegation not attributed ({key})",
        "reason": "users_only",
        "fix": f"az login --tenant {TENANT}\naz managementpartner create --partner-id 1234567",
        "tenant_id": TENANT,
        "tenant_name": "Contoso",
        "scope": SCOPE,
        "principal_id": "",
    } | fields
    return model.RecordedFinding(model.Finding(key=key, severity=severity, **values), opened, resolved)


def finding_lines(out: str) -> list[str]:
    """The rows of the table (not the summary, the header or the indented fix lines)."""
    lines = out.splitlines()
    return [line for line in lines[lines.index("") + 2 :] if not line.startswith(" ")]


ORDER_CASES = [
    # (key, severity, hours after T0) given in some order -> expected key order
    (
        [
            ("w", model.Severity.WARNING, 0),
            ("c-new", model.Severity.CRITICAL, 5),
            ("c-old", model.Severity.CRITICAL, 1),
        ],
        ["c-old", "c-new", "w"],
    ),
    (
        [("i", model.Severity.INFO, -100), ("w", model.Severity.WARNING, 3), ("c", model.Severity.CRITICAL, 9)],
        ["c", "w", "i"],
    ),
    ([("b", model.Severity.WARNING, 0), ("a", model.Severity.WARNING, 0)], ["a", "b"]),
]


@pytest.mark.parametrize(("given_items", "expected"), ORDER_CASES)
def test_most_severe_first_then_oldest(given_items: list, expected: list[str]) -> None:
    items = [recorded(k, s, T0 + timedelta(hours=h)) for k, s, h in given_items]
    assert [f["key"] for f in reports.findings_json(items)] == expected
    rows = finding_lines(reports.findings_table(items))
    assert [re.search(r"\(([\w-]+)\)", line).group(1) for line in rows] == expected  # type: ignore[union-attr]


@given(st.permutations([recorded(k, s, T0 + timedelta(hours=h)) for k, s, h in ORDER_CASES[0][0] + ORDER_CASES[1][0]]))
def test_input_order_does_not_matter(items: list[model.RecordedFinding]) -> None:
    assert reports.findings_table(items) == reports.findings_table(sorted(items, key=lambda r: r.finding.key))


def test_the_fix_is_on_indented_lines_under_its_finding() -> None:
    out = reports.findings_table([recorded("a"), recorded("b", model.Severity.WARNING)])
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if "(a)" in line)
    assert lines[row + 1] == "    fix: az login --tenant 11111111-1111-1111-1111-111111111111"
    assert lines[row + 2] == "         az managementpartner create --partner-id 1234567"
    assert "(b)" in lines[row + 3]
    assert lines[0] == "Open findings: 1 critical, 1 warning"


def test_a_resolved_finding_shows_when_and_no_fix() -> None:
    out = reports.findings_table([recorded("gone", resolved=T0 + timedelta(hours=2))])
    (row,) = finding_lines(out)
    assert "resolved 2025-03-01 10:00" in row
    assert "fix:" not in out
    assert out.splitlines()[0] == "Open findings: none; 1 resolved"


@pytest.mark.parametrize(
    "hostile",
    [
        "<img src=x onerror=alert(1)>",
        "\x1b[2J\x1b[31mCLEARED\x1b]0;title\x07",
        "name\nInjected: row\r\n  fix: rm -rf /",
        "\u202eevil\x9b31m",
        "N" * 10_000,
    ],
)
def test_hostile_strings_stay_inert_in_the_terminal(hostile: str) -> None:
    item = recorded("h", tenant_name=hostile, title=hostile, scope=f"/subscriptions/s/resourceGroups/{hostile}")
    out = reports.findings_table([item])
    assert not UNSAFE.search(out)
    assert "\x1b" not in out
    assert len(finding_lines(out)) == 1
    assert sum(1 for line in out.splitlines() if line.lstrip().startswith("fix:")) == 1
    assert len(out) < 1500


def test_width_is_respected_by_every_row() -> None:
    out = reports.findings_table([recorded("a", tenant_name="C" * 500), recorded("b")], width=120)
    assert all(len(line) <= 120 for line in out.splitlines())


LONG_FIX = (
    "Add a permanent authorization with a PEC-eligible role (for example Contributor, "
    f"{roles.CONTRIBUTOR}) for an identity PAL Watch can act as to the Lighthouse offer, "
    "and have the customer update the delegation."
)


@pytest.mark.parametrize("width", [120, 80])
def test_names_stay_whole_ids_go_first_and_the_fix_is_never_cut(width: int) -> None:
    item = recorded(
        "a",
        tenant_id="52b02585-1111-4111-8111-111111111111",
        tenant_name="Fabrikam Manufacturing",
        title="Delegation of Fabrikam Manufacturing earns no partner credit",
        fix=LONG_FIX,
    )
    out = reports.findings_table([item], width=width)
    assert all(text.display_width(line) <= width for line in out.splitlines())
    words = " ".join(out.split())
    for word in ["Fabrikam", "Manufacturing", "rg-app"]:
        assert word in words
    assert "Fab…" not in out
    assert "Fabrikam M…" not in out
    assert " ".join(LONG_FIX.split()) in " ".join(
        part.strip().removeprefix("fix:").strip() for part in out.splitlines() if part.startswith("    ")
    )
    assert "…" not in "".join(line for line in out.splitlines() if line.startswith("    "))


def test_no_findings() -> None:
    assert reports.findings_table([]) == "No findings: nothing needs attention."
    assert reports.findings_json([]) == []


def test_json_items_carry_the_promised_fields_and_round_trip() -> None:
    opened = datetime(2025, 3, 1, 9, 15, 30)  # naive: the store's UTC
    items = [
        recorded("open", opened=opened, principal_id="0b0b0b0b-0000-0000-0000-000000000001"),
        recorded("done", model.Severity.INFO, resolved=T0 + timedelta(days=1), tenant_id="", tenant_name="", scope=""),
    ]
    data = reports.findings_json(items)
    assert json.loads(json.dumps(data)) == data
    first, second = data
    required = {
        "key",
        "kind",
        "severity",
        "openedAt",
        "resolvedAt",
        "tenantId",
        "tenantName",
        "scope",
        "title",
        "reason",
        "fix",
        "subject",
        "principalId",
    }
    assert required <= set(first)
    assert first["key"] == "open"
    assert first["severity"] == "critical"
    assert first["openedAt"] == "2025-03-01T09:15:30Z"
    assert first["resolvedAt"] is None
    assert first["tenantId"] == TENANT
    assert first["scope"] == SCOPE
    assert first["principalId"] == "0b0b0b0b-0000-0000-0000-000000000001"
    assert first["fix"].startswith("az login")
    assert second["resolvedAt"] == "2025-03-02T08:00:00Z"
    assert (second["tenantId"], second["scope"], second["principalId"]) == (None, None, None)
    for item in data:
        for name in ("openedAt", "resolvedAt"):
            assert item[name] is None or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item[name])
