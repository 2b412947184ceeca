"""Observe mode in words: each finding PAL Watch would act on names its scope, and its offer where
one scope has several, so a customer's delegations are distinct lines in the summary and the mail."""

from __future__ import annotations

from types import SimpleNamespace

from shared import catalogue, model
from shared.decisions import observe_words

CUSTOMER = "372dd23e-a298-40d1-9e42-dca591de75da"
PIPELINE = "8f3c1d2e-0000-4000-8000-000000000001"
SUB_A = "/subscriptions/271d51a5-d5f3-4f2a-af23-7e3650394a3d"
SUB_B = "/subscriptions/5a1b2c3d-0000-4000-8000-00000000000b"


def _delegation(name: str, scope: str, offer: str) -> model.Delegation:
    return model.Delegation(
        assignment_id=f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{name}",
        scope=scope,
        customer_tenant_id=CUSTOMER,
        managed_by_tenant_id="24c37422-30bf-4299-b2f0-a128b77a3378",
        definition_name=offer,
        customer_tenant_name="Relecloud",
    )


def _pending(delegation: model.Delegation) -> model.Finding:
    where = catalogue.Where(delegation.key, CUSTOMER, "Relecloud", delegation.scope)
    return catalogue.unattributed(
        where, "link_pending", detail="not linked yet.", fix="wait", principal_ids=[PIPELINE], partner_id="5127255"
    )


def test_would_link_titles_name_the_scope_and_the_offer_where_a_scope_has_several() -> None:
    mlops, support = _delegation("a", SUB_A, "Contoso MLOps"), _delegation("b", SUB_A, "Contoso Support")
    group = _delegation("c", f"{SUB_B}/resourceGroups/rg-web", "Contoso MLOps")
    delegations = [mlops, support, group]
    offers = observe_words.offers_to_name([SimpleNamespace(delegation=d) for d in delegations])
    assert offers == {mlops.key: "Contoso MLOps", support.key: "Contoso Support"}

    would = observe_words.observe_findings([_pending(d) for d in delegations], [PIPELINE.upper()], offers)

    titles = [f.title for f in would]
    assert all(f.reason == catalogue.WOULD_LINK for f in would)
    assert len(set(titles)) == 3, titles
    assert "subscription 271d51a5-d5f3-4f2a-af23-7e3650394a3d (offer Contoso MLOps)" in titles[0]
    assert "(offer Contoso Support)" in titles[1]
    assert "resource group rg-web" in titles[2]
    assert "offer" not in titles[2]  # alone on its scope: the scope says enough
    assert all(t.startswith("Delegation of Relecloud") and t.endswith("would link it (observe mode)") for t in titles)


def test_a_finding_for_an_identity_not_withheld_keeps_its_words() -> None:
    pending = _pending(_delegation("a", SUB_A, "Contoso MLOps"))
    assert observe_words.observe_findings([pending], ["someone-else"]) == [pending]
