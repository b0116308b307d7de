"""The autoscaler's loop over a fake engine and the real outbox and autoscale store on SQLite:
it acts and speaks only on a change, stays still when paused or while a deploy runs, and a
second process or a restart that decides the same change records no second announcement."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database

from bot.core.clock import FakeClock
from bot.core.deploy.model import DeployState, Outcome, Progress
from bot.core.errors import LeaseLost
from bot.core.operate.autoscaler import Autoscaler
from bot.core.operate.model import (
    AutoscalePolicy,
    AutoscaleState,
    Fleet,
    LogBatch,
    Placement,
    Status,
    Usage,
)
from bot.core.outbox import Outbox
from bot.store.autoscale import SqlAutoscaleStore
from bot.store.db import open_store
from bot.store.outbox import SqlOutboxStore

PLACEMENT = Placement("web", "prod", "swarm", "r/web", 1, 10, AutoscalePolicy(1, 4, 50, None, 60))


class Engine:
    """A Swarm service whose spec version moves with every scale, as Swarm's does."""

    def __init__(self, replicas: int, cpu: float) -> None:
        self.replicas, self.cpu = replicas, cpu
        self.scaled: list[int] = []
        self.version = 10

    def status(self, placement: Placement) -> Status:
        return Status("opsloop-web-prod", "swarm", True, desired=self.replicas,
                      running=self.replicas, spec_version=self.version)  # fmt: skip

    def usage(self, placement: Placement) -> list[Usage]:
        return [Usage(f"t{n}", self.cpu, None) for n in range(self.replicas)]

    def scale(self, placement: Placement, replicas: int, progress: Progress) -> Outcome:
        self.scaled.append(replicas)
        self.replicas = replicas
        self.version += 1
        return Outcome(DeployState.SUCCEEDED, "ok")

    def placeable(self, placement: Placement, replicas: int) -> None:
        pass

    def restart(self, placement: Placement, progress: Progress) -> Outcome:
        raise AssertionError("not used")

    def logs(self, placement: Placement, since_seconds: int | None, tail: int) -> LogBatch:
        raise AssertionError("not used")


class Activity:
    def __init__(self) -> None:
        self.busy = False

    def deploying(self, service: str, env: str) -> bool:
        return self.busy


@pytest.fixture
def database(tmp_path: Path) -> Database:
    """One SQLite store for the autoscaler's memory and the outbox."""
    return open_store(f"sqlite:///{tmp_path / 'autoscale.db'}")


class Scaler:
    """An autoscaler as one process runs it, on the shared store."""

    def __init__(self, database: Database, engine: Engine, clock: FakeClock) -> None:
        self.store = SqlAutoscaleStore(database)
        self.outbox = SqlOutboxStore(database)
        self.activity = Activity()
        fleet = Fleet("C0OPS", {("web", "prod"): PLACEMENT})
        self.autoscaler = Autoscaler(
            fleet=fleet, engine=engine, store=self.store, activity=self.activity,
            outbox=Outbox(self.outbox, clock), clock=clock,
        )  # fmt: skip

    def announced(self) -> list[str]:
        """The texts recorded for the ops channel, oldest first."""
        found = [self.outbox.get(n) for n in range(1, 100)]
        return [m.reply.text for m in found if m is not None and m.channel_id == "C0OPS"]


def test_it_scales_and_announces_only_on_a_change(database: Database) -> None:
    engine, clock = Engine(replicas=1, cpu=100), FakeClock()
    scaler = Scaler(database, engine, clock)
    scaler.autoscaler.evaluate_all()
    assert engine.scaled == [2]
    assert scaler.announced() == [
        ":chart_with_upwards_trend: Autoscaler scaled `web` in `prod` from 1 to 2 replicas: "
        "cpu 100% of the limit on average, target 50%."
    ]
    engine.cpu = 50  # on target: nothing moves, nothing is said
    clock.advance(15)
    scaler.autoscaler.evaluate_all()
    assert engine.scaled == [2] and len(scaler.announced()) == 1
    assert len(scaler.store.get("web", "prod").history) == 2


