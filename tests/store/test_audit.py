"""The audit log and the event ledger on a real database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import update

from bot.core.clock import FakeClock
from bot.core.values import AuditEntry, Outcome
from bot.store.audit import SqlAuditLog, SqlEventLedger
from bot.store.db import open_store
from bot.store.db_clock import db_now
from bot.store.leases import SqlLeaseStore, process_beats

TTL = 15.0


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
    assert audit.settle_interrupted(start, TTL) == 1
    assert audit.settle_interrupted(start, TTL) == 0
    found = {e.id: e for e in audit.latest(10)}
    engine.dispose()
    assert found[cut_short].outcome == "interrupted"
    assert "stopped before the answer came" in found[cut_short].detail
    assert found[answered].outcome == "ok"
    assert found[own].outcome == "pending"


def _pending(audit: SqlAuditLog, at: datetime) -> int:
    return audit.append(
        AuditEntry(at, "U0ALICE", "C0DEV", "release", "web 1.0.0", Outcome.PENDING.value)
    )


def test_a_live_process_s_pending_entries_are_left_for_its_own_answer(
    database_url: str,
) -> None:
    # Two processes on one store: b is alive (its heartbeat is fresh) and waits for the
    # answer to a command it recorded before a, the lease holder, started.
    engine = open_store(database_url)
    leases = SqlLeaseStore(engine)
    leases.beat("a", "host-a", 1)
    leases.beat("b", "host-b", 2)
    a, b = SqlAuditLog(engine, "a"), SqlAuditLog(engine, "b")
    start = datetime.now(UTC)
    b_before = _pending(b, datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
    b_after, a_own = _pending(b, datetime.now(UTC)), _pending(a, datetime.now(UTC))
    settled = a.settle_interrupted(start, TTL)
    answered = [b.settle(b_before, "ok", ""), b.settle(b_after, "ok", "")]
    found = {e.id: e for e in a.latest(10)}
    engine.dispose()
    assert settled == 0
    assert answered == [True, True]
    assert found[a_own].outcome == "pending"  # a never settles its own entries so


def test_a_process_s_entries_are_settled_once_it_stopped_whenever_it_wrote_them(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    leases = SqlLeaseStore(engine)
    for process in ("a", "killed", "stopped"):
        leases.beat(process, "host", 1)
    start = datetime.now(UTC)
    # Written after a started, and left pending by a kill -9 and by a clean stop.
    killed = _pending(SqlAuditLog(engine, "killed"), datetime.now(UTC))
    stopped = _pending(SqlAuditLog(engine, "stopped"), datetime.now(UTC))
    a = SqlAuditLog(engine, "a")
    alive = a.settle_interrupted(start, TTL)
    leases.leave("stopped")
    with engine.begin() as connection:
        connection.execute(
            update(process_beats)
            .where(process_beats.c.process_id == "killed")
            .values(seen_at=db_now(-TTL - 1))
        )
    gone = a.settle_interrupted(start, TTL)
    late = SqlAuditLog(engine, "killed").settle(killed, "ok", "")
    found = {e.id: e for e in a.latest(10)}
    engine.dispose()
    assert (alive, gone, late) == (0, 2, False)
    assert found[killed].outcome == found[stopped].outcome == "interrupted"


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
