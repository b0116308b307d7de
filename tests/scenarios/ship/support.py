"""Shared pieces for the /ship scenarios: a service repository whose image serves /health
with busybox httpd (and can be made to break), a bot configured with short watches and
checks, and readers of the pipeline's message, thread and announcements."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest
from docker.errors import APIError, NotFound

from bot.config import parse_config
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from bot.workspace.model import Message
from tests.scenarios.conftest import Harness, start_bot
from tests.scenarios.deploy.support import remove_deployments
from tests.support.images import DOCKERFILE_HEAD
from tests.support.repos import commit, make_repo

DEADLINE = 240.0
_IDENTITY = ["-c", "user.name=Test Dev", "-c", "user.email=dev@example.com"]
PASSING = "#!/bin/sh\necho 'tests/test_app.py::test_one PASSED'\necho '1 passed in 0.01s'\n"
FAILING = "#!/bin/sh\necho 'FAILED tests/test_app.py::test_one - assert 1 == 2'\nexit 1\n"
# httpd serves /www as PID 1; with app/BREAK_AFTER the health file goes after that many
# seconds, so the version passes its deploy and fails later, within the watch; with
# app/NO_HEALTH it is gone from the start.
SERVE = """#!/bin/sh
if [ -f /app/NO_HEALTH ]; then rm -f /www/health; fi
if [ -f /app/BREAK_AFTER ]; then (sleep "$(cat /app/BREAK_AFTER)"; rm -f /www/health) & fi
exec /bin/busybox httpd -f -p 8080 -h /www
"""
DOCKERFILE = DOCKERFILE_HEAD + (
    'COPY app /app\nCOPY www /www\nEXPOSE 8080\nCMD ["/bin/sh", "/app/serve.sh"]\n'
)


def service_files(note: str, tests: str = PASSING) -> dict[str, str | bytes]:
    """A version of the service: /health answers `note`."""
    return {"Dockerfile": DOCKERFILE, "app/test.sh": tests, "app/serve.sh": SERVE,
            "www/health": note + "\n"}  # fmt: skip


def make_service_repo(path: Path, busybox: Path) -> Path:
    """The service's repository: version v1 and an executable busybox (git keeps the mode,
    and `git archive` hands it to the build)."""
    make_repo(path, {**service_files("v1"), "busybox": busybox.read_bytes()}, "OPS-1 first")
    (path / "busybox").chmod(0o755)
    for args in (
        ["update-index", "--chmod=+x", "busybox"],
        ["commit", "-q", "--amend", "--no-edit"],
    ):
        subprocess.run(["git", *_IDENTITY, "-C", str(path), *args], check=True, capture_output=True)
    return path


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Shipping:
    """A started bot, its service's repository, and where it serves."""

    harness: Harness
    service: str
    repo: Path
    image: str
    staging_port: int
    prod_port: int

    @property
    def ws(self) -> SlackWorkspace:
        """The workspace."""
        return self.harness.workspace

    def commit(self, files: dict[str, str | bytes], message: str) -> str:
        """A new commit of the service's repository."""
        return commit(self.repo, files, message)

    def ship(self, text: str, user: str = "U0ALICE") -> str:
        """Send /ship from #dev and return the final ephemeral answer."""
        before = len(self.ws.ephemerals("C0DEV", user))
        self.harness.slack.slash("/ship", text, user_id=user, channel_id="C0DEV")

        def answered() -> str | None:
            said = [_readable(e) for e in self.ws.ephemerals("C0DEV", user)[before:]]
            final = [s for s in said if not s.startswith(":hourglass")]
            return final[0] if final else None

        found = self.ws.wait_for(answered, timeout=60, description="the /ship answer")
        assert isinstance(found, str)
        return found

    def pipeline(self, number: int) -> Message:
        """Pipeline #number's message in #dev, waiting for it."""

        def found() -> Message | None:
            for message in self.ws.messages("C0DEV"):
                if message.is_bot and message.text.startswith(f"pipeline #{number} "):
                    return message
            return None

        got = self.ws.wait_for(found, timeout=30, description=f"pipeline #{number}")
        assert isinstance(got, Message)
        return got

    def wait_state(self, number: int, state: str, timeout: float = DEADLINE) -> str:
        """Wait until pipeline #number's message says `state`; its whole text."""
        first = self.pipeline(number)

        def current() -> str | None:
            now = self.ws.message("C0DEV", first.ts)
            return text_of(now) if now is not None and now.text.endswith(f": {state}") else None

        try:
            got = self.ws.wait_for(current, timeout=timeout, description=f"pipeline {state}")
        except TimeoutError as error:
            now = self.ws.message("C0DEV", first.ts)
            raise AssertionError(
                f"pipeline #{number} not {state}: {text_of(now) if now else '(gone)'}\n"
                f"thread: {self.thread(number)}"
            ) from error
        assert isinstance(got, str)
        return got

    def thread(self, number: int) -> list[str]:
        """The texts in pipeline #number's thread."""
        first = self.pipeline(number)
        return [m.text for m in self.ws.thread("C0DEV", first.ts) if m.ts != first.ts]

    def wait_thread(self, number: int, part: str, timeout: float = DEADLINE) -> str:
        """The first line of pipeline #number's thread holding `part`, waiting for it."""

        def found() -> str | None:
            return next((t for t in self.thread(number) if part in t), None)

        got = self.ws.wait_for(found, timeout=timeout, description=part)
        assert isinstance(got, str)
        return got

    def announcements(self) -> list[str]:
        """The ops channel's pipeline announcements."""
        return [m.text for m in self.ws.messages("C0OPS") if m.is_bot and "Pipeline #" in m.text]

    def wait_announcement(self, part: str, timeout: float = 30) -> str:
        """The first pipeline announcement in #ops holding `part`."""

        def found() -> str | None:
            return next((a for a in self.announcements() if part in a), None)

        got = self.ws.wait_for(found, timeout=timeout, description=part)
        assert isinstance(got, str)
        return got

    def tags(self, registry: str) -> list[str]:
        """The service's tags in the registry."""
        path = self.image.split("/", 1)[1]
        answer = httpx.get(f"http://{registry}/v2/{path}/tags/list", timeout=5)
        return list(answer.json().get("tags") or []) if answer.status_code == 200 else []


