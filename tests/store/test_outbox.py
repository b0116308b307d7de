"""The outbox's rows on SQLite and PostgreSQL: a row is claimed by one process only, in its
channel's order and pace, and a claim a dead process left is never claimed again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.core.outbox import Action, Delivery, NewMessage
from bot.core.values import Reply
from bot.store.db import open_store
from bot.store.outbox import SqlOutboxStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SPACING = timedelta(seconds=1)


@pytest.fixture
def engines(database_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database, as two opsloop processes would have."""
    first, second = open_store(database_url), open_store(database_url)
    yield first, second
    first.dispose()
    second.dispose()


def _post(store: SqlOutboxStore, channel: str, text: str, key: str | None = None) -> int:
    return store.add(NewMessage(Action.POST, channel, Reply(text=text), T0, key=key))


def test_two_processes_racing_for_each_row_post_it_once(engines: tuple[Engine, Engine]) -> None:
    stores = [SqlOutboxStore(engine) for engine in engines]
    ids = [_post(stores[0], f"C{n}", f"message {n}") for n in range(12)]
    wins: dict[int, list[str]] = {message_id: [] for message_id in ids}
    start = threading.Barrier(2)

    def race(store: SqlOutboxStore, worker: str) -> None:
        start.wait()
        for message_id in ids:
            if store.claim(message_id, worker, T0, SPACING):
                wins[message_id].append(worker)

    threads = [
        threading.Thread(target=race, args=(store, f"process-{n}"))
        for n, store in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(len(winners) == 1 for winners in wins.values()), wins
    for message_id in ids:
        found = stores[1].get(message_id)
        assert found is not None
        assert (found.state, found.attempts) == (Delivery.POSTING, 1)
    # Claimed is claimed: neither process gets it again.
    assert not any(store.claim(ids[0], "process-2", T0, SPACING) for store in stores)


def test_a_channel_goes_in_order_and_at_its_pace(engines: tuple[Engine, Engine]) -> None:
    store = SqlOutboxStore(engines[0])
    first, second = _post(store, "C0OPS", "started"), _post(store, "C0OPS", "succeeded")
    elsewhere = _post(store, "C0DEV", "other channel")
    # The second waits for the first; another channel does not.
    assert not store.claim(second, "w", T0, SPACING)
    assert store.claim(elsewhere, "w", T0, SPACING)
    assert store.claim(first, "w", T0, SPACING)
    assert not store.claim(second, "w", T0, SPACING)  # the first is still posting
    store.delivered(first, "1.000100", T0)
    heads = {lane.head.channel_id: lane for lane in store.lanes()}
    assert heads["C0OPS"].head.id == second
    assert heads["C0OPS"].last_posted_at == T0
    # One message a channel a second.
    assert not store.claim(second, "w", T0 + timedelta(seconds=0.5), SPACING)
    assert store.claim(second, "w", T0 + timedelta(seconds=1.5), SPACING)
    sent = store.get(first)
    assert sent is not None and (sent.state, sent.ts) == (Delivery.SENT, "1.000100")


def test_a_postponed_row_waits_for_its_time_and_keeps_its_place(
    engines: tuple[Engine, Engine],
) -> None:
    store = SqlOutboxStore(engines[0])
    first, second = _post(store, "C0OPS", "one"), _post(store, "C0OPS", "two")
    assert store.claim(first, "w", T0, SPACING)
    store.postpone(first, T0 + timedelta(seconds=30), "Slack rate-limited chat.postMessage.")
    assert not store.claim(first, "w", T0 + timedelta(seconds=29), SPACING)
    assert not store.claim(second, "w", T0 + timedelta(seconds=29), SPACING)
    assert store.claim(first, "w", T0 + timedelta(seconds=30), SPACING)
    again = store.get(first)
    assert again is not None and again.attempts == 2
    assert again.error == "Slack rate-limited chat.postMessage."


def test_a_key_records_a_message_once(engines: tuple[Engine, Engine]) -> None:
    first, second = (SqlOutboxStore(engine) for engine in engines)
    one = _post(first, "C0OPS", "deploy #4 succeeded", key="deploy-4-succeeded")
    two = _post(second, "C0OPS", "deploy #4 succeeded", key="deploy-4-succeeded")
    assert one == two
    assert [lane.head.id for lane in first.lanes()] == [one]
    assert _post(first, "C0OPS", "no key") != _post(first, "C0OPS", "no key")


def test_a_dead_processs_claim_is_settled_unknown_and_never_posted_again(
    engines: tuple[Engine, Engine],
) -> None:
    store = SqlOutboxStore(engines[0])
    cut, after = _post(store, "C0OPS", "cut mid-post"), _post(store, "C0OPS", "after it")
    assert store.claim(cut, "dead", T0, SPACING)
    assert store.abandon(T0) == []  # not older than the cut-off yet
    lost = store.abandon(T0 + timedelta(seconds=46))
    assert [row.id for row in lost] == [cut]
    found = store.get(cut)
    assert found is not None and found.state is Delivery.UNKNOWN
    later = T0 + timedelta(seconds=47)
    assert not store.claim(cut, "alive", later, SPACING)
    assert store.claim(after, "alive", later, SPACING)


def test_an_edit_folds_into_the_pending_edit_of_its_message_but_never_a_claimed_one(
    engines: tuple[Engine, Engine],
) -> None:
    store = SqlOutboxStore(engines[0])
    message = _post(store, "C0OPS", "alert #1 firing")
    assert store.claim(message, "w", T0, SPACING)
    store.delivered(message, "1.0001", T0)
    edit = store.add(NewMessage(Action.EDIT, "C0OPS", Reply(text="acked"), T0, target_id=message))
    assert store.fold(message, Reply(text="resolved")) == edit
    folded = store.get(edit)
    assert folded is not None and folded.reply.text == "resolved"
    later = T0 + timedelta(seconds=2)
    assert store.claim(edit, "w", later, SPACING)
    # The courier is in its Slack call with "resolved": a newer edit is a row of its own.
    assert store.fold(message, Reply(text="reopened")) is None
    claimed = store.get(edit)
    assert claimed is not None and claimed.reply.text == "resolved"
