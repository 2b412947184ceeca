"""Domain types shared by every layer of the engine.

The bottom layer: adapters build these from Azure's wire formats, the pure reconcile
decisions read them, the store persists them and notify renders them. Nothing here does
I/O; everything is a frozen value so it can be compared, hashed and tested as data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast


class PrincipalKind(enum.StrEnum):
    USER = "User"
    GROUP = "Group"
    SERVICE_PRINCIPAL = "ServicePrincipal"
    MANAGED_IDENTITY = "ManagedIdentity"
    UNKNOWN = "Unknown"


class PrincipalState(enum.StrEnum):
    """What Graph says of an identity now (not what an event claimed)."""

    ACTIVE = "active"
    DISABLED = "disabled"
    SOFT_DELETED = "softDeleted"  # in directory/deletedItems, restorable for 30 days
    DELETED = "deleted"  # gone for good (or never existed)
    # Graph answered without `accountEnabled`: neither confirmed enabled nor known to be lost.
    UNKNOWN = "unknown"


class DeliveryState(enum.StrEnum):
    """Where one alert notice stands on one channel: kept by the outbox, moved by the dispatcher."""

    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"  # the channel does not carry this kind of notice
    DEAD = "dead"  # the channel refused it for good

    @property
    def terminal(self) -> bool:
        """Nothing more will be tried on this channel."""
        return self is not DeliveryState.PENDING


class Kind(enum.StrEnum):
    """What a finding is about (the `kind` of every `Finding`); `shared.catalogue` builds each one."""

    UNATTRIBUTED_DELEGATION = "unattributed_delegation"
    ATTRIBUTION_LOST = "attribution_lost"
    IDENTITY_LOST = "identity_lost"
    NOT_ELIGIBLE_OFFER = "not_eligible_offer"
    LINK_FAILED = "link_failed"
    DELEGATION_REMOVED = "delegation_removed"
    LINK_DRIFT_REPAIRED = "link_drift_repaired"
    LINK_REPOINTED = "link_repointed"
    LINK_LOCATION = "link_location"
    CREDIT_MISSING = "credit_missing"  # a PEC path held a whole day; Microsoft's billing applied 0 %
    CREDIT_UNEXPLAINED = "credit_unexplained"  # Microsoft applied credit where PAL Watch knows no path
    CONFIGURATION = "configuration"
    ALERT_DELIVERY_FAILED = "alert_delivery_failed"
    DAILY_DIGEST = "daily_digest"
    TEST_ALERT = "doctor_test_alert"  # `palwatch doctor --send-test-alert`: proves a channel, reports nothing

    @classmethod
    def of(cls, text: str) -> Kind:
        """The kind a stored or queued finding names. A kind this version does not know (written by
        another one) keeps its text, which compares and prints as before."""
        return cls(text) if text in cls._value2member_map_ else cast("Kind", text)


# The kinds an exemption may name: every finding about the estate, not the digest or a test, and not
# PAL Watch's own configuration (an exemption must never silence the alarm that alerts are not sent).
EXEMPTABLE_KINDS = tuple(k.value for k in Kind if k not in (Kind.DAILY_DIGEST, Kind.TEST_ALERT, Kind.CONFIGURATION))


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Lower sorts first: most severe first in every message."""
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Authorization:
    """One entry of a registration definition's `authorizations` or `eligibleAuthorizations`."""

    principal_id: str
    role_definition_id: str
    principal_display_name: str = ""
    just_in_time: bool = False


@dataclass(frozen=True)
class Delegation:
    """A Lighthouse registration assignment with its definition, as the managing tenant sees it."""

    assignment_id: str  # full ARM id, as ARM returns it
    scope: str  # /subscriptions/{sub} or /subscriptions/{sub}/resourceGroups/{rg}
    customer_tenant_id: str
    managed_by_tenant_id: str
    definition_id: str = ""
    definition_name: str = ""
    customer_tenant_name: str = ""
    subscription_name: str = ""  # the subscription's displayName, from the subscriptions list
    quota_id: str = ""  # the subscription's offer (subscriptionPolicies.quotaId); "" not read
    plan: str = ""  # the definition's Marketplace plan, `publisher/product/name`; "" deployed from a template
    provisioning_state: str = "Succeeded"
    authorizations: tuple[Authorization, ...] = ()
    eligible_authorizations: tuple[Authorization, ...] = ()

    @property
    def key(self) -> str:
        """Stable identity of a delegation: the assignment id, case-folded (ARM ids are case-insensitive)."""
        return self.assignment_id.lower()

    @property
    def subscription_id(self) -> str:
        parts = self.scope.strip("/").split("/")
        return parts[1] if len(parts) >= 2 else ""


