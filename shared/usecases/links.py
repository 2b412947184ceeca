"""The one PAL link writer: reads the links of the identities we act as, and writes them, guarded.

Used by the reconcile entry (`shared.usecases.pipeline`: reading for the observation, making the
links the plan asks for, `halts` before anything is decided) and by the link checks
(`shared.usecases.tenant_links`: drift put back, links in customer tenants); `guard_for_person`
by `palwatch link-me` (`shared.usecases.users`). Every PAL write of the engine goes through
`LinkWriter.ensure`: GET, then PUT/PATCH only if the partner ID guard (`partner_guard.Guard`,
decided once per pass from every managing-tenant link read and the store's memory of which links
were ours) allows it, holding the store lease `link:{tenant}:{object}` so that concurrent
invocations write once. Waiting for the lease uses an injected clock, so tests of contention do
not sleep.

The writer records nothing: what the guard found (the one partner ID finding, links re-pointed
from PAL_PARTNER_ID_PREVIOUS, writes withheld) comes out of `said()` as data, which the reconcile
entry puts in its result and `shared.usecases.recorder` writes with everything else of the pass.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared import catalogue, decisions, model
from shared.azure import errors
from shared.decisions import partner_guard
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=2)
LEASE_WAIT_SECONDS = 20.0
LEASE_POLL_SECONDS = 0.25
KNOWN_LINKS_STATE = "verify-known-links"  # managing tenant: object id -> partner id its link last pointed to
DRIFTED_LINKS_STATE = "verify-drifted-links"  # object id -> {"to", "at"}: ours, changed by hand, not yet put back


@dataclass(frozen=True)
class Clock:
    """How long a writer waits for a busy lease: real time, or a test's fake."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[datetime], datetime] = lambda now: max(now, datetime.now(now.tzinfo))


@dataclass(frozen=True)
class Said:
    """What the partner ID guard found in one pass, for the recorder: the findings that hold per
    subject (an empty list resolves the subject), notices to keep once, and lines for the outcome."""

    findings: Mapping[str, tuple[model.Finding, ...]] = field(default_factory=dict)
    notices: tuple[model.Finding, ...] = ()
    would: tuple[str, ...] = ()  # "would link ..." (observe mode, the guard)
    repointed: tuple[str, ...] = ()  # links moved from PAL_PARTNER_ID_PREVIOUS


