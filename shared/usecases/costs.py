"""The daily cost snapshot: last full month's cost of every delegated scope we see, cached in the store.

Called by the `cost_snapshot` timer (function_app.py; off unless PAL_COST=true) and by tests.
Alerts, pages and the digest read the cache (`Store.costs`); this is the only code that queries
Cost Management. The scopes are the stored delegation snapshots' (two offers on one scope are
one query). A scope is queried when its cache is missing, for an older month, or (for a refusal)
older than a day; late usage is picked up by reading a scope once more in the first days of the
month. Microsoft recommends at most one call per scope per day and limits the Query API per
tenant (12 QPU / 10 s, 60 / minute, 600 / hour, one QPU per month queried): the adapter's pacer
keeps under those windows, one run sends at most `MAX_QUERIES_PER_RUN` queries and stops before
the Functions timeout, and the rest is read on the next run (run the timer hourly to cover a large
estate within the day). A scope whose identity may not read costs is tried as the other identities
that hold an authorization there, then cached as unreadable, said plainly. What a run reads is
cached in table transactions of up to 100 scopes as it goes, and the rest when it stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import model, money, roles
from shared.azure import costs as costs_adapter
from shared.azure import errors
from shared.snapshots import DelegationSnapshot
from shared.usecases import deadlines, leases, outcomes
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

LEASE = "cost-snapshot"
LEASE_TTL = timedelta(minutes=15)
MAX_QUERIES_PER_RUN = 360  # well under 600 QPU/hour
RUN_SECONDS = min(8 * 60, deadlines.run_budget().total_seconds())  # no query starts after this (host.json's timeout)
RETRY_REFUSED_AFTER = timedelta(days=1)
NO_COST_ROLE = (
    f"no identity PAL Watch acts as holds a role here that allows {roles.COST_READ} "
    "(Reader or Cost Management Reader in the offer gives it)"
)
SETTLING_DAYS = 3  # usage arrives late: a month read this early in the next one is read once more
WRITE_EVERY = 100  # costs read are cached in table transactions of this many (the service's limit)


@dataclass
class _Tally:
    """What one cost snapshot does as it goes; `outcome()` is what the run returns."""

    status: str = "ok"  # ok | off | skipped | partial
    scopes: int = 0
    due: int = 0
    queried: int = 0
    read: int = 0
    unreadable: dict[str, int] = field(default_factory=dict)  # status -> scopes
    throttled: int = 0
    left_for_next_run: int = 0
    problems: list[str] = field(default_factory=list)

    def _detail(self) -> str:
        if self.status in ("off", "skipped"):
            return self.problems[0] if self.problems else ""
        unreadable = ", ".join(f"{n} {k}" for k, n in sorted(self.unreadable.items())) or "none"
        return (
            f"{self.scopes} scopes, {self.due} due, {self.queried} queried, {self.read} read, "
            f"unreadable {unreadable}, throttled {self.throttled}, {self.left_for_next_run} left for the next run"
        )

    def outcome(self) -> outcomes.Outcome:
        counts = {
            "scopes": self.scopes,
            "due": self.due,
            "queried": self.queried,
            "read": self.read,
            "throttled": self.throttled,
            "leftForNextRun": self.left_for_next_run,
        }
        facts = {"unreadable": dict(self.unreadable)}  # status -> scopes
        return outcomes.Outcome(self.status, self._detail(), counts=counts, problems=tuple(self.problems), facts=facts)


def run_cost_snapshot(
    engine: Engine, now: datetime, *, pacer: costs_adapter.QpuPacer | None = None, force: bool = False
) -> outcomes.Outcome:
    """Read last month's cost of the scopes that are due, within the QPU limits, and cache it."""
    if not engine.settings.costs.enabled and not force:
        return _Tally(status="off", problems=["PAL_COST is not true"]).outcome()
    held = leases.HeldLease.acquire(engine.store, LEASE, now, ttl=LEASE_TTL)
    if held is None:
        holder = leases.describe_holder(engine.store, LEASE, now)
        return _Tally(status="skipped", problems=[f"another cost snapshot is running: {holder}"]).outcome()
    with held:
        return _run(engine, now, pacer or costs_adapter.QpuPacer())


