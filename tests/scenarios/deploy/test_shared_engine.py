"""Two opsloop installations on one engine, deploying the same service and environment names:
each deploys, reads and replaces only what carries its namespace; a name taken by another
installation is refused before anyone is asked to approve, and left as it is."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from bot.core.naming import (
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    legacy_deployment_name,
    proxy_name,
)
from bot.core.naming import deployment_name as named
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import BOT_TOKEN
from tests.scenarios.deploy.support import (
    GOOD,
    NEWER,
    Images,
    ShiftableClock,
    answer,
    free_port,
    images,
    remove_deployments,
    request_message,
    start,
    swarm,
    text_of,
    wait_state,
)
from tests.specs import specs_dir

__all__ = ["images", "swarm"]

CONFIG = """
slack:
  ops_channel: C0OPS
services:
  {service}:
    repo: {repo}
    image: {image}
    port: 8080
    health: /health
    deploy:
      dev: {{target: container, publish: "127.0.0.1:{dev_port}"}}
      staging: {{target: swarm, publish: {swarm_port}}}
environments:
  dev: {{}}
  staging: {{}}
docker:
  namespace: {namespace}
"""


@dataclass
class Installation:
    """One opsloop: its namespace, workspace, bot and published ports."""

    namespace: str
    ws: SlackWorkspace
    dev_port: int
    swarm_port: int
    stop: list[object]

    def deploy(self, service: str, version: str, env: str, nth: int) -> None:
        """/deploy, and wait for it to succeed."""
        self.ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{service} {version} {env}")
        wait_state(self.ws, request_message(self.ws, "C0DEV", nth=nth), "succeeded", timeout=150)


def _install(
    tmp: Path, namespace: str, service: str, images: Images, ws: SlackWorkspace
) -> Installation:
    settings = Settings(
        bot_token=BOT_TOKEN, signing_secret=secrets.token_hex(16), api_url=ws.api_url,
        database_url=f"sqlite:///{tmp / f'{namespace}.db'}", state_dir=tmp / namespace,
    )  # fmt: skip
    dev_port, swarm_port = free_port(), free_port()
    text = CONFIG.format(
        service=service, repo=images.repo_dir, image=images.repository, dev_port=dev_port,
        swarm_port=swarm_port, namespace=namespace,
    )  # fmt: skip
    harness = start(ws, settings, text, ShiftableClock())
    return Installation(
        namespace, ws, dev_port, swarm_port, [harness.bot.stop, harness.slack.close]
    )


@pytest.fixture
def pair(
    workspace: SlackWorkspace,
    images: Images,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> Iterator[tuple[str, Installation, Installation]]:
    """Two installations (each with its own workspace and store) of the same service name."""
    service = f"svc{uuid.uuid4().hex[:6]}"
    tag = uuid.uuid4().hex[:6]
    with SlackWorkspace(bot_token=BOT_TOKEN, specs_dir=specs_dir() / "slack") as other:
        first = _install(tmp_path, f"teama-{tag}", service, images, workspace)
        second = _install(tmp_path, f"teamb-{tag}", service, images, other)
        try:
            yield service, first, second
        finally:
            for stop in first.stop + second.stop:
                stop()  # type: ignore[operator]
            remove_deployments(docker_client, service)
        other.assert_no_spec_violations()


def _container(client: docker.DockerClient, name: str) -> tuple[str, str, dict[str, str]]:
    found = client.containers.get(name)
    return found.id, found.status, dict(found.labels)


def test_two_installations_deploy_the_same_names_and_leave_each_other_alone(
    pair: tuple[str, Installation, Installation], swarm: docker.DockerClient
) -> None:
    service, a, b = pair
    a.deploy(service, GOOD, "dev", 1)
    a_name = named(a.namespace, service, "dev")
    before = _container(swarm, a_name)
    assert before[2][LABEL_NAMESPACE] == a.namespace and before[2][LABEL_VERSION] == GOOD
    # publish: "127.0.0.1:<port>" binds that address only, on the deployment's proxy.
    a_proxy = proxy_name(a.namespace, service, "dev")
    bindings = swarm.containers.get(a_proxy).attrs["HostConfig"]["PortBindings"]["8080/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(a.dev_port)}]
    assert not swarm.containers.get(a_name).attrs["HostConfig"].get("PortBindings")

    # The second installation deploys the same service to the same environment names.
    b.deploy(service, NEWER, "dev", 1)
    b.deploy(service, GOOD, "dev", 2)  # and replaces its own container once more
    assert _container(swarm, a_name) == before  # not replaced, renamed or stopped
    b_labels = _container(swarm, named(b.namespace, service, "dev"))[2]
    assert b_labels[LABEL_NAMESPACE] == b.namespace and b_labels[LABEL_VERSION] == GOOD
    assert answer(a.dev_port) == GOOD and answer(b.dev_port) == GOOD

    a.deploy(service, GOOD, "staging", 2)
    b.deploy(service, NEWER, "staging", 3)
    for installation, version in ((a, GOOD), (b, NEWER)):
        spec = swarm.services.get(named(installation.namespace, service, "staging")).attrs["Spec"]
        assert spec["Labels"][LABEL_NAMESPACE] == installation.namespace
        assert spec["Labels"][LABEL_VERSION] == version
        assert answer(installation.swarm_port) == version

    # Each one's /services reports its own versions only.
    for installation, dev, staging in ((a, GOOD, GOOD), (b, GOOD, NEWER)):
        installation.ws.user_command("U0ALICE", "C0DEV", "/services", "")
        said = reply_to_past_waiting(installation)
        assert f"`dev` *{dev}*" in said and f"`staging` *{staging}*" in said, said


def reply_to_past_waiting(installation: Installation) -> str:
    """Alice's newest answer that is not "Looking up…"."""

    def found() -> str | None:
        for ephemeral in reversed(installation.ws.ephemerals("C0DEV", "U0ALICE")):
            text = str(ephemeral.blocks or ephemeral.text)
            if "*Services*" in text and "`staging`" in text:
                return text
        return None

    result = installation.ws.wait_for(found, timeout=60, description="the /services answer")
    assert result is not None
    return result