def answer(port: int) -> str:
    """What /health answers on the port (empty when nothing does)."""
    try:
        reply = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    except httpx.HTTPError:
        return ""
    return reply.text.strip() if reply.is_success else f"HTTP {reply.status_code}"


def text_of(message: Message) -> str:
    """A message's text and its sections."""
    parts = [message.text]
    for block in message.blocks or []:
        parts.append(str((block.get("text") or {}).get("text", "")))
        for element in block.get("elements") or []:
            parts.append(str(element.get("text", "")))
    return "\n".join(parts)


def _readable(ephemeral: object) -> str:
    text = str(getattr(ephemeral, "text", ""))
    for block in getattr(ephemeral, "blocks", None) or []:
        text += "\n" + str((block.get("text") or {}).get("text", ""))
    return text


def config_text(shipping: dict[str, object]) -> str:
    """One service: staging a container (no approval), prod a Swarm service or a container
    (one approval from U0BOB, protected); checks every 0.5 s."""
    return """
slack:
  ops_channel: C0OPS
services:
  {service}:
    repo: {repo}
    image: {image}
    test: ["/bin/sh", "/app/test.sh"]
    port: 8080
    health: {{path: /health, interval: 0.5, timeout: 1, retries: 3}}
    checks: {{interval: 500ms, timeout: 400ms, fail_after: 2, resolve_after: 1}}
    watch: {watch}
    watch_min_samples: 2
    deploy:
      staging: {{target: container, publish: "127.0.0.1:{staging_port}"}}
      prod: {{target: {prod_target}, publish: {prod_port}}}
environments:
  staging: {{}}
  prod:
    approvals: 1
    approvers: [U0BOB]
    protected: true
""".format(**shipping)


ShipBot = Callable[..., Shipping]


@pytest.fixture
def ship_bot(  # noqa: PLR0917 - pytest hands fixtures in by name
    workspace: SlackWorkspace,
    settings: Settings,
    docker_client: docker.DockerClient,
    registry_addr: str,
    busybox_path: Path,
    tmp_path: Path,
) -> Iterator[ShipBot]:
    """Starts a bot with one fresh service (its name, image and ports unique to the test):
    `ship_bot(watch="2s", prod_target="container")`. What its deploys created is removed
    afterwards."""
    made: list[tuple[Shipping, str]] = []

    def make(watch: str = "2s", prod_target: str = "container") -> Shipping:
        suffix = uuid.uuid4().hex[:6]
        service = f"ship-{suffix}"
        repo = make_service_repo(tmp_path / "web", busybox_path)
        image = f"{registry_addr}/opsloop-ship-{suffix}/web"
        staging_port, prod_port = free_port(), free_port()
        values: dict[str, object] = {
            "service": service, "repo": repo, "image": image, "watch": watch,
            "prod_target": prod_target, "staging_port": staging_port, "prod_port": prod_port,
        }  # fmt: skip
        harness = start_bot(workspace, settings, parse_config(config_text(values), {}))
        shipping = Shipping(harness, service, repo, image, staging_port, prod_port)
        made.append((shipping, image))
        return shipping

    yield make
    for shipping, image in made:
        shipping.harness.bot.stop()
        shipping.harness.slack.close()
        remove_deployments(docker_client, shipping.service)
        for found in docker_client.images.list(name=image):
            for tag in found.tags:
                with contextlib.suppress(NotFound, APIError):
                    docker_client.images.remove(tag, force=True)
