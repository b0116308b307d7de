"""Deploy requests, their votes, and environment locks, in the store.

A request that is pending, approved or running holds `active_slot` = "service/env"; the
unique index on it is what makes "one deploy per service and environment" hold even when
two people ask at the same moment. State moves are UPDATE ... WHERE state = <expected>.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.core.deploys import DeployKind, DeployRequest, DeployState, NewDeploy
from bot.core.locks import EnvLock
from bot.store.tables import metadata

deploy_requests = Table(
    "deploy_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("service", String(64), nullable=False),
    Column("env", String(64), nullable=False),
    Column("version", String(128), nullable=False),
    Column("from_version", String(128), nullable=True),
    Column("image", String(512), nullable=False),
    Column("digest", String(128), nullable=False),
    Column("requester", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("message_ts", String(32), nullable=True, index=True),
    Column("state", String(16), nullable=False),
    Column("approvals_needed", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("detail", Text, nullable=False),
    Column("shipped", Text, nullable=False),
    Column("changes", Text, nullable=False),
    Column("active_slot", String(140), nullable=True, unique=True, index=True),
)

deploy_votes = Table(
    "deploy_votes",
    metadata,
    Column("request_id", Integer, primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("mark", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

env_locks = Table(
    "env_locks",
    metadata,
    Column("env", String(64), primary_key=True),
    Column("holder", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("channel_id", String(32), nullable=False),
)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands datetimes back without their zone; everything stored is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _must(value: datetime | None) -> datetime:
    result = _utc(value)
    assert result is not None
    return result


class SqlDeployStore:
    """bot.core.deploys.DeployStore on SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, new: NewDeploy) -> tuple[DeployRequest, bool]:
        """Insert the request, or return the active one holding the same slot."""
        slot = f"{new.service}/{new.env}"
        values: dict[str, Any] = {
            "kind": new.kind.value, "service": new.service, "env": new.env,
            "version": new.version, "from_version": new.from_version, "image": new.image,
            "digest": new.digest, "requester": new.requester, "channel_id": new.channel_id,
            "state": DeployState.PENDING.value, "approvals_needed": new.approvals_needed,
            "created_at": new.created_at, "expires_at": new.expires_at, "detail": "",
            "shipped": new.shipped, "changes": json.dumps(list(new.changes)),
            "active_slot": slot,
        }  # fmt: skip
        try:
            with self._engine.begin() as connection:
                result = connection.execute(insert(deploy_requests).values(**values))
                key: Any = result.inserted_primary_key
                new_id = int(key[0])
        except IntegrityError:
            with self._engine.connect() as connection:
                row = connection.execute(
                    select(deploy_requests).where(deploy_requests.c.active_slot == slot)
                ).mappings().first()  # fmt: skip
            if row is None:
                raise
            return self._load(int(row["id"])), False
        return self._load(new_id), True

    def get(self, request_id: int) -> DeployRequest | None:
        """The request with its votes."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(deploy_requests).where(deploy_requests.c.id == request_id)
            ).mappings().first()  # fmt: skip
            return None if row is None else self._request(connection, row)

    def by_message(self, channel_id: str, ts: str) -> DeployRequest | None:
        """The request whose approval message is at (channel_id, ts)."""
        query = select(deploy_requests).where(
            deploy_requests.c.channel_id == channel_id, deploy_requests.c.message_ts == ts
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
            return None if row is None else self._request(connection, row)

    def set_message(self, request_id: int, channel_id: str, ts: str) -> None:
        """Remember the request's message."""
        with self._engine.begin() as connection:
            connection.execute(
                update(deploy_requests)
                .where(deploy_requests.c.id == request_id)
                .values(channel_id=channel_id, message_ts=ts)
            )

    def transition(
        self,
        request_id: int,
        source: DeployState,
        target: DeployState,
        at: datetime,
        detail: str | None = None,
    ) -> bool:
        """Compare-and-set the state; frees the slot when the request is over."""
        values: dict[str, Any] = {"state": target.value}
        if target is DeployState.RUNNING:
            values["started_at"] = at
        if not target.active:
            values["finished_at"] = at
            values["active_slot"] = None
        if detail is not None:
            values["detail"] = detail
        with self._engine.begin() as connection:
            result = connection.execute(
                update(deploy_requests)
                .where(deploy_requests.c.id == request_id)
                .where(deploy_requests.c.state == source.value)
                .values(**values)
            )
        return result.rowcount == 1

    def vote(self, request_id: int, user_id: str, mark: str, added: bool, at: datetime) -> None:
        """Add or withdraw one mark; repeats change nothing."""
        key = and_(
            deploy_votes.c.request_id == request_id,
            deploy_votes.c.user_id == user_id,
            deploy_votes.c.mark == mark,
        )
        with self._engine.begin() as connection:
            if not added:
                connection.execute(delete(deploy_votes).where(key))
                return
            if connection.execute(select(deploy_votes.c.at).where(key)).first() is None:
                connection.execute(
                    insert(deploy_votes).values(
                        request_id=request_id, user_id=user_id, mark=mark, at=at
                    )
                )

    def votes(self, request_id: int) -> list[tuple[str, str]]:
        """(user, mark) pairs in the order they were cast."""
        query = (
            select(deploy_votes.c.user_id, deploy_votes.c.mark)
            .where(deploy_votes.c.request_id == request_id)
            .order_by(deploy_votes.c.at)
        )
        with self._engine.connect() as connection:
            return [(str(u), str(m)) for u, m in connection.execute(query).all()]

    def in_states(self, states: Sequence[DeployState]) -> list[DeployRequest]:
        """Requests in these states, oldest first."""
        query = (
            select(deploy_requests)
            .where(deploy_requests.c.state.in_([s.value for s in states]))
            .order_by(deploy_requests.c.id)
        )
        return self._many(query)

    def recent(self, env: str | None, limit: int) -> list[DeployRequest]:
        """The newest requests, newest first."""
        query = select(deploy_requests).order_by(deploy_requests.c.id.desc()).limit(limit)
        if env is not None:
            query = query.where(deploy_requests.c.env == env)
        return self._many(query)

    def last_succeeded(self, service: str, env: str, limit: int) -> list[DeployRequest]:
        """The newest succeeded deploys of `service` to `env`, newest first."""
        query = (
            select(deploy_requests)
            .where(deploy_requests.c.service == service, deploy_requests.c.env == env)
            .where(deploy_requests.c.state == DeployState.SUCCEEDED.value)
            .order_by(deploy_requests.c.id.desc())
            .limit(limit)
        )
        return self._many(query)

    def _many(self, query: Any) -> list[DeployRequest]:
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            return [self._request(connection, row) for row in rows]

    def _load(self, request_id: int) -> DeployRequest:
        found = self.get(request_id)
        assert found is not None
        return found

    def _request(self, connection: Any, row: Any) -> DeployRequest:
        from bot.core.approvals import tally

        votes = connection.execute(
            select(deploy_votes.c.user_id, deploy_votes.c.mark)
            .where(deploy_votes.c.request_id == row["id"])
            .order_by(deploy_votes.c.at)
        ).all()
        counted = tally([(str(u), str(m)) for u, m in votes], int(row["approvals_needed"]))
        return DeployRequest(
            id=int(row["id"]), kind=DeployKind(row["kind"]), service=row["service"],
            env=row["env"], version=row["version"], from_version=row["from_version"],
            image=row["image"], digest=row["digest"], requester=row["requester"],
            channel_id=row["channel_id"], message_ts=row["message_ts"],
            state=DeployState(row["state"]), approvals_needed=int(row["approvals_needed"]),
            created_at=_must(row["created_at"]), expires_at=_utc(row["expires_at"]),
            started_at=_utc(row["started_at"]), finished_at=_utc(row["finished_at"]),
            detail=row["detail"], shipped=row["shipped"],
            changes=tuple(json.loads(row["changes"])),
            approved_by=counted.approved_by, rejected_by=counted.rejected_by,
        )  # fmt: skip


