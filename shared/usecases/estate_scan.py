"""The verification's enumeration: every Lighthouse delegation any of our identities can see.

Called by `shared.usecases.verify` (step 1). A managing-tenant identity sees a customer
subscription only where it (or a group it is in) holds an authorization, so each identity we
act as is a reader; the managed identity reads first. A subscription listed in full at
subscription scope by one reader is skipped by later readers: the estate costs one list per
delegated subscription, not one per subscription and reader. Whether that list also returns
its resource groups' assignments is not documented: once an answer shows it does (remembered
in the store), nothing more is read; until then the groups are listed too. Where a reader may
only see some resource groups (403 at subscription scope), their scopes are listed one by one.
Lists run with bounded concurrency (`PAL_MAX_CONCURRENCY`). What could not be read is reported
as incomplete, never as removed.

On a CSP subscription (its offer, or a customer `PAL_CSP_TENANTS` names) the reader that lists it
at subscription scope also lists its role assignments, in the same worker (one GET more per such
subscription and run): the partner's Admin Agents group holding a role there (AOBO) is a path to
partner earned credit (`shared.decisions.aobo`). The groups are `PAL_AOBO_GROUP_IDS` and the
managing tenant's groups named "AdminAgents" (one Graph read per run, only if some subscription
was read).

The 403 that tells a resource-group-only reader apart costs one request per such subscription
and run, so it is remembered (`Store.list_scan_memory`): the next run goes straight to that
subscription's resource groups, and probes the subscription again only when something changed
there (a stored snapshot under it is newer than the memory: a delegation event or an
activity-log record was handled, or the verification itself saw a change), when the resource
group list is refused, when the activity-log watcher is blocked (then nothing would tell us), or
when the memory is older than `RG_ONLY_RECHECK`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared import model, offers
from shared.azure import arm, errors, lighthouse
from shared.decisions import aobo, scopes
from shared.snapshots import DelegationSnapshot
from shared.store import errors as store_errors
from shared.usecases import delegations
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
LISTS_INCLUDE_GROUPS = "lighthouse-subscription-lists-include-groups"  # learnt once from an answer
# A remembered "this reader sees only resource groups here" is checked again after this long even
# if no event or activity-log record said the subscription changed (the timer is the truth).
RG_ONLY_RECHECK = timedelta(days=7)
ADMIN_AGENTS = "AdminAgents"  # the display name Partner Center gives the partner's Admin Agents group


@dataclass
class Inventory:
    """What the enumeration saw. `uncertain` is True when a whole reader failed: then nothing
    unseen may be concluded removed (we cannot tell which scopes only that reader saw)."""

    delegations: dict[str, model.Delegation] = field(default_factory=dict)
    tenants: dict[str, str] = field(default_factory=dict)  # customer tenant id -> name ("" unknown)
    subscriptions: set[str] = field(default_factory=set)
    incomplete_scopes: dict[str, str] = field(default_factory=dict)  # scope -> error
    readers: list[str] = field(default_factory=list)  # identities that listed subscriptions
    failed_readers: dict[str, str] = field(default_factory=dict)  # name -> error
    problems: list[str] = field(default_factory=list)
    # CSP subscription id -> its role assignments, and what they say of AOBO
    role_assignments: dict[str, tuple[model.RoleAssignment, ...]] = field(default_factory=dict)
    aobo: dict[str, aobo.AoboState] = field(default_factory=dict)

    @property
    def uncertain(self) -> bool:
        return bool(self.failed_readers)

    def covers(self, scope: str) -> bool:
        """Whether `scope` was read completely (neither it nor its subscription is incomplete)."""
        if self.uncertain:
            return False
        scope = scope.rstrip("/").lower()
        parts = scope.strip("/").split("/")
        subscription = "/" + "/".join(parts[:2]) if len(parts) >= 2 else scope
        return scope not in self.incomplete_scopes and subscription not in self.incomplete_scopes


@dataclass
class _Scan:
    delegations: list[model.Delegation] = field(default_factory=list)
    complete: bool = False  # listed at subscription scope: every assignment there seen
    groups_listed: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    rg_only: bool = False  # refused at subscription scope (or known to be): its resource groups were read


def enumerate_estate(
    engine: Engine,
    *,
    progress: Progress | None = None,
    previous: Iterable[DelegationSnapshot] = (),
    now: datetime | None = None,
) -> Inventory:
    """Every delegation to the managing tenant, read by every identity we act as.

    `previous` (the stored snapshots) and `now` let the remembered resource-group-only readers
    skip their 403 probe where nothing changed since. Raises the first reader's error when no
    reader at all could list subscriptions.
    """
    managing = engine.managing_tenant_id.lower()
    inventory = Inventory()
    memory = _ScanMemory.load(engine, previous, now)
    complete_subs: set[str] = set()
    listed_groups: set[str] = set()
    failures: dict[str, str] = {}
    first_error: errors.AzureError | None = None
    workers = max(1, engine.settings.max_concurrency)
    readers = _readers(engine)

    learned = _Learned(bool(engine.store.get_state(LISTS_INCLUDE_GROUPS)))
    # Every reader's subscription list side by side (one tenant-level read each, own token each).
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(readers))), thread_name_prefix="verify-subs") as pool:
        listed = list(pool.map(lambda r: _list_subscriptions(r[2], managing), readers))
    for (acting, reader, arm_client), subscriptions in zip(readers, listed, strict=True):
        if isinstance(subscriptions, errors.AzureError):
            first_error = first_error or subscriptions
            inventory.failed_readers[acting.name] = str(subscriptions)[:300]
            log.warning("identity %s cannot list subscriptions: %s", acting.name, subscriptions)
            continue
        inventory.readers.append(acting.name)
        inventory.subscriptions.update(s.subscription_id for s in subscriptions)
        inventory.tenants.update({s.tenant_id: "" for s in subscriptions if s.tenant_id} | inventory.tenants)
        todo = [s for s in subscriptions if s.subscription_id not in complete_subs]
        if not todo:
            continue
        done = 0
        with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix="verify-scan") as pool:
            scan_one = functools.partial(
                _scan,
                _Reader(reader, arm_client, managing, _aobo_matters(engine, inventory), inventory.role_assignments),
                listed=listed_groups,
                learned=learned,
            )
            hints = [memory.usable(acting.name, s.subscription_id) for s in todo]
            scans = pool.map(scan_one, todo, hints)
            for subscription, scan in zip(todo, scans, strict=True):
                memory.saw(acting.name, subscription.subscription_id, scan)
                done += 1
                if progress is not None:
                    progress(f"delegations ({acting.name})", done, len(todo))
                for d in scan.delegations:
                    inventory.delegations.setdefault(d.key, _with_tenant(d, subscription))
                    if d.customer_tenant_id and d.customer_tenant_name:
                        inventory.tenants[d.customer_tenant_id.lower()] = d.customer_tenant_name
                scope = f"/subscriptions/{subscription.subscription_id}"
                if scan.complete:
                    complete_subs.add(subscription.subscription_id)
                    failures = {k: v for k, v in failures.items() if not _under(k, scope)}
                listed_groups.update(scan.groups_listed)
                for failed_scope, error in scan.failures:
                    failures.setdefault(failed_scope, error)
        failures = {k: v for k, v in failures.items() if k not in listed_groups}
    if not inventory.readers:
        raise first_error or errors.CredentialError("no identity could list subscriptions")
    inventory.incomplete_scopes = failures
    if learned.lists_include_groups and not engine.store.get_state(LISTS_INCLUDE_GROUPS):
        engine.store.put_state(LISTS_INCLUDE_GROUPS, True)
    memory.save(engine)
    _judge_aobo(engine, inventory)
    return inventory


def _aobo_matters(engine: Engine, inventory: Inventory) -> Callable[[arm.Subscription], bool]:
    """Whether a subscription's role assignments are to be read: a CSP one, not read yet this run."""
    csp_tenants = {t.lower() for t in engine.settings.csp_tenants}

    def matters(subscription: arm.Subscription) -> bool:
        csp = offers.classify(subscription.quota_id).csp or subscription.tenant_id.lower() in csp_tenants
        return csp and subscription.subscription_id not in inventory.role_assignments

    return matters