@dataclass(frozen=True)
class Principal:
    """An identity in the managing tenant, resolved through Graph."""

    object_id: str
    kind: PrincipalKind
    state: PrincipalState = PrincipalState.ACTIVE
    display_name: str = ""
    app_id: str = ""  # service principals and managed identities
    user_principal_name: str = ""  # users
    member_ids: tuple[str, ...] = ()  # groups: transitive members' object ids

    @property
    def usable(self) -> bool:
        """Not known to be lost. Microsoft counts attribution only for identities that exist and
        are enabled; one whose state Graph did not say is not declared lost (no loss alert, the
        identity poll reports it), nor confirmed (`confirmed`)."""
        return self.state in (PrincipalState.ACTIVE, PrincipalState.UNKNOWN)

    @property
    def confirmed(self) -> bool:
        """Graph said it exists and is enabled."""
        return self.state is PrincipalState.ACTIVE


@dataclass(frozen=True)
class PartnerLink:
    """A PAL link as Microsoft.ManagementPartner returns it for the calling identity."""

    tenant_id: str
    object_id: str
    partner_id: str
    partner_name: str = ""
    state: str = "Active"
    version: int = 0
    created_time: datetime | None = None  # the record's first link; kept across delete + re-create
    updated_time: datetime | None = None  # the last write (PUT, PATCH or DELETE)

    @property
    def active(self) -> bool:
        return self.state.lower() == "active"


@dataclass(frozen=True)
class PartnerLocation:
    """One of the partner's location IDs (PAL_PARTNER_ID lists them; the first is where new links
    point) and the name an operator gave it ("" unnamed). A link to any of them is the partner's own."""

    partner_id: str
    name: str = ""

    @property
    def label(self) -> str:
        """'Bergen (5127256)', or the ID alone."""
        return f"{self.name} ({self.partner_id})" if self.name else self.partner_id


@dataclass(frozen=True)
class ActingIdentity:
    """An identity the app can authenticate as, and so link.

    `kind` is `managedIdentity`, `federated`, `certificate` or `secret`. `client_id` is the
    app (client) id; the object id in a tenant is learned from the token.
    """

    name: str
    kind: str
    client_id: str = ""
    certificate_setting: str = ""
    secret_setting: str = ""
    multi_tenant: bool = False


@dataclass(frozen=True)
class Finding:
    """Something an ops engineer must know. `key` is stable: the same problem has the same key.

    `subject` groups findings that one reconcile pass decides together (e.g. a delegation's
    key, or `identity:{objectId}`), so a pass can resolve what no longer holds for it.
    """

    key: str
    kind: Kind
    severity: Severity
    subject: str
    title: str
    reason: str = ""  # a reason code, e.g. users_only, no_eligible_role, just_in_time_only
    detail: str = ""  # plain text: what happened and what it costs
    fix: str = ""  # plain text: the exact command or portal step
    tenant_id: str = ""
    tenant_name: str = ""
    scope: str = ""
    principal_id: str = ""
    facts: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class RecordedFinding:
    """A finding as the store keeps it, with its life cycle."""

    finding: Finding
    opened_at: datetime
    resolved_at: datetime | None = None
    last_seen_at: datetime | None = None
    last_notified_at: datetime | None = None
    notice: bool = False  # said once at `opened_at` (a link put back, a delegation removed), never open

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class Exemption:
    """A finding a person accepted, with a reason, until a date (PAL_EXEMPTIONS or `palwatch exempt`).

    It matches findings of `kind` for the customer tenant, the scope (and what lies under it) and
    the offer (registrationDefinitionName) it names; at least one of those three is set.
    """

    kind: str
    reason: str
    expires: datetime
    tenant_id: str = ""
    scope: str = ""
    definition_name: str = ""
    by: str = ""

    @property
    def exemption_id(self) -> str:
        """Stable short name for list and remove (`ex-` and 8 hex digits): what it matches, not when
        it ends."""
        import hashlib

        parts = [self.kind, self.tenant_id.lower(), self.scope.lower().rstrip("/"), self.definition_name.casefold()]
        return "ex-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class RoleAssignment:
    """One Azure RBAC role assignment as ARM lists it at a subscription (Microsoft.Authorization)."""

    principal_id: str
    principal_type: str  # User | Group | ServicePrincipal | ForeignGroup
    role_id: str  # the bare GUID, lower case
    scope: str
