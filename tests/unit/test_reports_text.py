"""Terminal safety: hostile customer strings lose their escapes, stay on one line and fit their column."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.reports import text

# Anything a terminal would act on: C0/C1 controls, DEL, separators, bidi overrides.
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Contoso", "Contoso"),
        ("\x1b[31mRed\x1b[0m Corp", "Red Corp"),
        ("\x1b[1;38;5;196mBold\x1b[m", "Bold"),
        ("Con\x1b]8;;https://evil.example\x07toso\x1b]8;;\x07", "Contoso"),
        ("Title\x1b]0;owned\x1b\\ set", "Title set"),
        ("\x9b31mC1 CSI", "C1 CSI"),
        ("line1\nline2\r\nInjected: yes", "line1 line2 Injected: yes"),
        ("tab\tand\x00nul\x07bell\x08bs", "tab and nul bell bs"),
        ("\u202egnp.exe", "gnp.exe"),
        ("a\u2028b\u2029c", "a b c"),
        ("  spaced   out  ", "spaced out"),
        ("", ""),
        (None, ""),
        ("日本語の顧客", "日本語の顧客"),
    ],
)
def test_clean_removes_escapes_and_controls(raw: str | None, expected: str) -> None:
    assert text.clean(raw) == expected


@given(st.text())
def test_clean_never_lets_a_control_character_through(raw: str) -> None:
    cleaned = text.clean(raw)
    assert not UNSAFE.search(cleaned)
    assert "\x1b" not in cleaned
    assert cleaned == cleaned.strip()


@pytest.mark.parametrize(
    ("value", "width", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven char", 10, "eleven ch…"),
        ("A" * 10_000, 5, "AAAA…"),
        ("日本語の顧客", 6, "日本…"),  # wide characters count twice
        ("anything", 0, ""),
        ("x", 1, "x"),
        ("xy", 1, "…"),
    ],
)
def test_fit_cuts_by_display_width_with_an_ellipsis(value: str, width: int, expected: str) -> None:
    assert text.fit(value, width) == expected
    assert text.display_width(text.fit(value, width)) <= max(width, 0)


@given(st.text(), st.integers(min_value=1, max_value=60))
def test_fit_never_exceeds_its_width(value: str, width: int) -> None:
    assert text.display_width(text.fit(text.clean(value), width)) <= width


@pytest.mark.parametrize(
    ("cell", "width", "expected"),
    [
        (text.Cell("Contoso", " (11111111…)"), 30, "Contoso (11111111…)"),
        (text.Cell("Contoso Holdings International", " (11111111…)"), 20, "Contoso… (11111111…)"),
        (text.Cell("Ops Automation", " +3 more"), 12, "Ops… +3 more"),
        (text.Cell("Ops", " +3 more"), 6, "Ops +…"),  # the tail alone does not fit: cut as a whole
    ],
)
def test_a_cell_keeps_its_tail_when_cut(cell: text.Cell, width: int, expected: str) -> None:
    assert cell.render(width) == expected
    assert text.display_width(cell.render(width)) <= width


def test_layout_aligns_columns_and_shrinks_the_widest_to_fit() -> None:
    columns = [text.Column("NAME", cap=50, minimum=8), text.Column("STATE", cap=10)]
    rows = [[text.Cell("a" * 40), text.Cell("ok")], [text.Cell("日本語"), text.Cell("failed")]]
    lines = text.layout(columns, rows, width=30)
    assert all(text.display_width(line) <= 30 for line in lines)
    # STATE starts at the same display column on every line.
    starts = [
        text.display_width(line[: line.index(word)])
        for line, word in zip(lines, ["STATE", "ok", "failed"], strict=True)
    ]
    assert len(set(starts)) == 1
    unbounded = text.layout(columns, rows)
    assert "a" * 40 in unbounded[1]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))), st.integers(1, 40))
def test_wrap_keeps_every_character_and_fits(value: str, width: int) -> None:
    value = text.clean(value)
    lines = text.wrap(value, width)
    assert all(text.display_width(line) <= width or len(line) == 1 for line in lines)
    assert "".join(lines).replace(" ", "") == value.replace(" ", "")


def test_a_compact_cell_drops_the_id_before_cutting_the_name() -> None:
    cell = text.Cell("Fabrikam (52b02585…)", compact="Fabrikam")
    assert cell.render(30) == "Fabrikam (52b02585…)"
    assert cell.render(12) == "Fabrikam"
    assert cell.render(6) == "Fabri…"
    assert cell.lines(5) == ["Fabri", "kam"]


def test_optional_columns_go_before_names_are_cut() -> None:
    columns = [text.Column("NAME", cap=40, minimum=8), text.Column("SINCE", cap=16, optional=1)]
    rows = [[text.Cell("Contoso Holdings International"), text.Cell("2025-03-01 08:00")]]
    header, (line,) = text.layout_rows(columns, rows, width=40)
    assert header == ["NAME"]
    assert line == ["Contoso Holdings International"]
