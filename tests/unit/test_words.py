"""The words alerts and reports share say things one way: scopes, customers, times, one-line values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared import catalogue, words

SUB = "/subscriptions/2222/resourceGroups/rg-app"


@pytest.mark.parametrize(
    ("scope", "parts", "described"),
    [
        ("/subscriptions/2222", ("2222", ""), "subscription 2222"),
        (SUB, ("2222", "rg-app"), "subscription 2222, resource group rg-app"),
        ("/SUBSCRIPTIONS/2222/RESOURCEGROUPS/RG", ("2222", "RG"), "subscription 2222, resource group RG"),
        (
            "/providers/Microsoft.Management/managementGroups/mg",
            ("", ""),
            "/providers/Microsoft.Management/managementGroups/mg",
        ),
        ("", ("", ""), ""),
    ],
)
def test_a_scope_in_words(scope: str, parts: tuple[str, str], described: str) -> None:
    assert words.scope_parts(scope) == parts
    assert words.describe_scope(scope) == described


@pytest.mark.parametrize(
    ("name", "ids", "expected"),
    [
        ("", True, "subscription 2222, resource group rg-app"),
        ("Production", True, "subscription Production (2222), resource group rg-app"),
        ("Production", False, "resource group rg-app in Production"),
        ("", False, "resource group rg-app"),
    ],
)
def test_a_findings_scope_names_the_subscription_when_known(name: str, ids: bool, expected: str) -> None:
    where = catalogue.Where("delegation", "tenant", "Contoso", SUB, subscription_name=name)
    finding = catalogue.unattributed(where, "link_pending", detail="", fix="")
    assert words.scope_words(finding, ids=ids) == expected


def test_one_line_drops_line_breaks_and_bidi_overrides_and_caps_the_length() -> None:
    assert words.one_line("Contoso\r\nBcc: x@evil\u202e") == "Contoso Bcc: x@evil"
    assert words.one_line("x" * 300, 10) == "x" * 9 + words.ELLIPSIS


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(59, ""), (60, "1 min"), (3 * 3600 + 600, "3 h 10 min"), (2 * 86400 + 3 * 3600, "2 d 3 h"), (-5, "")],
)
def test_duration(seconds: int, expected: str) -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert words.duration(start, start + timedelta(seconds=seconds)) == expected


def test_times_are_utc_whatever_the_offset_and_naive_is_utc() -> None:
    moment = datetime(2026, 3, 2, 9, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert words.minute(moment) == "2026-03-02 08:15"
    assert words.when(moment) == "2026-03-02 08:15 UTC"
    assert words.iso_z(moment) == "2026-03-02T08:15:30Z"
    assert words.iso_z(datetime(2026, 3, 2, 8, 15, 30)) == "2026-03-02T08:15:30Z"  # naive: the store writes UTC
    assert (words.when(None), words.minute(None), words.iso_z(None)) == ("", "", None)


@pytest.mark.parametrize(
    ("name", "tenant", "expected"),
    [
        ("Contoso", "1234", "Contoso (tenant 1234)"),
        ("Contoso", "", "Contoso"),
        ("", "1234", "tenant 1234"),
        ("", "", ""),
    ],
)
def test_customer_label(name: str, tenant: str, expected: str) -> None:
    assert words.customer_label(name, tenant) == expected
