"""Partner Admin Link (Microsoft.ManagementPartner, api-version 2018-02-01) for the calling identity.

A link belongs to whoever's token makes the call, in the token's tenant, so a `PartnerLinkClient`
is built per (identity, tenant) with that identity's credential. `ensure_link` is its only write,
idempotent: GET first, then PUT if none, PATCH if it points elsewhere, nothing if right, each
write asked of the caller's `may_write` (the partner-ID guard and observe mode). Called by the
one guarded writer (`shared.usecases.links.LinkWriter`), `link-me` and the doctor (which only reads).

No public recording shows the status of a PUT when already linked (409 is likely, 400 possible)
or confirms the error codes (`PartnerIdInvalid`, `ManagementPartnerNotFound`), so answers are
classified by status as well as code: 404 is "not linked", a refused PUT is looked at again
(linked meanwhile, or the partner id), and a 400 on a write that nothing else explains is an
invalid partner id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import model, timestamps
from shared.azure import errors
from shared.azure.http import AzureHttpClient

log = logging.getLogger(__name__)

API_VERSION = "2018-02-01"
PARTNERS = "/providers/Microsoft.ManagementPartner/partners"
_PARAMS = {"api-version": API_VERSION}


@dataclass(frozen=True)
class LinkResult:
    """What `ensure_link` did: `unchanged`, `created` (PUT), `repointed` (PATCH), or `withheld`
    (the caller's guard refused the write; `link` is the link as read, None when there is none)."""

    action: str
    link: model.PartnerLink | None
    previous_partner_id: str = ""

    @property
    def wrote(self) -> bool:
        return self.action not in ("unchanged", "withheld")


class PartnerLinkClient:
    """The calling identity's PAL link."""

    def __init__(self, http: AzureHttpClient) -> None:
        self._http = http

    @classmethod
    def from_settings(cls, settings: Any, credential: Any, **kwargs: Any) -> PartnerLinkClient:
        return cls(AzureHttpClient.for_arm(settings, credential, **kwargs))

    def get_link(self) -> model.PartnerLink | None:
        """The caller's link, or None when it has none (404 ManagementPartnerNotFound)."""
        try:
            body = self._http.get(PARTNERS, _PARAMS)
        except errors.NotFoundError:
            return None
        return parse_link(body) if body else None

    def _create_link(self, partner_id: str) -> model.PartnerLink:
        """PUT: link the caller (refused with 409, or maybe 400, when it already has a link)."""
        return parse_link(self._http.put(f"{PARTNERS}/{_checked(partner_id)}", None, _PARAMS))

    def _update_link(self, partner_id: str) -> model.PartnerLink:
        """PATCH: move the caller's existing link to `partner_id` (400: the partner id is not valid)."""
        try:
            return parse_link(self._http.patch(f"{PARTNERS}/{_checked(partner_id)}", None, _PARAMS))
        except errors.PermanentError as e:
            raise _as_partner_id_invalid(e) from e

    def ensure_link(  # noqa: PLR0911  (each outcome of GET-then-write is its own return)
        self, partner_id: str, *, may_write: Callable[[str], bool]
    ) -> LinkResult:
        """Make the caller linked to `partner_id` with at most one write.

        The client's only write. `may_write(current partner id, "" when none)` is asked before any
        PUT or PATCH (every caller must say: the partner-ID guard and observe mode live there);
        False leaves the link as it is. Raises PartnerIdInvalidError (a global id, a typo),
        ForbiddenError, TransientError.
        """
        current = self.get_link()
        if current is not None and current.active and current.partner_id == partner_id:
            return LinkResult("unchanged", current)
        found = current.partner_id if current is not None and current.active else ""
        if not may_write(found):
            return LinkResult("withheld", current)
        if found:
            link = self._update_link(partner_id)
            log.info("PAL link of %s re-pointed from %s to %s", current.object_id, found, partner_id)
            return LinkResult("repointed", link, found)
        try:
            link = self._create_link(partner_id)
        except (errors.ConflictError, errors.PartnerIdInvalidError) as e:
            link = None
            refused: errors.PermanentError = e
        except errors.PermanentError as e:
            if e.status != 400:
                raise
            link, refused = None, e
        if link is None:
            # Linked meanwhile (a concurrent handler, a human: 409, or 400 where Azure says so), or
            # the partner id was refused: one more look tells which.
            again = self.get_link()
            if again is not None and again.active and again.partner_id == partner_id:
                return LinkResult("unchanged", again)
            if again is not None and again.active:
                if not may_write(again.partner_id):
                    return LinkResult("withheld", again)
                link = self._update_link(partner_id)
                return LinkResult("repointed", link, again.partner_id)
            raise _as_partner_id_invalid(refused) from refused
        log.info("PAL link of %s created for partner id %s", link.object_id, partner_id)
        return LinkResult("created", link)


def parse_link(body: dict[str, Any]) -> model.PartnerLink:
    """A `PartnerLink` from a ManagementPartner response (fields under `properties`)."""
    props = body.get("properties") if isinstance(body.get("properties"), dict) else body
    try:
        version = int(props.get("version") or body.get("etag") or 0)
    except (TypeError, ValueError):
        version = 0
    partner_id = str(props.get("partnerId") or body.get("name") or "")
    if not partner_id:
        raise errors.PermanentError("ManagementPartner answer without a partnerId", code="MalformedResponse")
    return model.PartnerLink(
        tenant_id=str(props.get("tenantId") or ""),
        object_id=str(props.get("objectId") or ""),
        partner_id=partner_id,
        partner_name=str(props.get("partnerName") or ""),
        state=str(props.get("state") or "Active"),
        version=version,
        created_time=timestamps.parse(props.get("createdTime")),
        updated_time=timestamps.parse(props.get("updatedTime")),
    )


_NOT_THE_PARTNER_ID = ("invalidapiversionparameter", "missingapiversionparameter", "conflict")


def _as_partner_id_invalid(error: errors.PermanentError) -> errors.PermanentError:
    """A 400 on a PAL write that is not about the request itself: the partner id was refused."""
    if isinstance(error, errors.PartnerIdInvalidError):
        return error
    if error.status == 400 and error.code.lower() not in _NOT_THE_PARTNER_ID:
        return errors.PartnerIdInvalidError(error.message, status=400, code="PartnerIdInvalid")
    return error


def _checked(partner_id: str) -> str:
    # Settings validate this already; a path segment must never carry anything but digits.
    if not partner_id.isascii() or not partner_id.isdigit():
        raise errors.PartnerIdInvalidError(f"partner id {partner_id[:20]!r} is not digits", code="PartnerIdInvalid")
    return partner_id