def _judge_aobo(engine: Engine, inventory: Inventory) -> None:
    """AOBO per subscription whose role assignments were read (none read: no Graph lookup either)."""
    read = inventory.role_assignments
    if read:
        groups = _aobo_groups(engine, inventory)
        inventory.aobo = {sid: aobo.state(sid, assignments, groups) for sid, assignments in read.items()}


def _aobo_groups(engine: Engine, inventory: Inventory) -> tuple[str, ...]:
    """The partner's Admin Agents groups: the setting's, and the managing tenant's named "AdminAgents"."""
    named = [g.lower() for g in engine.settings.aobo_group_ids]
    try:
        found = list(engine.graph().list_group_ids_named(ADMIN_AGENTS))
    except errors.AzureError as e:
        log.warning("the Admin Agents group could not be looked up in Graph: %s", e)
        inventory.problems.append(f"Admin Agents group not looked up (AOBO counts only PAL_AOBO_GROUP_IDS): {e}")
        found = []
    return tuple(dict.fromkeys(named + found))


def _readers(engine: Engine) -> list[tuple[model.ActingIdentity, lighthouse.LighthouseClient, arm.ArmClient]]:
    """(identity, Lighthouse client, ARM client) per identity we act as; the managed identity first."""
    identities = list(engine.settings.identities)
    out = []
    for acting, (_name, reader) in zip(identities, engine.lighthouse_readers(), strict=False):
        if acting.kind == "managedIdentity":
            arm_client = engine.arm()
        else:
            try:
                credential = engine.credential_for(acting)
            except errors.AzureError as e:
                log.warning("identity %s has no usable credential: %s", acting.name, e)
                continue
            arm_client = engine.arm_as(credential, ("reader", acting.kind, acting.client_id.lower()))
        out.append((acting, reader, arm_client))
    return out