@dataclass
class LinkWriter:
    """Reads and writes PAL links for one pass, and keeps what it wrote, withheld and found.

    `defer_transient`: a link that cannot be read or made for now is left unknown and the pass
    goes on (the verification: one throttled identity must not stop the estate); event handlers
    leave it False so the failure raises and Event Grid redelivers. `whole_estate`: the pass reads
    every link (the verification), so a partner ID finding it did not find again is resolved.
    """

    engine: Engine
    now: datetime
    defer_transient: bool = False
    clock: Clock = field(default_factory=Clock)
    whole_estate: bool = False
    written: list[str] = field(default_factory=list)  # "created|repointed identity in tenant"
    problems: list[str] = field(default_factory=list)
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    seen: dict[str, decisions.LinkStatus] = field(default_factory=dict)  # managing-tenant links read
    guard: partner_guard.Guard | None = None  # decided on the first write or check of the pass
    withheld: dict[tuple[str, str], partner_guard.Verdict] = field(default_factory=dict)  # (tenant, object id)
    would: list[str] = field(default_factory=list)
    repointed: list[str] = field(default_factory=list)
    notices: list[model.Finding] = field(default_factory=list)
    config: list[model.Finding] = field(default_factory=list)  # the partner ID finding, when it holds
    # Until Microsoft has accepted the partner ID once in this pass, writes go one at a time, so a
    # PartnerIdInvalid stops the rest instead of racing them.
    first_write: threading.Lock = field(default_factory=threading.Lock)
    accepted: bool = False

    # -- reading -----------------------------------------------------------------------------

    def read(
        self, acting: Mapping[str, model.ActingIdentity], *, known: Mapping[str, decisions.LinkStatus] | None = None
    ) -> dict[str, decisions.LinkStatus]:
        """The managing-tenant link of each identity we act as: `known` ones as given, the rest one
        GET each, side by side (one round trip for all)."""
        links = dict(known or {})
        missing = [(o, identity) for o, identity in acting.items() if o not in links]
        if len(missing) == 1:
            links[missing[0][0]] = self.read_one(missing[0][1])
        elif missing:
            workers = max(1, min(len(missing), self.engine.settings.max_concurrency))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="links") as pool:
                statuses = list(pool.map(lambda item: self.read_one(item[1]), missing))
            links.update({o: status for (o, _), status in zip(missing, statuses, strict=True)})
        self.seen.update({k.lower(): v for k, v in links.items()})
        return links

    def read_one(self, identity: model.ActingIdentity) -> decisions.LinkStatus:
        try:
            return decisions.LinkStatus.from_link(self.engine.pal_for(identity).get_link())
        except errors.TransientError as e:
            return self._deferred(identity, e)
        except errors.AzureError as e:
            return decisions.LinkStatus(partner_id=None, error_code=e.code or "Unreadable", error_message=str(e))

    # -- the guard ---------------------------------------------------------------------------

    def guard_now(self) -> partner_guard.Guard:
        """The guard of this pass, decided once from every managing-tenant link it read."""
        if self.guard is None:
            self.guard = _guard(self.engine, self.seen, self.engine.settings.partner_id)
        return self.guard

    def halts(self) -> bool:
        """True when the links say PAL_PARTNER_ID is wrong: the one configuration finding holds, and
        the pass must judge nothing against a partner ID that is probably not the partner's."""
        check = self.guard_now().setting
        if check is None or not check.suspect:
            return False
        finding = catalogue.partner_id_mismatch(
            check.partner_id, check.other_partner_id, check.links_read, self.engine.settings.managing_tenant_id
        )
        self.config = [finding]
        problem = f"{finding.title}. {finding.fix}"
        if problem not in self.problems:
            self.problems.append(problem)
        return True

    def observed_ids(self) -> set[str]:
        """Identities this pass would have linked, were it not in observe mode."""
        return {oid for (_t, oid), v in self.withheld.items() if v.reason == partner_guard.OBSERVE}

    def said(self) -> Said:
        """What the guard found so far in this pass, as data. The partner ID subject is named when a
        finding holds, or when this pass read every link (then nothing found resolves it)."""
        findings: dict[str, tuple[model.Finding, ...]] = {}
        if self.config or self.whole_estate:
            findings[catalogue.PARTNER_ID_SUBJECT] = tuple(self.config)
        return Said(findings, tuple(self.notices), tuple(self.would), tuple(self.repointed))

    # -- writing -----------------------------------------------------------------------------

    def apply(
        self, actions: Iterable[decisions.LinkAction], acting: Mapping[str, model.ActingIdentity]
    ) -> dict[str, decisions.LinkStatus]:
        """Make the links the plan asks for; object id -> the link as it is afterwards."""
        made: dict[str, decisions.LinkStatus] = {}
        for action in actions:
            identity = acting.get(action.object_id.lower())
            if identity is not None:
                made[action.object_id.lower()] = self.ensure(identity, action.tenant_id, action.object_id)
        return made

    def ensure(
        self, identity: model.ActingIdentity, tenant_id: str, object_id: str, partner_id: str = ""
    ) -> decisions.LinkStatus:
        """Link `identity` (object `object_id` in `tenant_id`) to the partner ID, under the link lease:
        `partner_id` (a link put back to the location it had), else where new links point."""
        lease = f"link:{tenant_id.lower()}:{object_id.lower()}"
        store = self.engine.store
        deadline = self.clock.monotonic() + LEASE_WAIT_SECONDS
        while not store.try_acquire(lease, self.owner, LEASE_TTL, self.clock.wall(self.now)):
            if self.clock.monotonic() > deadline:
                busy = errors.TransientError(f"another invocation is still linking {identity.name}; try again later")
                return self._deferred(identity, busy)
            self.clock.sleep(LEASE_POLL_SECONDS)
        try:
            return self._write(identity, tenant_id, object_id, partner_id or self.engine.settings.partner_id)
        finally:
            store.release(lease, self.owner)

    def _write(
        self, identity: model.ActingIdentity, tenant_id: str, object_id: str, partner_id: str
    ) -> decisions.LinkStatus:
        """The PAL write (GET, then PUT/PATCH only if the guard allows it): every link the engine makes."""
        decided: list[partner_guard.Verdict] = []
        try:
            with self.first_write if not self.accepted else contextlib.nullcontext():
                guard = self.guard_now()

                def may_write(current: str) -> bool:
                    decided.append(guard.decide(object_id, current))
                    return decided[-1].allowed

                try:
                    result = self.engine.pal_for(identity, tenant_id).ensure_link(partner_id, may_write=may_write)
                except errors.PartnerIdInvalidError as e:
                    return self._refused(identity, tenant_id, object_id, e)
                self.accepted = self.accepted or result.wrote
        except errors.TransientError as e:
            return self._deferred(identity, e)
        except errors.AzureError as e:
            log.warning("linking %s in %s failed: %s", identity.name, tenant_id, e)
            return decisions.LinkStatus(partner_id=None, error_code=e.code or type(e).__name__, error_message=str(e))
        if result.action == "withheld":
            return self._withheld(catalogue.Link(tenant_id, object_id, identity.name), decided[-1], result.link)
        if result.wrote:
            self.written.append(f"{result.action} {identity.name} in {tenant_id}")
            log.info(
                "PAL link %s for %s in tenant %s (partner %s)", result.action, identity.name, tenant_id, partner_id
            )
            if decided and decided[-1].reported:
                self._repointed(catalogue.Link(tenant_id, object_id, identity.name), result.previous_partner_id)
        return decisions.LinkStatus.from_link(result.link)

    def _withheld(
        self, link: catalogue.Link, verdict: partner_guard.Verdict, current: model.PartnerLink | None
    ) -> decisions.LinkStatus:
        """A write the guard refused: the link stays as read; another partner's link is a link_failed."""
        partner_id = self.engine.settings.partner_id
        status = decisions.LinkStatus.from_link(current)
        if verdict.reason == partner_guard.OWN_LOCATION:
            return status  # another of the partner's locations: the partner's own, as it is
        if verdict.reason == partner_guard.FOREIGN_LINK:
            message = partner_guard.foreign_link_message(verdict.current_partner_id, partner_id)
            log.warning("PAL link of %s not re-pointed: %s", link.name, message)
            return replace(status, error_code=partner_guard.FOREIGN_LINK_CODE, error_message=message)
        self.withheld[(link.tenant_id.lower(), link.object_id.lower())] = verdict
        text = partner_guard.would_text(verdict, link.name, link.tenant_id, partner_id)
        if text not in self.would:
            self.would.append(text)
            log.info("PAL link write withheld (%s): %s", verdict.reason, text)
        return status

    def _refused(
        self, identity: model.ActingIdentity, tenant_id: str, object_id: str, error: errors.AzureError
    ) -> decisions.LinkStatus:
        """PartnerIdInvalid: one configuration finding, and no further write in this pass."""
        settings = self.engine.settings
        log.warning("Microsoft rejects partner id %s: %s", settings.partner_id, error)
        self.guard = replace(self.guard_now(), partner_id_refused=True)
        current = self.seen.get(object_id.lower()) or decisions.LinkStatus(partner_id="")
        operation = "repoint" if current.partner_id else "create"
        self.withheld[(tenant_id.lower(), object_id.lower())] = partner_guard.Verdict(
            False, operation, current.partner_id or "", partner_guard.PARTNER_ID_INVALID
        )
        self.config = [catalogue.partner_id_refused(settings.partner_id, settings.managing_tenant_id, [identity.name])]
        return current

    def _repointed(self, link: catalogue.Link, previous_partner_id: str) -> None:
        """A link moved from PAL_PARTNER_ID_PREVIOUS: said once (a notice the recorder keeps)."""
        partner_id = self.engine.settings.partner_id
        self.repointed.append(f"{link.name} in {link.tenant_id} from {previous_partner_id} to {partner_id}")
        self.notices.append(catalogue.link_repointed(link, previous_partner_id, partner_id))

    def deferred(self, identity: model.ActingIdentity, error: errors.TransientError) -> decisions.LinkStatus:
        return self._deferred(identity, error)

    def _deferred(self, identity: model.ActingIdentity, error: errors.TransientError) -> decisions.LinkStatus:
        """Raise (Event Grid redelivers), or with `defer_transient` note it and treat the link as unknown."""
        if not self.defer_transient:
            raise error
        self.problems.append(f"PAL link of {identity.name}: {error} (retried on the next run)")
        log.warning("PAL link of %s deferred: %s", identity.name, error)
        return decisions.LinkStatus(partner_id=None)


