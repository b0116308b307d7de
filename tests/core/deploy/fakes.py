"""Small hand-written ports for driving the deploy desk in tests/core: an engine that runs
nothing, a registry index, a Slack that records (and refuses what it is told to), and the
release history; with the real SQLite store underneath."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bot.config import parse_config
from bot.config.estates import deploy_estate
from bot.core.clock import FakeClock
from bot.core.deploy.desk import DeployDesk, build_desk
from bot.core.deploy.model import DeployState, Outcome, Progress, Running, Target
from bot.core.errors import IntegrationError
from bot.core.outbox import Outbox
from bot.core.values import MessageRef, Reply
from bot.store.db import open_store
from bot.store.deploys import SqlDeployStore, SqlLockStore
from bot.store.outbox import SqlOutboxStore

T = TypeVar("T")
DEADLINE = 10.0

CONFIG = """
slack:
  ops_channel: C0OPS
services:
  web:
    repo: ./web
    image: 127.0.0.1:5000/web
    port: 8080
    deploy:
      staging: {target: container}
      prod: {target: container}
environments:
  staging: {}
  prod:
    approvals: 1
    approvers: [U0BOB]
    protected: true
"""


class Engine:
    """Runs nothing; every deploy ends as `outcome`."""

    def __init__(self) -> None:
        self.outcome = Outcome(DeployState.SUCCEEDED, "The new version answers.")
        self.closed = False
        self.refusal: Exception | None = None
        self.deployed: list[str] = []

    def preflight(self, target: Target) -> None:
        if self.refusal is not None:
            raise self.refusal

    def running(self, target: Target) -> Running:
        return Running(None, None, False)

    def settle(self, target: Target) -> Running:
        return Running(None, None, False)

    def revision(self, image_ref: str) -> str | None:
        return None

    def deploy(
        self, target: Target, image_ref: str, version: str, deploy_id: str, progress: Progress
    ) -> Outcome:
        progress("Rolling out…")
        return self.outcome

    def close(self) -> None:
        self.closed = True


class Images:
    """A registry holding `versions` of every image; `fault` is raised on every lookup."""

    def __init__(self, *versions: str) -> None:
        self.versions = set(versions)
        self.fault: Exception | None = None
        self.closed = False

    def digest(self, image: str, version: str) -> str | None:
        if self.fault is not None:
            raise self.fault
        return f"sha256:{version.replace('.', '') * 8}" if version in self.versions else None

    def close(self) -> None:
        self.closed = True


@dataclass
class Slack:
    """Records what the bot says; refuses calls to the channels in `gone` and every method in
    `refused` (as Slack's errors reach the bot: IntegrationError)."""

    gone: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    responses: list[str] = field(default_factory=list)
    posts: list[tuple[str, str]] = field(default_factory=list)
    edits: list[tuple[MessageRef, str]] = field(default_factory=list)
    ephemerals: list[tuple[str, str, str]] = field(default_factory=list)
    _ts: int = 0
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def _check(self, method: str, channel: str) -> None:
        if channel in self.gone:
            raise IntegrationError(f"Slack refused {method}: channel_not_found.")
        if method in self.refused:
            raise IntegrationError(f"Slack refused {method}: fatal_error.")

    def respond(self, response_url: str, reply: Reply) -> None:
        self.responses.append(reply.text)

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None) -> MessageRef:
        self._check("chat.postMessage", channel_id)
        with self._guard:
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
        self.posts.append((channel_id, reply.text))
        return MessageRef(channel_id, ts)

    def update(self, ref: MessageRef, reply: Reply) -> None:
        self._check("chat.update", ref.channel_id)
        self.edits.append((ref, reply.text))

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        self._check("chat.postEphemeral", channel_id)
        self.ephemerals.append((channel_id, user_id, reply.text))


class Directory:
    def email(self, user_id: str) -> str | None:
        return None

    def group_members(self, group_id: str) -> frozenset[str]:
        return frozenset()


class Releases:
    """The release history: `released` versions of web succeeded."""

    def __init__(self, *released: str) -> None:
        self.released = released

    def released_versions(self, service: str) -> list[str]:
        del service
        return list(self.released)


@dataclass
class Desk:
    """A desk on the real SQLite store and the fakes above."""

    desk: DeployDesk
    store: SqlDeployStore
    locks: SqlLockStore
    outbox: SqlOutboxStore
    engine: Engine
    images: Images
    slack: Slack
    clock: FakeClock


def make_desk(tmp_path: Path, images: Images, releases: Releases | None = None) -> Desk:
    """A started desk; stop it with desk.desk.stop_background()."""
    db = open_store(f"sqlite:///{tmp_path / 'deploys.db'}")
    store, locks, outbox = SqlDeployStore(db), SqlLockStore(db), SqlOutboxStore(db)
    engine, slack, clock = Engine(), Slack(), FakeClock()
    desk = build_desk(
        estate=deploy_estate(parse_config(CONFIG, {})), store=store, locks=locks, engine=engine,
        images=images, notifier=slack, outbox=Outbox(outbox, clock), directory=Directory(),
        clock=clock,
        repository=lambda _source: None,  # type: ignore[arg-type,return-value]
        issues=None, releases=releases,
    )  # fmt: skip
    return Desk(desk, store, locks, outbox, engine, images, slack, clock)


def eventually(check: Callable[[], T], what: str, deadline: float = DEADLINE) -> T:
    """Poll `check` until it returns something truthy; AssertionError after `deadline`."""
    import time

    until = time.monotonic() + deadline
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > until:
            raise AssertionError(f"never happened: {what}")
        threading.Event().wait(0.02)


def answer(desk: Desk, nth: int = 1) -> str:
    """The nth answer the askers got (through their response_url), waiting for it."""
    eventually(lambda: len(desk.slack.responses) >= nth, f"answer {nth}")
    return desk.slack.responses[nth - 1]
