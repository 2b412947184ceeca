"""Time as the tests hold it: the wall clock where a test runs now, virtual seconds where waiting
(a Cost Management quota's pacing) must cost nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now() -> datetime:
    return datetime.now(UTC)


class FakeClock:
    """Virtual seconds: sleeping advances them, so a day of pacing runs in no time."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    monotonic = clock

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def for_links(self) -> Any:
        """The link writer's clock on these virtual seconds (its wall clock is the run's `now`)."""
        from shared.usecases import links

        return links.Clock(monotonic=self.monotonic, sleep=self.sleep, wall=lambda now: now)


def fake_pacer(clock: FakeClock) -> Any:
    """The Cost Management quota pacer on `clock`'s virtual seconds."""
    from shared.azure import costs

    return costs.QpuPacer(clock=clock.clock, sleep=clock.sleep)
