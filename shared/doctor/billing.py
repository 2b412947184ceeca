"""The doctor's check of Microsoft's partner billing export, which the daily credit snapshot reads.

Graph offers no read of partner billing cheaper than an export with the same permission
(`PartnerBilling.Read.All`): the check makes the engine's own first call, the start of the current
period's unbilled export (`shared.azure.billing.BillingClient.start_unbilled`), and says so in its
row. It does not wait for the export: the call being accepted is the proof. Called by `shared.doctor.checks`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared import settings as settings_module
from shared.azure import billing as billing_adapter
from shared.azure import errors, http
from shared.doctor import fixes

OK, FAIL, SKIP = "OK", "FAIL", "SKIP"
NAME = "Graph: partner billing export"
PERMISSION = "PartnerBilling.Read.All"
FIX = (
    f"grant the Microsoft Graph application permission {PERMISSION} to the managed identity, in the "
    "partner's own tenant: `scripts/grant-permissions.sh --billing` (docs/deploy.md: the Partner Center role "
    "it also needs); or turn the credit snapshot off with PAL_BILLING=false"
)


def check_billing(
    add: Callable[..., None],
    settings: settings_module.Settings,
    credential: Any,
    session: Any,
    describe: Callable[[errors.AzureError], str],
) -> None:
    """Start one unbilled export as the engine does: OK when Graph accepts it, FAIL naming the grant on 403."""
    if not settings.billing.enabled:
        add(NAME, SKIP, "PAL_BILLING is off: the credit snapshot does not read Microsoft's billing", required=False)
        return
    request = f"POST {billing_adapter.EXPORTS}/unbilled/export (currencyCode {settings.billing.currency}, current)"
    client = billing_adapter.BillingClient(http.AzureHttpClient.for_graph(settings, credential, session=session))
    try:
        client.start_unbilled(settings.billing.currency)
    except errors.ForbiddenError as e:
        add(NAME, FAIL, f"{request} refused ({describe(e)}): the app lacks {PERMISSION}", FIX)
        return
    except errors.AzureError as e:
        add(NAME, FAIL, f"{request}: {describe(e)}", fixes.retry_or(FIX, e))
        return
    add(NAME, OK, f"{PERMISSION}: {request} accepted; this started one export (Graph has no cheaper call)")
