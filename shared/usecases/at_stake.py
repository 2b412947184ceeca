"""What a finding puts at stake, in money, added to its notice from the cost cache.

Called by `shared.usecases.alerts` before notices are written to the outbox (opened, reminded,
swept). It reads the cache the daily cost snapshot fills (`Store.costs`) and never queries Cost
Management: an alert must not wait on, or spend, the tenant's cost-query budget. The sentence
goes into the finding's `facts["cost"]` (the "What it costs" row of every channel), followed by
the kind's standing explanation.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from shared import catalogue, model, money, offers
from shared.store import errors as store_errors
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

MONEY_KINDS = money.AT_STAKE_KINDS + money.AT_RISK_KINDS


def with_money(engine: Engine, recorded: Sequence[model.RecordedFinding], now: datetime) -> list[model.RecordedFinding]:
    """`recorded` with the money sentence in each money finding's `facts["cost"]` (from the cache only)."""
    wanted = [r for r in recorded if r.finding.kind in MONEY_KINDS and r.finding.scope]
    if not wanted:
        return list(recorded)
    try:
        cached = engine.store.costs.for_scopes(r.finding.scope for r in wanted)
    except store_errors.StoreError as e:  # an alert goes out without the number rather than not at all
        log.warning("alerts: the cost cache could not be read: %s", e)
        return list(recorded)
    rate = engine.settings.costs.pec_rate
    snapshot_on = engine.settings.costs.enabled
    out = []
    for r in recorded:
        f = r.finding
        if f.kind not in MONEY_KINDS or not f.scope:
            out.append(r)
            continue
        csp = f.facts.get("offerType") == offers.CSP
        cost = cached.get(f.scope.lower())
        if cost is None and not snapshot_on:
            sentence = money.SNAPSHOT_OFF
        else:
            sentence = money.at_stake(f.kind, cost, rate, r.opened_at, now, csp).sentence
        standing = catalogue.cost(f)
        facts = {**f.facts, "cost": f"{sentence} {standing}".strip()}
        out.append(dataclasses.replace(r, finding=dataclasses.replace(f, facts=facts)))
    return out


def revenue_at_stake(
    recorded: Sequence[model.RecordedFinding], cached: Mapping[str, money.ScopeCost]
) -> dict[str, float]:
    """Finding key -> the monthly Azure consumed revenue on its scope, for the money kinds whose cost is known."""
    out = {}
    for r in recorded:
        cost = cached.get(r.finding.scope.lower()) if r.finding.kind in MONEY_KINDS and r.finding.scope else None
        if cost is not None and cost.known:
            out[r.finding.key] = cost.acr
    return out
