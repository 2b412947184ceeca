"""Content negotiation of the coverage page and the CLI progress bar (pure helpers)."""

from __future__ import annotations

import io

import pytest

from shared.cli import verify as commands
from shared.usecases import coverage_view


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/json;q=0.5", True),
        ("text/html;q=0", False),
        ("text/html;q=oops", False),
    ],
)
def test_prefers_html(accept, html):
    assert coverage_view.prefers_html(accept) is html


def test_progress_bar_draws_only_when_asked():
    quiet = io.StringIO()
    commands.ProgressBar(quiet)("delegations", 1, 2)
    assert quiet.getvalue() == ""  # not a terminal

    shown = io.StringIO()
    bar = commands.ProgressBar(shown, width=10, force=True)
    bar("delegations", 5, 10)
    bar("delegations", 10, 10)
    assert "[##########] 10/10" in shown.getvalue()
    bar.close()
    assert shown.getvalue().endswith("\r")