def test_scale_in_waits_out_the_window(database: Database) -> None:
    engine, clock = Engine(replicas=4, cpu=100), FakeClock()
    scaler = Scaler(database, engine, clock)
    scaler.autoscaler.evaluate_all()  # 4 at 100 % wants 8: max 4, nothing to do
    engine.cpu = 5
    clock.advance(30)
    scaler.autoscaler.evaluate_all()
    assert engine.scaled == []  # the earlier 4 is inside the 60 s window
    clock.advance(45)
    scaler.autoscaler.evaluate_all()
    assert engine.scaled == [1] and "from 4 to 1" in scaler.announced()[-1]


def test_the_window_survives_a_restart(database: Database) -> None:
    engine, clock = Engine(replicas=4, cpu=100), FakeClock()
    Scaler(database, engine, clock).autoscaler.evaluate_all()  # remembers 4
    engine.cpu = 5
    clock.advance(30)
    restarted = Scaler(database, engine, clock)
    restarted.autoscaler.evaluate_all()
    assert engine.scaled == [] and restarted.announced() == []


def test_paused_or_deploying_placements_are_left_alone(database: Database) -> None:
    engine, clock = Engine(replicas=1, cpu=100), FakeClock()
    scaler = Scaler(database, engine, clock)
    scaler.store.save(AutoscaleState("web", "prod", paused=True, paused_by="U0ALICE"),
                      datetime.now())  # fmt: skip
    scaler.autoscaler.evaluate_all()
    scaler.store.save(AutoscaleState("web", "prod"), datetime.now())
    scaler.activity.busy = True
    scaler.autoscaler.evaluate_all()
    assert engine.scaled == [] and scaler.announced() == []
    scaler.activity.busy = False
    scaler.autoscaler.evaluate_all()
    assert engine.scaled == [2] and len(scaler.announced()) == 1


class Racing(Engine):
    """Both processes read the service before either scales it (their rounds overlap)."""

    def __init__(self, replicas: int, cpu: float) -> None:
        super().__init__(replicas, cpu)
        self.seen: Status | None = None

    def status(self, placement: Placement) -> Status:
        if self.seen is None:
            self.seen = super().status(placement)
        return self.seen


def test_two_processes_deciding_the_same_change_announce_it_once(database: Database) -> None:
    engine, clock = Racing(replicas=1, cpu=100), FakeClock()
    first, second = Scaler(database, engine, clock), Scaler(database, engine, clock)
    first.autoscaler.evaluate_all()
    second.autoscaler.evaluate_all()
    assert engine.scaled == [2, 2]  # the engine takes the same count twice: no change
    assert len(first.announced()) == 1
    # A later change of the service is a new event, announced again.
    engine.seen = None
    engine.cpu = 100
    clock.advance(15)
    first.autoscaler.evaluate_all()
    assert engine.scaled == [2, 2, 4] and "from 2 to 4" in first.announced()[-1]


class FencedStore(SqlAutoscaleStore):
    """A store whose lease was lost: every write is refused, as bot.store.fencing does."""

    def save(self, state: AutoscaleState, at: datetime) -> None:
        raise LeaseLost("the lease singletons (epoch 1) ran out or changed hands")


def test_an_autoscaler_whose_lease_was_lost_neither_scales_nor_announces(
    database: Database,
) -> None:
    engine, clock = Engine(replicas=1, cpu=100), FakeClock()
    scaler = Scaler(database, engine, clock)
    scaler.autoscaler = Autoscaler(
        fleet=Fleet("C0OPS", {("web", "prod"): PLACEMENT}), engine=engine,
        store=FencedStore(database), activity=scaler.activity,
        outbox=Outbox(scaler.outbox, clock), clock=clock,
    )  # fmt: skip
    scaler.autoscaler.evaluate_all()  # it would scale to 2; the refused decision stops it first
    assert engine.scaled == [] and scaler.announced() == []
