"""`palwatch doctor`: checks settings, tokens and every permission the app needs, with fixes.

Read-only. Runs as the app runs: its managed identity for ARM, Graph and the activity log, and
each configured identity for its token and PAL link. Each check becomes a `CheckResult`; a
failed required check makes the report not `ok` (the CLI exits non-zero). Called by
`shared.cli` (and by `make run`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import catalogue, model
from shared import settings as settings_module
from shared.azure import errors, http, identity
from shared.azure import graph as graph_module
from shared.azure.activity_log import ActivityLogClient
from shared.azure.arm import ArmClient
from shared.azure.graph import GraphClient
from shared.azure.lighthouse import LighthouseClient
from shared.azure.pal import PartnerLinkClient
from shared.decisions import partner_guard
from shared.doctor import billing as doctor_billing
from shared.doctor import fixes, operations, reading
from shared.doctor import mail as doctor_mail
from shared.roles import is_guid

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
GRAPH_ROLES = fixes.GRAPH_ROLES
_ASSIGNMENT_SAMPLE = 3
_NIL_GUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # OK | WARN | FAIL | SKIP
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.status == FAIL and self.required


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[CheckResult, ...]
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not any(check.failed for check in self.checks)

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [asdict(check) for check in self.checks],
            "settings": dict(self.settings),
        }

    def render(self, *, show_settings: bool = False) -> str:
        width = max([len(c.name) for c in self.checks] + [5]) + 2
        lines = [f"{'CHECK':<{width}}{'STATUS':<8}DETAIL"]
        for check in self.checks:
            status = check.status if check.required or check.status != FAIL else WARN
            lines.append(f"{check.name:<{width}}{status:<8}{check.detail}")
            if check.fix and check.status in (FAIL, WARN):
                lines.append(f"{'':<{width}}{'':<8}fix: {check.fix}")
        failed = sum(1 for c in self.checks if c.failed)
        warned = sum(1 for c in self.checks if c.status == WARN)
        lines.append("")
        lines.append("All required checks passed." if self.ok else f"{failed} required check(s) failed.")
        if warned:
            lines[-1] += f" {warned} warning(s)."
        if show_settings and self.settings:
            lines += ["", "Settings (secrets redacted):"]
            name_width = max(len(name) for name, _ in self.settings) + 2
            lines += [f"  {name:<{name_width}}{value}" for name, value in self.settings]
        return "\n".join(lines)


def run_doctor(
    environ: Mapping[str, str] | None = None,
    *,
    send_test_mail: bool = False,
    send_test_alert: bool = False,
    credentials_factory: Callable[[Any], identity.Credentials] | None = None,
) -> DoctorReport:
    """Run every check against the environment (default os.environ).

    `credentials_factory` decides who the doctor is: by default the app's managed identity (as in
    the `health` function); the CLI's `--credential` passes the operator's sign-in instead.
    """
    import os

    environ = os.environ if environ is None else environ
    try:
        settings = settings_module.load_settings(environ)
    except settings_module.SettingsError as e:
        detail = "; ".join(f"{name} {text.split(':', 1)[0]}" for name, text in e.problems)
        fix = " | ".join(f"{name}: {text}" for name, text in e.problems)
        return DoctorReport((CheckResult("settings", FAIL, detail, fix),))
    # One quick retry: an operator waits at the terminal, and the doctor is run again anyway.
    credentials = (credentials_factory or _quick_credentials)(settings)
    checker = _Doctor(
        settings,
        credentials,
        send_test_mail=send_test_mail and not send_test_alert,  # the alert test sends the mail already
        send_test_alert=send_test_alert,
    )
    try:
        checks = checker.run()
    finally:
        checker.session.close()
        credentials.close()
    return DoctorReport(tuple(checks), tuple(settings.describe()))


class _Doctor:
    def __init__(
        self,
        settings: settings_module.Settings,
        credentials: identity.Credentials,
        *,
        send_test_mail: bool,
        send_test_alert: bool = False,
    ) -> None:
        self.s = settings
        self.credentials = credentials
        self.send_test_mail = send_test_mail
        self.send_test_alert = send_test_alert
        self.session = http.new_session(pool_size=settings.max_concurrency, max_retries=2)
        self.results: list[CheckResult] = []
        self.mi_object_id = "<managed identity object id>"
        self.links: dict[str, partner_guard.LinkStatus] = {}  # identity name -> its link, as read

    def add(self, name: str, status: str, detail: str, fix: str = "", *, required: bool = True) -> None:
        self.results.append(CheckResult(name, status, detail, fix, required))

    def run(self) -> list[CheckResult]:
        s = self.s
        extra = len(s.identities) - 1
        self.add(
            "settings",
            OK,
            f"partner id {s.partner_id}, managing tenant {s.managing_tenant_id}, "
            f"{extra} extra identit{'y' if extra == 1 else 'ies'}",
        )
        mi_ok = self.identity_token(s.managed_identity)
        tokens = {s.managed_identity.name: mi_ok}
        for acting in s.identities[1:]:
            tokens[acting.name] = self.identity_token(acting)
        now = datetime.now(UTC)
        operations.check_store(self.add, s, self.credentials.managed_identity(), self.mi_object_id, now)
        if not mi_ok:
            for name in (
                "list tenants",
                "list subscriptions",
                "read registration assignments",
                *(f"Graph: read {read.name}" for read in graph_module.PRINCIPAL_READS),
                "Graph: group members",
                "read tenant activity log",
                *((doctor_billing.NAME,) if s.billing.enabled else ()),
            ):
                self.add(name, SKIP, "needs the managed identity's token (see above)", required=False)
        else:
            mi = self.credentials.managed_identity()
            arm = http.AzureHttpClient.for_arm(s, mi, session=self.session)
            graph = GraphClient(http.AzureHttpClient.for_graph(s, mi, session=self.session))
            delegated = self.arm_checks(ArmClient(arm))
            self.assignment_check(LighthouseClient(arm), ArmClient(arm), delegated)
            reading.check_reading_roles(self.add, s, mi, ArmClient(arm), self.mi_object_id)
            self.graph_checks(graph)
            doctor_billing.check_billing(self.add, s, mi, self.session, _describe)
            self.activity_log_check(ActivityLogClient(arm))
            self.mail_check(graph)
        for acting in s.identities:
            if tokens[acting.name]:
                self.link_check(acting)
        mi = self.credentials.managed_identity()
        operations.check_channels(
            self.add,
            s,
            graph_mail=GraphClient(http.AzureHttpClient.for_graph(s, mi, session=self.session)),
            credential=mi,
            send_test_alert=self.send_test_alert,
            now=now,
        )
        self.mail_proven(now)
        self.partner_id_check()
        if s.storage.configured:
            self.alert_delivery_check()
        return self.results

    def alert_delivery_check(self) -> None:
        """What the last runs recorded about the alert channels: a failing channel, refused alerts."""
        from shared.store import errors as store_errors
        from shared.store import store

        name = "alert delivery"
        storage = self.s.storage
        state: store.Store | None = None
        try:
            if storage.connection_string:
                state = store.Store.from_connection_string(
                    storage.connection_string, prefix=storage.table_prefix, budget="probe"
                )
            else:
                mi = self.credentials.managed_identity()
                state = store.Store.from_endpoint(storage.endpoint, mi, prefix=storage.table_prefix, budget="probe")
            failing = [r.finding for r in state.open_findings() if r.finding.subject.startswith("channel:")]
            dead = state.outbox().list_dead()  # the outbox on the store's own table client
        except (store_errors.StoreError, ValueError) as e:  # the outbox's errors are store errors
            self.add(name, WARN, f"the store could not be read: {e}", required=False)
            return
        finally:
            if state is not None:
                state.close()
        if failing:
            detail = "; ".join(f"{f.title} ({f.facts.get('lastError', '')})" for f in failing)
            self.add(name, FAIL, detail, failing[0].fix)
        elif dead:
            self.add(
                name,
                WARN,
                f"{len(dead)} alert(s) were refused for good by a channel that accepts others",
                "`palwatch findings --all` lists them; check what the receiving side refuses",
                required=False,
            )
        else:
            self.add(name, OK, "no channel failing, no alert refused")

    # -- tokens ----------------------------------------------------------------------------------

    def identity_token(self, acting: model.ActingIdentity) -> bool:
        name = f"token: {acting.name}"
        try:
            credential = self.credentials.for_identity(acting, self.s.managing_tenant_id)
            who = identity.whoami(credential, self.s.arm_scope)
        except errors.AzureError as e:
            self.add(
                name,
                FAIL,
                _describe(e),
                fixes.token_fix(
                    acting,
                    e,
                    authority_host=self.s.authority_host,
                    tenant_id=self.s.managing_tenant_id,
                    mi_object_id=self.mi_object_id,
                ),
            )
            return False
        if acting.kind == "managedIdentity" and who.object_id:
            self.mi_object_id = who.object_id
        if who.tenant_id and who.tenant_id.lower() != self.s.managing_tenant_id:
            self.add(
                name,
                FAIL,
                f"token is for tenant {who.tenant_id}, not the managing tenant",
                f"set PAL_MANAGING_TENANT_ID to the tenant the app and its identities live in "
                f"({who.tenant_id}) or fix {acting.name}'s registration",
            )
            return False
        self.add(name, OK, f"{acting.kind}; object id {who.object_id or '?'} in tenant {who.tenant_id or '?'}")
        return True

    # -- ARM -------------------------------------------------------------------------------------

    def arm_checks(self, arm: ArmClient) -> list[str]:
        try:
            tenants = list(arm.list_tenants())
        except errors.AzureError as e:
            self.add(
                "list tenants",
                FAIL,
                _describe(e),
                fixes.retry_or("ARM: GET /tenants must work for any identity; check PAL_ARM_ENDPOINT", e),
            )
        else:
            customers = sum(1 for t in tenants if t.tenant_id != self.s.managing_tenant_id)
            self.add("list tenants", OK, f"{len(tenants)} tenant(s), {customers} other than the managing tenant")
        try:
            subscriptions = list(arm.list_subscriptions())
        except errors.AzureError as e:
            self.add("list subscriptions", FAIL, _describe(e), fixes.retry_or("check PAL_ARM_ENDPOINT", e))
            return []
        delegated = [
            s.subscription_id
            for s in subscriptions
            if s.delegated_to(self.s.managing_tenant_id) or (s.tenant_id and s.tenant_id != self.s.managing_tenant_id)
        ]
        if delegated:
            self.add("list subscriptions", OK, f"{len(subscriptions)} subscription(s), {len(delegated)} delegated")
        else:
            self.add(
                "list subscriptions",
                WARN,
                f"{len(subscriptions)} subscription(s), none delegated to us",
                fixes.offer_fix(self.mi_object_id),
                required=False,
            )
        return delegated

    def assignment_check(self, lighthouse: LighthouseClient, arm: ArmClient, delegated: list[str]) -> None:
        name = "read registration assignments"
        if not delegated:
            self.add(name, SKIP, "no delegated subscription to read", required=False)
            return
        seen = 0
        refused: list[str] = []
        for subscription_id in delegated[:_ASSIGNMENT_SAMPLE]:
            try:
                seen += self._count_assignments(lighthouse, arm, subscription_id)
            except errors.ForbiddenError:
                refused.append(subscription_id)
            except errors.AzureError as e:
                self.add(name, FAIL, f"subscription {subscription_id}: {_describe(e)}", fixes.retry_or("", e))
                return
        sampled = min(len(delegated), _ASSIGNMENT_SAMPLE)
        if refused and len(refused) == sampled:
            self.add(
                name, FAIL, f"refused in {len(refused)} delegated subscription(s)", fixes.offer_fix(self.mi_object_id)
            )
        elif refused:
            self.add(
                name,
                WARN,
                f"{seen} assignment(s) read; refused in {', '.join(refused)}",
                fixes.offer_fix(self.mi_object_id),
                required=False,
            )
        else:
            self.add(name, OK, f"{seen} assignment(s) in {sampled} sampled subscription(s)")

    def _count_assignments(self, lighthouse: LighthouseClient, arm: ArmClient, subscription_id: str) -> int:
        scope = f"/subscriptions/{subscription_id}"
        try:
            return sum(1 for _ in lighthouse.list_assignments(scope, self.s.managing_tenant_id))
        except errors.ForbiddenError:
            # Only a resource group is delegated: the doctor reads the groups as verify does.
            groups = list(arm.list_resource_groups(subscription_id))
            if not groups:
                raise
            return sum(1 for g in groups for _ in lighthouse.list_assignments(g.id, self.s.managing_tenant_id))

    # -- Graph -----------------------------------------------------------------------------------

    def graph_checks(self, graph: GraphClient) -> None:
        """Each Graph read the engine makes, exactly as it makes it (path, `$filter`, `$select`).

        A refusal is explained from the token's `roles` claim: the permission that is missing,
        and the grant that adds it.
        """
        roles = self._graph_roles()
        probe_id = self.mi_object_id if is_guid(self.mi_object_id) else _NIL_GUID
        for read in graph_module.PRINCIPAL_READS:
            self._graph_probe(
                f"Graph: read {read.name}",
                read.permission,
                roles,
                lambda read=read: graph.read_principals(read, [probe_id]),
                f"GET {read.path}?$filter=id in (...)&$select={read.select}",
            )
        self._graph_probe(
            "Graph: group members",
            "Group.Read.All",
            roles,
            lambda: list(graph.list_transitive_member_ids(_NIL_GUID)),
            f"GET /v1.0/groups/{{id}}/transitiveMembers?$select={graph_module.MEMBERS_SELECT}",
        )

    def _graph_roles(self) -> identity.TokenIdentity | None:
        try:
            return identity.token_identity(
                identity.acquire_token(self.credentials.managed_identity(), self.s.graph_scope)
            )
        except errors.AzureError:
            return None

    def _graph_probe(
        self,
        label: str,
        permission: str,
        who: identity.TokenIdentity | None,
        call: Callable[[], object],
        request: str,
    ) -> None:
        try:
            call()
        except errors.NotFoundError:
            pass  # the permission held: Graph looked for the (probe) object
        except errors.AzureError as e:
            detail = _describe(e)
            if isinstance(e, errors.ForbiddenError) and who is not None and who.has_roles_claim:
                granted = ", ".join(who.roles) or "none"
                detail = f"{request} refused: the token's roles ({granted}) lack {permission}"
            elif isinstance(e, errors.ForbiddenError) and who is not None:
                detail = f"{request} refused: the Graph token carries no roles claim (no application permission)"
            self.add(label, FAIL, detail, fixes.retry_or(self.graph_fix(permission), e))
            return
        self.add(label, OK, f"{permission}: {request}")

    def graph_fix(self, permission: str) -> str:
        return fixes.graph_fix(permission, graph_endpoint=self.s.graph_endpoint, mi_object_id=self.mi_object_id)

    def mail_check(self, graph: GraphClient) -> None:
        alerts = self.s.alerts
        if not alerts.mail_from:
            return
        name = "Graph: send mail"
        if alerts.smtp_host:
            self.add(name, SKIP, f"alerts go by SMTP ({alerts.smtp_host}); not checked here", required=False)
            return
        try:
            graph.get_user(alerts.mail_from)
        except errors.NotFoundError:
            self.add(
                name,
                FAIL,
                f"no mailbox user {alerts.mail_from} in the managing tenant",
                "set PAL_ALERT_MAIL_FROM to an existing (shared) mailbox of the managing tenant",
            )
            return
        except errors.AzureError as e:
            self.add(name, FAIL, _describe(e), fixes.retry_or(self.graph_fix("User.Read.All"), e))
            return
        if self.send_test_mail or self.send_test_alert:
            if self.send_test_mail:
                self._send_test_mail(graph, name)
            return  # with --send-test-alert the mail channel's test notice proves it (`mail_proven`)
        try:
            who = identity.token_identity(
                identity.acquire_token(self.credentials.managed_identity(), self.s.graph_scope)
            )
        except errors.AzureError as e:
            self.add(name, FAIL, _describe(e), fixes.retry_or("", e))
            return
        if "Mail.Send" in who.roles:
            self.add(name, OK, f"Mail.Send granted; sender {alerts.mail_from}")
        else:
            self._mail_by_proof(name)

    def _mail_by_proof(self, name: str) -> None:
        """Exchange Online RBAC for Applications grants Mail.Send in Exchange, not in the token: only a
        sent message proves it (doctor_mail)."""
        sender = self.s.alerts.mail_from
        proven = doctor_mail.proven_at(self.s, self.credentials.managed_identity(), sender)
        if proven:
            self.add(name, OK, f"proven by a message sent from {sender} at {proven} UTC")
            return
        self.add(
            name,
            WARN,
            "not proven yet: the Graph token carries no Mail.Send role (as expected when Exchange RBAC for "
            "Applications grants it for the sender mailbox only) and no test message was sent",
            doctor_mail.how_to_prove(self.s.managed_identity_client_id, sender),
            required=False,
        )

    def mail_proven(self, now: datetime) -> None:
        """After --send-test-alert: the mail channel's test notice says whether mail goes out."""
        sent = next((r for r in self.results if r.name == "alert channel: mail"), None)
        if not (self.send_test_alert and self.s.alerts.mail_from and sent is not None) or self.s.alerts.smtp_host:
            return
        name = "Graph: send mail"
        if sent.status == OK:
            doctor_mail.remember(self.s, self.credentials.managed_identity(), self.s.alerts.mail_from, now)
            self.add(name, OK, f"proven: a test message was sent from {self.s.alerts.mail_from}")
        elif sent.status == FAIL:
            self.add(
                name,
                FAIL,
                sent.detail,
                doctor_mail.how_to_prove(self.s.managed_identity_client_id, self.s.alerts.mail_from),
            )

    def _send_test_mail(self, graph: GraphClient, name: str) -> None:
        message = {
            "subject": "PAL Watch doctor: test message",
            "body": {"contentType": "Text", "content": "PAL Watch can send alert mail from this mailbox."},
            "toRecipients": [{"emailAddress": {"address": a}} for a in self.s.alerts.mail_to],
        }
        try:
            graph.send_mail(self.s.alerts.mail_from, message)
        except errors.AzureError as e:
            fix = doctor_mail.how_to_prove(self.s.managed_identity_client_id, self.s.alerts.mail_from)
            self.add(name, FAIL, _describe(e), fixes.retry_or(fix, e))
        else:
            doctor_mail.remember(
                self.s, self.credentials.managed_identity(), self.s.alerts.mail_from, datetime.now(UTC)
            )
            self.add(name, OK, f"test message sent to {', '.join(self.s.alerts.mail_to)}")

    # -- activity log and links ------------------------------------------------------------------

    def activity_log_check(self, activity: ActivityLogClient) -> None:
        name = "read tenant activity log"
        since = datetime.now(UTC) - timedelta(days=1)
        try:
            records = list(itertools.islice(activity.list_delegation_records(since), 50))
        except errors.AzureError as e:
            self.add(name, FAIL, _describe(e), fixes.retry_or(fixes.monitoring_reader_fix(self.mi_object_id), e))
        else:
            self.add(name, OK, f"{len(records)} delegation record(s) in the last 24 hours")

    def link_check(self, acting: model.ActingIdentity) -> None:
        name = f"PAL link: {acting.name}"
        pid = self.s.partner_id
        try:
            credential = self.credentials.for_identity(acting, self.s.managing_tenant_id)
            link = PartnerLinkClient(http.AzureHttpClient.for_arm(self.s, credential, session=self.session)).get_link()
        except errors.AzureError as e:
            self.add(name, FAIL, _describe(e), fixes.retry_or("", e))
            return
        self.links[acting.name] = partner_guard.LinkStatus.from_link(link)
        if link is None or not link.active:
            # Not an error: the app links an identity when a delegation names it (or verify does).
            self.add(name, OK, "not linked yet; the app links it when a delegation names it")
        elif not self.s.ours(link.partner_id):
            moving = link.partner_id == self.s.previous_partner_id
            self.add(
                name,
                WARN,
                f"linked to partner id {link.partner_id}, not {pid}",
                f"the app re-points it on its next run (PAL_PARTNER_ID_PREVIOUS); by hand: az managementpartner "
                f"update --partner-id {pid}"
                if moving
                else partner_guard.foreign_link_message(link.partner_id, pid),
                required=False,
            )
        else:
            label = f" ({link.partner_name})" if link.partner_name else ""
            self.add(name, OK, f"linked to {link.partner_id}{label}")

    def partner_id_check(self) -> None:
        """The engine's guard, asked of the links read above: do they all say another partner ID?"""
        name = "partner ID"
        mode = " (PAL_MODE=observe: no link is written)" if self.s.observe_only else ""
        check = partner_guard.check_setting(
            self.links,
            self.s.partner_id,
            previous_partner_id=self.s.previous_partner_id,
            partner_ids=self.s.partner_ids,
        )
        if check.suspect:
            finding = catalogue.partner_id_mismatch(
                check.partner_id, check.other_partner_id, check.links_read, self.s.managing_tenant_id
            )
            self.add(name, FAIL, finding.title, finding.fix)
        elif not check.links_read:
            self.add(name, SKIP, "no PAL link could be read (see the rows above), so the partner ID is not checked")
        else:
            self.add(name, OK, f"{check.links_read} link(s) read, none contradicts {self.s.partner_id}{mode}")


def _quick_credentials(settings: settings_module.Settings) -> identity.Credentials:
    return identity.Credentials(settings, retry_total=1, retry_backoff_factor=0.2)


def _describe(error: errors.AzureError) -> str:
    kind = type(error).__name__.replace("Error", "").lower() or "error"
    text = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{kind}: {error.code + ' ' if error.code else ''}{text}"
