"""/services and /changes end to end, against a container we start ourselves with the names
and labels the Deploy stage uses, built from a commit of a real git repository; and against
containers that are another installation's, made before namespaces, or built from a commit
the repository does not have."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from bot.config import parse_config
from bot.core.naming import (
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    OCI_REVISION,
    deployment_name,
    legacy_deployment_name,
)
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness, start_bot
from tests.scenarios.replies import reply_to, settled_reply
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
  namespace: {namespace}
"""
NAMESPACE = "codetest"


@dataclass
class Deployed:
    name: str
    repo: Path
    deployed: str
    head: str


@pytest.fixture(params=["namespaced"])
def deployed(
    request: pytest.FixtureRequest,
    docker_client: docker.DockerClient,
    busybox_path: Path,
    tmp_path: Path,
) -> Iterator[Deployed]:
    """web<random> 1.4.0 running in prod, two commits behind the repository's head: as this
    installation deployed it (`namespaced`), as one made before namespaces (`legacy`), as
    another installation's (`foreign`), or built from a commit the repository does not have
    (`unknown-commit`)."""
    name = f"web{uuid.uuid4().hex[:8]}"
    repo = make_repo(tmp_path / "repo", {"README": "web"}, "OPS-1 start the web service")
    deployed_sha = commit(repo, {"app.txt": "v1"}, "OPS-2 first page")
    commit(repo, {"app.txt": "v2"}, "OPS-3 login form")
    head = commit(repo, {"app.txt": "v3"}, "Fix a typo")
    context = write_busybox_context(
        tmp_path / "image", busybox_path, {"www/health.txt": "ok"}, HTTPD_DOCKERFILE_TAIL
    )
    kind = request.param
    revision = "0badc0de" * 5 if kind == "unknown-commit" else deployed_sha
    image = build_image(
        docker_client, context, f"opsloop-test/{name}:1.4.0", {OCI_REVISION: revision}
    )
    labels = {LABEL_SERVICE: name, LABEL_ENV: "prod", LABEL_VERSION: "1.4.0"}
    container_name = deployment_name(NAMESPACE, name, "prod")
    if kind == "legacy":
        container_name = legacy_deployment_name(name, "prod")
    else:
        labels[LABEL_NAMESPACE] = "otherteam" if kind == "foreign" else NAMESPACE
    container = docker_client.containers.run(
        image.id,
        name=container_name,
        labels=labels,
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
    text = CONFIG.format(name=name, repo=repo, host=host, namespace=NAMESPACE)
    config = parse_config(text, {})
    return start_bot(workspace, settings, config)


@pytest.mark.docker
@pytest.mark.parametrize("deployed", ["namespaced", "legacy"], indirect=True)
def test_services_shows_version_endpoint_and_health_per_environment(
    workspace: SlackWorkspace, settings: Settings, deployed: Deployed
) -> None:
    harness = started(
        workspace, settings, deployed.name, deployed.repo, "unix:///var/run/docker.sock"
    )
    try:
        harness.slack.slash("/services", "")
        answer = settled_reply(harness, "U0ALICE")
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
@pytest.mark.parametrize("deployed", ["namespaced", "legacy"], indirect=True)
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


def _ask(harness: Harness, command: str, text: str) -> str:
    """Send a command and return alice's answer to it (past any "Looking up…")."""
    before = len(harness.workspace.ephemerals("C0DEV", "U0ALICE"))
    harness.slack.slash(command, text)
    answer = reply_to(harness, "U0ALICE", nth=before + 1)
    if "Looking up" in answer:
        answer = reply_to(harness, "U0ALICE", nth=before + 2)
    return answer


@pytest.mark.docker
@pytest.mark.parametrize("deployed", ["foreign"], indirect=True)
def test_another_installations_container_is_reported_as_theirs_not_ours(
    workspace: SlackWorkspace, settings: Settings, deployed: Deployed
) -> None:
    harness = started(
        workspace, settings, deployed.name, deployed.repo, "unix:///var/run/docker.sock"
    )
    try:
        services = _ask(harness, "/services", "")
        prod = next(line for line in services.splitlines() if "`prod`" in line)
        assert "another opsloop installation" in prod and "`otherteam`" in prod
        assert "1.4.0" not in prod and deployed.deployed[:7] not in prod
        answer = _ask(harness, "/changes", f"{deployed.name} prod")
        assert "another opsloop installation" in answer and "`otherteam`" in answer
        assert "merged since" not in answer
    finally:
        harness.bot.stop()
        harness.slack.close()


@pytest.mark.docker
@pytest.mark.parametrize("deployed", ["unknown-commit"], indirect=True)
def test_changes_of_an_environment_running_a_commit_the_repository_lacks_says_so(
    workspace: SlackWorkspace, settings: Settings, deployed: Deployed
) -> None:
    harness = started(
        workspace, settings, deployed.name, deployed.repo, "unix:///var/run/docker.sock"
    )
    try:
        answer = _ask(harness, "/changes", f"{deployed.name} prod")
        assert "built from commit `0badc0de0bad`, which is not in" in answer, answer
        assert "Invalid revision range" not in answer and "git failed" not in answer
        assert "runs a commit the repository does not have" in answer
        assert "Fix a typo" in answer  # the repository's latest commits still show
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
