"""The engine as a test builds it: the one a new Functions worker would make from the environment,
after the test puts its settings there, on the tables it names.

The `palwatch` fixture (tests.support.services) is the usual start; a test that changes a setting
rebuilds the engine here, as a restart of the function app would.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest


def rebuilt(monkeypatch: pytest.MonkeyPatch, **settings: str) -> Any:
    """The engine a new worker builds after `settings` (app setting name -> value) are set."""
    from shared.usecases import engine

    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    engine.reset_engine()
    return engine.get_engine()


def on_fresh_tables(monkeypatch: pytest.MonkeyPatch, prefix: str = "t", **settings: str) -> Any:
    """`rebuilt`, on a new set of tables (a fresh PAL_TABLE_PREFIX starting with `prefix`)."""
    return rebuilt(monkeypatch, PAL_TABLE_PREFIX=prefix + uuid.uuid4().hex[:12], **settings)


def current() -> Any:
    """The engine the function app holds now (built on first use)."""
    from shared.usecases import engine

    return engine.get_engine()
