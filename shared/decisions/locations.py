"""The partner's locations: which of its location IDs each scope's credit goes to, and where a
customer's credit goes to another location than the partner said it should.

Pure: called by the verification (`shared.usecases.verify`) after the plan is decided, with the
managing-tenant links the pass read. A partner may have several location IDs (PAL_PARTNER_ID
lists them); a link to any of them is the partner's own, so nothing here is ever re-pointed: an
identity carries one link for all the customers it serves. PAL_PARTNER_ID_BY_CUSTOMER says which
location a customer's credit should go to; an identity serving that customer linked to another
of the partner's locations is reported once (`link_location`, info), for a person to decide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from shared import catalogue, model
from shared.decisions.observation import LinkStatus
from shared.snapshots import CoverageRow


@dataclass(frozen=True)
class Locations:
    """The partner's location IDs (the first is where new links point), their names, and the
    location each customer tenant's credit should go to."""

    ids: tuple[str, ...]
    names: Mapping[str, str] = field(default_factory=dict)  # location id -> name ("" unnamed)
    by_customer: Mapping[str, str] = field(default_factory=dict)  # customer tenant id -> location id

    def ours(self, partner_id: str | None) -> bool:
        """A link to any of the partner's locations is the partner's own."""
        return bool(partner_id) and partner_id in self.ids

    def label(self, partner_id: str) -> str:
        """'Bergen (5127256)', or the ID alone when the location has no name."""
        return model.PartnerLocation(partner_id, self.names.get(partner_id, "")).label


def with_locations(
    rows: Iterable[CoverageRow], links: Mapping[str, LinkStatus], locations: Locations
) -> tuple[CoverageRow, ...]:
    """Each coverage row with the location IDs its active attributing identities are linked to
    (read links only: a person's attested link carries no readable ID)."""
    out = []
    for row in rows:
        found = {
            status.partner_id
            for entry in row.attributed_by
            if entry.active
            and (status := links.get(entry.principal_id.lower())) is not None
            and locations.ours(status.partner_id)
        }
        out.append(replace(row, locations=tuple(sorted(found, key=_order(locations)))))
    return tuple(out)


def _order(locations: Locations) -> Callable[[str], tuple[int, str]]:
    """Sort key: the order PAL_PARTNER_ID lists the locations in."""
    rank = {pid: i for i, pid in enumerate(locations.ids)}
    return lambda pid: (rank.get(pid, len(rank)), pid)


def misplaced(
    rows: Iterable[CoverageRow], links: Mapping[str, LinkStatus], locations: Locations
) -> list[model.Finding]:
    """One `link_location` finding per (customer, identity) where an identity attributing that
    customer's delegation is linked to another of the partner's locations than the customer's."""
    found: dict[str, model.Finding] = {}
    for row in rows:
        expected = locations.by_customer.get(row.customer_tenant_id.lower(), "")
        if not expected:
            continue
        for entry in row.attributed_by:
            status = links.get(entry.principal_id.lower())
            if not entry.active or status is None or not locations.ours(status.partner_id):
                continue
            actual = status.partner_id or ""
            if actual == expected:
                continue
            where = catalogue.Where(row.delegation_key, row.customer_tenant_id, row.customer_tenant_name, row.scope)
            finding = catalogue.link_location(
                where, entry.principal_id, entry.display_name, locations.label(actual), locations.label(expected)
            )
            found.setdefault(finding.key, finding)
    return sorted(found.values(), key=lambda f: f.key)
