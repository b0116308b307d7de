"""A bot with four services in real git repositories (one that builds and passes, one whose
build fails at step 5, one whose tests fail, one whose build waits long enough to cancel),
images named under a unique prefix and removed afterwards, tags removed from the registry."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker.errors import APIError

from bot.config import parse_config
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.build.service_repos import (
    BROKEN_STEP,
    FAILING_TESTS,
    PATIENT_FAILING_TESTS,
    PATIENT_TESTS,
    REPORT,
    SLOW_STEP,
    make_service_repo,
    refusing_registry,
)
from tests.scenarios.conftest import Harness, start_bot
from tests.scenarios.replies import reply_to

DEADLINE = 90.0
WAITING = ":hourglass_flowing_sand:"


@dataclass
class Stage:
    """The running bot, its repositories and where its images go."""

    harness: Harness
    repos: dict[str, Path]
    images: dict[str, str]
    registry: str

    @property
    def workspace(self) -> SlackWorkspace:
        """The local Slack workspace."""
        return self.harness.workspace

    def command(self, command: str, text: str, user: str = "U0ALICE") -> str:
        """Send a slash command from #dev and return the ephemeral answer (the final one:
        a job being prepared first says so, then says how it went)."""
        before = len(self.workspace.ephemerals("C0DEV", user))
        self.harness.slack.slash(command, text, user_id=user, channel_id="C0DEV")
        nth = before + 1
        while (answer := reply_to(self.harness, user, "C0DEV", nth=nth)).startswith(WAITING):
            nth += 1
        return answer

    def wait_message(self, *parts: str, channel: str = "C0DEV") -> object:
        """The top-level message in `channel` whose text holds every part, waiting for it."""

        def found() -> object:
            for message in self.workspace.messages(channel):
                if all(part in message.text for part in parts):
                    return message
            return None

        return self.workspace.wait_for(found, timeout=DEADLINE, description=" ".join(parts))


def closed_port() -> int:
    """A loopback port nothing listens on (just released by the OS)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def config_text(repos: dict[str, Path], images: dict[str, str], docker_host: str = "") -> str:
    """opsloop.yml for the services (on the engine at `docker_host`, default: the default)."""
    lines = ["slack:", "  ops_channel: C0OPS", "  team_channel: C0TEAM"]
    lines += ["docker:", f"  host: {docker_host}"] if docker_host else []
    lines += ["services:"]
    for name, repo in repos.items():
        lines += [
            f"  {name}:",
            f"    repo: {repo}",
            f"    image: {images[name]}",
            '    test: ["/bin/sh", "/app/test.sh"]',
            "    test_timeout: 60",
            f"    test_report: {REPORT}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def stage(  # noqa: PLR0917 - pytest hands fixtures in by name
    workspace: SlackWorkspace,
    settings: Settings,
    tmp_path: Path,
    busybox_path: Path,
    registry_addr: str,
    docker_client: DockerClient,
) -> Iterator[Stage]:
    suffix = uuid.uuid4().hex[:8]
    sources = tmp_path / "sources"
    repos = {
        "good": make_service_repo(sources / "good", busybox_path, "OPS-7 first cut of the app"),
        "broken": make_service_repo(sources / "broken", busybox_path, "Add a step that fails",
                                    extra=BROKEN_STEP),
        "flaky": make_service_repo(sources / "flaky", busybox_path, "Tests that fail",
                                   tests=FAILING_TESTS),
        "slow": make_service_repo(sources / "slow", busybox_path, "A slow build",
                                  extra=SLOW_STEP, note=suffix),
        "patient": make_service_repo(sources / "patient", busybox_path, "Slow tests",
                                     tests=PATIENT_TESTS),
        "grumpy": make_service_repo(sources / "grumpy", busybox_path, "Slow failing tests",
                                    tests=PATIENT_FAILING_TESTS),
    }  # fmt: skip
    with refusing_registry() as refusing:
        repos["refused"] = make_service_repo(sources / "refused", busybox_path, "Push me")
        images = {name: f"{registry_addr}/opsloop-test/{name}-{suffix}" for name in repos}
        images["refused"] = f"{refusing}/opsloop-test/refused-{suffix}"
        # Bad neighbours: a repository that does not exist, a registry nobody answers at.
        repos["lost"] = tmp_path / "no-such-repository"
        images["lost"] = f"{registry_addr}/opsloop-test/lost-{suffix}"
        repos["offline"] = repos["good"]
        images["offline"] = f"127.0.0.1:{closed_port()}/opsloop-test/offline-{suffix}"
        config = parse_config(config_text(repos, images), {})
        staged = Stage(start_bot(workspace, settings, config), repos, images, registry_addr)
        try:
            yield staged
        finally:
            staged.harness.bot.stop()
            staged.harness.slack.close()
            _remove_images(docker_client, images.values(), registry_addr)


def _remove_images(client: DockerClient, prefixes: object, registry: str) -> None:
    for image in client.images.list():
        for tag in image.tags:
            repository, _, version = tag.rpartition(":")
            if repository in prefixes:  # type: ignore[operator]
                with contextlib.suppress(APIError):
                    client.images.remove(tag, force=True)
                if repository.startswith(registry + "/"):
                    _delete_tag(registry, repository.split("/", 1)[1], version)


def _delete_tag(registry: str, path: str, tag: str) -> None:
    base = f"http://{registry}/v2/{path}/manifests"
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    answer = httpx.head(f"{base}/{tag}", headers=accept, trust_env=False)
    digest = answer.headers.get("Docker-Content-Digest")
    if answer.status_code == 200 and digest:
        httpx.delete(f"{base}/{digest}", trust_env=False)
