"""The audit log and the event ledger on a real database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from bot.core.clock import FakeClock
from bot.core.values import AuditEntry, Outcome
from bot.store.audit import SqlAuditLog, SqlEventLedger
from bot.store.db import open_store


def test_audit_entries_come_back_newest_first(database_url: str) -> None:
    engine = open_store(database_url)
    audit = SqlAuditLog(engine)
    for n in range(5):
        audit.append(
            AuditEntry(
                at=datetime(2026, 1, 1, 9, n, tzinfo=UTC),
                user_id="U0ALICE",
                channel_id="C0DEV",
                verb="deploy",
                arguments=f"web 1.0.{n} prod ; rm -rf / 'quoted' ünïcode",
                outcome="ok",
            )
        )
    latest = audit.latest(3)
    engine.dispose()
    assert [e.arguments.split()[1] for e in latest] == ["1.0.4", "1.0.3", "1.0.2"]
    assert latest[0].arguments.endswith("'quoted' ünïcode")


def test_entries_left_pending_before_a_start_are_settled_as_interrupted(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    audit = SqlAuditLog(engine)
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)

    def entry(minute: int, outcome: Outcome) -> int:
        at = datetime(2026, 1, 1, 9 + minute // 60, minute % 60, tzinfo=UTC)
        return audit.append(AuditEntry(at, "U0ALICE", "C0DEV", "release", "web 1.0.0",
                                       outcome.value))  # fmt: skip

    cut_short = entry(58, Outcome.PENDING)
    answered = entry(59, Outcome.OK)
    own = entry(61, Outcome.PENDING)  # this process's: still to be settled by it
    assert audit.settle_interrupted(start) == 1
    assert audit.settle_interrupted(start) == 0
    found = {e.id: e for e in audit.latest(10)}
    engine.dispose()
    assert found[cut_short].outcome == "interrupted"
    assert "stopped before the answer came" in found[cut_short].detail
    assert found[answered].outcome == "ok"
    assert found[own].outcome == "pending"


def test_an_event_is_claimed_once_even_by_racing_threads(database_url: str) -> None:
    engine = open_store(database_url)
    ledger = SqlEventLedger(engine, FakeClock())
    results: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        won = ledger.claim("Ev0RACE")
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert sorted(results) == [False] * 7 + [True]