def _list_subscriptions(arm_client: arm.ArmClient, managing: str) -> list[arm.Subscription] | errors.AzureError:
    try:
        return [s for s in arm_client.list_subscriptions() if s.tenant_id != managing]
    except errors.AzureError as e:
        return e


class _ScanMemory:
    """Which reader saw which subscription only through its resource groups, as of when."""

    def __init__(self, known: dict[tuple[str, str], datetime], changed_at: dict[str, datetime], now: datetime | None):
        self.known = known
        self.changed_at = changed_at  # subscription id -> latest snapshot update under it
        self.now = now
        self.learnt: dict[tuple[str, str], datetime] = {}
        self.forgotten: set[tuple[str, str]] = set()

    @classmethod
    def load(cls, engine: Engine, previous: Iterable[DelegationSnapshot], now: datetime | None) -> _ScanMemory:
        if now is None:
            return cls({}, {}, None)  # no clock: probe everything, remember nothing
        try:
            # Without the activity-log watcher, nothing would tell us a subscription changed.
            blocked = engine.store.get_state(delegations.BLOCKED_STATE)
            known = {} if blocked else engine.store.list_scan_memory()
        except store_errors.StoreError as e:
            log.warning("scan memory unreadable, probing every subscription: %s", e)
            known = {}
        changed_at: dict[str, datetime] = {}
        for snapshot in previous:
            subscription = scopes.subscription_id(snapshot.scope)
            if not subscription or snapshot.updated_at is None:
                continue
            if subscription not in changed_at or snapshot.updated_at > changed_at[subscription]:
                changed_at[subscription] = snapshot.updated_at
        return cls(known, changed_at, now)

    def usable(self, reader: str, subscription_id: str) -> bool:
        """Whether `reader` may skip the subscription-scope probe at `subscription_id`."""
        at = self.known.get((reader, subscription_id.lower()))
        if at is None or self.now is None or at < self.now - RG_ONLY_RECHECK:
            return False
        changed = self.changed_at.get(subscription_id.lower())
        return changed is None or changed <= at

    def saw(self, reader: str, subscription_id: str, scan: _Scan) -> None:
        if self.now is None:
            return
        key = (reader, subscription_id.lower())
        if scan.rg_only:
            if not self.usable(reader, subscription_id):
                self.learnt[key] = self.now  # probed (refused) this run: remember from now
        elif scan.complete and key in self.known:
            self.forgotten.add(key)

    def save(self, engine: Engine) -> None:
        if not self.learnt and not self.forgotten:
            return
        try:
            engine.store.update_scan_memory(self.learnt, self.forgotten)
        except store_errors.StoreError as e:
            log.warning("scan memory not saved (the next run probes again): %s", e)


@dataclass
class _Learned:
    """Whether a subscription-scope list was seen returning resource-group assignments (then it
    always does, and no resource group needs its own list where the subscription could be listed)."""

    lists_include_groups: bool = False


@dataclass(frozen=True)
class _Reader:
    """One identity's clients for the scan, and the managing tenant whose delegations it lists."""

    assignments: lighthouse.LighthouseClient
    arm_client: arm.ArmClient
    managing: str
    aobo_matters: Callable[[arm.Subscription], bool] = lambda _subscription: False
    role_assignments: dict[str, tuple[model.RoleAssignment, ...]] = field(default_factory=dict)  # where to put them


