"""The database out of reach for a while, under a real `opsloop serve` on a PostgreSQL
cluster of the test's own: the process tells users it cannot act now (no traceback),
keeps answering /ops help, and recovers by itself, without a restart, when the database
returns (it serves again and takes the lease back)."""

from __future__ import annotations

import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.workspace import SignedClient, SlackWorkspace
from tests.scenarios.conftest import CONFIG
from tests.scenarios.served import DEADLINE, LISTENING, serve_env, serving
from tests.support.throwaway_postgres import ThrowawayPostgres, throwaway_postgres

TTL = 3.0


@pytest.fixture
def database() -> Iterator[ThrowawayPostgres]:
    with throwaway_postgres() as server:
        yield server


def _answer(workspace: SlackWorkspace, text: str, command: str = "/ops") -> str:
    """Run a command as alice in #dev and return the answer she got."""
    before = len(workspace.ephemerals("C0DEV", "U0ALICE"))
    workspace.user_command("U0ALICE", "C0DEV", command, text)
    answers = workspace.wait_for(
        lambda: workspace.ephemerals("C0DEV", "U0ALICE")[before:], timeout=DEADLINE,
        description=f"an answer to {command} {text}",
    )  # fmt: skip
    return str(answers[0].text)


def _click(
    workspace: SlackWorkspace, client: SignedClient, ts: str, blocks: list[dict[str, Any]]
) -> str:
    """Click the first button under alice's list answer; the answer she got to the click."""
    button = next(
        element for block in blocks if block["type"] == "actions"
        for element in block["elements"] if element["type"] == "button"
    )  # fmt: skip
    before = len(workspace.ephemerals("C0DEV", "U0ALICE"))
    client.block_action("U0ALICE", "C0DEV", ts, button["action_id"], button.get("value"))
    answers = workspace.wait_for(
        lambda: workspace.ephemerals("C0DEV", "U0ALICE")[before:], timeout=DEADLINE,
        description="an answer to the click",
    )  # fmt: skip
    return str(answers[0].text)


def test_a_process_answers_while_its_database_is_down_and_recovers_when_it_returns(
    workspace: SlackWorkspace, tmp_path: Path, database: ThrowawayPostgres
) -> None:
    secret = secrets.token_hex(16)
    env = serve_env(
        workspace, tmp_path, CONFIG, DOCKER_HOST="unix:///nonexistent/docker.sock",
        OPSLOOP_DATABASE_URL=database.url, OPSLOOP_LEASE_SECONDS=str(TTL),
        SLACK_SIGNING_SECRET=secret,
    )  # fmt: skip
    with serving(env) as served:
        base = served.wait_for_line(LISTENING).group(1)
        client = SignedClient(base + "/slack/events", secret, workspace)
        workspace.connect_bot(client)
        assert "cannot reach" not in _answer(workspace, "list", "/deploy")
        workspace.user_command("U0ALICE", "C0DEV", "/lock", "staging")
        workspace.wait_for(
            lambda: any("locked `staging`" in m.text for m in workspace.messages("C0DEV")),
            timeout=DEADLINE, description="the lock announced",
        )  # fmt: skip
        assert "1 environment(s) locked" in _answer(workspace, "list", "/lock")
        listed = workspace.ephemerals("C0DEV", "U0ALICE")[-1]

        database.stop()
        clicked = _click(workspace, client, listed.ts, listed.blocks or [])
        down = _answer(workspace, "list", "/deploy")
        helped = _answer(workspace, "help")
        audit = _answer(workspace, "audit")
        health = httpx.get(base + "/healthz").json()
        assert "cannot reach its store right now, so nothing was done" in down
        assert "cannot reach its store right now, so nothing was done" in clicked
        assert helped.startswith("opsloop verbs:") and "deploy" in helped
        assert "cannot reach" in audit
        assert health["ok"] is False
        # The lease cannot be renewed against a database that is gone: it is given up.
        workspace.wait_for(
            lambda: httpx.get(base + "/healthz").json()["leases"] == [], timeout=TTL * 2,
            description="the lease given up",
        )  # fmt: skip

        database.start()

        def serving_again() -> bool:
            return "cannot reach" not in _answer(workspace, "list", "/deploy")

        workspace.wait_for(serving_again, timeout=DEADLINE, description="commands work again")
        workspace.wait_for(
            lambda: httpx.get(base + "/healthz").json()["leases"] == ["singletons"],
            timeout=TTL * 2, description="the lease taken again",
        )  # fmt: skip
        assert served.process.poll() is None  # the same process, never restarted
        client.close()
        assert served.end(signal.SIGTERM) == 0
    logged = "\n".join(served.lines)
    answers = "\n".join(str(e.text) for e in workspace.ephemerals("C0DEV", "U0ALICE"))
    assert "Traceback" not in answers and "failed unexpectedly" not in answers
    assert "could not renew the lease singletons" in logged
