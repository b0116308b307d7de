"""Cron jobs on APScheduler 3, made safe for more than one bot process and for restarts.

APScheduler 3 does not coordinate processes, so every fire goes through the FireLedger:
each process computes the fire time it is running for and claims (job, fire time) in the
store; the one INSERT that wins runs the job, the others skip it. On start, a fire time
missed while the bot was down (newer than the last claimed one and within the catch-up
window) runs once, claimed the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.core.clock import Clock
from bot.core.crontab import parse_crontab
from bot.core.scheduling import FireLedger

log = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=6)
_LOOKBACKS = (timedelta(minutes=1), timedelta(days=1), timedelta(days=32))
_TICK = timedelta(microseconds=1)

Job = Callable[[datetime], None]


def cron_trigger(cron: str, timezone: str) -> BaseTrigger:
    """A trigger from a crontab line (minute hour day month weekday), or six fields with
    seconds first, in `timezone`, read the standard cron way (bot.core.crontab): weekdays
    0 and 7 are Sunday, and with both day fields restricted either one matching fires."""
    zone = ZoneInfo(timezone)
    schedule = parse_crontab(cron, seconds=True)

    def trigger(day: str, weekdays: str) -> CronTrigger:
        return CronTrigger(
            second=schedule.second,
            minute=schedule.minute,
            hour=schedule.hour,
            day=day,
            month=schedule.month,
            day_of_week=weekdays,
            timezone=zone,
        )

    if schedule.either_day:
        return OrTrigger([trigger(schedule.day, "*"), trigger("*", schedule.weekdays)])
    return trigger(schedule.day, schedule.weekdays)


def latest_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The newest fire time at or before `now` (within about a month)."""
    for lookback in _LOOKBACKS:
        found = None
        moment = trigger.get_next_fire_time(None, now - lookback)
        while moment is not None and moment <= now:
            found = moment
            moment = trigger.get_next_fire_time(moment, moment + _TICK)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    trigger: BaseTrigger
    run: Job


class CronScheduler:
    """Runs jobs on their cron schedules, each fire time once across processes."""

    def __init__(self, ledger: FireLedger, clock: Clock, catch_up: timedelta = CATCH_UP) -> None:
        self._ledger = ledger
        self._clock = clock
        self._catch_up = catch_up
        self._jobs: dict[str, _Entry] = {}
        self._scheduler: BackgroundScheduler | None = None
        self._catching_up: threading.Thread | None = None

    def add(self, job_id: str, cron: str, timezone: str, run: Job) -> None:
        """Declare a job; `run` gets the fire time it runs for."""
        self._jobs[job_id] = _Entry(cron_trigger(cron, timezone), run)

    def start(self) -> None:
        """Start firing; run, once, what was missed while the bot was down."""
        if self._scheduler is not None or not self._jobs:
            return
        scheduler = BackgroundScheduler(timezone="UTC")
        for job_id, entry in self._jobs.items():
            scheduler.add_job(
                self._fire,
                entry.trigger,
                args=[job_id],
                id=job_id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(self._catch_up.total_seconds()),
                replace_existing=True,
            )
        scheduler.start()
        self._scheduler = scheduler
        self._catching_up = threading.Thread(
            target=self._catch_up_missed, name="opsloop-catch-up", daemon=True
        )
        self._catching_up.start()

    def caught_up(self, timeout: float) -> bool:
        """Wait until the catch-up after start() is done; False if it is still running."""
        if self._catching_up is not None:
            self._catching_up.join(timeout)
            return not self._catching_up.is_alive()
        return True

    def stop(self) -> None:
        """Stop firing; a job already running finishes on its own thread."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def fire(self, job_id: str, fire_time: datetime) -> bool:
        """Run the job for `fire_time` unless some process already did; True if this one ran."""
        entry = self._jobs[job_id]
        if not self._ledger.claim(job_id, fire_time):
            log.info("job %s at %s already ran elsewhere", job_id, fire_time.isoformat())
            return False
        try:
            entry.run(fire_time)
        except Exception:
            log.exception("job %s at %s failed", job_id, fire_time.isoformat())
        return True

    def _fire(self, job_id: str) -> None:
        moment = latest_fire(self._jobs[job_id].trigger, self._clock.now())
        if moment is not None:
            self.fire(job_id, moment)

    def _catch_up_missed(self) -> None:
        now = self._clock.now()
        for job_id, entry in self._jobs.items():
            last = self._ledger.last_fire(job_id)
            if last is None:
                continue
            missed = latest_fire(entry.trigger, now)
            if missed is not None and missed > last and now - missed <= self._catch_up:
                self.fire(job_id, missed)