def due_scopes(snapshots: list[DelegationSnapshot], cached: dict[str, money.ScopeCost], now: datetime) -> list[str]:
    """Scopes to read now, most needed first: never read, an older month, a refusal a day old, settling."""
    target = money.last_full_month(now)
    ranked: dict[str, tuple[int, str]] = {}
    for snap in snapshots:
        scope = snap.scope
        key = scope.lower()
        if not key or key in ranked:
            continue
        cost = cached.get(key)
        if cost is None:
            rank = 0
        elif cost.month != target:
            rank = 1
        elif not cost.known and now - cost.read_at >= RETRY_REFUSED_AFTER:
            rank = 2
        elif cost.known and cost.read_at.day <= SETTLING_DAYS and now - cost.read_at >= RETRY_REFUSED_AFTER:
            rank = 3
        else:
            continue
        ranked[key] = (rank, scope)
    return [scope for _key, (_rank, scope) in sorted(ranked.items(), key=lambda kv: (kv[1][0], kv[0]))]


def _run(engine: Engine, now: datetime, pacer: costs_adapter.QpuPacer) -> outcomes.Outcome:
    store = engine.store
    snapshots = store.list_delegations(include_removed=False)
    cache = store.costs
    cached = cache.all()
    scopes = due_scopes(snapshots, cached, now)
    outcome = _Tally(scopes=len({s.scope.lower() for s in snapshots}), due=len(scopes))
    readers = _Readers(engine, pacer, snapshots)
    month = money.last_full_month(now)
    started = pacer.clock()
    read: list[money.ScopeCost] = []  # cached in table transactions, also when the run stops early
    try:
        for index, scope in enumerate(scopes):
            # A scope is tried as each identity that may read it, in one run: start it only if they all fit.
            tries = len(readers.candidates(scope))
            if outcome.queried + tries > MAX_QUERIES_PER_RUN or pacer.clock() - started > RUN_SECONDS:
                outcome.left_for_next_run = len(scopes) - index
                break
            if not pacer.hour_budget_left():
                outcome.left_for_next_run = len(scopes) - index
                outcome.problems.append("the tenant's hourly Cost Management budget is nearly spent (by any caller)")
                break
            try:
                cost = readers.read(scope, month, now, outcome)
            except costs_adapter.CostThrottledError:
                outcome.throttled += 1
                outcome.left_for_next_run = len(scopes) - index
                outcome.problems.append("Cost Management kept throttling; the rest waits for the next run")
                break
            except errors.TransientError as e:
                outcome.problems.append(f"{scope}: {e}")
                continue
            read.append(cost)
            if len(read) >= WRITE_EVERY:
                cache.put_many(read)
                read.clear()
            if cost.known:
                outcome.read += 1
            else:
                outcome.unreadable[cost.status.value] = outcome.unreadable.get(cost.status.value, 0) + 1
    finally:
        cache.put_many(read)
    if outcome.left_for_next_run or outcome.problems:
        outcome.status = "partial"
    done = outcome.outcome()
    log.info("cost snapshot %s", done)
    return done


