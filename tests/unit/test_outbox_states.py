"""The outbox's delivery states are the model's enum; its errors are store errors."""

from __future__ import annotations

import pytest

from shared import model
from shared.store import errors, outbox


@pytest.mark.parametrize("state", list(model.DeliveryState))
def test_a_delivery_state_survives_the_row(state: model.DeliveryState) -> None:
    kept = outbox.Delivery.from_json(outbox.Delivery(state=state, attempts=2).to_json())
    assert kept.state is state
    assert kept.terminal is (state is not model.DeliveryState.PENDING)


def test_a_state_this_release_does_not_know_is_still_owed() -> None:
    kept = outbox.Delivery.from_json({"state": "quarantined", "attempts": 1})
    assert kept.state is model.DeliveryState.PENDING
    assert not kept.terminal


def test_outbox_errors_are_store_errors_that_say_whether_to_try_again() -> None:
    with pytest.raises(errors.StoreError) as info:
        raise outbox.OutboxError("cannot read the outbox", transient=False)
    assert info.value.transient is False
