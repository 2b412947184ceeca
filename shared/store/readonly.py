"""The store of a dry run: every read reaches the tables, no write does.

Used by the CLI (`palwatch verify --dry-run`, and every command run with a credential that is not
the app's own identity unless `--write`) through `Engine.read_only()`. The run goes through the
same code as a real one; what it would have written is kept in memory for the rest of the run
(the coverage it would store, the findings it would open or resolve) so that it can say what it
would do, and is gone when the process ends. A method this class does not know is refused rather
than passed through: a write added to `Store` later must never slip into a dry run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared import model
from shared.snapshots import CoverageRow, ObservedCredit
from shared.store import billing
from shared.store import store as store_module

log = logging.getLogger(__name__)

# What reads and only reads (passed through as they are).
_READS = frozenset(
    {
        "get_delegation",
        "list_delegations",
        "list_notices",
        "open_findings",
        "list_findings",
        "get_cursor",
        "list_attested_users",
        "list_remembered_identities",
        "list_not_installed",
        "get_lease",
        "list_trend",
        "list_scan_memory",
        "get_state",
        "costs",
        "close",
    }
)


class ReadOnlyStore:
    """A `Store` that withholds every write and counts what it withheld (`withheld`)."""

    read_only = True

    def __init__(self, store: store_module.Store) -> None:
        self._store = store
        self.withheld: Counter[str] = Counter()
        self.would_open: list[model.RecordedFinding] = []
        self.would_resolve: list[model.RecordedFinding] = []
        self._coverage: store_module.Coverage | None = None

    def __getattr__(self, name: str) -> Any:
        if name in _READS:
            return getattr(self._store, name)
        raise AttributeError(f"{name} is not known to only read: a dry run does not call it")

    @property
    def billing(self) -> BillingReads:
        """What Microsoft's billing said, read only (a dry run never runs the credit snapshot)."""
        return BillingReads(self._store.billing)

    def _withhold(self, what: str) -> None:
        self.withheld[what] += 1
        log.debug("dry run: %s not written", what)

    # -- findings: what would open and resolve, worked out from what is open now ------------------

    def sync_findings(
        self, subject: str, findings_now: Iterable[model.Finding], now: datetime
    ) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
        return self.sync_all_findings(findings_now, [subject], now)

    def sync_all_findings(
        self, findings_now: Iterable[model.Finding], subjects: Iterable[str] | None, now: datetime
    ) -> tuple[list[model.RecordedFinding], list[model.RecordedFinding]]:
        wanted = list(findings_now)
        current = self._store.open_findings()
        scope = {f.subject for f in wanted}
        scope |= {r.finding.subject for r in current} if subjects is None else set(subjects)
        open_keys = {r.finding.key for r in current}
        keys_now = {f.key for f in wanted}
        opened = [model.RecordedFinding(f, opened_at=now, last_seen_at=now) for f in wanted if f.key not in open_keys]
        resolved = [r for r in current if r.finding.subject in scope and r.finding.key not in keys_now]
        self.would_open += opened
        self.would_resolve += resolved
        self._withhold("findings")
        return opened, resolved

    def record_notice(self, notice: model.Finding, at: datetime) -> model.RecordedFinding | None:
        self._withhold("notices")
        return None

    def mark_notified(self, finding: model.Finding, at: datetime) -> bool:
        self._withhold("alert marks")
        return False

    # -- coverage: kept for this run, so that it can print what it would store --------------------

    def put_coverage(self, rows: Iterable[CoverageRow], now: datetime) -> None:
        self._coverage = store_module.Coverage(now, tuple(rows))
        self._withhold("coverage")

    def get_coverage(self) -> store_module.Coverage | None:
        return self._coverage if self._coverage is not None else self._store.get_coverage()

    # -- everything else a run writes ---------------------------------------------------------------

    def try_acquire(self, name: str, owner: str, ttl: Any, now: datetime) -> bool:
        return True  # a dry run changes nothing, so it needs no lease and takes none

    def release(self, name: str, owner: str) -> None:
        return None

    def put_delegations(self, snapshots: Iterable[Any]) -> int:
        self._withhold("delegation snapshots")
        return 0

    def put_delegation(self, snapshot: Any) -> bool:
        self._withhold("delegation snapshots")
        return True

    def set_cursor(self, name: str, value: str, etag: str | None) -> bool:
        self._withhold("cursors")
        return False

    def put_state(self, name: str, value: Any) -> None:
        self._withhold("state")

    def update_scan_memory(self, learnt: Any, forgotten: Any) -> None:
        self._withhold("scan memory")

    def remember_identity(self, identity: Any) -> None:
        self._withhold("remembered identities")

    def remember_not_installed(self, client_id: str, tenant_id: str, retry_at: datetime) -> None:
        self._withhold("remembered identities")

    def forget_not_installed(self, client_id: str, tenant_id: str) -> None:
        self._withhold("remembered identities")

    def attest_user(self, *args: Any, **kwargs: Any) -> None:
        self._withhold("attestations")

    def remove_attestation(self, tenant_id: str, object_id: str) -> None:
        self._withhold("attestations")

    def outbox(self) -> Any:
        raise AttributeError("a dry run enqueues and sends no alert")


class BillingReads:
    """The Credit table's reads, and nothing that writes."""

    def __init__(self, record: billing.BillingRecord) -> None:
        self._record = record

    def latest(self) -> dict[str, ObservedCredit]:
        return self._record.latest()

    def observed(self) -> list[ObservedCredit]:
        return self._record.observed()

    def csp_subscriptions(self) -> frozenset[str]:
        return self._record.csp_subscriptions()
