"""Scheduled jobs that fire once per fire time, however many bot processes share the store."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class FireLedger(Protocol):
    """Which fire times of which jobs have run; a claim is atomic across processes."""

    def claim(self, job_id: str, fire_time: datetime) -> bool:
        """True for the one caller that claims this (job, fire time) first, False for all
        others, in this process or any other sharing the store."""
        ...

    def last_fire(self, job_id: str) -> datetime | None:
        """The newest fire time claimed for the job, if any (timezone-aware, UTC)."""
        ...
