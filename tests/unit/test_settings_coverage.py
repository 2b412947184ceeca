"""Every app setting the engine reads is set by infra/ and documented (tools/settings_coverage.py).

The real-tree test is the gate; the temporary-tree tests prove it fails when a setting is added
in code but not in infra/ or the docs, and that its message says where to add it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tools import settings_coverage as cov

# The settings contract in the team notes: the target, whether or not the code reads it yet.
CONTRACT = [
    "PAL_PARTNER_ID", "PAL_MANAGING_TENANT_ID", "PAL_IDENTITIES", "AZURE_CLIENT_ID",
    "PAL_FEDERATION_DISCOVERY", "PAL_ATTESTED_USERS", "PAL_CUSTOMER_TENANTS", "PAL_ARM_ENDPOINT", "PAL_GRAPH_ENDPOINT",
    "AZURE_AUTHORITY_HOST", "PAL_ARM_AUDIENCE", "PAL_GRAPH_AUDIENCE", "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE", "AzureWebJobsStorage", "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__accountName", "PAL_TABLE_PREFIX", "PAL_MAX_CONCURRENCY",
    "PAL_HTTP_TIMEOUT_SECONDS", "PAL_WATCH_SCHEDULE", "PAL_VERIFY_SCHEDULE",
    "PAL_GRAPH_NOTIFICATION_URL", "PAL_GRAPH_CLIENT_STATE", "PAL_ALERT_MAIL_FROM", "PAL_ALERT_MAIL_TO",
    "PAL_ALERT_SMTP_HOST", "PAL_ALERT_SMTP_PORT", "PAL_ALERT_SMTP_SECURITY", "PAL_ALERT_SMTP_USER",
    "PAL_ALERT_SMTP_PASSWORD", "PAL_ALERT_WEBHOOK_URL", "PAL_EVENTS_TOPIC_ENDPOINT",
    "PAL_ALERT_REMIND_HOURS", "PAL_ALERT_DIGEST", "PAL_ALERT_OUTBOX_DIR",
    "PAL_COST", "PAL_COST_SCHEDULE", "PAL_PEC_RATE",
    "PAL_BILLING", "PAL_CREDIT_SNAPSHOT_SCHEDULE", "PAL_BILLING_CURRENCY",
]  # fmt: skip


def _report(gaps: list[cov.Gap]) -> str:
    return "settings read by the code but missing in infra/ or docs:\n  " + "\n  ".join(g.advice() for g in gaps)


def test_every_setting_the_code_reads_is_set_by_infra_and_documented() -> None:
    read = cov.settings_read_by_code()
    assert read, "no settings found in function_app.py / shared/: has the scan lost its way?"
    gaps = cov.find_gaps(names=read)
    assert not gaps, _report(gaps)


def test_the_settings_contract_is_set_by_infra_and_documented() -> None:
    gaps = cov.find_gaps(names={name: ["team-notes contract"] for name in CONTRACT})
    assert not gaps, _report(gaps)


def _tree(tmp_path: Path, code: str, bicep: str = "", docs: str = "") -> Path:
    (tmp_path / "shared").mkdir()
    (tmp_path / "function_app.py").write_text("import os\n")
    (tmp_path / "shared" / "settings.py").write_text(textwrap.dedent(code))
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.bicep").write_text(textwrap.dedent(bicep))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "deploy.md").write_text(docs)
    return tmp_path


NEW_SETTING_CODE = """
    import os
    LIMIT = os.environ.get("PAL_NEW_LIMIT", "3")
    OLD = os.environ["PAL_PARTNER_ID"]
"""
BICEP_WITH_OLD = """
    var settings = {
      PAL_PARTNER_ID: palPartnerId
      // PAL_NEW_LIMIT: '3'   (a comment does not count)
    }
