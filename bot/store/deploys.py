"""Deploy requests and their votes, in the store (environment locks: bot.store.env_locks).

A request that is pending, approved or running holds `active_slot` = "service/env"; the
unique index on it is what makes "one deploy per service and environment" hold even when
two people ask at the same moment. State moves are UPDATE ... WHERE state = <expected>.

A vote row is the latest word on one (request, user, mark): cast, or withdrawn, at the time
Slack stamped the event. Slack events can be handled out of order, so an event older than
the row is ignored: a removal handled before its addition leaves the vote withdrawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    and_,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.core.deploy.model import DeployKind, DeployRequest, DeployState, NewDeploy
from bot.store.db_clock import db_now
from bot.store.env_locks import SqlLockStore, env_locks
from bot.store.tables import as_utc, metadata

__all__ = ["SqlDeployStore", "SqlLockStore", "deploy_requests", "deploy_votes", "env_locks"]

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
    Column("mirror_channel_id", String(32), nullable=True),
    Column("mirror_ts", String(32), nullable=True, index=True),
    Column("replicas", Integer, nullable=True),
    Column("from_replicas", Integer, nullable=True),
    Column("reason", Text, nullable=True),
    Column("owner", String(128), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
)

deploy_votes = Table(
    "deploy_votes",
    metadata,
    Column("request_id", Integer, primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("mark", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("withdrawn", Boolean, nullable=False, server_default=false()),
)


def _must(value: datetime | None) -> datetime:
    result = as_utc(value)
    assert result is not None
    return result


class SqlDeployStore:
    """bot.core.deploy.model.DeployStore on SQLAlchemy. With an `owner` (this process's id),
    a request moved to running is claimed by it, with a heartbeat (bot.core.ownership)."""

    def __init__(self, engine: Engine, owner: str | None = None) -> None:
        self._engine = engine
        self._owner = owner

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
            "active_slot": slot, "replicas": new.replicas, "from_replicas": new.from_replicas,
            "reason": new.reason,
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
        """The request whose approval message, or its mirror, is at (channel_id, ts)."""
        c = deploy_requests.c
        query = select(deploy_requests).where(
            or_(
                and_(c.channel_id == channel_id, c.message_ts == ts),
                and_(c.mirror_channel_id == channel_id, c.mirror_ts == ts),
            )
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

    def set_mirror(self, request_id: int, channel_id: str, ts: str) -> None:
        """Remember the request's mirror in the channel it was asked in."""
        with self._engine.begin() as connection:
            connection.execute(
                update(deploy_requests)
                .where(deploy_requests.c.id == request_id)
                .values(mirror_channel_id=channel_id, mirror_ts=ts)
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
            if self._owner is not None:
                values.update(owner=self._owner, heartbeat_at=db_now())
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
        """Cast or withdraw one mark as of `at`; an event older than the stored one, or a
        repeat of it, changes nothing."""
        key = and_(
            deploy_votes.c.request_id == request_id,
            deploy_votes.c.user_id == user_id,
            deploy_votes.c.mark == mark,
        )
        for _attempt in range(3):
            try:
                with self._engine.begin() as connection:
                    newer = connection.execute(
                        update(deploy_votes)
                        .where(key, deploy_votes.c.at < at)
                        .values(at=at, withdrawn=not added)
                    )
                    if newer.rowcount:
                        return
                    if connection.execute(select(deploy_votes.c.at).where(key)).first():
                        return
                    connection.execute(
                        insert(deploy_votes).values(
                            request_id=request_id, user_id=user_id, mark=mark, at=at,
                            withdrawn=not added,
                        )
                    )  # fmt: skip
                return
            except IntegrityError:
                # The other worker stored an event for this mark first: compare with it.
                continue

    def votes(self, request_id: int) -> list[tuple[str, str]]:
        """(user, mark) pairs that count, in the order they were cast."""
        with self._engine.connect() as connection:
            return _votes(connection, request_id)

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
        """The newest succeeded deploys and rollbacks of `service` to `env`, newest first
        (not scales or restarts: they ship no version)."""
        query = (
            select(deploy_requests)
            .where(deploy_requests.c.service == service, deploy_requests.c.env == env)
            .where(deploy_requests.c.state == DeployState.SUCCEEDED.value)
            .where(deploy_requests.c.kind.in_(_SHIPPING))
            .order_by(deploy_requests.c.id.desc())
            .limit(limit)
        )
        return self._many(query)

    def latest_succeeded(self) -> dict[tuple[str, str], DeployRequest]:
        """Every (service, environment)'s newest succeeded deploy or rollback, in one query."""
        newest = (
            select(func.max(deploy_requests.c.id))
            .where(deploy_requests.c.state == DeployState.SUCCEEDED.value)
            .where(deploy_requests.c.kind.in_(_SHIPPING))
            .group_by(deploy_requests.c.service, deploy_requests.c.env)
        )
        found = self._many(select(deploy_requests).where(deploy_requests.c.id.in_(newest)))
        return {(r.service, r.env): r for r in found}

    def deploying(self, service: str, env: str) -> bool:
        """Whether a deploy or rollback of `service` to `env` is running now."""
        query = select(deploy_requests.c.id).where(
            deploy_requests.c.service == service,
            deploy_requests.c.env == env,
            deploy_requests.c.state == DeployState.RUNNING.value,
            deploy_requests.c.kind.in_([DeployKind.DEPLOY.value, DeployKind.ROLLBACK.value]),
        )
        with self._engine.connect() as connection:
            return connection.execute(query.limit(1)).first() is not None

    def _many(self, query: Any) -> list[DeployRequest]:
        # The votes of every row in one query, not one query per row: the lists read up to
        # a thousand requests at a time.
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            votes = _votes_of(connection, [int(row["id"]) for row in rows])
            return [self._request(connection, row, votes.get(int(row["id"]), [])) for row in rows]

    def _load(self, request_id: int) -> DeployRequest:
        found = self.get(request_id)
        assert found is not None
        return found

    def _request(
        self, connection: Any, row: Any, votes: list[tuple[str, str]] | None = None
    ) -> DeployRequest:
        from bot.core.deploy.approvals import tally

        if votes is None:
            votes = _votes(connection, int(row["id"]))
        counted = tally(votes, int(row["approvals_needed"]))
        return DeployRequest(
            id=int(row["id"]), kind=DeployKind(row["kind"]), service=row["service"],
            env=row["env"], version=row["version"], from_version=row["from_version"],
            image=row["image"], digest=row["digest"], requester=row["requester"],
            channel_id=row["channel_id"], message_ts=row["message_ts"],
            state=DeployState(row["state"]), approvals_needed=int(row["approvals_needed"]),
            created_at=_must(row["created_at"]), expires_at=as_utc(row["expires_at"]),
            started_at=as_utc(row["started_at"]), finished_at=as_utc(row["finished_at"]),
            detail=row["detail"], shipped=row["shipped"],
            changes=tuple(json.loads(row["changes"])),
            approved_by=counted.approved_by, rejected_by=counted.rejected_by,
            mirror_channel_id=row["mirror_channel_id"], mirror_ts=row["mirror_ts"],
            replicas=row["replicas"], from_replicas=row["from_replicas"],
            reason=row["reason"] or "",
        )  # fmt: skip


def _votes(connection: Any, request_id: int) -> list[tuple[str, str]]:
    rows = connection.execute(
        select(deploy_votes.c.user_id, deploy_votes.c.mark)
        .where(deploy_votes.c.request_id == request_id, deploy_votes.c.withdrawn == false())
        .order_by(deploy_votes.c.at)
    ).all()
    return [(str(u), str(m)) for u, m in rows]


def _votes_of(connection: Any, request_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """The votes that count of each request, in the order they were cast."""
    found: dict[int, list[tuple[str, str]]] = {}
    for start in range(0, len(request_ids), _IN_CHUNK):
        chunk = request_ids[start : start + _IN_CHUNK]
        rows = connection.execute(
            select(deploy_votes.c.request_id, deploy_votes.c.user_id, deploy_votes.c.mark)
            .where(deploy_votes.c.request_id.in_(chunk), deploy_votes.c.withdrawn == false())
            .order_by(deploy_votes.c.at)
        ).all()
        for request_id, user, mark in rows:
            found.setdefault(int(request_id), []).append((str(user), str(mark)))
    return found


_IN_CHUNK = 500
"""Ids in one IN list (SQLite takes at most 32,766 parameters; PostgreSQL 65,535)."""
_SHIPPING = [kind.value for kind in DeployKind if kind.ships]
"""Request kinds that roll out a version: what "the last deploy" means."""
