"""The check and alert state machines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.monitor.model import (
    AlertMove,
    AlertState,
    CheckKind,
    CheckMove,
    CheckPolicy,
    CheckRecord,
    CheckState,
    Result,
    move_target,
    step,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = CheckPolicy(fail_after=3, resolve_after=2)
FAIL, PASS = Result(False, "HTTP 500"), Result(True, "HTTP 200", 3.0)


def run(results: list[Result]) -> tuple[CheckRecord, list[CheckMove]]:
    record = CheckRecord("web/prod/container/http", "web", "prod", "container", CheckKind.HTTP)
    moves = []
    for n, result in enumerate(results):
        record, move = step(record, result, POLICY, T0 + timedelta(seconds=15 * n))
        moves.append(move)
    return record, moves


def test_fires_after_fail_after_failures_in_a_row_and_remembers_since() -> None:
    record, moves = run([PASS, FAIL, FAIL, FAIL, FAIL])
    assert moves == [CheckMove.STAY, CheckMove.FAIL, CheckMove.STAY, CheckMove.FIRE, CheckMove.STAY]
    assert record.state is CheckState.FIRING
    assert record.since == T0 + timedelta(seconds=15)
    assert record.last_detail == "HTTP 500"


def test_a_pass_between_failures_starts_the_count_over() -> None:
    record, moves = run([FAIL, FAIL, PASS, FAIL, FAIL])
    assert CheckMove.FIRE not in moves
    assert moves[2] is CheckMove.RECOVER
    assert record.state is CheckState.FAILING


def test_resolves_after_resolve_after_passes_and_a_flap_keeps_it_firing() -> None:
    record, moves = run([FAIL, FAIL, FAIL, PASS, FAIL, PASS, PASS])
    assert moves[3:] == [CheckMove.STAY, CheckMove.STAY, CheckMove.STAY, CheckMove.RESOLVE]
    assert record.state is CheckState.RESOLVED
    again, more = run([FAIL, FAIL, FAIL, PASS, PASS, FAIL, FAIL, FAIL])
    assert more[-3:] == [CheckMove.FAIL, CheckMove.STAY, CheckMove.FIRE]
    assert again.state is CheckState.FIRING


@pytest.mark.parametrize(
    ("state", "move", "target"),
    [
        (AlertState.OPEN, AlertMove.ACKNOWLEDGE, AlertState.ACKNOWLEDGED),
        (AlertState.ACKNOWLEDGED, AlertMove.ACKNOWLEDGE, None),
        (AlertState.ACKNOWLEDGED, AlertMove.SILENCE, AlertState.SILENCED),
        (AlertState.SILENCED, AlertMove.UNSILENCE, AlertState.OPEN),
        (AlertState.OPEN, AlertMove.UNSILENCE, None),
        (AlertState.SILENCED, AlertMove.RESOLVE, AlertState.RESOLVED),
        (AlertState.RESOLVED, AlertMove.RESOLVE, None),
        (AlertState.RESOLVED, AlertMove.ACKNOWLEDGE, None),
    ],
)
def test_alert_moves(state: AlertState, move: AlertMove, target: AlertState | None) -> None:
    assert move_target(state, move) is target
