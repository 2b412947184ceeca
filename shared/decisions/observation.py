"""What one pass saw, frozen: the decisions' only input besides the delegations and `now`.

Built by `shared.usecases.observe.observe` from Graph, ARM, PAL and the store, and by tests
from plain data; read by the decisions in `shared.decisions.delegation` and `.estate`. Keys
are lower-cased object ids and role ids, so callers need not normalise what they pass.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from shared import model, roles
from shared.decisions.aobo import AoboState
from shared.snapshots import DelegationSnapshot


@dataclass(frozen=True)
class LinkStatus:
    """What we know of one identity's PAL link in the managing tenant.

    `partner_id` "" means not linked; None means unknown (could not be read). `error_code` is
    set when the last link attempt failed (e.g. PartnerIdInvalid).
    """

    partner_id: str | None = ""
    state: str = "Active"
    error_code: str = ""
    error_message: str = ""
    partner_name: str = field(default="", compare=False)  # what Microsoft calls the partner (partnerName)

    def points_to(self, partner_id: str | Collection[str]) -> bool:
        """Active and linked to `partner_id`, or to any of them (the partner's location IDs)."""
        ids = (partner_id,) if isinstance(partner_id, str) else partner_id
        return bool(self.partner_id) and self.partner_id in ids and self.state.lower() == "active"

    @classmethod
    def from_link(cls, link: model.PartnerLink | None) -> LinkStatus:
        if link is None:
            return cls(partner_id="")
        return cls(partner_id=link.partner_id if link.active else "", state=link.state, partner_name=link.partner_name)


def _frozen(values: Mapping[str, Any] | None, key: Any = str.lower) -> Mapping[str, Any]:
    return MappingProxyType({key(k): v for k, v in (values or {}).items()})


@dataclass(frozen=True)
class Observation:
    """The state the decisions judge: who we act as, who holds what, which links point where."""

    partner_id: str  # where new links point
    managing_tenant_id: str = ""
    # object id -> display name of every identity the app can authenticate as (a set of ids will do)
    acting: Mapping[str, str] | Iterable[str] = field(default_factory=dict)
    principals: Mapping[str, model.Principal] = field(default_factory=dict)  # groups with transitive members
    eligibility: Mapping[str, bool | None] = field(default_factory=dict)  # role id -> PEC-eligible; else the list
    role_names: Mapping[str, str] = field(default_factory=dict)  # roles newer than the shipped list
    links: Mapping[str, LinkStatus] = field(default_factory=dict)  # object id -> its managing-tenant link
    attested: frozenset[str] | Iterable[str] = frozenset()  # users recorded as linked by themselves
    previous: Mapping[str, DelegationSnapshot] = field(default_factory=dict)  # stored snapshots by key
    gone: frozenset[str] | Iterable[str] = frozenset()  # stored delegations Azure confirms have ended
    cloud: str = ""  # the sovereign cloud the ARM endpoint is in ("" public): some earn no ACR through PAL
    partner_ids: frozenset[str] | Iterable[str] = frozenset()  # every location ID of the partner ("" just partner_id)
    # subscription id -> AOBO as this pass read it (the verification only; others go by the snapshots)
    aobo: Mapping[str, AoboState] = field(default_factory=dict)
    # customer tenants whose subscriptions are the partner's own CSP business (recognised as `csp`)
    csp_tenants: frozenset[str] | Iterable[str] = frozenset()
    # customer tenant -> object ids there of our multi-tenant identities linked to one of our IDs
    tenant_pal: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        acting = self.acting if isinstance(self.acting, Mapping) else dict.fromkeys(self.acting, "")
        set_ = object.__setattr__
        set_(self, "acting", _frozen(acting))
        set_(self, "principals", _frozen(self.principals))
        set_(self, "eligibility", _frozen(self.eligibility, roles.normalize_role_id))
        set_(self, "role_names", _frozen(self.role_names, roles.normalize_role_id))
        set_(self, "links", _frozen(self.links))
        set_(self, "attested", frozenset(a.lower() for a in self.attested))
        set_(self, "previous", MappingProxyType(dict(self.previous)))
        set_(self, "gone", frozenset(self.gone))
        set_(self, "partner_ids", frozenset(self.partner_ids) | {self.partner_id})
        set_(self, "aobo", _frozen(self.aobo))
        set_(self, "csp_tenants", frozenset(t.lower() for t in self.csp_tenants))
        set_(self, "tenant_pal", _frozen({t: frozenset(i.lower() for i in ids) for t, ids in self.tenant_pal.items()}))

    def ours(self, partner_id: str | None) -> bool:
        """A link to any of the partner's location IDs is the partner's own."""
        return bool(partner_id) and partner_id in self.partner_ids

    def eligible(self, role_id: str) -> bool | None:
        """Observed eligibility of a role (its definition's actions), else the shipped list."""
        rid = roles.normalize_role_id(role_id)
        return self.eligibility[rid] if rid in self.eligibility else roles.is_eligible(rid)

    def with_links(self, links: Mapping[str, LinkStatus]) -> Observation:
        """The same observation with the links just written (or re-read) in place of the old ones."""
        return replace(self, links={**self.links, **{k.lower(): v for k, v in links.items()}})
