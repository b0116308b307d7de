"""/ship pipelines: one row each, its checklist kept as JSON beside it (a pipeline is read
and written whole, by its own thread).

A running pipeline holds one `pipeline_slots` row per environment it goes through
("service/env", the primary key), inserted in the transaction that inserts the pipeline and
deleted in the one that finishes it: the key is what makes "one /ship per service and
environment while one runs" hold when two processes answer a /ship at the same moment."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, Text, delete, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from bot.core.ship.model import (
    NewPipeline,
    Pipeline,
    PipelineState,
    Step,
    StepKind,
    StepState,
)
from bot.store.tables import as_utc, metadata

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(64), nullable=False),
    Column("version", String(128), nullable=False),
    Column("ref", String(255), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("envs", Text, nullable=False),
    Column("requester", String(64), nullable=False),
    Column("channel_id", String(64), nullable=False),
    Column("message_ts", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("steps", Text, nullable=False),
    Column("previous", Text, nullable=False),
    Column("cancel_requested_by", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

pipeline_slots = Table(
    "pipeline_slots",
    metadata,
    Column("slot", String(140), primary_key=True),
    Column("pipeline_id", Integer, nullable=False),
)


def _slot(service: str, env: str) -> str:
    return f"{service}/{env}"


class SqlPipelineStore:
    """bot.core.ship.model.PipelineStore on SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, new: NewPipeline, steps: tuple[Step, ...]) -> tuple[Pipeline, bool]:
        """Store a new running pipeline with its environments' slots, in one transaction;
        or, when a running pipeline of the service holds one of those environments, store
        nothing and return that one (and False)."""
        values = {
            "service": new.service, "version": new.version, "ref": new.ref, "revision": "",
            "envs": json.dumps(list(new.envs)), "requester": new.requester,
            "channel_id": new.channel_id, "message_ts": "", "state": PipelineState.RUNNING.value,
            "steps": _steps_json(steps), "previous": "[]", "cancel_requested_by": "",
            "detail": "", "created_at": new.created_at, "finished_at": None,
        }  # fmt: skip
        slots = [_slot(new.service, env) for env in new.envs]
        try:
            with self._engine.begin() as connection:
                result = connection.execute(pipelines.insert().values(**values))
                new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
                connection.execute(
                    pipeline_slots.insert(), [{"slot": s, "pipeline_id": new_id} for s in slots]
                )
        except IntegrityError:
            holder = self._holder(slots)
            if holder is None:
                raise
            return holder, False
        found = self.get(new_id)
        assert found is not None
        return found, True

    def _holder(self, slots: list[str]) -> Pipeline | None:
        with self._engine.connect() as connection:
            held = connection.execute(
                select(pipeline_slots.c.pipeline_id)
                .where(pipeline_slots.c.slot.in_(slots))
                .order_by(pipeline_slots.c.pipeline_id)
            ).scalars().first()  # fmt: skip
        return None if held is None else self.get(int(held))

    def save(self, pipeline: Pipeline) -> None:
        """Write the pipeline whole; a cancel asked meanwhile is kept. A finished pipeline
        frees its environments' slots in the same transaction."""
        values = {
            "revision": pipeline.revision, "message_ts": pipeline.message_ts,
            "state": pipeline.state.value, "steps": _steps_json(pipeline.steps),
            "previous": json.dumps([list(pair) for pair in pipeline.previous]),
            "detail": pipeline.detail, "finished_at": pipeline.finished_at,
        }  # fmt: skip
        with self._engine.begin() as connection:
            connection.execute(
                pipelines.update().where(pipelines.c.id == pipeline.id).values(**values)
            )
            if pipeline.state.finished:
                connection.execute(
                    delete(pipeline_slots).where(pipeline_slots.c.pipeline_id == pipeline.id)
                )

    def get(self, pipeline_id: int) -> Pipeline | None:
        """One pipeline."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(pipelines).where(pipelines.c.id == pipeline_id)
            ).mappings().first()  # fmt: skip
        return _pipeline(row) if row is not None else None

    def running(self) -> list[Pipeline]:
        """Running pipelines, oldest first."""
        query = (
            select(pipelines)
            .where(pipelines.c.state == PipelineState.RUNNING.value)
            .order_by(pipelines.c.id)
        )
        with self._engine.connect() as connection:
            return [_pipeline(row) for row in connection.execute(query).mappings()]

    def recent(self, limit: int) -> list[Pipeline]:
        """The newest pipelines, newest first."""
        query = select(pipelines).order_by(pipelines.c.id.desc()).limit(limit)
        with self._engine.connect() as connection:
            return [_pipeline(row) for row in connection.execute(query).mappings()]

    def request_cancel(self, pipeline_id: int, user: str) -> bool:
        """Mark a running pipeline to stop after its running step (the first asker kept)."""
        query = (
            pipelines.update()
            .where(
                pipelines.c.id == pipeline_id,
                pipelines.c.state == PipelineState.RUNNING.value,
                pipelines.c.cancel_requested_by == "",
            )
            .values(cancel_requested_by=user)
        )
        with self._engine.begin() as connection:
            return bool(connection.execute(query).rowcount)


def _steps_json(steps: tuple[Step, ...]) -> str:
    return json.dumps([
        {
            "kind": s.kind.value, "env": s.env, "state": s.state.value,
            "started_at": s.started_at.isoformat() if s.started_at else None,
            "finished_at": s.finished_at.isoformat() if s.finished_at else None,
            "detail": s.detail, "link": s.link,
        }
        for s in steps
    ])  # fmt: skip


def _when(value: str | None) -> datetime | None:
    return as_utc(datetime.fromisoformat(value)) if value else None


def _step(raw: dict[str, Any]) -> Step:
    return Step(
        kind=StepKind(raw["kind"]), env=raw["env"], state=StepState(raw["state"]),
        started_at=_when(raw["started_at"]), finished_at=_when(raw["finished_at"]),
        detail=raw["detail"], link=raw["link"],
    )  # fmt: skip


def _pipeline(row: RowMapping) -> Pipeline:
    return Pipeline(
        id=row["id"], service=row["service"], version=row["version"], ref=row["ref"],
        envs=tuple(json.loads(row["envs"])), requester=row["requester"],
        channel_id=row["channel_id"], created_at=as_utc(row["created_at"]),
        steps=tuple(_step(raw) for raw in json.loads(row["steps"])),
        state=PipelineState(row["state"]), revision=row["revision"],
        message_ts=row["message_ts"], cancel_requested_by=row["cancel_requested_by"],
        finished_at=as_utc(row["finished_at"]) if row["finished_at"] else None,
        detail=row["detail"],
        previous=tuple((env, version) for env, version in json.loads(row["previous"])),
    )  # fmt: skip
