"""Zero-downtime deploys of the container target behind the deployment's reverse proxy, on
the real engine (no Swarm needed): a load loop on loopback (20 GETs a second through the
published port) runs during each operation and must see no failed request, and the old
version until the switch (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import docker
import pytest

from bot.core.clock import SystemClock
from bot.core.deploy.model import DeployState, Target
from bot.core.naming import (
    LABEL_DEPLOY_ID,
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    deployment_name,
    network_name,
    proxy_name,
)
from bot.core.operate.model import Placement
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from integrations.docker_engine.operate import DockerOperations
from integrations.docker_engine.proxied_container import ProxiedContainerRollout
from tests.integrations.zero_downtime_support import (
    NS,
    caddy,
    deploy,
    engine,
    published_target,
    repository,
    upstreams,
    url,
)
from tests.scenarios.deploy.support import remove_deployments
from tests.support.http_load import LoadLoop

__all__ = ["caddy", "engine", "repository"]
pytestmark = pytest.mark.docker

MOVE_GAP = 1.5
"""The most a move from the container's own port to its proxy may leave the port silent."""


@pytest.fixture
def target(docker_client: docker.DockerClient, repository: str) -> Iterator[Target]:
    made = published_target("container", "zc", repository)
    yield made
    remove_deployments(docker_client, made.service)


def _containers(client: docker.DockerClient, target: Target) -> list[str]:
    """The deployment's containers by name (not its proxy)."""
    name = deployment_name(NS, target.service, target.env)
    found = client.containers.list(all=True, filters={"name": name})
    return sorted(str(c.name) for c in found if c.name != proxy_name(NS, target.service, "prod"))


def _serving(client: docker.DockerClient, target: Target) -> str:
    """The id of the container under the deployment's name."""
    return str(client.containers.get(deployment_name(NS, target.service, target.env)).id)


def _own_ports(client: docker.DockerClient, target: Target) -> object:
    container = client.containers.get(deployment_name(NS, target.service, target.env))
    return (container.attrs["HostConfig"].get("PortBindings") or {}).get("8080/tcp")


def test_deploy_rollback_and_restart_under_load_fail_no_request(
    docker_client: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    operations = DockerOperations(EngineConnection(None), SystemClock(), engine, namespace=NS)
    placement = Placement(target.service, "prod", "container", target.image, 1, 1, target=target)
    try:
        with LoadLoop(url(target)) as load:
            load.wait_for(10)
            assert deploy(engine, target, "2").startswith("succeeded")
            after_deploy = upstreams(docker_client, target)
            load.wait_for(10)
            assert deploy(engine, target, "1").startswith("succeeded")  # the rollback
            load.wait_for(10)
            before_restart = _serving(docker_client, target)
            restarted = operations.restart(placement, lambda _said: None)
            after_restart = upstreams(docker_client, target)
            load.wait_for(10)
        status = operations.status(placement)  # what /status shows
    finally:
        operations.close()
    assert load.failures == []
    assert load.served() == ["1", "2", "1"]
    assert restarted.state is DeployState.SUCCEEDED, restarted.detail
    # One container, on the deployment's network only; the proxy alone holds the host port.
    assert _containers(docker_client, target) == [deployment_name(NS, target.service, "prod")]
    assert _own_ports(docker_client, target) is None
    assert len(after_deploy) == len(after_restart) == 1
    assert _serving(docker_client, target) != before_restart  # a new container serves
    assert status.proxy is not None
    assert (status.proxy.state, status.proxy.address) == ("running", f"127.0.0.1:{target.publish}")


def test_a_candidate_that_never_answers_leaves_the_old_version_serving(
    docker_client: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    before = upstreams(docker_client, target)
    with LoadLoop(url(target)) as load:
        load.wait_for(10)
        said = deploy(engine, target, "broken")
        load.wait_for(10)
    assert said.startswith("failed") and "keeps serving" in said, said
    assert "404" in said, said  # what the engine's last health check saw
    assert load.failures == []
    assert load.served() == ["1"]
    assert upstreams(docker_client, target) == before
    assert _containers(docker_client, target) == [deployment_name(NS, target.service, "prod")]


def test_a_container_on_its_own_port_moves_behind_the_proxy_with_one_short_gap(
    docker_client: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    own_port = replace(target, publish_mode="host")
    assert deploy(engine, own_port, "1").startswith("succeeded")
    assert _own_ports(docker_client, target)  # published by the container itself
    with LoadLoop(url(target)) as load:
        load.wait_for(10)
        said = deploy(engine, target, "2")
        load.wait_for(10)
    assert said.startswith("succeeded"), said
    assert load.served() == ["1", "2"]
    assert load.failed_for() < MOVE_GAP, (load.failed_for(), load.failures)
    assert _own_ports(docker_client, target) is None
    proxy = docker_client.containers.get(proxy_name(NS, target.service, "prod"))
    assert proxy.status == "running"
    # Then it deploys as any proxied container does: no request fails.
    with LoadLoop(url(target)) as load:
        load.wait_for(10)
        assert deploy(engine, target, "1").startswith("succeeded")
        load.wait_for(10)
    assert load.failures == []
    assert load.served() == ["2", "1"]


def test_a_rollout_cut_short_before_the_switch_is_settled_onto_the_new_container(
    docker_client: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    name = deployment_name(NS, target.service, target.env)
    labels = {LABEL_NAMESPACE: NS, LABEL_SERVICE: target.service, LABEL_ENV: target.env,
              LABEL_VERSION: "2", LABEL_DEPLOY_ID: "cut"}  # fmt: skip
    rollout = ProxiedContainerRollout(
        engine, target, f"{target.image}:2", labels, lambda _said: None
    )
    candidate = rollout.start_candidate(network_name(NS, target.service, target.env))
    assert rollout.healthy(candidate)
    # The bot dies after the renames, before it points the proxy at the new container.
    docker_client.containers.get(name).rename(f"{name}-old")
    candidate.rename(name)
    with LoadLoop(url(target)) as load:
        load.wait_for(10)
        settled = engine.settle(target)  # what the next start does
        load.wait_for(10)
    assert (settled.version, settled.healthy) == ("2", True)
    assert load.failures == []
    assert load.served() == ["1", "2"]
    assert _containers(docker_client, target) == [name]
    candidate.reload()
    address = candidate.attrs["NetworkSettings"]["Networks"][
        network_name(NS, target.service, "prod")
    ]
    assert upstreams(docker_client, target) == [f"{address['IPAddress']}:8080"]
