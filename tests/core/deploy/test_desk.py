"""The deploy desk over the real SQLite store and hand-written ports: what the asker hears,
what the store ends up holding, and what Slack is told, when Slack or the registry fail."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.deploy.desk import Ask
from bot.core.deploy.locks import EnvLock
from bot.core.deploy.model import DeployKind, DeployState, Outcome, Progress, Target
from bot.core.errors import LockHeld
from tests.core.deploy.fakes import (
    DEADLINE,
    Desk,
    Images,
    Releases,
    answer,
    eventually,
    make_desk,
)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    made = make_desk(tmp_path, Images("1.2.0", "1.3.0"), Releases("1.2.0"))
    yield made
    made.desk.stop_background()


def _ask(desk: Desk, version: str | None, *, env: str = "staging", channel: str = "C0DEV",
         kind: DeployKind = DeployKind.DEPLOY, dry_run: bool = False) -> None:  # fmt: skip
    desk.desk.ask(Ask(kind, "web", env, version, "U0ALICE", channel, "https://r", dry_run))


def _states(desk: Desk) -> list[DeployState]:
    return [r.state for r in reversed(desk.store.recent(None, 10))]


def test_a_request_that_cannot_be_posted_fails_frees_its_slot_and_says_so(desk: Desk) -> None:
    desk.slack.gone.add("C0GONE")
    _ask(desk, "1.2.0", channel="C0GONE")
    said = answer(desk)
    assert "could not be posted" in said and "channel_not_found" in said
    assert _states(desk) == [DeployState.FAILED]
    _ask(desk, "1.2.0")
    assert "is starting" in answer(desk, 2)
    eventually(lambda: _states(desk)[-1] is DeployState.SUCCEEDED, "the second deploy succeeds")


def test_slack_failing_while_a_deploy_runs_still_ends_it(desk: Desk) -> None:
    desk.slack.gone.add("C0OPS")
    desk.slack.refused.add("chat.update")
    _ask(desk, "1.2.0")
    assert "is starting" in answer(desk)
    eventually(lambda: _states(desk) == [DeployState.SUCCEEDED], "the deploy ends succeeded")
    # The thread was still told how it went.
    eventually(lambda: any(t.startswith("Deploying") for _c, t in desk.slack.posts), "thread")


def test_an_unexpected_error_is_answered_with_a_reference(desk: Desk) -> None:
    desk.images.fault = RuntimeError("boom")
    _ask(desk, "1.2.0")
    said = answer(desk)
    assert "failed unexpectedly" in said and "reference `" in said
    assert _states(desk) == []


def test_a_leading_v_is_dropped_and_build_metadata_refused(desk: Desk) -> None:
    _ask(desk, "v1.3.0", dry_run=True)
    plan = answer(desk)
    assert plan == "Dry run: web 1.3.0 to staging"
    _ask(desk, "1.3.0+build5")
    assert "build metadata" in answer(desk, 2) and "`1.3.0`" in answer(desk, 2)
    assert _states(desk) == []


def test_protected_environments_take_only_released_versions(desk: Desk) -> None:
    _ask(desk, "1.3.0", env="prod")
    refused = answer(desk)
    assert "protected" in refused and "`/release web 1.3.0`" in refused
    _ask(desk, "1.3.0", env="prod", kind=DeployKind.ROLLBACK)
    assert "`/release web 1.3.0`" in answer(desk, 2)
    assert _states(desk) == []
    _ask(desk, "v1.2.0", env="prod")
    assert "waits for 1 approval" in answer(desk, 3)
    assert _states(desk) == [DeployState.PENDING]


def test_protected_without_a_release_history_refuses(tmp_path: Path) -> None:
    made = make_desk(tmp_path, Images("1.2.0"), releases=None)
    try:
        _ask(made, "1.2.0", env="prod")
        assert "`/release web 1.2.0`" in answer(made)
        assert _states(made) == []
    finally:
        made.desk.stop_background()


def test_every_holder_of_an_expired_lock_is_told_even_if_one_cannot_be(desk: Desk) -> None:
    desk.slack.gone.add("C0GONE")
    for env, holder, channel in (("prod", "U0BOB", "C0GONE"), ("staging", "U0CAROL", "C0DEV")):
        desk.desk.locks.lock(env, holder, "", 60, channel)
    assert len(desk.desk.locks.in_force()) == 2
    desk.clock.advance(61)
    desk.desk.sweep()
    assert [(c, u) for c, u, _t in desk.slack.ephemerals] == [("C0DEV", "U0CAROL")]
    assert desk.locks.all() == []


def test_lock_reasons_are_shown_as_typed_never_as_mentions_or_links(desk: Desk) -> None:
    desk.desk.locks.lock("prod", "U0BOB", "<!channel> <https://evil|docs>", 60, "C0DEV")
    with pytest.raises(LockHeld) as refused:
        desk.desk.locks.check("prod", "U0ALICE")
    said = refused.value.message
    assert "<!channel>" not in said and "<https://" not in said
    assert "&lt;!channel&gt; &lt;https://evil|docs&gt;" in said
    held = desk.desk.locks.active("prod")
    assert isinstance(held, EnvLock) and held.reason.startswith("<!channel>")


def test_stopping_the_desk_lets_go_of_the_engine_and_registries(tmp_path: Path) -> None:
    made = make_desk(tmp_path, Images())
    made.desk.stop_background()
    assert made.engine.closed and made.images.closed


def test_a_stop_waits_for_a_rollout_only_as_long_as_it_is_given(tmp_path: Path) -> None:
    made = make_desk(tmp_path, Images("1.2.0"), Releases("1.2.0"))
    rolling, done = threading.Event(), threading.Event()

    def slow_rollout(
        target: Target, image_ref: str, version: str, deploy_id: str, progress: Progress
    ) -> Outcome:
        rolling.set()
        done.wait(DEADLINE)
        return Outcome(DeployState.SUCCEEDED, "The new version answers.")

    made.engine.deploy = slow_rollout  # type: ignore[method-assign]
    _ask(made, "1.2.0")
    assert rolling.wait(DEADLINE)
    try:
        cut_short = made.desk.stop_background(0.2)
        [running] = made.store.in_states([DeployState.RUNNING])
        assert cut_short == [f"deploy #{running.id}"]
        # The rollout still uses the engine's connection: it stays open.
        assert not made.engine.closed
    finally:
        done.set()
    # Given the time, the rollout ends and the connections close.
    assert made.desk.stop_background(DEADLINE) == []
    assert made.engine.closed
    assert _states(made) == [DeployState.SUCCEEDED]


def test_a_late_sweep_in_a_second_process_neither_expires_again_nor_posts(tmp_path: Path) -> None:
    """Two processes' sweepers on one store (one of them may have lost the lease and not
    know it yet): the request that ran out is expired once, and the late sweep changes,
    posts and edits nothing (tests/store/test_fencing.py has the race inside one sweep)."""
    holder = make_desk(tmp_path, Images("1.2.0"), Releases("1.2.0"))
    late = make_desk(tmp_path, Images("1.2.0"), Releases("1.2.0"))
    try:
        _ask(holder, "1.2.0", env="prod")
        answer(holder)
        assert _states(holder) == [DeployState.PENDING]
        for made in (holder, late):
            made.clock.advance(24 * 3600)
        holder.desk.sweep()
        [expired] = holder.store.recent(None, 10)
        late.desk.sweep()
        [after] = late.store.recent(None, 10)
    finally:
        holder.desk.stop_background()
        late.desk.stop_background()
    assert expired.state is DeployState.EXPIRED
    assert after == expired  # the late sweep changed nothing
    assert (late.slack.posts, late.slack.edits, late.slack.ephemerals) == ([], [], [])
    assert holder.slack.edits and "expired" in holder.slack.edits[-1][1].lower()
