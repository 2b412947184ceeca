"""The doctor's checks of what the app needs to operate: its store and its alert channels.

Called by `shared.doctor` (which owns the report and the order of rows); each check reports
through the `add(name, status, detail, fix, required=...)` callback it is given. The channel
check is generic: it builds the channels exactly as the dispatcher does
(`shared.notify.factory`), so a new channel appears here without a change; a channel that can
be contacted without sending a message offers `probe() -> str` (raising `DeliveryError`), and
`--send-test-alert` sends one test notice through every channel's own `send`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared import catalogue
from shared import settings as settings_module
from shared.notify import channel as channel_module
from shared.notify import factory, notices
from shared.store import errors as store_errors
from shared.store import store as store_module

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
Add = Callable[..., None]

# Channels a person reads. Event Grid feeds automation: on its own it tells nobody.
PERSON_CHANNELS = frozenset({"mail", "smtp", "webhook", "eml"})
STORE_ROLE = "Storage Table Data Contributor"
PROBE_STATE = "doctor-probe"
CHANNEL_FIX = (
    "configure at least one: PAL_ALERT_MAIL_FROM + PAL_ALERT_MAIL_TO (Graph mail), or PAL_ALERT_SMTP_HOST "
    "(SMTP), or PAL_ALERT_WEBHOOK_URL (Teams/Logic Apps); `azd env set NAME value` then `azd provision`"
)


def store_fix(settings: settings_module.Settings, mi_object_id: str, error: store_errors.StoreError) -> str:
    """What to do when the store refused or could not be reached."""
    account = settings.storage.account_name or "<storage account>"
    grant = (
        f"grant {STORE_ROLE} on the storage account to the identity running this: "
        f"az role assignment create --assignee {mi_object_id} --role '{STORE_ROLE}' "
        f"--scope $(az storage account show -n {account} --query id -o tsv)"
    )
    if settings.storage.connection_string:
        grant = "check the AzureWebJobsStorage connection string (account name, key, endpoints)"
    if error.transient:
        return (
            f"the storage endpoint did not answer ({settings.storage.endpoint or 'connection string'}): "
            "check the account name, its network rules (public access or a private endpoint the app can reach), "
            "then run the doctor again"
        )
    if error.status in (401, 403) or "not authorised" in str(error):
        return grant
    return f"{grant}; storage said: {error}"


def check_store(
    add: Add, settings: settings_module.Settings, credential: Any, mi_object_id: str, now: datetime
) -> None:
    """The state tables: configured, reachable, writable (a probe row written and read back)."""
    storage = settings.storage
    if not storage.configured:
        add(
            "store",
            FAIL,
            "no AzureWebJobsStorage setting: PAL Watch cannot remember delegations, findings or alerts",
            "set AzureWebJobsStorage__accountName (identity-based; infra/ sets it in Azure) or, locally, "
            "AzureWebJobsStorage to a connection string (Azurite: UseDevelopmentStorage=true)",
        )
        return
    where = (
        f"identity-based {storage.endpoint}" if storage.identity_based else "connection string"
    ) + f", prefix {storage.table_prefix}"
    opened: store_module.Store | None = None
    try:
        if storage.connection_string:
            opened = store_module.Store.from_connection_string(
                storage.connection_string, prefix=storage.table_prefix, budget="probe"
            )
        else:
            opened = store_module.Store.from_endpoint(
                storage.endpoint, credential, prefix=storage.table_prefix, budget="probe"
            )
        stamp = now.astimezone(UTC).isoformat()
        opened.put_state(PROBE_STATE, {"at": stamp})
        back = opened.get_state(PROBE_STATE) or {}
    except store_errors.StoreError as e:
        add("store", FAIL, f"{where}: {e}", store_fix(settings, mi_object_id, e))
        return
    except Exception as e:  # azure-identity raising while building a token for the store
        add("store", FAIL, f"{where}: {type(e).__name__}", "check the identity's token (the 'token' rows above)")
        return
    finally:
        if opened is not None:
            with contextlib.suppress(store_errors.StoreError):
                opened.close()
    if back.get("at") != stamp:
        add("store", FAIL, f"{where}: a row written was not read back", "check that nothing else uses the prefix")
        return
    add("store", OK, f"{where}: tables reachable, a probe row written and read back")


def sample_notice(now: datetime) -> notices.Notice:
    """One harmless notice that says what it is; never a real finding (its kind is its own)."""
    finding = catalogue.channel_test_alert(now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return notices.Notice(finding=finding, kind=notices.NoticeKind.OPENED, since=now)


def check_channels(
    add: Add,
    settings: settings_module.Settings,
    *,
    graph_mail: Any,
    credential: Any,
    send_test_alert: bool,
    now: datetime,
) -> None:
    """Alert channels: at least one a person reads; each one answers; optionally a test notice on each."""
    try:
        channels = factory.channels_for(settings, graph_mail=graph_mail, eventgrid_credential=credential)
    except ValueError as e:
        add("alert channels", FAIL, str(e), "complete the named setting (README, Settings)")
        return
    names = ", ".join(c.name for c in channels)
    if not any(c.name in PERSON_CHANNELS for c in channels):
        only = f" (only {names}, which no person reads)" if channels else ""
        add("alert channels", FAIL, f"no alert channel is configured{only}: nobody hears of a loss", CHANNEL_FIX)
    else:
        add("alert channels", OK, f"{len(channels)} channel(s): {names}")
    notice = sample_notice(now)
    for ch in channels:
        _check_one(add, ch, notice, send_test_alert=send_test_alert, now=now)


def _check_one(add: Add, ch: Any, notice: notices.Notice, *, send_test_alert: bool, now: datetime) -> None:
    row = f"alert channel: {ch.name}"
    if send_test_alert:
        if not ch.accepts(notice):
            add(row, SKIP, "this channel does not carry finding notices", required=False)
            return
        try:
            ch.send([notice], now)
        except channel_module.DeliveryError as e:
            add(row, FAIL, f"test notice not delivered: {e.message}", _channel_fix(ch.name))
            return
        add(row, OK, "test notice delivered")
        return
    probe = getattr(ch, "probe", None)
    if probe is None:
        add(row, OK, "configured; not contacted (that would send a message): `palwatch doctor --send-test-alert`")
        return
    try:
        detail = probe()
    except channel_module.DeliveryError as e:
        add(row, FAIL, e.message, _channel_fix(ch.name))
        return
    add(row, OK, detail or "answers")


def _channel_fix(name: str) -> str:
    return {
        "mail": "check PAL_ALERT_MAIL_FROM (an existing mailbox) and Mail.Send (the 'Graph: send mail' row)",
        "smtp": "check PAL_ALERT_SMTP_HOST/PORT/SECURITY/USER/PASSWORD and that the app can reach the server",
        "webhook": "check PAL_ALERT_WEBHOOK_URL (a Key Vault reference) and that the receiver accepts JSON POSTs",
        "eventgrid": "check PAL_EVENTS_TOPIC_ENDPOINT and EventGrid Data Sender on the topic for the app's identity",
        "eml": "check that PAL_ALERT_OUTBOX_DIR is a writable folder",
    }.get(name, f"check the settings of the {name} channel")
