"""Fixtures the unit tests share: a scripted HTTP server standing in for ARM and Graph."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import scripted_http


@pytest.fixture
def service() -> Iterator[scripted_http.FakeService]:
    yield from scripted_http.running()
