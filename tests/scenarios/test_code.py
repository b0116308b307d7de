"""/services and /changes end to end, against a container we start ourselves with the names
and labels the Deploy stage uses, built from a commit of a real git repository."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from bot.config import parse_config
from bot.core.naming import LABEL_ENV, LABEL_SERVICE, LABEL_VERSION, OCI_REVISION, deployment_name
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness, start_bot
from tests.scenarios.replies import reply_to
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context
from tests.support.repos import commit, make_repo

CONFIG = """
slack:
  ops_channel: C0OPS
services:
  {name}:
    repo: {repo}
    image: 127.0.0.1:5000/{name}
    port: 8080
    health: /health.txt
    deploy:
      prod: {{target: container}}
      staging: {{target: container}}
environments:
  staging: {{}}
  prod: {{}}
docker:
  host: {host}
"""


@dataclass
class Deployed:
    name: str
    repo: Path
    deployed: str
    head: str


@pytest.fixture
def deployed(
    docker_client: docker.DockerClient, busybox_path: Path, tmp_path: Path
) -> Iterator[Deployed]:
    name = f"web{uuid.uuid4().hex[:8]}"
    repo = make_repo(tmp_path / "repo", {"README": "web"}, "OPS-1 start the web service")
    deployed_sha = commit(repo, {"app.txt": "v1"}, "OPS-2 first page")
    commit(repo, {"app.txt": "v2"}, "OPS-3 login form")
    head = commit(repo, {"app.txt": "v3"}, "Fix a typo")
    context = write_busybox_context(
        tmp_path / "image", busybox_path, {"www/health.txt": "ok"}, HTTPD_DOCKERFILE_TAIL
    )
    image = build_image(
        docker_client, context, f"opsloop-test/{name}:1.4.0", {OCI_REVISION: deployed_sha}
    )
    container = docker_client.containers.run(
        image.id,
        name=deployment_name(name, "prod"),
        labels={LABEL_SERVICE: name, LABEL_ENV: "prod", LABEL_VERSION: "1.4.0"},
        ports={"8080/tcp": ("127.0.0.1", None)},
        detach=True,
    )
    try:
        yield Deployed(name, repo, deployed_sha, head)
    finally:
        container.remove(force=True)
        docker_client.images.remove(image.id, force=True)


def started(
    workspace: SlackWorkspace, settings: Settings, name: str, repo: Path, host: str
) -> Harness:
    config = parse_config(CONFIG.format(name=name, repo=repo, host=host), {})
    return start_bot(workspace, settings, config)


@pytest.mark.docker
def test_services_shows_version_endpoint_and_health_per_environment(
    workspace: SlackWorkspace, settings: Settings, deployed: Deployed
) -> None:
    harness = started(
        workspace, settings, deployed.name, deployed.repo, "unix:///var/run/docker.sock"
    )
    try:
        harness.slack.slash("/services", "")
        answer = reply_to(harness, "U0ALICE", nth=1)
        if "Looking up" in answer:
            answer = reply_to(harness, "U0ALICE", nth=2)
        assert "1 services: 0 unhealthy, 0 deploying, 0 locked" in answer
        cells = answer.replace("\n", " · ").split(" · ")
        prod = next(cell for cell in cells if "`prod`" in cell)
        assert "*1.4.0*" in prod and deployed.deployed[:7] in prod
        assert "<http://127.0.0.1:" in prod and "/health.txt|up>" in prod
        staging = next(cell for cell in cells if "`staging`" in cell)
        assert "not running" in staging
    finally:
        harness.bot.stop()
        harness.slack.close()


@pytest.mark.docker
def test_changes_lists_what_is_merged_but_not_deployed(
    workspace: SlackWorkspace, settings: Settings, deployed: Deployed
) -> None:
    harness = started(
        workspace, settings, deployed.name, deployed.repo, "unix:///var/run/docker.sock"
    )
    try:
        harness.slack.slash("/changes", f"{deployed.name} prod")
        answer = reply_to(harness, "U0ALICE", nth=1)
        if "Looking up" in answer:
            answer = reply_to(harness, "U0ALICE", nth=2)
        assert f"2 commits merged since the deployed `{deployed.deployed[:7]}`" in answer
        assert "OPS-3 login form" in answer and "Fix a typo" in answer
        assert "OPS-2 first page" not in answer
        assert "• OPS-3" in answer
        harness.slack.slash("/changes", f"{deployed.name} staging")
        harness.workspace.wait_for(
            lambda: any(
                "has nothing deployed" in str(e.blocks)
                for e in harness.workspace.ephemerals("C0DEV", "U0ALICE")
            ),
            timeout=30,
        )
    finally:
        harness.bot.stop()
        harness.slack.close()


def test_services_without_an_engine_says_unknown(
    workspace: SlackWorkspace, settings: Settings, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x"}, "start")
    harness = started(workspace, settings, "web", repo, "tcp://127.0.0.1:9")
    try:
        harness.slack.slash("/services", "")
        harness.workspace.wait_for(
            lambda: any(
                "tcp://127.0.0.1:9 refused the connection" in str(e.blocks)
                for e in harness.workspace.ephemerals("C0DEV", "U0ALICE")
            ),
            timeout=30,
        )
        answers = " ".join(str(e.blocks) for e in harness.workspace.ephemerals("C0DEV", "U0ALICE"))
        assert "Versions and health show as unknown" in answers
    finally:
        harness.bot.stop()
        harness.slack.close()


def test_changes_of_an_unknown_service_is_a_clear_answer(
    workspace: SlackWorkspace, settings: Settings, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x"}, "start")
    harness = started(workspace, settings, "web", repo, "tcp://127.0.0.1:9")
    try:
        harness.slack.slash("/changes", "nosuch prod")
        assert "Unknown service `nosuch`" in reply_to(harness, "U0ALICE")
    finally:
        harness.bot.stop()
        harness.slack.close()