"""


def test_a_setting_added_in_code_only_is_reported_for_infra_and_docs(tmp_path: Path) -> None:
    root = _tree(tmp_path, NEW_SETTING_CODE, BICEP_WITH_OLD, "`PAL_PARTNER_ID`: the partner id\n")

    gaps = cov.find_gaps(root)

    assert [(g.name, g.missing) for g in gaps] == [("PAL_NEW_LIMIT", ["infra", "docs"])]
    advice = gaps[0].advice()
    assert "shared/settings.py:3" in advice
    assert "infra/main.bicep" in advice
    assert "docs/deploy.md" in advice
    assert cov.main([str(root)]) == 1


def test_a_setting_set_in_infra_but_undocumented_is_still_reported(tmp_path: Path) -> None:
    bicep = BICEP_WITH_OLD + "    var more = {\n      'PAL_NEW_LIMIT': '3'\n    }\n"
    root = _tree(tmp_path, NEW_SETTING_CODE, bicep, "PAL_PARTNER_ID\n")

    assert [(g.name, g.missing) for g in cov.find_gaps(root)] == [("PAL_NEW_LIMIT", ["docs"])]


def test_set_and_documented_passes_and_a_longer_name_does_not_count(tmp_path: Path) -> None:
    bicep = BICEP_WITH_OLD + "    var more = {\n      PAL_NEW_LIMIT: '3'\n    }\n"
    root = _tree(tmp_path, NEW_SETTING_CODE, bicep, "PAL_PARTNER_ID, PAL_NEW_LIMIT\n")
    assert cov.find_gaps(root) == []
    assert cov.main([str(root)]) == 0

    (root / "docs" / "deploy.md").write_text("PAL_PARTNER_ID, PAL_NEW_LIMIT_MAX\n")
    assert [g.name for g in cov.find_gaps(root)] == ["PAL_NEW_LIMIT"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('x = f"PAL_IDENTITY_{name}"', set()),  # a prefix, not a setting
        ('x = "%PAL_WATCH_SCHEDULE%"', {"PAL_WATCH_SCHEDULE"}),  # binding expression
        ('x = "set PAL_PARTNER_ID to digits"', {"PAL_PARTNER_ID"}),  # named in a message
        ('x = "AzureWebJobsStorage__accountName"', {"AzureWebJobsStorage__accountName"}),
        ('x = "AZURE_CLIENT_ID"', {"AZURE_CLIENT_ID"}),
        ("# PAL_IN_A_COMMENT\nx = 1", set()),  # comments are not reads
    ],
)
def test_what_counts_as_a_setting_read(tmp_path: Path, code: str, expected: set[str]) -> None:
    root = _tree(tmp_path, code + "\n")
    assert set(cov.settings_read_by_code(root)) == expected


def test_exempt_settings_need_docs_but_not_infra(tmp_path: Path) -> None:
    root = _tree(tmp_path, 'a = "IDENTITY_ENDPOINT"\nb = "PAL_ALERT_OUTBOX_DIR"\n', "", "IDENTITY_ENDPOINT\n")
    assert [(g.name, g.missing) for g in cov.find_gaps(root)] == [("PAL_ALERT_OUTBOX_DIR", ["docs"])]


def test_identity_secret_settings_are_a_documented_family(tmp_path: Path) -> None:
    code = 'example = \'{"secretSetting": "PAL_IDENTITY_OPS_SECRET"}\'\n'
    root = _tree(tmp_path, code, "", "nothing here\n")
    assert [g.name for g in cov.find_gaps(root)] == ["PAL_IDENTITY_*"]

    (root / "docs" / "deploy.md").write_text("| `PAL_IDENTITY_*` | Key Vault references |\n")
    assert cov.find_gaps(root) == []


def test_a_row_added_to_the_settings_table_is_reported_until_infra_and_docs_have_it() -> None:
    from shared.settings import table

    extra = table.row("PAL_NEW_LIMIT", "new_limit", table.parsers.integer(1, 9), 3, "a limit")
    declared = cov.settings_declared((*table.SETTINGS, extra))

    assert declared["PAL_NEW_LIMIT"] == [cov.TABLE]
    assert [(g.name, g.missing) for g in cov.find_gaps(names=declared)] == [("PAL_NEW_LIMIT", ["infra", "docs"])]
    assert set(cov.settings_declared()) <= set(cov.settings_read_by_code())
    assert cov.NOT_SET_BY_INFRA["IDENTITY_ENDPOINT"] == "injected by the Functions platform for the managed identity"
