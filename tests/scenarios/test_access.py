"""Access control, through the local workspace: who may run what, said and audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.config import parse_config
from bot.core.build.jobs import Job, JobKind, JobState
from bot.settings import Settings
from bot.store.env_locks import env_locks
from bot.store.tables import audit_log
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import CONFIG, Harness, start_bot
from tests.scenarios.replies import reply_to

ACCESS = """
access:
  roles:
    admins: [U0ALICE]
    deployers: [S0APPROVERS]
  verbs:
    lock: [deployers, admins]
"""


@pytest.fixture
def guarded(workspace: SlackWorkspace, settings: Settings) -> Iterator[Harness]:
    """A bot whose /lock needs `deployers` (the S0APPROVERS group: bob, carol) or `admins`
    (alice); dave is in the workspace but in neither."""
    workspace.add_user("U0DAVE", "dave")
    running = start_bot(workspace, settings, parse_config(CONFIG + ACCESS, {}))
    yield running
    running.bot.stop()
    running.slack.close()


def _audit(harness: Harness) -> list[dict[str, object]]:
    with harness.bot.engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.id)).mappings().all()
    return [dict(row) for row in rows]


def _locks(harness: Harness) -> list[str]:
    with harness.bot.engine.connect() as connection:
        return [row.env for row in connection.execute(select(env_locks))]


def test_a_member_of_a_role_through_a_user_group_may_run_the_verb(guarded: Harness) -> None:
    guarded.slack.slash("/lock", "prod release day", user_id="U0CAROL")
    guarded.workspace.wait_for(
        lambda: [row["outcome"] for row in _audit(guarded)] == ["ok"], timeout=10
    )
    assert _locks(guarded) == ["prod"]


def test_a_person_without_the_role_is_refused_with_the_role_named_and_audited(
    guarded: Harness,
) -> None:
    guarded.slack.slash("/lock", "prod mine now", user_id="U0DAVE")
    answer = reply_to(guarded, "U0DAVE")
    assert "needs the role `deployers` or `admins`" in answer
    (entry,) = _audit(guarded)
    assert (entry["verb"], entry["outcome"], entry["arguments"]) == (
        "lock",
        "denied",
        "prod mine now",
    )
    assert _locks(guarded) == []


def test_help_shows_what_the_caller_may_run_and_names_the_rest(guarded: Harness) -> None:
    guarded.slack.slash("/ops", "help", user_id="U0DAVE")
    answer = reply_to(guarded, "U0DAVE")
    assert "*Needs a role you do not have*" in answer
    needs_role = answer.split("*Needs a role you do not have*")[1]
    assert "`lock`" in needs_role
    assert "`/lock <env>" not in answer
    guarded.slack.slash("/ops", "help", user_id="U0CAROL")
    assert "`/lock <env>" in reply_to(guarded, "U0CAROL")
    assert "Needs a role" not in reply_to(guarded, "U0CAROL")


def test_only_an_admin_may_force_an_unlock_and_the_holder_is_told(guarded: Harness) -> None:
    guarded.slack.slash("/lock", "prod hotfix", user_id="U0CAROL")
    guarded.workspace.wait_for(lambda: _locks(guarded) == ["prod"], timeout=10)

    guarded.slack.slash("/unlock", "prod", user_id="U0BOB")
    assert "only they can unlock it" in reply_to(guarded, "U0BOB")
    guarded.slack.slash("/unlock", "prod --force", user_id="U0BOB")
    assert "needs the role `admins`" in reply_to(guarded, "U0BOB", nth=2)
    assert _locks(guarded) == ["prod"]

    guarded.slack.slash("/unlock", "prod --force", user_id="U0ALICE")
    guarded.workspace.wait_for(lambda: _locks(guarded) == [], timeout=10)
    # Carol hears it in her direct messages with the app, which wait for her.
    [told] = guarded.workspace.wait_for(
        lambda: guarded.workspace.messages(_direct(guarded, "U0CAROL")), timeout=10
    )
    assert "<@U0ALICE> (an admin) released your lock on `prod`" in told.text
    assert guarded.workspace.channel(told.channel).im_user == "U0CAROL"  # type: ignore[union-attr]

    def outcomes() -> list[tuple[object, ...]]:
        return [(row["user_id"], row["verb"], row["outcome"]) for row in _audit(guarded)]

    guarded.workspace.wait_for(lambda: outcomes()[-1] == ("U0ALICE", "unlock", "ok"), timeout=10)
    assert ("U0BOB", "unlock", "denied") in outcomes()


def _direct(harness: Harness, user_id: str) -> str:
    """The app's direct-message conversation with the person."""
    return harness.workspace.state.direct_channel(user_id).id


def _queued_job(harness: Harness, owner: str) -> str:
    stages = harness.bot.services.builds
    assert stages is not None
    job = Job(
        id="build-abc123", kind=JobKind.BUILD, service="web", ref="HEAD", revision="a" * 40,
        user_id=owner, channel_id="C0DEV", created_at=datetime.now(UTC), log_path="",
    )  # fmt: skip
    stages.store.add(job)
    return job.id


def test_a_job_is_cancelled_only_by_who_started_it_or_an_admin(guarded: Harness) -> None:
    job_id = _queued_job(guarded, "U0CAROL")
    guarded.slack.slash("/build", f"cancel {job_id}", user_id="U0DAVE")
    assert "only they or a member of `admins` can cancel it" in reply_to(guarded, "U0DAVE")
    stages = guarded.bot.services.builds
    assert stages is not None
    assert stages.store.get(job_id).state is JobState.QUEUED  # type: ignore[union-attr]

    guarded.slack.slash("/build", f"cancel {job_id}", user_id="U0ALICE")
    assert f"`{job_id}` is cancelled." in reply_to(guarded, "U0ALICE")
    assert stages.store.get(job_id).state is JobState.CANCELLED  # type: ignore[union-attr]


def test_audit_shows_what_the_user_got_and_the_arguments_after_the_verb(harness: Harness) -> None:
    harness.slack.slash("/deploy", "list")
    reply_to(harness, "U0ALICE")
    harness.slack.slash("/deploy", "web 9.9.9 to prod")

    def settled() -> bool:
        return len(_audit(harness)) == 2 and _audit(harness)[1]["outcome"] != "pending"

    harness.workspace.wait_for(settled, timeout=20)
    listed, refused = _audit(harness)
    assert (listed["verb"], listed["arguments"], listed["outcome"]) == ("deploy list", "", "ok")
    assert (refused["verb"], refused["arguments"]) == ("deploy", "web 9.9.9 to prod")
    # No registry has web 9.9.9 (or no engine answers): the user was refused, not served.
    assert refused["outcome"] in {"not_found", "integration_error"}
    assert refused["detail"]


def test_a_verb_says_what_is_missing_and_help_gives_the_usage(harness: Harness) -> None:
    harness.slack.slash("/ship", "")
    answer = reply_to(harness, "U0ALICE")
    assert "Missing <service>" in answer
