"""What a subscription's offer means for partner credit: its quota ID -> a category, with sources.

Called by the reconcile decisions (`shared.decisions.delegation`: an offer that earns no ACR
through PAL gets one `not_eligible_offer` finding instead of "not attributed"), by the
observation (`shared.usecases.observe`: which cloud the ARM endpoint is in) and by the reports
and alerts (the category per scope, the money wording). The mapping is data, not code:
`shared/data/offer-types.json`, loaded once, lazily, each entry with the page it comes from and,
where no page settles it, its assumption. A quota ID the file does not know is `unknown` and
treated as eligible: no finding is ever hidden on a guess.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

CSP = "csp"
ENTERPRISE_AGREEMENT = "enterprise_agreement"
PAY_AS_YOU_GO = "pay_as_you_go"
NOT_ELIGIBLE = "not_eligible"
UNKNOWN = "unknown"
CATEGORIES = (CSP, ENTERPRISE_AGREEMENT, PAY_AS_YOU_GO, NOT_ELIGIBLE, UNKNOWN)
_DATE_SUFFIX = re.compile(r"_\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Offer:
    """A subscription's offer as PAL Watch judges it."""

    quota_id: str
    category: str
    label: str  # the category in words
    why: str = ""  # for `not_eligible`: what kind of offer it is, in words
    source: str = ""  # the page the mapping comes from
    rule_source: str = ""  # the page saying such offers earn no ACR through PAL
    rule_assumption: str = ""  # why that rule is PAL Watch's assumption (no Microsoft Learn page states it)
    cloud: str = ""  # a sovereign cloud, when the ARM endpoint is in one

    @property
    def eligible(self) -> bool:
        """Can it earn ACR through PAL at all (unknown offers are given the benefit of the doubt)?"""
        return self.category != NOT_ELIGIBLE

    @property
    def csp(self) -> bool:
        return self.category == CSP


@dataclass(frozen=True)
class _Table:
    by_name: Mapping[str, Mapping[str, Any]]
    categories: Mapping[str, Mapping[str, Any]]
    rule: Mapping[str, str]
    clouds: tuple[Mapping[str, Any], ...]
    ea_hint: Mapping[str, str]


@functools.cache
def _table() -> _Table:
    data = json.loads(resources.files("shared").joinpath("data/offer-types.json").read_text(encoding="utf-8"))
    return _Table(
        by_name={str(e["name"]).casefold(): e for e in data["quotaIds"]},
        categories=data["categories"],
        rule=data["rule"],
        clouds=tuple(data["sovereignClouds"]),
        ea_hint=data["enterpriseAgreementHint"],
    )


def quota_name(quota_id: str) -> str:
    """`FreeTrial_2014-09-01` -> `freetrial`: Microsoft versions quota IDs by a date suffix."""
    return _DATE_SUFFIX.sub("", quota_id.strip()).casefold()


def sovereign_cloud(arm_endpoint: str) -> str:
    """The sovereign cloud whose ARM host `arm_endpoint` is ('' for the public cloud or anything else)."""
    host = (urlsplit(arm_endpoint).hostname or "").lower().rstrip(".")
    for cloud in _table().clouds:
        if host in {h.lower() for h in cloud["armHosts"]}:
            return str(cloud["cloud"])
    return ""


def classify(quota_id: str, cloud: str = "") -> Offer:
    """The offer of a subscription with `quota_id` ('' when not read), in `cloud` ('' public)."""
    table = _table()
    entry = table.by_name.get(quota_name(quota_id)) if quota_id else None
    category = str(entry["category"]) if entry else UNKNOWN
    why = str(entry.get("why", "")) if entry else ""
    source = str(entry.get("source", "")) if entry else ""
    for sovereign in table.clouds:
        if sovereign["cloud"] == cloud and sovereign["category"] == NOT_ELIGIBLE:
            category, why, source = NOT_ELIGIBLE, str(sovereign["why"]), str(sovereign["source"])
    return Offer(
        quota_id=quota_id,
        category=category,
        label=str(table.categories[category]["label"]),
        why=why,
        source=source,
        rule_source=table.rule["source"] if category == NOT_ELIGIBLE else "",
        rule_assumption=str(table.rule.get("assumption", "")) if category == NOT_ELIGIBLE else "",
        cloud=cloud,
    )


def rule_text() -> str:
    """Microsoft's words for which offers earn no ACR through PAL."""
    return _table().rule["text"]


def enterprise_agreement_hint(quota_id: str) -> str:
    """What a finding on an EA/MCA subscription adds, with its source."""
    hint = _table().ea_hint
    return f"{hint['text'].format(quotaId=quota_id)} (Source: {hint['source']})"
