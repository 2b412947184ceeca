"""`PAL_ALERT_DIGEST_HOUR`: the UTC hour the daily digest goes out from, 0 to 23, default 7."""

from __future__ import annotations

import pytest

from shared.settings import SettingsError, load_settings

BASE = {"PAL_PARTNER_ID": "5127255", "PAL_MANAGING_TENANT_ID": "83abe5cd-bcc3-441a-bd86-e6a75360cecc"}


def test_default_is_seven_and_shown_by_the_doctor() -> None:
    settings = load_settings(BASE)
    assert settings.alerts.digest is False
    assert settings.alerts.digest_hour == 7
    assert ("PAL_ALERT_DIGEST_HOUR", "7 (UTC)") in settings.describe()


@pytest.mark.parametrize(("raw", "hour"), [("0", 0), ("23", 23), (" 9 ", 9), ("", 7)])
def test_hours_of_the_day_are_accepted(raw: str, hour: int) -> None:
    settings = load_settings({**BASE, "PAL_ALERT_DIGEST": "true", "PAL_ALERT_DIGEST_HOUR": raw})
    assert settings.alerts.digest is True
    assert settings.alerts.digest_hour == hour


@pytest.mark.parametrize("raw", ["24", "-1", "seven", "7.5", "٣"])
def test_anything_else_is_refused_with_a_clear_error(raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, "PAL_ALERT_DIGEST_HOUR": raw})
    assert [name for name, _ in caught.value.problems] == ["PAL_ALERT_DIGEST_HOUR"]
    assert "from 0 to 23" in str(caught.value)
    assert repr(raw[:20]) in str(caught.value)
