"""The one reconcile entry: observe, decide, act, decide again, for any set of delegations.

Every trigger reaches the decisions through `reconcile`: the delegation handler and the
activity-log watcher (`shared.usecases.delegations`) with the delegations ARM shows at the
scopes they were told of, the identity handler and poll (`shared.usecases.identities`) and
`palwatch link-me` (`shared.usecases.users`) with stored delegations, the verification
(`shared.usecases.verify`) with the whole estate. The caller hands what it gets back, whole, to
`shared.usecases.recorder.Recorder.record`: the plan and what the partner ID guard found.

    identities, directory -> federation discovery (writes what it found) -> links
    -> Observation (frozen) -> Plan -> links made (one writer) -> Plan again

Each delegation is decided at most twice per pass: before the links are made and after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared import decisions, model
from shared.decisions import observe_words
from shared.snapshots import DelegationSnapshot
from shared.usecases import federation, observe
from shared.usecases import links as link_writer
from shared.usecases.engine import Engine


@dataclass(frozen=True)
class Delegations:
    """What one trigger brings in line: the delegations as Azure shows them now, what we
    remembered of them (stored snapshots by key), and which remembered ones Azure says ended."""

    current: tuple[model.Delegation, ...]
    previous: Mapping[str, DelegationSnapshot] = field(default_factory=dict)
    gone: frozenset[str] = frozenset()
    # subscription id -> AOBO as the verification read it (other passes go by what was stored)
    aobo: Mapping[str, decisions.AoboState] = field(default_factory=dict)
    # customer tenant -> our identities linked there (their object ids), as the verification found them
    tenant_pal: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def stored(cls, snapshots: Iterable[DelegationSnapshot]) -> Delegations:
        """Stored delegations re-decided as they were (their authorizations do not change with an identity)."""
        snapshots = list(snapshots)
        return cls(tuple(s.to_delegation() for s in snapshots), {s.key: s for s in snapshots})


@dataclass(frozen=True)
class Known:
    """What the caller already read in this pass, so that nothing is read twice."""

    identities: observe.Identities | None = None
    principals: Mapping[str, model.Principal] = field(default_factory=dict)
    links: Mapping[str, decisions.LinkStatus] = field(default_factory=dict)


@dataclass(frozen=True)
class Reconciled:
    """The observation a plan was decided from (with the links made), the plan, what the partner ID
    guard found (`said`), and the pass's problems: everything the recorder writes."""

    observation: decisions.Observation
    plan: decisions.Plan
    identities: observe.Identities
    links_written: tuple[str, ...]
    problems: tuple[str, ...]
    said: link_writer.Said = field(default_factory=link_writer.Said)
    halted: bool = False  # every link read points to another partner ID: nothing decided or written

    @property
    def withheld(self) -> tuple[str, ...]:
        """ "would link ..." lines (observe mode, the guard)."""
        return self.said.would

    @property
    def repointed(self) -> tuple[str, ...]:
        """Links moved from PAL_PARTNER_ID_PREVIOUS."""
        return self.said.repointed

    # Delegations whose principals, groups or roles could not be read (a pass that tolerates
    # transient failures): their decisions here are on unknowns and must not be recorded.
    held: frozenset[str] = frozenset()


def reconcile(
    engine: Engine,
    delegations: Delegations,
    *,
    now: datetime,
    act: bool = True,
    links: link_writer.LinkWriter | None = None,
    known: Known | None = None,
) -> Reconciled:
    """Observe what the delegations need, decide, make the links the plan asks for (unless `act`
    is False), and decide again with what was linked. `links` carries the pass's transient-error
    policy and what it wrote so far (default: a fresh one that raises); `known` what was read."""
    links = links if links is not None else link_writer.LinkWriter(engine, now)
    known = known or Known()
    identities = (
        known.identities
        if known.identities is not None
        else observe.acting_identities(engine, tolerate=links.defer_transient)
    )
    # Where the delegations name an identity we act as, the link of *every* identity we act as is
    # read: a write is guarded on every link the app can read, as in the verification, so a pass told
    # of one delegation judges the partner ID on what a verification would. Those named directly are
    # read while Graph resolves the principals (the same round trip); those in groups or discovered
    # by federation after it. Delegations naming none of them read no link.
    direct = observe.named(delegations.current, identities.acting)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="links") as pool:
        early = pool.submit(links.read, _unknown(identities.acting if direct else {}, known.links))
        # An assignment read names no offer: the unknown ones are read in this round trip too.
        offers_read = pool.submit(observe.read_offers, engine, delegations.current)
        directory = observe.read_directory(
            engine,
            delegations.current,
            known=known.principals,
            remembered=_carriers(delegations),
            tolerate=links.defer_transient,
        )
        read_early = early.result()
        delegations = replace(delegations, current=observe.with_offers(delegations.current, offers_read.result()))
    identities = federation.discover(
        engine, delegations.current, directory, identities, now, tolerate=links.defer_transient
    )
    wanted = observe.named(delegations.current, identities.acting, directory.principals)
    statuses = links.read(identities.acting if wanted else {}, known={**known.links, **read_early})
    observation = observe.observe(
        engine, directory, identities, statuses, previous=delegations.previous, gone=delegations.gone
    )
    if delegations.aobo:
        observation = replace(observation, aobo=delegations.aobo, tenant_pal=delegations.tenant_pal)
    held = directory.held(delegations.current)
    if links.halts():  # the partner ID looks wrong: judge nothing against it
        problems = identities.problems + directory.problems + tuple(links.problems)
        return Reconciled(
            observation, decisions.Plan.nothing(), identities, (), problems, links.said(), halted=True, held=held
        )
    # Credit is per scope: where a scope lost its last carrier, the stored delegations this pass
    # did not see are read (once) to learn whether another offer there still carries it.
    others = _Others(engine, delegations)
    plan = decisions.assess_estate(delegations.current, observation, now, others=others.get)
    if act and plan.link_actions:
        observation = observation.with_links(links.apply(plan.link_actions, identities.acting))
        plan = decisions.assess_estate(delegations.current, observation, now, others=others.get)
    return Reconciled(
        observation,
        observe_words.annotate(plan, links.observed_ids()),
        identities,
        tuple(links.written),
        identities.problems + directory.problems + tuple(links.problems),
        links.said(),
        held=held,
    )


def _carriers(delegations: Delegations) -> set[str]:
    """Every identity the stored snapshots remember attributing: a lost one is read for its own state."""
    return {
        a.principal_id.lower()
        for d in delegations.current
        if (snap := delegations.previous.get(d.key)) is not None
        for a in snap.attributed_by
    }


def _unknown(
    acting: Mapping[str, model.ActingIdentity], known: Mapping[str, decisions.LinkStatus]
) -> dict[str, model.ActingIdentity]:
    return {o: i for o, i in acting.items() if o not in known}


@dataclass
class _Others:
    """The stored delegations this pass did not see, as standings: read once, and only if asked."""

    engine: Engine
    delegations: Delegations
    standings: list[decisions.Standing] | None = None

    def get(self) -> list[decisions.Standing]:
        if self.standings is None:
            mine = {d.key for d in self.delegations.current}
            stored = self.engine.store.list_delegations()
            self.standings = [decisions.snapshot_standing(s) for s in stored if s.key not in mine]
        return self.standings
