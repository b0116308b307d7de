"""Two `opsloop serve` subprocesses on one PostgreSQL schema, and a link that hands what
people do to them in turn, as a round-robin load balancer would."""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx

from bot.workspace import SignedClient, SlackWorkspace
from bot.workspace.people import Act, AppAck
from tests.scenarios.served import DEADLINE, LISTENING, Served, serve_env, serving


class RoundRobin:
    """An AppLink that delivers each act to the next of `clients`, in turn."""

    def __init__(self, clients: Sequence[SignedClient]) -> None:
        self.clients = list(clients)
        self._next = itertools.cycle(range(len(self.clients)))
        self._lock = threading.Lock()
        self.delivered: list[int] = []
        """Which client got each act, in order."""

    @property
    def verification_token(self) -> str:
        """The token every client sends (they share one app)."""
        return self.clients[0].verification_token

    def deliver(self, act: Act) -> AppAck:
        """Deliver `act` to the next client."""
        with self._lock:
            index = next(self._next)
            self.delivered.append(index)
        return self.clients[index].deliver(act)


def pair_env(
    workspace: SlackWorkspace, tmp_path: Path, config: str, database_url: str, **extra: str
) -> list[dict[str, str]]:
    """The environments of two processes of one app (one signing secret) on one database,
    each with a state folder of its own."""
    secret = secrets.token_hex(16)
    envs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        envs.append(
            serve_env(
                workspace,
                tmp_path / name,
                config,
                OPSLOOP_DATABASE_URL=database_url,
                SLACK_SIGNING_SECRET=secret,
                **extra,
            )
        )
    return envs


@contextlib.contextmanager
def served_pair(envs: Sequence[dict[str, str]]) -> Iterator[tuple[list[Served], list[str]]]:
    """Both processes started, one after the other (so the first holds the lease), with
    their base URLs; killed on the way out if still running."""
    with serving(envs[0]) as first:
        first_url = first.wait_for_line(LISTENING).group(1)
        # It takes the lease a moment after it listens: the second starts once it holds it.
        wait_until(lambda: httpx.get(first_url + "/healthz").json()["leases"] == ["singletons"])
        with serving(envs[1]) as second:
            second_url = second.wait_for_line(LISTENING).group(1)
            yield [first, second], [first_url, second_url]


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; AssertionError after DEADLINE seconds."""
    ends = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < ends, "the condition never held"
        threading.Event().wait(0.05)


def answer_after(workspace: SlackWorkspace, user: str, count: int, channel: str = "C0DEV") -> str:
    """The text of `user`'s first ephemeral answer after the `count` they had (with the
    text of its blocks)."""
    answers = workspace.wait_for(
        lambda: workspace.ephemerals(channel, user)[count:], timeout=DEADLINE,
        description=f"an answer to {user}",
    )  # fmt: skip
    texts = [str(answers[0].text)]
    for block in answers[0].blocks or []:
        texts.append(str((block.get("text") or {}).get("text", "")))
    return "\n".join(texts)
