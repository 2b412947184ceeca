"""The one PAL link writer: under the link lease, waiting on an injected clock, never sleeping in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from shared import decisions, model
from shared.azure import errors, pal
from shared.usecases import links
from tests.support import clocks

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PARTNER = "1234567"
IDENTITY = model.ActingIdentity(name="id-palwatch", kind="managed", client_id="")


@dataclass
class FakeStore:
    """The lease verbs of the store, in memory: `held` leases belong to someone else."""

    held: set[str] = field(default_factory=set)
    taken: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def try_acquire(self, name: str, owner: str, ttl: timedelta, now: datetime) -> bool:
        if name in self.held:
            return False
        self.taken.append(name)
        return True

    def release(self, name: str, owner: str) -> None:
        self.released.append(name)

    def get_state(self, name: str) -> None:
        return None  # no link remembered as ours: a fresh install


@dataclass
class FakePal:
    fails_with: Exception | None = None
    writes: int = 0

    def ensure_link(self, partner_id: str, *, may_write) -> pal.LinkResult:
        if not may_write(""):
            return pal.LinkResult("withheld", None)
        if self.fails_with is not None:
            raise self.fails_with
        self.writes += 1
        link = model.PartnerLink(partner_id=partner_id, tenant_id="home", object_id="mi", state="Active")
        return pal.LinkResult("created", link)


def writer(store: FakeStore, service: FakePal, clock: clocks.FakeClock, *, defer: bool) -> links.LinkWriter:
    engine = SimpleNamespace(
        store=store,
        settings=SimpleNamespace(
            partner_id=PARTNER,
            partner_ids=(PARTNER,),
            previous_partner_id="",
            observe_only=False,
            managing_tenant_id="home",
        ),
        pal_for=lambda *_: service,
    )
    return links.LinkWriter(engine, NOW, defer_transient=defer, clock=clock.for_links())  # type: ignore[arg-type]


def test_a_free_lease_is_taken_the_link_written_once_and_the_lease_given_back() -> None:
    store, service, clock = FakeStore(), FakePal(), clocks.FakeClock()
    w = writer(store, service, clock, defer=False)
    status = w.ensure(IDENTITY, "HOME", "MI")
    assert status.points_to(PARTNER)
    assert service.writes == 1
    assert store.taken == store.released == ["link:home:mi"]
    assert w.written == ["created id-palwatch in HOME"]
    assert clock.slept == []


@pytest.mark.parametrize(
    ("defer", "raises"),
    [(False, True), (True, False)],
    ids=["event handler: raises so Event Grid redelivers", "verification: deferred, the run goes on"],
)
def test_a_busy_lease_is_waited_for_on_the_clock_then_given_up_without_writing(defer: bool, raises: bool) -> None:
    store, service, clock = FakeStore(held={"link:home:mi"}), FakePal(), clocks.FakeClock()
    w = writer(store, service, clock, defer=defer)
    if raises:
        with pytest.raises(errors.TransientError, match="still linking"):
            w.ensure(IDENTITY, "home", "mi")
    else:
        assert w.ensure(IDENTITY, "home", "mi") == decisions.LinkStatus(partner_id=None)
        [problem] = w.problems
        assert "still linking" in problem
    assert service.writes == 0
    assert store.released == []  # never held, never released
    assert sum(clock.slept) > links.LEASE_WAIT_SECONDS  # waited the whole window, on the fake clock
    assert set(clock.slept) == {links.LEASE_POLL_SECONDS}


def test_a_refused_write_is_a_failed_link_status_and_the_lease_is_released() -> None:
    store, clock = FakeStore(), clocks.FakeClock()
    service = FakePal(fails_with=errors.PermanentError("no", code="PartnerIdInvalid"))
    w = writer(store, service, clock, defer=False)
    status = w.ensure(IDENTITY, "home", "mi")
    assert (status.partner_id, status.error_code) == (None, "PartnerIdInvalid")
    assert store.released == ["link:home:mi"]
    assert w.written == []