def test_a_name_taken_by_another_installation_is_refused_before_approval_and_left_alone(
    pair: tuple[str, Installation, Installation],
    images: Images,
    docker_client: docker.DockerClient,
) -> None:
    service, a, _b = pair
    name = named(a.namespace, service, "dev")
    labels = {LABEL_NAMESPACE: "intruder", LABEL_SERVICE: service, LABEL_ENV: "dev"}
    squatter = docker_client.containers.run(
        f"{images.repository}:{GOOD}", name=name, labels=labels, detach=True
    )
    a.ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{service} {GOOD} dev")

    def refusal() -> str | None:
        for ephemeral in a.ws.ephemerals("C0DEV", "U0ALICE"):
            if "another opsloop installation" in ephemeral.text:
                return ephemeral.text
        return None

    said = a.ws.wait_for(refusal, timeout=60, description="the refusal")
    assert said is not None and "`intruder`" in said and name in said
    assert not [m for m in a.ws.messages("C0DEV") if m.is_bot]  # nobody was asked to approve
    squatter.reload()
    assert (squatter.name, squatter.status) == (name, "running")
    assert labels.items() <= squatter.labels.items()


def test_a_container_deployed_before_namespaces_is_taken_over_by_its_installation(
    pair: tuple[str, Installation, Installation],
    images: Images,
    docker_client: docker.DockerClient,
) -> None:
    service, a, _b = pair
    legacy = docker_client.containers.run(
        f"{images.repository}:{GOOD}", name=legacy_deployment_name(service, "dev"),
        labels={LABEL_SERVICE: service, LABEL_ENV: "dev", LABEL_VERSION: GOOD},
        ports={"8080/tcp": ("127.0.0.1", a.dev_port)}, detach=True,
    )  # fmt: skip
    assert answer(a.dev_port) == GOOD
    a.deploy(service, NEWER, "dev", 1)
    request = text_of(request_message(a.ws, "C0DEV"))
    assert f"`{GOOD}` → `{NEWER}`" in request  # it read the legacy container as its own
    assert answer(a.dev_port) == NEWER
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(legacy.id)
    labels = _container(docker_client, named(a.namespace, service, "dev"))[2]
    assert labels[LABEL_NAMESPACE] == a.namespace and labels[LABEL_VERSION] == NEWER