def _scan(
    reader: _Reader, subscription: arm.Subscription, rg_only: bool = False, *, listed: set[str], learned: _Learned
) -> _Scan:
    """One subscription: one list at its scope, or its visible resource groups one by one.

    Whether the subscription-scope list also returns the assignments of its resource groups is
    not documented. Until one answer shows it does, the groups are listed too (assignments are
    de-duplicated by id), so a resource-group delegation is never missed. `rg_only`: the reader
    is known to be refused at subscription scope here; go straight to the resource groups (and
    probe after all if their list is refused).
    """
    scope = f"/subscriptions/{subscription.subscription_id}"
    if rg_only:
        scan = _Scan(rg_only=True)
        if _scan_groups(reader, subscription, scan, listed=listed, probe_if_refused=True):
            return scan
        log.info("resource groups of %s refused: probing the subscription", scope)
        return _scan(reader, subscription, listed=listed, learned=learned)
    scan = _Scan()
    try:
        scan.delegations = list(reader.assignments.list_assignments(scope, reader.managing))
    except errors.ForbiddenError:
        scan.rg_only = True  # this identity holds only resource-group delegations here
    except errors.AzureError as e:
        scan.failures.append((scope, str(e)[:300]))
        return scan
    else:
        _read_role_assignments(reader, subscription)
        if learned.lists_include_groups or any(_in_group(d) for d in scan.delegations):
            learned.lists_include_groups = True
            scan.complete = True
            return scan
        _scan_groups(reader, subscription, scan, listed=listed)
        scan.complete = not scan.failures
        return scan
    _scan_groups(reader, subscription, scan, listed=listed)
    return scan


def _read_role_assignments(reader: _Reader, subscription: arm.Subscription) -> None:
    """The subscription's role assignments, where AOBO matters (a reader that could list it)."""
    if not reader.aobo_matters(subscription):
        return
    try:
        found = tuple(reader.arm_client.list_role_assignments(subscription.subscription_id))
        reader.role_assignments.setdefault(subscription.subscription_id, found)
    except errors.AzureError as e:  # AOBO stays as last read; the delegations are judged all the same
        log.warning("role assignments of subscription %s not read: %s", subscription.subscription_id, e)


def _scan_groups(
    reader: _Reader, subscription: arm.Subscription, scan: _Scan, *, listed: set[str], probe_if_refused: bool = False
) -> bool:
    """The assignments of each resource group of `subscription` the identity can see.

    False (nothing recorded) when `probe_if_refused` and the group list itself was refused.
    """
    scope = f"/subscriptions/{subscription.subscription_id}"
    try:
        groups = list(reader.arm_client.list_resource_groups(subscription.subscription_id))
    except (errors.ForbiddenError, errors.NotFoundError) as e:
        if probe_if_refused:
            return False
        scan.failures.append((scope, str(e)[:300]))
        return True
    except errors.AzureError as e:
        scan.failures.append((scope, str(e)[:300]))
        return True
    seen = {d.key for d in scan.delegations}
    for group in groups:
        group_scope = (group.id or f"{scope}/resourceGroups/{group.name}").rstrip("/")
        if group_scope.lower() in listed:
            continue
        try:
            found = list(reader.assignments.list_assignments(group_scope, reader.managing))
        except errors.ForbiddenError:
            continue  # a group we see but hold nothing in
        except errors.AzureError as e:
            scan.failures.append((group_scope.lower(), str(e)[:300]))
            continue
        scan.delegations += [d for d in found if d.key not in seen]
        seen.update(d.key for d in found)
        scan.groups_listed.append(group_scope.lower())
    return True


def _in_group(delegation: model.Delegation) -> bool:
    return "/resourcegroups/" in delegation.key.lower()


def _under(scope: str, parent: str) -> bool:
    scope, parent = scope.lower().rstrip("/"), parent.lower().rstrip("/")
    return scope == parent or scope.startswith(parent + "/")


def _with_tenant(delegation: model.Delegation, subscription: arm.Subscription) -> model.Delegation:
    """The customer tenant, the subscription's name and offer from the subscriptions list (no extra read)."""
    return replace(
        delegation,
        customer_tenant_id=delegation.customer_tenant_id or subscription.tenant_id,
        subscription_name=delegation.subscription_name or subscription.display_name,
        quota_id=delegation.quota_id or subscription.quota_id,
    )
