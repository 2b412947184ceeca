"""A store lease held for the length of a run: short, renewed by a heartbeat, named when refused.

Used by the verification (`verify.run_verify`), which must run alone. The lease lives a couple
of minutes and a background thread renews it while the run works, so a run that was killed
(host recycled, out of memory, SIGKILL) frees it within a minute or two instead of blocking the
next run for a whole timeout. A refusal names the holder and how old its lease is; a storage
failure while taking the lease raises (it is never reported as "another run holds it").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from shared.store import errors as store_errors

log = logging.getLogger(__name__)

TTL = timedelta(minutes=2)  # how long a dead holder keeps others out
HEARTBEAT = timedelta(seconds=30)  # how often a live holder renews


def new_owner() -> str:
    """A holder name an operator can act on: host, process and a unique suffix."""
    return f"{socket.gethostname()[:60]}/pid {os.getpid()}/{uuid.uuid4().hex[:8]}"


class HeldLease:
    """The named lease, taken at `now` and renewed every `every` until the `with` block ends."""

    def __init__(self, store: Any, name: str, owner: str, now: datetime, *, ttl: timedelta, every: timedelta) -> None:
        self.store, self.name, self.owner, self.ttl, self.every = store, name, owner, ttl, every
        self.lost = False  # the heartbeat found another holder: this run's lease expired under it
        self._base = now
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{name}", daemon=True)

    @classmethod
    def acquire(
        cls, store: Any, name: str, now: datetime, *, ttl: timedelta | None = None, every: timedelta | None = None
    ) -> HeldLease | None:
        """The lease, or None when another holder has an unexpired one. Storage failures raise."""
        ttl, every = ttl or TTL, every or HEARTBEAT
        owner = new_owner()
        if not store.try_acquire(name, owner, ttl, now):
            return None
        return cls(store, name, owner, now, ttl=ttl, every=every)

    def _clock(self) -> datetime:
        # `now` may be a test's instant: advance it by the real time elapsed since the lease was taken.
        return self._base + timedelta(seconds=time.monotonic() - self._started)

    def _beat(self) -> None:
        while not self._stop.wait(self.every.total_seconds()):
            try:
                if not self.store.try_acquire(self.name, self.owner, self.ttl, self._clock()):
                    self.lost = True
                    log.warning("lease %s: another holder took it while this run was working", self.name)
                    return
            except store_errors.StoreError as e:  # keep trying: the lease lasts several beats
                log.warning("lease %s: renewal failed: %s", self.name, e)

    def __enter__(self) -> HeldLease:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.store.release(self.name, self.owner)
        except store_errors.StoreError as e:  # it expires by itself within `ttl`
            log.warning("lease %s: release failed (it expires by itself): %s", self.name, e)


def describe_holder(store: Any, name: str, now: datetime) -> str:
    """Why a run was refused: who holds the lease, for how long, and when it frees up if it died."""
    lease = store.get_lease(name)
    if lease is None:  # released between our attempt and this read
        return f"another run held the {name} lease a moment ago; it is free now"
    running = _seconds(now - lease.acquired_at)
    renewed = _seconds(now - lease.renewed_at)
    left = _seconds(lease.expires_at - now)
    return (
        f"another run holds the {name} lease: {lease.owner}, running for {running}, last renewed {renewed} ago; "
        f"it is renewed every {_seconds(HEARTBEAT)} while that run works, so if it died the lease frees in {left} "
        f"(leases last {_seconds(TTL)})"
    )


def _seconds(delta: timedelta) -> str:
    total = max(0, int(delta.total_seconds()))
    return f"{total // 60} min {total % 60} s" if total >= 60 else f"{total} s"
