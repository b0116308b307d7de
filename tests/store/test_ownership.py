"""Work ownership on a real database: a job or deploy is claimed by the process that runs
it and kept alive by its heartbeat; only work whose heartbeat ran out is another's to settle."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, update

from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.deploy.model import DeployKind, DeployState, NewDeploy
from bot.store.db import open_store
from bot.store.db_clock import db_now
from bot.store.deploys import SqlDeployStore, deploy_requests
from bot.store.jobs import SqlJobStore, jobs
from bot.store.ownership import SqlOwnership

TTL = 15.0


def _job(job_id: str, state: JobState = JobState.RUNNING) -> Job:
    return Job(
        id=job_id, kind=JobKind.BUILD, service="web", ref="main", revision="a" * 40,
        user_id="U0ALICE", channel_id="C0DEV", created_at=datetime.now(UTC), log_path="",
        state=state,
    )  # fmt: skip


def _deploy(store: SqlDeployStore) -> int:
    now = datetime.now(UTC)
    request, _ = store.create(
        NewDeploy(
            kind=DeployKind.DEPLOY, service="web", env="prod", version="1.0.0",
            from_version=None, image="127.0.0.1:5000/web", digest="sha256:ab",
            requester="U0ALICE", channel_id="C0DEV", approvals_needed=0, created_at=now,
            expires_at=None, shipped="", changes=(),
        )
    )  # fmt: skip
    assert store.transition(request.id, DeployState.PENDING, DeployState.APPROVED, now)
    assert store.transition(request.id, DeployState.APPROVED, DeployState.RUNNING, now)
    return request.id


def _stall(engine: Engine) -> None:
    """Every heartbeat is older than the time to live, as when its process was killed."""
    with engine.begin() as connection:
        for table in (jobs, deploy_requests):
            connection.execute(update(table).values(heartbeat_at=db_now(-TTL - 1)))


def test_work_is_orphaned_only_once_its_owners_heartbeat_ran_out(database_url: str) -> None:
    engine = open_store(database_url)
    SqlJobStore(engine, "a").add(_job("build-1"))
    SqlJobStore(engine, "a").add(_job("build-2", JobState.SUCCEEDED))
    request_id = _deploy(SqlDeployStore(engine, "a"))
    a, b = SqlOwnership(engine, "a", TTL), SqlOwnership(engine, "b", TTL)
    alive = (b.orphaned_jobs(), b.orphaned_deploys())
    _stall(engine)
    a.beat()  # a is alive after all: its beat claims its work again
    beaten = (b.orphaned_jobs(), b.orphaned_deploys())
    _stall(engine)
    dead = (b.orphaned_jobs(), b.orphaned_deploys())
    own = (a.orphaned_jobs(), a.orphaned_deploys())
    engine.dispose()
    assert alive == ({}, {}) and beaten == ({}, {})
    assert dead == ({"build-1": "a"}, {request_id: "a"})
    assert own == ({}, {})  # a never settles its own work as orphaned


def test_a_clean_stop_disowns_its_work_so_the_next_holder_settles_it_at_once(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    SqlJobStore(engine, "a").add(_job("build-1", JobState.QUEUED))
    request_id = _deploy(SqlDeployStore(engine, "a"))
    SqlOwnership(engine, "a", TTL).disown()
    b = SqlOwnership(engine, "b", TTL)
    orphans = (b.orphaned_jobs(), b.orphaned_deploys())
    engine.dispose()
    assert orphans == ({"build-1": "a"}, {request_id: "a"})


def test_work_recorded_without_an_owner_is_settled_as_a_restart_settles_it(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    SqlJobStore(engine).add(_job("build-1"))
    request_id = _deploy(SqlDeployStore(engine))
    b = SqlOwnership(engine, "b", TTL)
    orphans = (b.orphaned_jobs(), b.orphaned_deploys())
    engine.dispose()
    assert orphans == ({"build-1": None}, {request_id: None})
