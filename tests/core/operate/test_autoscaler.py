"""The autoscaler's loop over fakes: it acts and speaks only on a change, and stays still when
paused or while a deploy runs."""

from __future__ import annotations

from datetime import datetime

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
from bot.core.values import MessageRef, Reply

PLACEMENT = Placement("web", "prod", "swarm", "r/web", 1, 10, AutoscalePolicy(1, 4, 50, None, 60))


class Engine:
    def __init__(self, replicas: int, cpu: float) -> None:
        self.replicas, self.cpu = replicas, cpu
        self.scaled: list[int] = []

    def status(self, placement: Placement) -> Status:
        return Status("opsloop-web-prod", "swarm", True, desired=self.replicas,
                      running=self.replicas)  # fmt: skip

    def usage(self, placement: Placement) -> list[Usage]:
        return [Usage(f"t{n}", self.cpu, None) for n in range(self.replicas)]

    def scale(self, placement: Placement, replicas: int, progress: Progress) -> Outcome:
        self.scaled.append(replicas)
        self.replicas = replicas
        return Outcome(DeployState.SUCCEEDED, "ok")

    def restart(self, placement: Placement, progress: Progress) -> Outcome:
        raise AssertionError("not used")

    def logs(self, placement: Placement, since_seconds: int | None, tail: int) -> LogBatch:
        raise AssertionError("not used")


class Store:
    def __init__(self) -> None:
        self.states: dict[tuple[str, str], AutoscaleState] = {}

    def get(self, service: str, env: str) -> AutoscaleState:
        return self.states.get((service, env), AutoscaleState(service, env))

    def save(self, state: AutoscaleState, at: datetime) -> None:
        self.states[(state.service, state.env)] = state


class Activity:
    def __init__(self) -> None:
        self.busy = False

    def deploying(self, service: str, env: str) -> bool:
        return self.busy


class Notifier:
    def __init__(self) -> None:
        self.posted: list[str] = []

    def respond(self, response_url: str, reply: Reply) -> None:
        raise AssertionError("not used")

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None) -> MessageRef:
        self.posted.append(reply.text)
        return MessageRef(channel_id, "1.0")

    def update(self, ref: MessageRef, reply: Reply) -> None:
        raise AssertionError("not used")

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        raise AssertionError("not used")


def _scaler(engine: Engine) -> tuple[Autoscaler, Store, Activity, Notifier, FakeClock]:
    store, activity, notifier, clock = Store(), Activity(), Notifier(), FakeClock()
    fleet = Fleet("C0OPS", {("web", "prod"): PLACEMENT})
    scaler = Autoscaler(fleet=fleet, engine=engine, store=store, activity=activity,
                        notifier=notifier, clock=clock)  # fmt: skip
    return scaler, store, activity, notifier, clock


def test_it_scales_and_announces_only_on_a_change() -> None:
    engine = Engine(replicas=1, cpu=100)
    scaler, store, _activity, notifier, clock = _scaler(engine)
    scaler.evaluate_all()
    assert engine.scaled == [2]
    assert notifier.posted == [
        ":chart_with_upwards_trend: Autoscaler scaled `web` in `prod` from 1 to 2 replicas: "
        "cpu 100% of the limit on average, target 50%."
    ]
    engine.cpu = 50  # on target: nothing moves, nothing is said
    clock.advance(15)
    scaler.evaluate_all()
    assert engine.scaled == [2] and len(notifier.posted) == 1
    assert len(store.get("web", "prod").history) == 2


def test_scale_in_waits_out_the_window() -> None:
    engine = Engine(replicas=4, cpu=100)
    scaler, _store, _activity, notifier, clock = _scaler(engine)
    scaler.evaluate_all()  # 4 at 100 % wants 8: max 4, nothing to do
    engine.cpu = 5
    clock.advance(30)
    scaler.evaluate_all()
    assert engine.scaled == []  # the earlier 4 is inside the 60 s window
    clock.advance(45)
    scaler.evaluate_all()
    assert engine.scaled == [1] and "from 4 to 1" in notifier.posted[-1]


def test_paused_or_deploying_placements_are_left_alone() -> None:
    engine = Engine(replicas=1, cpu=100)
    scaler, store, activity, notifier, _clock = _scaler(engine)
    store.save(AutoscaleState("web", "prod", paused=True, paused_by="U0ALICE"), datetime.now())
    scaler.evaluate_all()
    store.save(AutoscaleState("web", "prod"), datetime.now())
    activity.busy = True
    scaler.evaluate_all()
    assert engine.scaled == [] and notifier.posted == []


class FencedStore(Store):
    """A store whose lease was lost: every write is refused, as bot.store.fencing does."""

    def save(self, state: AutoscaleState, at: datetime) -> None:
        raise LeaseLost("the lease singletons (epoch 1) ran out or changed hands")


def test_an_autoscaler_whose_lease_was_lost_neither_scales_nor_announces() -> None:
    engine = Engine(replicas=1, cpu=100)
    notifier, fleet = Notifier(), Fleet("C0OPS", {("web", "prod"): PLACEMENT})
    scaler = Autoscaler(fleet=fleet, engine=engine, store=FencedStore(), activity=Activity(),
                        notifier=notifier, clock=FakeClock())  # fmt: skip
    scaler.evaluate_all()  # it would scale to 2; the refused decision stops it first
    assert engine.scaled == [] and notifier.posted == []
