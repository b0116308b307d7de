"""OPSLOOP_LEASE_SECONDS: the lease's time to live, from the environment."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError


def test_the_lease_lives_15_seconds_unless_told_otherwise() -> None:
    assert Settings.from_environ({}).lease_seconds == 15.0
    assert Settings.from_environ({"OPSLOOP_LEASE_SECONDS": "4.5"}).lease_seconds == 4.5


@pytest.mark.parametrize("raw", ["0", "0.5", "-3", "soon", "3601"])
def test_a_lease_time_opsloop_cannot_use_is_refused_with_its_range(raw: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({"OPSLOOP_LEASE_SECONDS": raw})
    assert str(refused.value) == (
        f"OPSLOOP_LEASE_SECONDS must be a number of seconds from 1 to 3600, not {raw!r}"
    )