class SqlLockStore:
    """bot.core.locks.LockStore on SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def acquire(self, lock: EnvLock, now: datetime) -> EnvLock:
        """Take the lock when it is free, expired or already `lock.holder`'s."""
        with self._engine.begin() as connection:
            connection.execute(
                delete(env_locks).where(
                    env_locks.c.env == lock.env,
                    or_(env_locks.c.holder == lock.holder, env_locks.c.expires_at <= now),
                )
            )
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(env_locks).values(
                            env=lock.env, holder=lock.holder, reason=lock.reason,
                            since=lock.since, expires_at=lock.expires_at,
                            channel_id=lock.channel_id,
                        )
                    )  # fmt: skip
            except IntegrityError:
                pass
        held = self.get(lock.env)
        assert held is not None
        return held

    def get(self, env: str) -> EnvLock | None:
        """The lock on `env`."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(env_locks).where(env_locks.c.env == env)
            ).mappings().first()  # fmt: skip
        return None if row is None else _lock(row)

    def release(self, env: str, holder: str) -> bool:
        """Delete `holder`'s lock on `env`."""
        with self._engine.begin() as connection:
            result = connection.execute(
                delete(env_locks).where(env_locks.c.env == env, env_locks.c.holder == holder)
            )
        return result.rowcount == 1

    def all(self) -> list[EnvLock]:
        """Every lock."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(env_locks).order_by(env_locks.c.env)).mappings()
            return [_lock(row) for row in rows]

    def take_expired(self, now: datetime) -> list[EnvLock]:
        """Delete and return the expired locks; a lock deleted by another sweep is skipped."""
        taken: list[EnvLock] = []
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(env_locks).where(env_locks.c.expires_at <= now)
            ).mappings().all()  # fmt: skip
            for row in rows:
                gone = connection.execute(
                    delete(env_locks).where(
                        env_locks.c.env == row["env"], env_locks.c.since == row["since"]
                    )
                )
                if gone.rowcount == 1:
                    taken.append(_lock(row))
        return taken


def _lock(row: Any) -> EnvLock:
    return EnvLock(
        env=row["env"],
        holder=row["holder"],
        reason=row["reason"],
        since=_must(row["since"]),
        expires_at=_must(row["expires_at"]),
        channel_id=row["channel_id"],
    )