class _Readers:
    """Cost clients per acting identity, sharing one pacer (the budget is the tenant's).

    A scope is queried only as identities whose role there may allow the Query API's action
    (`Microsoft.CostManagement/query/read`: Reader or Cost Management Reader have it, Virtual
    Machine Contributor has not), judged from the role definitions (one ARM read per role); one
    that holds only roles that do not is never asked, and the scope is "cost not visible" with why.
    """

    def __init__(self, engine: Engine, pacer: costs_adapter.QpuPacer, snapshots: list[DelegationSnapshot]) -> None:
        self.engine = engine
        self.pacer = pacer
        self.clients: dict[str, costs_adapter.CostClient] = {}
        self.holders: dict[str, list[tuple[str, str]]] = {}  # scope -> (principal id, role id), permanent only
        for snap in snapshots:
            held = self.holders.setdefault(snap.scope.lower(), [])
            held += [(a.principal_id.lower(), a.role_definition_id) for a in snap.authorizations]
            held += [(b.principal_id.lower(), b.role_id) for b in snap.active_attributors]
        self.verdicts: dict[str, bool | None] = {}  # role id -> allows the cost read (None: unknown)
        self._acting: list[tuple[str, model.ActingIdentity]] | None = None

    def acting(self) -> list[tuple[str, model.ActingIdentity]]:
        """(object id, identity) for every identity we can get a token for, the managed identity first."""
        if self._acting is None:
            found = []
            for identity in self.engine.settings.identities:
                try:
                    found.append((self.engine.whoami(identity).object_id.lower(), identity))
                except errors.AzureError as e:
                    log.info("identity %s cannot get a token for the cost snapshot: %s", identity.name, e)
            self._acting = found
        return self._acting

    def client(self, identity: model.ActingIdentity) -> costs_adapter.CostClient:
        key = f"{identity.kind}:{identity.client_id.lower()}"
        if key not in self.clients:
            self.clients[key] = costs_adapter.CostClient.from_settings(
                self.engine.settings, self.engine.credential_for(identity), pacer=self.pacer
            )
        return self.clients[key]

    def reads_costs(self, role_id: str) -> bool | None:
        rid = roles.normalize_role_id(role_id)
        if rid not in self.verdicts:
            try:
                definition = self.engine.arm().get_role_definition(rid)
                self.verdicts[rid] = roles.allows(definition.actions, definition.not_actions, roles.COST_READ)
            except errors.AzureError as e:
                log.info("role definition %s unreadable for the cost snapshot: %s", rid, e)
                self.verdicts[rid] = None
        return self.verdicts[rid]

    def candidates(self, scope: str) -> list[model.ActingIdentity]:
        """Identities to ask, best first; none when every identity's roles there are known not to allow it."""
        verdicts: dict[str, list[bool | None]] = {}
        for principal_id, role_id in self.holders.get(scope.lower(), ()):
            verdicts.setdefault(principal_id, []).append(self.reads_costs(role_id))
        acting = self.acting()
        able = [i for oid, i in acting if True in verdicts.get(oid, ())]
        maybe = [i for oid, i in acting if None in verdicts.get(oid, ()) and i not in able]
        # A role held through a group is not in the snapshot's authorizations: one other identity may try.
        others = [i for oid, i in acting if oid not in verdicts][:1]
        return able + maybe if able or maybe else others

    def read(self, scope: str, month: str, now: datetime, outcome: _Tally) -> money.ScopeCost:
        refused: money.ScopeCost | None = None
        for identity in self.candidates(scope):
            outcome.queried += 1
            try:
                lines = self.client(identity).last_month(scope)
            except costs_adapter.ViewChargesOffError as e:
                return money.ScopeCost(scope, month, now, money.CostStatus.VIEW_CHARGES_OFF, detail=e.message[:300])
            except errors.ForbiddenError as e:
                refused = money.ScopeCost(scope, month, now, money.CostStatus.FORBIDDEN, detail=e.message[:300])
                continue  # another identity with a role there may read it
            except errors.CredentialError as e:
                refused = money.ScopeCost(scope, month, now, money.CostStatus.UNAVAILABLE, detail=e.message[:300])
                continue
            except errors.PermanentError as e:
                return money.ScopeCost(scope, month, now, money.CostStatus.UNAVAILABLE, detail=e.message[:300])
            return money.from_lines(scope, month, now, lines)
        return refused or money.ScopeCost(scope, month, now, money.CostStatus.FORBIDDEN, detail=NO_COST_ROLE)
