"""Coverage as a terminal table and as JSON: totals, order, hostile names, the empty state."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import reports, roles
from shared.reports import coverage, text
from shared.snapshots import AttributedBy, CoverageRow
from shared.store.store import Coverage

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
TENANT_A = "aaaaaaaa-1111-1111-1111-111111111111"
TENANT_B = "bbbbbbbb-2222-2222-2222-222222222222"
SUB = "22222222-2222-2222-2222-222222222222"
CONTRIBUTOR = f"/providers/Microsoft.Authorization/roleDefinitions/{roles.CONTRIBUTOR}"
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "\x1b[31mRED\x1b[0m\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "first line\nInjected: second line\r\n",
    "\u202eevil\x9b2J\x00\x07",
    "N" * 10_000,
]
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def row(
    *,
    tenant: str = TENANT_A,
    name: str = "Contoso",
    scope: str = f"/subscriptions/{SUB}",
    status: str = "attributed",
    by: tuple[AttributedBy, ...] = (),
    roles: tuple[str, ...] = (),
    reason: str = "",
    since: datetime | None = T0,
    key: str = "",
) -> CoverageRow:
    return CoverageRow(
        delegation_key=key or f"{tenant}{scope}".lower(),
        customer_tenant_id=tenant,
        customer_tenant_name=name,
        scope=scope,
        attributed=status != "not_attributed",
        status=status,
        attributed_by=by,
        role_names=roles,
        reason=reason,
        since=since,
    )


OPS = AttributedBy(
    "0b0b0b0b-0000-0000-0000-000000000001", CONTRIBUTOR, display_name="Ops Automation", kind="ServicePrincipal"
)
VIA_GROUP = AttributedBy(
    "0c0c0c0c-0000-0000-0000-000000000002", CONTRIBUTOR, via_group="99999999-9999-9999-9999-999999999999", kind="User"
)


def table_lines(cov: Coverage, width: int | None = None) -> list[str]:
    """The delegation lines of the table (after the totals and the header, which may wrap; before the scopes)."""
    out = reports.coverage_table(cov, width=width).splitlines()
    start = out.index("") + 2
    while start < len(out) and out[start].startswith(" "):
        start += 1
    rest = out[start:]
    return rest[: rest.index("")] if "" in rest else rest


# ---------------------------------------------------------------- totals


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], {"delegations": 0, "attributed": 0, "atRisk": 0, "notAttributed": 0, "customers": 0}),
        (
            [row(), row(scope=f"/subscriptions/{SUB}/resourceGroups/rg", status="at_risk")],
            {"delegations": 2, "attributed": 1, "atRisk": 1, "notAttributed": 0, "customers": 1, "customersAtRisk": 1},
        ),
        (
            [
                row(),
                row(tenant=TENANT_B, name="Fabrikam", status="not_attributed"),
                row(tenant=TENANT_B.upper(), scope=f"/subscriptions/{SUB}/resourceGroups/rg"),  # not its scope
            ],
            {
                "delegations": 3,
                "attributed": 2,
                "notAttributed": 1,
                "customers": 2,  # tenant ids compare case-insensitively
                "customersAttributed": 1,
                "customersNotAttributed": 1,
            },
        ),
        # A status this version does not know falls back on the `attributed` flag.
        (
            [row(status="somethingNew"), CoverageRow("k", TENANT_B, "", "/subscriptions/x", False, "weird")],
            {"attributed": 1, "notAttributed": 1, "customers": 2},
        ),
    ],
)
def test_totals_count_delegations_and_customers_by_worst_status(rows: list[CoverageRow], expected: dict) -> None:
    totals = coverage.totals(rows)
    for name, count in expected.items():
        assert totals[name] == count, name
    assert totals["attributed"] + totals["atRisk"] + totals["notAttributed"] == totals["delegations"]
    assert (
        totals["customersAttributed"] + totals["customersAtRisk"] + totals["customersNotAttributed"]
        == totals["customers"]
    )


def test_the_table_opens_with_the_totals() -> None:
    cov = Coverage(T0, (row(), row(tenant=TENANT_B, name="Fabrikam", status="not_attributed", reason="users_only")))
    first, second = reports.coverage_table(cov).splitlines()[:2]
    assert first == "Coverage at 2025-03-01 08:00 UTC: 2 delegations, 1 attributed, 0 at risk, 1 not attributed"
    assert second.startswith("Customers: 2 (1 fully attributed, 0 at risk, 1 with delegations not attributed)")


# ---------------------------------------------------------------- rows


@pytest.mark.parametrize(
    ("given_row", "expected_parts"),
    [
        (
            row(by=(OPS,), roles=("Contributor",)),
            ["Contoso (aaaaaaaa…)", SUB, "attributed", "Ops Automation as Contributor", "2025-03-01 08:00"],
        ),
        (
            row(scope=f"/subscriptions/{SUB}/resourceGroups/rg-app", by=(VIA_GROUP,), roles=("Contributor",)),
            [f"{SUB} / rg-app", "0c0c0c0c-0000-0000-0000-000000000002 as Contributor via group 99999999…"],
        ),
        (row(by=(OPS, VIA_GROUP), roles=("Contributor", "Contributor")), ["Ops Automation as Contributor +1 more"]),
        # No recorded role name: the role definition's GUID stands in.
        (row(by=(OPS,)), [f"Ops Automation as {roles.CONTRIBUTOR}"]),
        (
            row(name="", status="not_attributed", reason="no_eligible_role"),
            ["tenant aaaaaaaa…", "not attributed", "no authorization holds an eligible role"],
        ),
        (row(status="at_risk", by=(OPS,), roles=("Reader",)), ["at risk", "as Reader"]),
        (row(since=None), ["Contoso"]),
    ],
)
def test_a_row_says_who_where_what_and_since_when(given_row: CoverageRow, expected_parts: list[str]) -> None:
    (line,) = table_lines(Coverage(T0, (given_row,)))
    for part in expected_parts:
        assert part in line


def test_the_reason_is_shown_only_when_not_attributed() -> None:
    (line,) = table_lines(Coverage(T0, (row(by=(OPS,), reason="stale_reason"),)))
    assert "stale_reason" not in line


def test_rows_are_sorted_by_customer_name_then_scope() -> None:
    rows = (
        row(tenant=TENANT_B, name="fabrikam", scope=f"/subscriptions/{SUB}/resourceGroups/zz"),
        row(tenant=TENANT_A, name="Zeta"),
        row(tenant=TENANT_B, name="fabrikam", scope=f"/subscriptions/{SUB}/resourceGroups/AA"),
        row(tenant=TENANT_A.replace("a", "c"), name="Alpha"),
    )
    lines = table_lines(Coverage(T0, rows))
    assert [line.split()[0] for line in lines] == ["Alpha", "fabrikam", "fabrikam", "Zeta"]
    assert "/ AA" in lines[1]
    assert "/ zz" in lines[2]
    assert [d["customerTenantName"] for d in reports.coverage_json(Coverage(T0, rows))["delegations"]] == [
        "Alpha",
        "fabrikam",
        "fabrikam",
        "Zeta",
    ]


names = st.sampled_from(["Contoso", "contoso", "Fabrikam", "", "Ωmega", HOSTILE[0]])
scopes = st.sampled_from([f"/subscriptions/{SUB}"] + [f"/subscriptions/{SUB}/resourceGroups/rg{i}" for i in range(3)])
rows_strategy = st.lists(
    st.builds(row, tenant=st.sampled_from([TENANT_A, TENANT_B]), name=names, scope=scopes, key=st.uuids().map(str)),
    max_size=12,
    unique_by=lambda r: r.delegation_key,
)


@given(rows_strategy, st.randoms())
def test_input_order_never_changes_the_report(rows: list[CoverageRow], rnd) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert reports.coverage_table(Coverage(T0, tuple(rows))) == reports.coverage_table(Coverage(T0, tuple(shuffled)))
    assert reports.coverage_json(Coverage(T0, tuple(rows))) == reports.coverage_json(Coverage(T0, tuple(shuffled)))


# ---------------------------------------------------------------- hostile strings


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("width", [None, 100, 140, 200])
def test_hostile_strings_never_reach_the_terminal_raw(hostile: str, width: int | None) -> None:
    cov = Coverage(
        T0,
        (
            row(
                name=hostile,
                by=(AttributedBy("p", CONTRIBUTOR, via_group=hostile, display_name=hostile),),
                roles=(hostile,),
            ),
            row(
                tenant=TENANT_B,
                name="Fabrikam",
                scope=f"/subscriptions/{SUB}/resourceGroups/{hostile}",
                status="not_attributed",
                reason=hostile,
            ),
        ),
    )
    out = reports.coverage_table(cov, width=width)
    assert not UNSAFE.search(out)
    assert "\x1b" not in out
    lines = table_lines(cov, width)
    # A newline in a name starts no line of its own; a wrapped cell stays a few lines.
    assert not any(line.startswith(("Injected", "second")) for line in lines)
    assert len(lines) <= 2 * text.MAX_PROSE_LINES
    limit = width or 48 + 110 + 14 + 72 + 16 + 2 * 4
    assert all(text.display_width(line) <= limit for line in lines)
    assert all(text.display_width(line) <= limit for line in out.splitlines())
    if len(hostile) > 1000:
        assert len(out) < 4000  # a few wrapped lines, not 10,000 characters
        assert "…" in out


FABRIKAM = "52b02585-1111-4111-8111-111111111111"
NARROW_ESTATE = Coverage(
    T0,
    (
        row(tenant=FABRIKAM, name="Fabrikam Manufacturing", by=(OPS,), roles=("Contributor",)),
        row(
            tenant=TENANT_B,
            name="Contoso Holdings International",
            scope=f"/subscriptions/{SUB}/resourceGroups/rg-production-westeurope",
            status="not_attributed",
            reason="users_only",
        ),
    ),
)


@pytest.mark.parametrize("width", [120, 80])
def test_a_terminal_keeps_names_whole_and_cuts_ids_first(width: int) -> None:
    out = reports.coverage_table(NARROW_ESTATE, width=width)
    lines = table_lines(NARROW_ESTATE, width)
    assert all(text.display_width(line) <= width for line in out.splitlines()[3:])
    words = " ".join(" ".join(lines).split())
    names = ("Fabrikam Manufacturing", "Contoso Holdings International", "rg-production-westeurope")
    reason = "only users hold eligible roles; they must link by hand"  # the reason in words, not its code
    for word in re.split(r"[ -]", " ".join([*names, reason])):
        assert word in words  # wrapped onto lines, never cut
    assert "Fab…" not in out
    assert "Fabrikam M…" not in out
    assert "users_only" not in out


def test_a_wide_terminal_shows_the_ids_too() -> None:
    out = reports.coverage_table(NARROW_ESTATE, width=220)
    assert "Fabrikam Manufacturing (52b02585…)" in out
    assert SUB in out


# ---------------------------------------------------------------- empty state


def test_no_verification_yet_says_what_to_run() -> None:
    assert "palwatch verify" in reports.coverage_table(None)
    assert reports.coverage_json(None) == {
        "generatedAt": None,
        "totals": {**coverage.totals([]), **coverage.scope_totals([])},
        "scopes": [],
        "delegations": [],
        "byLocation": {},
    }


def test_a_verify_that_found_no_delegations_says_so() -> None:
    out = reports.coverage_table(Coverage(T0, ()))
    assert "No delegations" in out
    assert "2025-03-01 08:00" in out
    assert reports.coverage_json(Coverage(T0, ()))["generatedAt"] == "2025-03-01T08:00:00Z"


# ---------------------------------------------------------------- JSON


def test_json_has_stable_camel_case_fields_and_round_trips() -> None:
    cov = Coverage(
        T0,
        (
            row(by=(OPS, VIA_GROUP), roles=("Contributor", "Contributor"), since=datetime(2025, 2, 1, 9, 30)),
            row(tenant=TENANT_B, name=HOSTILE[1], status="not_attributed", reason="users_only", since=None),
        ),
    )
    doc = reports.coverage_json(cov)
    assert json.loads(json.dumps(doc)) == doc
    assert set(doc) == {"generatedAt", "totals", "scopes", "delegations", "byLocation"}
    by_tenant = {d["customerTenantId"]: d for d in doc["delegations"]}
    first, second = by_tenant[TENANT_A], by_tenant[TENANT_B]
    assert doc["delegations"] == [second, first]  # '"' sorts before 'C'

    assert set(first) == {
        "delegationKey",
        "customerTenantId",
        "customerTenantName",
        "scope",
        "subscriptionName",
        "offer",
        "offerType",
        "quotaId",
        "offerSource",
        "marketplacePlan",
        "status",
        "attributed",
        "recognised",
        "attributedBy",
        "reason",
        "since",
        "recognition",
        "partnerEarnedCredit",
        "incentiveEligible",
        "credit",
        "foreignAobo",
        "partnerLocations",
        "creditObserved",  # what Microsoft's billing export says (null without billing data)
    }
    assert first["since"] == "2025-02-01T09:30:00Z"  # naive instants are UTC, as the store writes them
    assert first["attributedBy"] == [
        {
            "principalId": OPS.principal_id,
            "displayName": "Ops Automation",
            "kind": "ServicePrincipal",
            "roleId": CONTRIBUTOR,
            "roleName": "Contributor",
            "viaGroup": None,
        },
        {
            "principalId": VIA_GROUP.principal_id,
            "displayName": "",
            "kind": "User",
            "roleId": CONTRIBUTOR,
            "roleName": "Contributor",
            "viaGroup": VIA_GROUP.via_group,
        },
    ]
    assert (first["reason"], first["attributed"], first["status"]) == (None, True, "attributed")
    # JSON keeps what customers wrote; json.dumps escapes it, consumers escape it for their medium.
    assert second["customerTenantName"] == HOSTILE[1]
    assert (second["reason"], second["since"], second["attributedBy"]) == ("users_only", None, [])
    assert doc["totals"]["delegations"] == 2


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2025, 3, 1, 8, 0, tzinfo=UTC), "2025-03-01T08:00:00Z"),
        (datetime(2025, 3, 1, 8, 0), "2025-03-01T08:00:00Z"),
        (datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2))), "2025-03-01T08:00:00Z"),
    ],
)
def test_generated_at_is_iso_utc_with_z(moment: datetime, expected: str) -> None:
    assert reports.coverage_json(Coverage(moment, ()))["generatedAt"] == expected


def test_csv_quotes_customer_names_a_spreadsheet_would_run() -> None:
    import csv
    import io

    cov = Coverage(T0, (row(tenant=TENANT_B, name='=HYPERLINK("http://evil")', status="not_attributed"),))

    (parsed,) = list(csv.DictReader(io.StringIO(reports.coverage_csv(cov))))

    assert parsed["customerTenantName"] == '\'=HYPERLINK("http://evil")'
    assert parsed["customerTenantId"] == TENANT_B


def test_a_subscription_is_shown_by_its_name_and_its_id_goes_first() -> None:
    named = CoverageRow(
        delegation_key="k",
        customer_tenant_id=TENANT_A,
        customer_tenant_name="Contoso",
        scope=f"/subscriptions/{SUB}/resourceGroups/rg-app",
        attributed=True,
        status="attributed",
        subscription_name="Production",
    )
    wide = reports.coverage_table(Coverage(T0, (named,)), width=200)
    assert "Production (22222222…) / rg-app" in wide
    narrow = reports.coverage_table(Coverage(T0, (named,)), width=60)
    assert "Production" in narrow
    assert "22222222" not in narrow  # the id went first
    assert reports.coverage_json(Coverage(T0, (named,)))["delegations"][0]["subscriptionName"] == "Production"
