"""Cron jobs fire once per fire time, across processes sharing the store and across restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import DigestConfig
from bot.core.clock import FakeClock, SystemClock
from bot.store.db import open_store
from bot.store.schedules import SqlFireLedger
from integrations.scheduler import CronScheduler, cron_trigger, latest_fire


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_two_processes_sharing_the_store_post_each_fire_time_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    fired: list[tuple[str, datetime]] = []
    lock = threading.Lock()
    schedulers = []
    for name in ("bot-a", "bot-b"):
        # Two engines on one file: as two bot processes would open the same database.
        scheduler = CronScheduler(SqlFireLedger(open_store(url), SystemClock()), SystemClock())

        def run(fire_time: datetime, name: str = name) -> None:
            with lock:
                fired.append((name, fire_time))

        scheduler.add("plan.digest", "* * * * * *", "Europe/Berlin", run)
        schedulers.append(scheduler)
    for scheduler in schedulers:
        scheduler.start()
    try:
        wait_until(lambda: len({moment for _, moment in fired}) >= 3)
    finally:
        for scheduler in schedulers:
            scheduler.stop()
    moments = [moment for _, moment in fired]
    assert len(moments) == len(set(moments)), f"a fire time ran twice: {fired}"


def test_a_fire_missed_while_down_runs_once_after_the_restart(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'restart.db'}")
    clock = FakeClock(datetime(2026, 1, 7, 9, 5, tzinfo=UTC))
    ledger = SqlFireLedger(engine, clock)
    assert ledger.claim("plan.digest", datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    fired: list[datetime] = []

    def started() -> CronScheduler:
        scheduler = CronScheduler(ledger, clock)
        scheduler.add("plan.digest", "0 9 * * mon-fri", "UTC", fired.append)
        scheduler.start()
        return scheduler

    first = started()
    wait_until(lambda: len(fired) == 1)
    first.stop()
    assert fired == [datetime(2026, 1, 7, 9, 0, tzinfo=UTC)]
    second = started()
    assert second.caught_up(timeout=20)
    second.stop()
    assert len(fired) == 1
    assert not ledger.claim("plan.digest", datetime(2026, 1, 7, 9, 0, tzinfo=UTC))


def test_latest_fire_respects_the_timezone() -> None:
    trigger = cron_trigger("0 9 * * mon-fri", "Europe/Berlin")
    saturday = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    moment = latest_fire(trigger, saturday)
    assert moment is not None
    assert moment.astimezone(UTC) == datetime(2026, 1, 9, 8, 0, tzinfo=UTC)
    assert latest_fire(trigger, moment - timedelta(microseconds=1)) != moment


def _fires(cron: str, start: datetime, count: int) -> list[datetime]:
    trigger = cron_trigger(cron, "UTC")
    moments: list[datetime] = []
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and len(moments) < count:
        moments.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return moments


MONDAY = datetime(2026, 1, 5, tzinfo=UTC)


def test_weekday_numbers_are_read_the_cron_way() -> None:
    weekdays = [moment.strftime("%a") for moment in _fires("0 9 * * 1-5", MONDAY, 5)]
    assert weekdays == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert {moment.strftime("%a") for moment in _fires("0 9 * * 0", MONDAY, 3)} == {"Sun"}
    assert {moment.strftime("%a") for moment in _fires("0 9 * * 7", MONDAY, 3)} == {"Sun"}
    assert [m.strftime("%a") for m in _fires("0 9 * * */2", MONDAY, 4)] == [
        "Tue", "Thu", "Sat", "Sun",
    ]  # fmt: skip


def test_both_day_fields_restricted_fire_on_either() -> None:
    # Cron: the 1st of the month, and every Monday.
    fires = _fires("0 9 1 * mon", datetime(2026, 1, 1, tzinfo=UTC), 4)
    assert [moment.day for moment in fires] == [1, 5, 12, 19]


@pytest.mark.parametrize(
    "cron", ["0 9 * * 7", "0 9 * * fri-mon", "0 9 * * sat-sun", "0 9 * * 1-5", "0 9 1 * mon"]
)
def test_check_config_and_start_up_agree(cron: str) -> None:
    try:
        DigestConfig(cron=cron)
    except ValidationError:
        accepted = False
    else:
        accepted = True
    try:
        cron_trigger(cron, "UTC")
    except ValueError:
        starts = False
    else:
        starts = True
    assert accepted == starts