def _guard(
    engine: Engine, seen: Mapping[str, decisions.LinkStatus], partner_id: str, ours: Iterable[str] = ()
) -> partner_guard.Guard:
    """The guard for writes to `partner_id`, judged on the links in `seen` and the store's memory of
    which links pointed to it (`ours`: more identities known to have pointed to it)."""
    settings = engine.settings
    known: dict[str, str] = engine.store.get_state(KNOWN_LINKS_STATE) or {}
    # A link PAL Watch saw drift from ours stays ours: never a partner ID to adopt, always one to put back.
    drifted: dict[str, dict[str, str]] = engine.store.get_state(DRIFTED_LINKS_STATE) or {}
    ids = {partner_id, *settings.partner_ids}
    ours_before = frozenset(
        [*(oid.lower() for oid, pid in known.items() if pid in ids), *(o.lower() for o in drifted), *ours]
    )
    setting = partner_guard.check_setting(
        seen, partner_id, previous_partner_id=settings.previous_partner_id, ours_before=ours_before, partner_ids=ids
    )
    if setting.suspect:
        log.warning(
            "every PAL link read points to partner id %s, not %s: no link is written",
            setting.other_partner_id,
            partner_id,
        )
    return partner_guard.Guard(
        partner_id=partner_id,
        previous_partner_id=settings.previous_partner_id,
        observe=settings.observe_only,
        setting=setting,
        ours_before=ours_before,
        partner_ids=frozenset(ids),
    )


def guard_for_person(engine: Engine, object_id: str, current_partner_id: str, partner_id: str) -> partner_guard.Guard:
    """The same guard for a person's own link (`palwatch link-me`), who writes it with their own sign-in.

    The app's identities' links cannot be read as the person, so it judges on what the last
    verification saw them point to (the store), the person's attestation and the person's link as
    just read (`current_partner_id`, "" when none).
    """
    oid = object_id.lower()
    known: dict[str, str] = engine.store.get_state(KNOWN_LINKS_STATE) or {}
    seen = {o.lower(): decisions.LinkStatus(partner_id=pid) for o, pid in known.items() if pid}
    if current_partner_id:
        seen[oid] = decisions.LinkStatus(partner_id=current_partner_id)
    ours = [a.object_id.lower() for a in engine.store.list_attested_users() if a.partner_id == partner_id]
    return _guard(engine, seen, partner_id, [o for o in ours if o == oid])
